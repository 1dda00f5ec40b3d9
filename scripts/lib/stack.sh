# The whole dev stack: bring up, tear down, report and describe it, for
# both `scripts/dev up` and the throwaway stack of `scripts/dev test`.
# Sourced by scripts/dev, never run.

# Picks the binaries of a build folder and remembers the folder, so later
# commands on the same stack (restart, env) use the same build.
stack_use_build() {
    local build_dir=$1

    FLEETREG_BIN=$build_dir/src/fleetreg
    FLEETREG_ADMIN_BIN=$build_dir/src/fleetreg-admin
    [[ -x $FLEETREG_BIN && -x $FLEETREG_ADMIN_BIN ]] ||
        die "no fleetreg binaries in $build_dir/src; run: scripts/dev up"
}

stack_saved_build() {
    local file=$STATE_DIR/build-dir

    [[ -s $file ]] || die "no stack in $STATE_DIR; run: scripts/dev up"
    head -n 1 "$file"
}

# Starts every part that is not running yet, in dependency order, and
# waits until /readyz returns 200 through nginx. Parts already running stay as they
# are, so a second run only checks.
stack_up() {
    local build_dir=$1
    local sqitch_dir=$2

    stack_use_build "$build_dir"
    paths_create
    echo "$build_dir" >"$STATE_DIR/build-dir"

    postgres_init
    postgres_start
    postgres_bootstrap
    schema_deploy "$sqitch_dir"
    tenants_seed
    pgbouncer_start
    fleetreg_key_create
    fleetreg_start
    nginx_start
    stack_wait_ready
}

# Waits up to 30 s for a 200 from /readyz through nginx, which proves
# TLS, FastCGI, pgbouncer and PostgreSQL in one round trip.
stack_wait_ready() {
    log_step "stack: waiting for $HTTPS_URL/readyz"
    if ! wait_for 30 curl -sf --cacert "$TLS_DIR/cert.pem" \
            "$HTTPS_URL/readyz"; then
        curl -s --cacert "$TLS_DIR/cert.pem" "$HTTPS_URL/readyz" >&2 || true
        echo >&2
        tail -n 20 "$FLEETREG_LOG" >&2 || true
        die "$HTTPS_URL/readyz did not return 200 in 30 s; logs are in" \
            "$LOG_DIR"
    fi
}

# Stops every part in the reverse order of stack_up. Data stays.
stack_down() {
    nginx_stop
    instance_select 2
    fleetreg_stop
    pgbouncer_stop
    instance_select 1
    rm -f "$SECOND_INSTANCE_MARK"
    fleetreg_stop
    pgbouncer_stop
    postgres_stop
}

# Starts instance 2 (its own pgbouncer and fleetreg on the same database)
# and reloads nginx with both sockets in its upstream: two app hosts
# racing for the same users, on one machine.
stack_second_up() {
    stack_use_build "$(stack_saved_build)"
    postgres_running || die "PostgreSQL is not running; run: scripts/dev up"
    instance_select 2
    pgbouncer_start
    fleetreg_start
    instance_select 1
    touch "$SECOND_INSTANCE_MARK"
    nginx_start
}

# Takes instance 2 out of nginx's upstream first, then stops it.
stack_second_down() {
    rm -f "$SECOND_INSTANCE_MARK"
    if nginx_running; then
        nginx_start
    fi
    instance_select 2
    fleetreg_stop
    pgbouncer_stop
    instance_select 1
}

stack_status() {
    local part pid_file

    printf 'state folder: %s\n' "$STATE_DIR"
    if [[ -f $PG_DATA/PG_VERSION ]] && postgres_running; then
        printf '%-12s running\n' postgres
    else
        printf '%-12s stopped\n' postgres
    fi
    for part in pgbouncer fleetreg pgbouncer-2 fleetreg-2 nginx; do
        case $part in
            pgbouncer) pid_file=$PGBOUNCER_PID ;;
            fleetreg) pid_file=$FLEETREG_PID ;;
            pgbouncer-2) pid_file=$PG_SOCKET_DIR/pgbouncer-2.pid ;;
            fleetreg-2) pid_file=$RUN_DIR/fleetreg-2.pid ;;
            nginx) pid_file=$NGINX_PID ;;
        esac
        if [[ $part == *-2 && ! -e $pid_file ]]; then
            continue
        fi
        if pidfile_alive "$pid_file"; then
            printf '%-12s running (pid %s)\n' "$part" \
                "$(pidfile_read "$pid_file")"
        else
            printf '%-12s stopped\n' "$part"
        fi
    done
    printf 'page:        %s/\n' "$HTTPS_URL"
}

# Prints the settings that tests and tools need as shell assignments,
# for `eval "$(scripts/dev env)"`.
stack_env() {
    stack_use_build "$(stack_saved_build)"
    local name
    local -A values=(
        [FLEETREG_DEV_DIR]=$STATE_DIR
        [FLEETREG_DEV_PORT]=$HTTPS_PORT
        [FLEETREG_URL]=$HTTPS_URL
        [FLEETREG_CA_FILE]=$TLS_DIR/cert.pem
        [FLEETREG_JWT_SECRET_FILE]=$JWT_KEY_FILE
        [FLEETREG_DB]=$OWNER_DB
        [FLEETREG_SUPERUSER_DB]=$SUPERUSER_DB
        [FLEETREG_POOLER_DB]=$APP_DB
        [FLEETREG_BIN]=$FLEETREG_BIN
        [FLEETREG_ADMIN]=$FLEETREG_ADMIN_BIN
        [FLEETREG_CONF]=$FLEETREG_CONF
        [FLEETREG_LOG]=$FLEETREG_LOG
        [FLEETREG_TENANT_IDS]="1 2"
    )

    for name in $(printf '%s\n' "${!values[@]}" | sort); do
        printf 'export %s=%q\n' "$name" "${values[$name]}"
    done
}
