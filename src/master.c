/* The master process: the listening socket and the supervision of workers. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "db.h"
#include "log.h"
#include "master.h"
#include "metrics.h"
#include "notify.h"
#include "worker.h"

#define MASTER_MAX_WORKERS 512
#define MASTER_EXIT_CONFIG 78
#define MASTER_SYSTEMD_FIRST_FD 3
/* A worker that dies sooner than this after its start counts as failing. */
#define MASTER_STABLE_MS 2000
#define MASTER_RESTART_MIN_MS 100
#define MASTER_RESTART_MAX_MS 30000

/* A running worker process. */
struct master_worker {
    pid_t pid;
    unsigned generation; /* older generations are draining */
    int slot;
    long started_ms;
};

/* A place for one worker of the current generation. */
struct master_slot {
    int running;
    long restart_at_ms;    /* when to start its worker, if not running */
    long restart_delay_ms; /* grows while workers keep dying young */
};

struct master {
    const char *config_path;
    struct config config;
    struct auth_verifier verifier;
    int listen_fd;
    int owns_socket_path;
    unsigned generation;
    int slot_count;
    struct master_slot slots[MASTER_MAX_WORKERS];
    struct master_worker workers[MASTER_MAX_WORKERS * 2];
    int worker_count;
    int stopping;
    long stop_deadline_ms;
    int killed;
};

static long master_now_ms(void)
{
    struct timespec now;

    clock_gettime(CLOCK_MONOTONIC, &now);
    return (long)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

static int master_slot_count(const struct config *config)
{
    long count = config->workers;

    if (count == 0) {
        count = sysconf(_SC_NPROCESSORS_ONLN);
    }
    if (count < 1) {
        count = 1;
    }
    return count > MASTER_MAX_WORKERS ? MASTER_MAX_WORKERS : (int)count;
}

/* Takes the socket systemd passed (LISTEN_FDS), if it passed one to us. */
static int master_inherit_socket(void)
{
    const char *pid_text = getenv("LISTEN_PID");
    const char *count_text = getenv("LISTEN_FDS");

    if (pid_text == NULL || count_text == NULL ||
        strtol(pid_text, NULL, 10) != (long)getpid() ||
        strtol(count_text, NULL, 10) < 1) {
        return -1;
    }
    unsetenv("LISTEN_PID");
    unsetenv("LISTEN_FDS");
    unsetenv("LISTEN_FDNAMES");
    return MASTER_SYSTEMD_FIRST_FD;
}

/* Removes a stale socket file. Fails when a server still accepts on it. */
static int master_clear_stale_socket(const struct sockaddr_un *address)
{
    struct stat status;
    int probe;
    int answered;

    if (lstat(address->sun_path, &status) != 0) {
        return 0;
    }
    if (!S_ISSOCK(status.st_mode)) {
        log_event(LOG_LEVEL_ERROR, "listen_failed",
                  "path=%s error=\"the "
                  "path exists and is not a socket; remove it or choose "
                  "another listen path\"",
                  address->sun_path);
        return -1;
    }

    probe = socket(AF_UNIX, SOCK_STREAM, 0);
    answered = probe >= 0 && connect(probe, (const struct sockaddr *)address,
                                     sizeof(*address)) == 0;
    if (probe >= 0) {
        close(probe);
    }
    if (answered) {
        log_event(LOG_LEVEL_ERROR, "listen_failed",
                  "path=%s error=\"another "
                  "process is serving this socket; stop it first\"",
                  address->sun_path);
        return -1;
    }
    return unlink(address->sun_path);
}

static int master_apply_socket_owner(const struct config *config,
                                     const char *path)
{
    struct group *group;

    if (config->socket_group[0] == '\0') {
        return 0;
    }
    group = getgrnam(config->socket_group);
    if (group == NULL) {
        log_event(LOG_LEVEL_ERROR, "listen_failed",
                  "socket_group=%s "
                  "error=\"no such group; set socket_group to nginx's "
                  "group\"",
                  config->socket_group);
        return -1;
    }
    if (chown(path, (uid_t)-1, group->gr_gid) != 0) {
        log_event(LOG_LEVEL_ERROR, "listen_failed",
                  "path=%s error=\"chown: "
                  "%s\"",
                  config->listen, strerror(errno));
        return -1;
    }
    return 0;
}

/*
 * Creates the unix socket. The umask is narrowed around bind() so the
 * socket never exists with wider permissions than socket_mode.
 */
static int master_create_socket(const struct config *config)
{
    struct sockaddr_un address;
    mode_t previous_umask;
    char ready_path[sizeof(address.sun_path)];
    int fd;
    int bound;

    /* config_load() keeps listen short enough for sun_path with ".new". */
    memset(&address, 0, sizeof(address));
    address.sun_family = AF_UNIX;
    memcpy(address.sun_path, config->listen, strlen(config->listen) + 1);
    if (master_clear_stale_socket(&address) != 0) {
        return -1;
    }

    /* The socket is bound under a temporary name and renamed once its
     * group is set and it listens: nginx must never find the path while
     * it still refuses nginx's group (EACCES) or connections. */
    snprintf(ready_path, sizeof(ready_path), "%s", config->listen);
    snprintf(address.sun_path, sizeof(address.sun_path), "%s.new",
             config->listen);
    unlink(address.sun_path);

    fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd < 0) {
        return -1;
    }
    previous_umask = umask(0777 & ~(mode_t)config->socket_mode);
    bound = bind(fd, (struct sockaddr *)&address, sizeof(address));
    umask(previous_umask);

    if (bound != 0 ||
        chmod(address.sun_path, (mode_t)config->socket_mode) != 0 ||
        master_apply_socket_owner(config, address.sun_path) != 0 ||
        listen(fd, 1024) != 0 || rename(address.sun_path, ready_path) != 0) {
        log_event(LOG_LEVEL_ERROR, "listen_failed", "path=%s error=\"%s\"",
                  config->listen, strerror(errno));
        close(fd);
        unlink(address.sun_path);
        return -1;
    }
    return fd;
}

