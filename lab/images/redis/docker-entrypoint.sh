#!/bin/sh
# Entrypoint of kompose-lab/redis:<major>, same behaviour as the official redis image's.
set -e

# first arg is `-f` or `--some-option`, or a config file: run redis-server with it
if [ "${1#-}" != "$1" ] || [ "${1%.conf}" != "$1" ]; then
  set -- redis-server "$@"
fi

# as root: own the data dir, then drop to the redis user
if [ "$1" = 'redis-server' ] && [ "$(id -u)" = '0' ]; then
  find . \! -user redis -exec chown redis '{}' + 2>/dev/null || :
  exec setpriv --reuid=redis --regid=redis --init-groups "$0" "$@"
fi

# files created by redis (dump.rdb, appendonly) are private unless a umask is given
um="$(umask)"
if [ "$um" = '0022' ]; then
  umask 0077
fi

exec "$@"
