#!/bin/sh
# PostgreSQL for MLflow: on the first start initialise $PGDATA with the user and databases
# named by the environment, then run the server in the foreground (the pod's main process).
#   POSTGRES_PASSWORD   required; the password of POSTGRES_USER (from a Secret)
#   POSTGRES_USER       the databases' owner (default mlflow)
#   POSTGRES_DATABASES  space-separated databases to create (default: mlflow)
#   PGDATA              the data directory (default /var/lib/postgresql/data/pgdata)
set -eu
log() { printf '{"level":"info","logger":"postgresql-entrypoint","msg":"%s"}\n' "$*" >&2; }
: "${POSTGRES_PASSWORD:?set POSTGRES_PASSWORD (the chart takes it from a Secret)}"
: "${POSTGRES_USER:=mlflow}" "${POSTGRES_DATABASES:=mlflow}"
: "${PGDATA:=/var/lib/postgresql/data/pgdata}"
export PGDATA
bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
socket_dir=${TMPDIR:-/tmp}

if [ ! -s "$PGDATA/PG_VERSION" ]; then
  log "initialising $PGDATA for user $POSTGRES_USER, databases: $POSTGRES_DATABASES"
  mkdir -p "$PGDATA" && chmod 700 "$PGDATA"
  pwfile=$(mktemp)
  printf '%s' "$POSTGRES_PASSWORD" >"$pwfile"
  # Local (socket) connections inside the container are trusted; every TCP client needs the
  # password (scram-sha-256).
  "$bin/initdb" -D "$PGDATA" -U "$POSTGRES_USER" --pwfile="$pwfile" --encoding=UTF8 \
    --locale=C --auth-local=trust --auth-host=scram-sha-256 >/dev/null
  rm -f "$pwfile"
  echo "host all all all scram-sha-256" >>"$PGDATA/pg_hba.conf"
  "$bin/pg_ctl" -D "$PGDATA" -o "-c listen_addresses='' -k $socket_dir" -w -s start
  for db in $POSTGRES_DATABASES; do
    "$bin/createdb" -h "$socket_dir" -U "$POSTGRES_USER" "$db"
  done
  "$bin/pg_ctl" -D "$PGDATA" -m fast -w -s stop
  log "initialised"
fi
log "starting PostgreSQL $("$bin/postgres" --version | awk '{print $3}')"
exec "$bin/postgres" -D "$PGDATA" -c listen_addresses='*' -k "$socket_dir" "$@"