/*
 * Makes a worker's accept() return EAGAIN after a second without a
 * connection. A SIGTERM that lands after the worker checked its stop flag
 * but before accept() blocked would otherwise leave it waiting until the
 * next connection. With the timeout it checks the flag within a second.
 */
static void master_set_accept_timeout(int fd)
{
    struct timeval timeout = {.tv_sec = 1, .tv_usec = 0};

    if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout)) !=
        0) {
        log_event(LOG_LEVEL_WARNING, "accept_timeout_unavailable",
                  "error=\"%s\"", strerror(errno));
    }
}

static int master_open_socket(struct master *master)
{
    master->listen_fd = master_inherit_socket();
    if (master->listen_fd >= 0) {
        master_set_accept_timeout(master->listen_fd);
        log_event(LOG_LEVEL_INFO, "listening", "socket=systemd fd=%d",
                  master->listen_fd);
        return 0;
    }

    master->listen_fd = master_create_socket(&master->config);
    if (master->listen_fd < 0) {
        return -1;
    }
    master->owns_socket_path = 1;
    master_set_accept_timeout(master->listen_fd);
    log_event(LOG_LEVEL_INFO, "listening", "path=%s mode=0%o group=%s",
              master->config.listen, (unsigned)master->config.socket_mode,
              master->config.socket_group[0] != '\0'
                  ? master->config.socket_group
                  : "(process group)");
    return 0;
}

/*
 * Rejects a schema without UNIQUE (user_id). An unreachable database is
 * only a warning, since workers connect lazily and return 503 meanwhile.
 */
static int master_check_schema(const struct config *config)
{
    struct db db;
    enum db_status status;

    db_init(&db, config);
    /* db_connect() logs a schema without the constraints itself. */
    status = db_connect(&db);
    if (status == DB_STATUS_RETRYABLE) {
        log_event(LOG_LEVEL_WARNING, "schema_unchecked",
                  "error=\"database "
                  "unreachable at start: %s\"",
                  db.last_error);
    }
    db_close(&db);
    return status == DB_STATUS_FAILED ? -1 : 0;
}

static void master_warn_unknown_environment(void)
{
    char names[512];

    if (config_unknown_environment(names, sizeof(names)) > 0) {
        log_event(LOG_LEVEL_WARNING, "unknown_environment",
                  "ignored=%s "
                  "error=\"not a setting; check the spelling against "
                  "fleetreg --help\"",
                  names);
    }
}

