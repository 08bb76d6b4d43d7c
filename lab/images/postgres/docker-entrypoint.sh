#!/usr/bin/env bash
# Entrypoint of kompose-lab/postgres:<major>, a reduced copy of the official postgres image's
# docker-entrypoint.sh (same environment contract, same first-start behaviour).
set -Eeo pipefail

# file_env VAR [DEFAULT]: VAR or VAR_FILE (content of that file), not both.
file_env() {
  local var="$1" fileVar="${1}_FILE" def="${2:-}"
  if [ "${!var:-}" ] && [ "${!fileVar:-}" ]; then
    printf >&2 'error: both %s and %s are set (but are exclusive)\n' "$var" "$fileVar"
    exit 1
  fi
  local val="$def"
  if [ "${!var:-}" ]; then
    val="${!var}"
  elif [ "${!fileVar:-}" ]; then
    val="$(<"${!fileVar}")"
  fi
  export "$var"="$val"
  unset "$fileVar"
}

# "-c foo=bar" style first argument: run postgres with it.
if [ "${1:0:1}" = '-' ]; then
  set -- postgres "$@"
fi

_want_help() {
  local arg
  for arg; do
    case "$arg" in -'?'|--help|--describe-config|-V|--version) return 0 ;; esac
  done
  return 1
}

if [ "$1" = 'postgres' ] && ! _want_help "$@"; then
  if [ "$(id -u)" = '0' ]; then
    # Fix ownership as root, then re-run this script as postgres.
    mkdir -p "$PGDATA"
    chmod 00700 "$PGDATA" || :
    find "$PGDATA" \! -user postgres -exec chown postgres:postgres '{}' + 2>/dev/null || :
    mkdir -p /var/run/postgresql
    find /var/run/postgresql \! -user postgres -exec chown postgres:postgres '{}' + || :
    chmod 3777 /var/run/postgresql || :
    if [ -n "${POSTGRES_INITDB_WALDIR:-}" ]; then
      mkdir -p "$POSTGRES_INITDB_WALDIR"
      find "$POSTGRES_INITDB_WALDIR" \! -user postgres -exec chown postgres:postgres '{}' +
      chmod 700 "$POSTGRES_INITDB_WALDIR"
    fi
    exec setpriv --reuid=postgres --regid=postgres --init-groups "${BASH_SOURCE[0]}" "$@"
  fi

  file_env POSTGRES_PASSWORD
  file_env POSTGRES_USER postgres
  file_env POSTGRES_DB "$POSTGRES_USER"
  file_env POSTGRES_INITDB_ARGS
  : "${POSTGRES_HOST_AUTH_METHOD:=scram-sha-256}"

  if [ ! -s "$PGDATA/PG_VERSION" ]; then
    if [ -z "$POSTGRES_PASSWORD" ] && [ "$POSTGRES_HOST_AUTH_METHOD" != 'trust' ]; then
      cat >&2 <<'EOM'
Error: Database is uninitialized and superuser password is not specified.
       You must specify POSTGRES_PASSWORD (or POSTGRES_PASSWORD_FILE) to a non-empty value
       for the superuser, or use POSTGRES_HOST_AUTH_METHOD=trust to allow all connections
       without a password (NOT recommended).
EOM
      exit 1
    fi
    mkdir -p "$PGDATA"; chmod 00700 "$PGDATA" || :
    if [ -n "${POSTGRES_INITDB_WALDIR:-}" ]; then
      POSTGRES_INITDB_ARGS="--waldir $POSTGRES_INITDB_WALDIR $POSTGRES_INITDB_ARGS"
    fi
    # The password goes through a process substitution (never on the command line).
    # shellcheck disable=SC2086  # POSTGRES_INITDB_ARGS is a word list by contract
    if [ -n "$POSTGRES_PASSWORD" ]; then
      eval 'initdb --username="$POSTGRES_USER" --pwfile=<(printf "%s\n" "$POSTGRES_PASSWORD") \
        --auth-host="$POSTGRES_HOST_AUTH_METHOD" --auth-local=trust '"$POSTGRES_INITDB_ARGS"
    else
      eval 'initdb --username="$POSTGRES_USER" \
        --auth-host="$POSTGRES_HOST_AUTH_METHOD" --auth-local=trust '"$POSTGRES_INITDB_ARGS"
    fi
    printf "\npassword_encryption = 'scram-sha-256'\n" >>"$PGDATA/postgresql.conf"
    {
      printf '\n'
      [ "$POSTGRES_HOST_AUTH_METHOD" = trust ] && printf '# warning trust is enabled for all connections\n'
      printf 'host all all all %s\n' "$POSTGRES_HOST_AUTH_METHOD"
    } >>"$PGDATA/pg_hba.conf"

    # Temporary server on the Unix socket only, for database creation and init scripts.
    PGUSER="$POSTGRES_USER" pg_ctl -D "$PGDATA" -o "-c listen_addresses='' -p ${PGPORT:-5432}" -w start
    export PGPASSWORD="$POSTGRES_PASSWORD"
    psql_cmd=(psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --no-password --no-psqlrc)
    if [ "$POSTGRES_DB" != 'postgres' ]; then
      exists="$("${psql_cmd[@]}" --dbname postgres -tA -v db="$POSTGRES_DB" \
        <<<"SELECT 1 FROM pg_database WHERE datname = :'db';")"
      if [ -z "$exists" ]; then
        "${psql_cmd[@]}" --dbname postgres -v db="$POSTGRES_DB" <<<'CREATE DATABASE :"db";'
      fi
    fi
    for f in /docker-entrypoint-initdb.d/*; do
      case "$f" in
        *.sh)
          # shellcheck disable=SC1090  # init scripts are only known at run time
          if [ -x "$f" ]; then printf '%s: running %s\n' "$0" "$f"; "$f"
          else printf '%s: sourcing %s\n' "$0" "$f"; . "$f"; fi ;;
        *.sql)    printf '%s: running %s\n' "$0" "$f"; "${psql_cmd[@]}" --dbname "$POSTGRES_DB" -f "$f" ;;
        *.sql.gz) printf '%s: running %s\n' "$0" "$f"; gunzip -c "$f" | "${psql_cmd[@]}" --dbname "$POSTGRES_DB" ;;
        *)        [ -e "$f" ] && printf '%s: ignoring %s\n' "$0" "$f" ;;
      esac
    done
    PGUSER="$POSTGRES_USER" pg_ctl -D "$PGDATA" -m fast -w stop
    unset PGPASSWORD
    printf '\nPostgreSQL init process complete; ready for start up.\n\n'
  else
    printf '\nPostgreSQL Database directory appears to contain a database; Skipping initialization\n\n'
  fi
fi

exec "$@"
