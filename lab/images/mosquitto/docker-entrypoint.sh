#!/bin/sh
# Entrypoint of kompose-lab/mosquitto:2, same behaviour as eclipse-mosquitto's: as root,
# give /mosquitto to the mosquitto user (mounted config files excepted when read-only),
# then run the command; mosquitto drops privileges to `mosquitto` by itself.
set -e
if [ "$(id -u)" = '0' ] && [ -d /mosquitto ]; then
  chown -R mosquitto:mosquitto /mosquitto 2>/dev/null || true
fi
exec "$@"