static int master_load(struct master *master, struct config *config,
                       struct auth_verifier *verifier)
{
    char error[1024];

    if (config_load(config, master->config_path, error, sizeof(error)) != 0) {
        log_make_quotable(error);
        log_event(LOG_LEVEL_ERROR, "config_invalid", "error=\"%s\"", error);
        return -1;
    }
    if (auth_init(verifier, config->jwt_algorithm, config->jwt_key_file,
                  config->jwt_issuer, config->jwt_audience,
                  config->jwt_leeway_seconds, (size_t)config->max_token_bytes,
                  error, sizeof(error)) != 0) {
        log_make_quotable(error);
        log_event(LOG_LEVEL_ERROR, "config_invalid", "error=\"%s\"", error);
        return -1;
    }
    return 0;
}

static void master_start_worker(struct master *master, int slot)
{
    struct master_worker *worker;
    pid_t pid = fork();

    if (pid < 0) {
        log_event(LOG_LEVEL_ERROR, "fork_failed", "slot=%d error=\"%s\"", slot,
                  strerror(errno));
        master->slots[slot].restart_at_ms =
            master_now_ms() + MASTER_RESTART_MAX_MS;
        return;
    }
    if (pid == 0) {
        worker_run(master->listen_fd, &master->config, &master->verifier);
    }

    worker = &master->workers[master->worker_count++];
    worker->pid = pid;
    worker->generation = master->generation;
    worker->slot = slot;
    worker->started_ms = master_now_ms();
    master->slots[slot].running = 1;
    log_event(LOG_LEVEL_DEBUG, "worker_forked", "worker_pid=%d slot=%d",
              (int)pid, slot);
}

static void master_start_due_workers(struct master *master)
{
    long now = master_now_ms();

    for (int slot = 0; slot < master->slot_count; slot++) {
        struct master_slot *entry = &master->slots[slot];

        if (!entry->running && entry->restart_at_ms <= now &&
            master->worker_count < MASTER_MAX_WORKERS * 2) {
            master_start_worker(master, slot);
        }
    }
}

static void master_log_exit(const struct master_worker *worker, int status)
{
    if (WIFEXITED(status)) {
        log_event(WEXITSTATUS(status) == 0 ? LOG_LEVEL_INFO : LOG_LEVEL_WARNING,
                  "worker_exited", "worker_pid=%d generation=%u exit_status=%d",
                  (int)worker->pid, worker->generation, WEXITSTATUS(status));
    } else if (WIFSIGNALED(status)) {
        log_event(LOG_LEVEL_WARNING, "worker_exited",
                  "worker_pid=%d generation=%u signal=%d core_dumped=%d",
                  (int)worker->pid, worker->generation, WTERMSIG(status),
                  WCOREDUMP(status) ? 1 : 0);
    }
}

/* Schedules the slot's next worker; the delay doubles while they die young. */
static void master_schedule_restart(struct master *master,
                                    const struct master_worker *worker)
{
    struct master_slot *slot = &master->slots[worker->slot];
    long now = master_now_ms();

    slot->running = 0;
    if (now - worker->started_ms < MASTER_STABLE_MS) {
        slot->restart_delay_ms = slot->restart_delay_ms == 0
                                     ? MASTER_RESTART_MIN_MS
                                     : slot->restart_delay_ms * 2;
        if (slot->restart_delay_ms > MASTER_RESTART_MAX_MS) {
            slot->restart_delay_ms = MASTER_RESTART_MAX_MS;
        }
    } else {
        slot->restart_delay_ms = 0;
    }
    slot->restart_at_ms = now + slot->restart_delay_ms;
    log_event(LOG_LEVEL_INFO, "worker_restart_scheduled",
              "slot=%d delay_ms=%ld", worker->slot, slot->restart_delay_ms);
}

