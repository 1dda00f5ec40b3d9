# The dev fleetreg service: configuration, key, start, stop and tokens.
# Sourced by scripts/dev, never run.

# Writes the HS256 secret once: 32 random bytes as hex text. fleetreg
# drops one trailing newline, so the key is the 64 hex characters.
fleetreg_key_create() {
    if [[ -s $JWT_KEY_FILE ]]; then
        return 0
    fi
    log_step "fleetreg: new HS256 key in $JWT_KEY_FILE"
    (umask 077 && openssl rand -hex 32 >"$JWT_KEY_FILE")
}

fleetreg_configure() {
    cat >"$FLEETREG_CONF" <<CONF
# Written by scripts/dev for the dev stack in $STATE_DIR.
listen = $FLEETREG_SOCKET
socket_mode = 0660
socket_group = www-data
workers = ${FLEETREG_DEV_WORKERS:-4}
database = $APP_DB
connect_timeout = 2
statement_timeout = 3000
request_timeout = 5000
db_retries = 3
db_backoff_max = 500
retry_after = 1
jwt_algorithm = HS256
jwt_key_file = $JWT_KEY_FILE
jwt_leeway = 30
max_token_bytes = 8192
max_body_bytes = 16384
shutdown_timeout = 10
log_level = info
CONF
    chmod 0600 "$FLEETREG_CONF"
}

fleetreg_running() {
    pidfile_alive "$FLEETREG_PID"
}

# Starts the master in its own session, so it outlives this script, and
# waits until its socket accepts connections.
fleetreg_start() {
    if fleetreg_running; then
        log_step "fleetreg: running (pid $(pidfile_read "$FLEETREG_PID"));" \
            "'scripts/dev restart fleetreg' loads a new build"
        return 0
    fi
    log_step "fleetreg: starting $FLEETREG_BIN"
    fleetreg_configure
    # Only a rejection is worth keeping: the settings dump of a passing
    # check would fill the service log with lines that are not events.
    local check_output
    if ! check_output=$("$FLEETREG_BIN" -c "$FLEETREG_CONF" --check 2>&1); then
        printf '%s\n' "$check_output" >&2
        die "fleetreg --check rejected $FLEETREG_CONF"
    fi
    rm -f "$FLEETREG_SOCKET"
    setsid "$FLEETREG_BIN" -c "$FLEETREG_CONF" \
        >>"$FLEETREG_LOG" 2>&1 </dev/null &
    echo $! >"$FLEETREG_PID"
    if ! wait_for 15 test -S "$FLEETREG_SOCKET"; then
        tail -n 20 "$FLEETREG_LOG" >&2
        die "fleetreg did not open $FLEETREG_SOCKET; see $FLEETREG_LOG"
    fi
    fleetreg_running ||
        die "fleetreg exited after start; see $FLEETREG_LOG"
}

fleetreg_stop() {
    if fleetreg_running; then
        log_step "fleetreg: stopping"
    fi
    # The master waits shutdown_timeout (10 s) for workers, so allow more.
    pidfile_stop "$FLEETREG_PID" 20 fleetreg
}

# Kills one worker with SIGKILL; the master is expected to replace it.
fleetreg_kill_worker() {
    local master worker

    fleetreg_running || die "fleetreg is not running; run: scripts/dev up"
    master=$(pidfile_read "$FLEETREG_PID")
    worker=$(pgrep -P "$master" | head -n 1) ||
        die "fleetreg master $master has no workers"
    [[ -n $worker ]] || die "fleetreg master $master has no workers"
    kill -KILL "$worker"
    log_step "fleetreg: killed worker $worker of master $master"
}

# Sends SIGHUP: the master re-reads its configuration and replaces its
# workers, letting the old ones finish the requests they hold.
fleetreg_reload() {
    local master

    fleetreg_running || die "fleetreg is not running; run: scripts/dev up"
    master=$(pidfile_read "$FLEETREG_PID")
    kill -HUP "$master"
    log_step "fleetreg: sent SIGHUP to master $master"
}

# Prints a token for the given user id, signed with the stack's key.
fleetreg_token() {
    local user_id=$1

    "$FLEETREG_ADMIN_BIN" token --sub "$user_id" --key-file "$JWT_KEY_FILE"
}
