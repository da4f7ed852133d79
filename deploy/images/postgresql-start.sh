#!/bin/sh
# The trial PostgreSQL's start (deploy/helm/iscd, postgresql.enabled): a
# first start makes the cluster in $PGDATA with the password in
# $POSTGRES_PASSWORD_FILE for the role iscd, which owns the database iscd
# (scram-sha-256 for every connection),
# every start runs postgres on $PGPORT. For trials: production uses a managed
# PostgreSQL (docs/deploy.md).
set -eu
: "${PGDATA:?}" "${PGPORT:=5432}" "${POSTGRES_PASSWORD_FILE:?}"
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  initdb -D "$PGDATA" -U iscd --pwfile="$POSTGRES_PASSWORD_FILE" -E UTF8 --locale=C \
    --auth-local=scram-sha-256 --auth-host=scram-sha-256 >/dev/null
  echo "host all all 0.0.0.0/0 scram-sha-256" >> "$PGDATA/pg_hba.conf"
  echo "host all all ::/0 scram-sha-256" >> "$PGDATA/pg_hba.conf"
  echo 'CREATE DATABASE iscd;' | postgres --single -D "$PGDATA" postgres >/dev/null
fi
exec postgres -D "$PGDATA" -p "$PGPORT" -c listen_addresses='*' -c unix_socket_directories=/tmp \
  -c max_connections="${POSTGRES_MAX_CONNECTIONS:-200}"
