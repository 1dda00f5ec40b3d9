# The dev pgbouncer: transaction pooling on a unix socket in the state
# folder, in front of the dev cluster. Sourced by scripts/dev, never run.

# Writes the configuration. Dev authentication is trust, like the
# cluster behind it; the socket folder admits root and postgres alone.
# pgbouncer/pgbouncer.ini shows the production setup with scram-sha-256.
pgbouncer_configure() {
    cat >"$ETC_DIR/pgbouncer-users.txt" <<'USERS'
"fleetreg_app" ""
"fleetreg_owner" ""
USERS
    cat >"$PGBOUNCER_INI" <<CONF
; Written by scripts/dev for the dev stack in $STATE_DIR.
[databases]
fleetreg = host=$PG_SOCKET_DIR port=$PG_PORT dbname=fleetreg

[pgbouncer]
; No listen_addr: unix socket only, no TCP port.
listen_port = $PGBOUNCER_PORT
unix_socket_dir = $PG_SOCKET_DIR
unix_socket_mode = 0770
pool_mode = transaction
auth_type = trust
auth_file = $ETC_DIR/pgbouncer-users.txt
max_client_conn = 200
default_pool_size = 20
; Fault settings as in pgbouncer/pgbouncer.ini, which gives the reasons.
server_connect_timeout = 2
server_login_retry = 0.5
query_wait_timeout = 1
server_check_delay = 10
idle_transaction_timeout = 10
logfile = $PGBOUNCER_LOG
pidfile = $PGBOUNCER_PID
CONF
    chmod 0644 "$PGBOUNCER_INI" "$ETC_DIR/pgbouncer-users.txt"
}

pgbouncer_running() {
    pidfile_alive "$PGBOUNCER_PID"
}

pgbouncer_start() {
    if pgbouncer_running; then
        log_step "pgbouncer: running (pid $(pidfile_read "$PGBOUNCER_PID"))"
        return 0
    fi
    log_step "pgbouncer: starting on port $PGBOUNCER_PORT"
    pgbouncer_configure
    log_file_for_postgres "$PGBOUNCER_LOG"
    as_postgres pgbouncer -d -q "$PGBOUNCER_INI" ||
        die "pgbouncer did not start; see $PGBOUNCER_LOG"
    wait_for 10 test -S "$PG_SOCKET_DIR/.s.PGSQL.$PGBOUNCER_PORT" ||
        die "pgbouncer socket did not appear; see $PGBOUNCER_LOG"
}

# SIGTERM makes pgbouncer 1.18 exit at once, dropping client sessions,
# which is the fault that the restart command is meant to produce.
pgbouncer_stop() {
    if pgbouncer_running; then
        log_step "pgbouncer: stopping"
    fi
    pidfile_stop "$PGBOUNCER_PID" 10 pgbouncer
}