static void master_reap_workers(struct master *master)
{
    int status;
    pid_t pid;

    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        for (int i = 0; i < master->worker_count; i++) {
            struct master_worker worker = master->workers[i];

            if (worker.pid != pid) {
                continue;
            }
            master->workers[i] = master->workers[--master->worker_count];
            master_log_exit(&worker, status);
            metrics_count(METRICS_WORKER_EXITS);
            if (!master->stopping && worker.generation == master->generation) {
                master_schedule_restart(master, &worker);
            }
            break;
        }
    }
}

static void master_signal_workers(struct master *master, int signal_number,
                                  int older_only)
{
    for (int i = 0; i < master->worker_count; i++) {
        if (!older_only ||
            master->workers[i].generation != master->generation) {
            kill(master->workers[i].pid, signal_number);
        }
    }
}

/*
 * Stops new connections at once and lets the workers drain the queue:
 * with the path gone, nginx fails over (or returns 503) without waiting,
 * and the non-blocking socket lets each worker accept until the queue is
 * empty. A socket from systemd stays as it is, queue included, for the
 * next start.
 */
static void master_stop_listening(struct master *master)
{
    int flags;

    if (!master->owns_socket_path) {
        return;
    }
    if (unlink(master->config.listen) != 0 && errno != ENOENT) {
        log_event(LOG_LEVEL_WARNING, "unlink_failed", "path=%s error=\"%s\"",
                  master->config.listen, strerror(errno));
    }
    /* A new master may create the path while this one drains. */
    master->owns_socket_path = 0;

    flags = fcntl(master->listen_fd, F_GETFL);
    if (flags < 0 ||
        fcntl(master->listen_fd, F_SETFL, flags | O_NONBLOCK) != 0) {
        log_event(LOG_LEVEL_WARNING, "drain_unavailable", "error=\"%s\"",
                  strerror(errno));
    }
}

static void master_begin_stop(struct master *master, int signal_number)
{
    if (master->stopping) {
        return;
    }
    master_stop_listening(master);
    master->stopping = 1;
    master->stop_deadline_ms =
        master_now_ms() + (long)master->config.shutdown_timeout_seconds * 1000;
    notify_systemd("STOPPING=1");
    log_event(LOG_LEVEL_INFO, "stopping",
              "signal=%d workers=%d "
              "deadline_s=%d",
              signal_number, master->worker_count,
              master->config.shutdown_timeout_seconds);
    master_signal_workers(master, SIGTERM, 0);
}

/* Workers past the shutdown deadline are killed so a stop always ends. */
static void master_enforce_deadline(struct master *master)
{
    if (!master->stopping || master->killed ||
        master_now_ms() < master->stop_deadline_ms) {
        return;
    }
    log_event(LOG_LEVEL_WARNING, "shutdown_deadline_passed",
              "killing_workers=%d", master->worker_count);
    master_signal_workers(master, SIGKILL, 0);
    master->killed = 1;
}

static void master_warn_fixed_keys(const struct config *old_config,
                                   const struct config *new_config)
{
    if (strcmp(old_config->listen, new_config->listen) != 0 ||
        old_config->socket_mode != new_config->socket_mode ||
        strcmp(old_config->socket_group, new_config->socket_group) != 0) {
        log_event(LOG_LEVEL_WARNING, "reload_partial",
                  "error=\"listen, "
                  "socket_mode and socket_group change only on restart\"");
    }
}

/*
 * SIGHUP: builds the new configuration completely and keeps the old one
 * if that fails. New workers start before the old ones get SIGTERM, so the
 * socket always has workers accepting.
 */
static void master_reload(struct master *master)
{
    struct config config;
    struct auth_verifier verifier;

    notify_systemd("RELOADING=1");
    log_event(LOG_LEVEL_INFO, "reloading", "%s", "");
    if (master_load(master, &config, &verifier) != 0) {
        log_event(LOG_LEVEL_ERROR, "reload_failed",
                  "error=\"keeping the "
                  "running configuration\"");
        notify_systemd("READY=1");
        return;
    }

    master_warn_fixed_keys(&master->config, &config);
    memcpy(config.listen, master->config.listen, sizeof(config.listen));
    config.socket_mode = master->config.socket_mode;
    memcpy(config.socket_group, master->config.socket_group,
           sizeof(config.socket_group));
    auth_free(&master->verifier);
    master->verifier = verifier;
    master->config = config;
    log_set_level(config.log_level);

    master->generation++;
    master->slot_count = master_slot_count(&config);
    memset(master->slots, 0, sizeof(master->slots));
    master_start_due_workers(master);
    master_signal_workers(master, SIGTERM, 1);
    notify_systemd("READY=1");
    log_event(LOG_LEVEL_INFO, "reloaded", "generation=%u workers=%d",
              master->generation, master->slot_count);
}

