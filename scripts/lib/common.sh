# Shared helpers of scripts/dev: messages, the state folder layout, and
# running commands as the postgres user. Sourced, never run.

# Prints a progress line for one step of a command.
log_step() {
    printf '==> %s\n' "$*"
}

# Prints a detail line under the current step.
log_info() {
    printf '    %s\n' "$*"
}

log_warn() {
    printf 'warning: %s\n' "$*" >&2
}

# Prints an error and exits with status 1.
die() {
    printf 'error: %s\n' "$*" >&2
    exit 1
}

# Sets the paths of one stack from its state folder and HTTPS port.
# Every file a stack writes lives below STATE_DIR, so two stacks with
# different folders and ports run side by side.
paths_init() {
    STATE_DIR=$1
    HTTPS_PORT=$2

    ETC_DIR=$STATE_DIR/etc
    RUN_DIR=$STATE_DIR/run
    LOG_DIR=$STATE_DIR/log
    PG_DATA=$STATE_DIR/postgresql/data
    PG_SOCKET_DIR=$RUN_DIR/postgresql
    PG_PORT=5432
    JWT_KEY_FILE=$ETC_DIR/jwt.key
    NGINX_CONF=$ETC_DIR/nginx.conf
    NGINX_PID=$RUN_DIR/nginx.pid
    TLS_DIR=$ETC_DIR/tls
    HTTPS_URL=https://127.0.0.1:$HTTPS_PORT
    OWNER_DB="host=$PG_SOCKET_DIR port=$PG_PORT dbname=fleetreg user=fleetreg_owner"
    SUPERUSER_DB="host=$PG_SOCKET_DIR port=$PG_PORT dbname=fleetreg user=postgres"
    SECOND_INSTANCE_MARK=$STATE_DIR/second-instance
    instance_select 1
}

# Points the pgbouncer and fleetreg paths at one instance of the stack.
# Instance 1 is the stack itself. Instance 2 is a second pgbouncer and
# fleetreg on the same database and behind the same nginx upstream, like
# a second app host (see `scripts/dev second`).
instance_select() {
    local number=$1
    local suffix=""

    case $number in
        1) ;;
        2) suffix=-2 ;;
        *) die "the instance number must be 1 or 2; got '$number'" ;;
    esac
    INSTANCE=$number
    PGBOUNCER_PORT=$((6431 + number))
    PGBOUNCER_INI=$ETC_DIR/pgbouncer$suffix.ini
    PGBOUNCER_PID=$PG_SOCKET_DIR/pgbouncer$suffix.pid
    PGBOUNCER_LOG=$LOG_DIR/pgbouncer$suffix.log
    FLEETREG_CONF=$ETC_DIR/fleetreg$suffix.conf
    FLEETREG_SOCKET=$RUN_DIR/fleetreg$suffix.sock
    FLEETREG_PID=$RUN_DIR/fleetreg$suffix.pid
    FLEETREG_LOG=$LOG_DIR/fleetreg$suffix.log
    APP_DB="host=$PG_SOCKET_DIR port=$PGBOUNCER_PORT dbname=fleetreg user=fleetreg_app"
}

# Creates the state folders. nginx workers (www-data) must reach the
# FastCGI socket and postgres its own folders, so the tree is
# world-traversable. Secrets are in files of mode 0600.
paths_create() {
    mkdir -p "$STATE_DIR" "$ETC_DIR" "$RUN_DIR" "$LOG_DIR" "$TLS_DIR" \
        "$STATE_DIR/nginx" "$STATE_DIR/postgresql" "$PG_SOCKET_DIR"
    chmod 0755 "$STATE_DIR" "$ETC_DIR" "$RUN_DIR" "$LOG_DIR"
    chmod 0700 "$TLS_DIR"
    chown postgres:postgres "$STATE_DIR/postgresql" "$PG_SOCKET_DIR"
    chmod 0700 "$STATE_DIR/postgresql"

    # Only root and postgres may open the database sockets, because the
    # dev cluster and pgbouncer trust every local connection.
    chmod 0770 "$PG_SOCKET_DIR"
}

# Runs a command as the postgres user, which PostgreSQL and pgbouncer
# require because they refuse to run as root.
as_postgres() {
    (cd / && runuser -u postgres -- "$@")
}

# Creates a log file that the postgres user can append to.
log_file_for_postgres() {
    local file=$1

    touch "$file"
    chown postgres:postgres "$file"
    chmod 0640 "$file"
}

# Returns success when the pid in the given file is a live process.
pidfile_alive() {
    local file=$1
    local pid

    [[ -s $file ]] || return 1
    pid=$(head -n 1 "$file")
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    kill -0 "$pid" 2>/dev/null
}

pidfile_read() {
    head -n 1 "$1"
}

# Sends SIGTERM to the process in the pid file and waits up to the given
# seconds for it to exit, then sends SIGKILL. Removes the pid file.
pidfile_stop() {
    local file=$1
    local timeout=$2
    local name=$3
    local pid waited=0

    if ! pidfile_alive "$file"; then
        rm -f "$file"
        return 0
    fi
    pid=$(pidfile_read "$file")
    kill -TERM "$pid" 2>/dev/null || true
    while kill -0 "$pid" 2>/dev/null; do
        if (( waited >= timeout * 10 )); then
            log_warn "$name (pid $pid) still runs after ${timeout}s;" \
                "sending SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
            break
        fi
        sleep 0.1
        waited=$((waited + 1))
    done
    rm -f "$file"
}

# Waits up to the given seconds for a command to succeed.
wait_for() {
    local timeout=$1
    shift
    local tries=$((timeout * 10))

    while (( tries > 0 )); do
        if "$@" >/dev/null 2>&1; then
            return 0
        fi
        sleep 0.1
        tries=$((tries - 1))
    done
    return 1
}
