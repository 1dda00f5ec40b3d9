# The dev PostgreSQL 15 cluster: create, start, stop, roles, schema and
# seed data. Sourced by scripts/dev, never run.

PG_BIN=/usr/lib/postgresql/15/bin

# Runs psql as root against the given conninfo, stopping at the first error.
psql_run() {
    local conninfo=$1
    shift

    psql "$conninfo" -X -q -v ON_ERROR_STOP=1 "$@"
}

# Creates the cluster once. It listens on a unix socket in the state
# folder only (listen_addresses is empty) and trusts local connections,
# which the socket folder's mode limits to root and postgres.
postgres_init() {
    if [[ -f $PG_DATA/PG_VERSION ]]; then
        return 0
    fi
    log_step "postgres: initdb in $PG_DATA"
    as_postgres "$PG_BIN/initdb" -D "$PG_DATA" -U postgres -E UTF8 \
        --locale=C.UTF-8 --auth=trust >"$LOG_DIR/initdb.log"
    cat >>"$PG_DATA/postgresql.conf" <<CONF

# Settings of the fleetreg dev stack.
listen_addresses = ''
port = $PG_PORT
unix_socket_directories = '$PG_SOCKET_DIR'
unix_socket_permissions = 0770
max_connections = 100
log_line_prefix = '%m [%p] %q%u@%d '
CONF
    cat >"$PG_DATA/pg_hba.conf" <<'CONF'
# Unix sockets only; the socket folder admits root and postgres alone.
local all all trust
CONF
}

postgres_running() {
    as_postgres "$PG_BIN/pg_ctl" -D "$PG_DATA" status >/dev/null 2>&1
}

postgres_start() {
    if postgres_running; then
        log_step "postgres: running"
        return 0
    fi
    log_step "postgres: starting"
    log_file_for_postgres "$LOG_DIR/postgresql.log"
    as_postgres "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$LOG_DIR/postgresql.log" \
        -w -t 60 start >/dev/null ||
        die "PostgreSQL did not start; see $LOG_DIR/postgresql.log"
}

postgres_stop() {
    if ! [[ -f $PG_DATA/PG_VERSION ]] || ! postgres_running; then
        return 0
    fi
    log_step "postgres: stopping"
    as_postgres "$PG_BIN/pg_ctl" -D "$PG_DATA" -m fast -w -t 60 stop \
        >/dev/null
}

# Creates the roles and the database when missing. fleetreg_owner owns
# the schema; fleetreg_app is the service's role. pgbouncer 1.18 rejects
# the libpq options startup parameter, so the role carries the timeout.
postgres_bootstrap() {
    log_step "postgres: roles fleetreg_owner, fleetreg_app; database fleetreg"
    psql_run "host=$PG_SOCKET_DIR port=$PG_PORT dbname=postgres user=postgres" \
        <<'SQL'
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'fleetreg_owner') THEN
        CREATE ROLE fleetreg_owner LOGIN;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'fleetreg_app') THEN
        CREATE ROLE fleetreg_app LOGIN;
    END IF;
END
$$;
ALTER ROLE fleetreg_app SET statement_timeout = '5s';
-- The schema tests deploy sqitch into scratch databases of their own.
ALTER ROLE fleetreg_owner CREATEDB;
SELECT 'CREATE DATABASE fleetreg OWNER fleetreg_owner'
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'fleetreg')
\gexec
REVOKE ALL ON DATABASE fleetreg FROM PUBLIC;
GRANT CONNECT ON DATABASE fleetreg TO fleetreg_app;
SQL
}

# Deploys the sqitch project as fleetreg_owner. Its last change grants
# fleetreg_app its privileges, so the role must exist first. sqitch
# reaches the cluster through PGHOST and PGPORT, both libpq settings.
schema_deploy() {
    local sqitch_dir=$1

    [[ -f $sqitch_dir/sqitch.plan ]] ||
        die "$sqitch_dir/sqitch.plan not found; set FLEETREG_DEV_SQITCH_DIR" \
            "to a sqitch project folder"
    log_step "schema: sqitch deploy from $sqitch_dir"
    (
        cd "$sqitch_dir"
        export PGHOST=$PG_SOCKET_DIR PGPORT=$PG_PORT
        export SQITCH_FULLNAME="fleetreg dev stack"
        export SQITCH_EMAIL="root@localhost"
        sqitch deploy --target "db:pg://fleetreg_owner@/fleetreg"
    ) >>"$LOG_DIR/sqitch.log" 2>&1 ||
        die "sqitch deploy failed; see $LOG_DIR/sqitch.log"
}

# Adds the dev tenants; existing ones stay as they are.
tenants_seed() {
    log_step "schema: tenants 1 Acme Logistics, 2 Northwind Fleet"
    psql_run "$OWNER_DB" <<'SQL'
INSERT INTO tenants (tenant_id, name)
VALUES (1, 'Acme Logistics'), (2, 'Northwind Fleet')
ON CONFLICT (tenant_id) DO NOTHING;
SQL
}
