#!/bin/bash
# Runs once, from /docker-entrypoint-initdb.d, when the data directory is empty.
# One role and one database per service, each role owning only its own database; nothing is
# granted to PUBLIC, so no service can connect to another service's database.
set -euo pipefail

create_database() {
  local name="$1" password="$2"
  psql -v ON_ERROR_STOP=1 --no-psqlrc --username "$POSTGRES_USER" --dbname postgres \
    --set=name="$name" --set=password="$password" <<'SQL'
CREATE ROLE :"name" LOGIN PASSWORD :'password';
CREATE DATABASE :"name" OWNER :"name";
REVOKE ALL ON DATABASE :"name" FROM PUBLIC;
SQL
  echo "created database $name"
}

create_database user_manager "$USER_MANAGER_DB_PASSWORD"
create_database data_collector "$DATA_COLLECTOR_DB_PASSWORD"
create_database alert_system "$ALERT_SYSTEM_DB_PASSWORD"
create_database alert_notifier "$ALERT_NOTIFIER_DB_PASSWORD"