/* Milliseconds until the next scheduled event, at most one second. */
static long master_wait_ms(const struct master *master)
{
    long now = master_now_ms();
    long wait = 1000;

    for (int slot = 0; slot < master->slot_count; slot++) {
        if (!master->slots[slot].running &&
            master->slots[slot].restart_at_ms - now < wait) {
            wait = master->slots[slot].restart_at_ms - now;
        }
    }
    if (master->stopping && master->stop_deadline_ms - now < wait) {
        wait = master->stop_deadline_ms - now;
    }
    return wait < 0 ? 0 : wait;
}

/* Waits for the next signal or scheduled event, then acts on it. */
static void master_wait(struct master *master, const sigset_t *signals)
{
    long wait = master_wait_ms(master);
    struct timespec timeout = {.tv_sec = wait / 1000,
                               .tv_nsec = (wait % 1000) * 1000000L};
    int signal_number = sigtimedwait(signals, NULL, &timeout);

    if (signal_number == SIGTERM || signal_number == SIGINT) {
        master_begin_stop(master, signal_number);
    } else if (signal_number == SIGHUP && !master->stopping) {
        master_reload(master);
    }
}

/*
 * The master blocks its signals and takes them with sigtimedwait(), so no
 * handler runs concurrently with the supervision loop. SIGCHLD needs a
 * handler, even an empty one, because its default disposition discards
 * it.
 */
static void master_ignore_signal(int signal_number)
{
    (void)signal_number;
}

static void master_block_signals(sigset_t *signals)
{
    struct sigaction action;

    memset(&action, 0, sizeof(action));
    action.sa_handler = master_ignore_signal;
    sigemptyset(&action.sa_mask);
    sigaction(SIGCHLD, &action, NULL);
    action.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &action, NULL);

    sigemptyset(signals);
    sigaddset(signals, SIGCHLD);
    sigaddset(signals, SIGTERM);
    sigaddset(signals, SIGINT);
    sigaddset(signals, SIGHUP);
    sigprocmask(SIG_BLOCK, signals, NULL);
}

static void master_supervise(struct master *master)
{
    sigset_t signals;

    master_block_signals(&signals);
    master->slot_count = master_slot_count(&master->config);
    master_start_due_workers(master);
    notify_systemd("READY=1");
    log_event(LOG_LEVEL_INFO, "ready", "workers=%d", master->slot_count);

    while (!master->stopping || master->worker_count > 0) {
        master_wait(master, &signals);
        master_reap_workers(master);
        master_enforce_deadline(master);
        if (!master->stopping) {
            master_start_due_workers(master);
        }
    }
}

static void master_close_socket(struct master *master)
{
    close(master->listen_fd);
    if (master->owns_socket_path) {
        unlink(master->config.listen);
    }
}

int master_run(const char *config_path)
{
    static struct master master;

    master.config_path = config_path;
    if (master_load(&master, &master.config, &master.verifier) != 0) {
        return MASTER_EXIT_CONFIG;
    }
    log_set_level(master.config.log_level);
    log_event(LOG_LEVEL_INFO, "starting", "config=%s",
              config_path != NULL ? config_path : "(default)");
    master_warn_unknown_environment();

    if (master.config.require_unique_constraint &&
        master_check_schema(&master.config) != 0) {
        return MASTER_EXIT_CONFIG;
    }
    if (master_open_socket(&master) != 0) {
        return 1;
    }
    if (metrics_init() != 0) {
        log_event(LOG_LEVEL_WARNING, "metrics_unavailable", "error=\"%s\"",
                  strerror(errno));
    }

    master_supervise(&master);
    master_close_socket(&master);
    auth_free(&master.verifier);
    log_event(LOG_LEVEL_INFO, "stopped", "%s", "");
    return 0;
}
