#!/bin/sh
# Run once by the postgres image when it initialises an empty data directory (compose.yaml mounts this
# directory at /docker-entrypoint-initdb.d): the service's login role, with its password. It owns
# nothing; migration 0008, run by the owner (POSTGRES_USER), grants it what the service needs.
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
    -v password="$KUNDVAL_SERVICE_PASSWORD" <<'SQL'
CREATE ROLE kundval_service LOGIN PASSWORD :'password';
SQL
