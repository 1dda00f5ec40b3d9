/* A worker process: serves FastCGI requests one at a time until it stops. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <fcgiapp.h>

#include "handlers.h"
#include "log.h"
#include "worker.h"

static volatile sig_atomic_t worker_stop_requested;
static int worker_listen_fd = -1;

/* The master makes the socket non-blocking when the whole service stops. */
static int worker_socket_draining(void)
{
    int flags = fcntl(worker_listen_fd, F_GETFL);

    return flags >= 0 && (flags & O_NONBLOCK) != 0;
}

/*
 * SIGTERM and SIGINT: finish the request in hand, then exit. The handler
 * is installed without SA_RESTART so that a worker blocked in accept()
 * wakes up. On a reload, FCGX_ShutdownPending() makes libfcgi stop
 * accepting, since the new workers serve the queue. On a stop, libfcgi
 * must still accept, so that the worker can drain the connections that
 * are already queued (fcntl() is async-signal-safe).
 */
static void worker_handle_stop(int signal_number)
{
    (void)signal_number;
    worker_stop_requested = 1;
    if (!worker_socket_draining()) {
        FCGX_ShutdownPending();
    }
}

static void worker_install_signals(void)
{
    struct sigaction action;
    sigset_t unblocked;

    memset(&action, 0, sizeof(action));
    action.sa_handler = worker_handle_stop;
    sigemptyset(&action.sa_mask);
    sigaction(SIGTERM, &action, NULL);
    sigaction(SIGINT, &action, NULL);

    /* A client that goes away must cost one request, not the worker. */
    action.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &action, NULL);
    sigaction(SIGHUP, &action, NULL);
    action.sa_handler = SIG_DFL;
    sigaction(SIGCHLD, &action, NULL);

    /* The master blocks these while it waits; a worker must not. */
    sigemptyset(&unblocked);
    sigaddset(&unblocked, SIGTERM);
    sigaddset(&unblocked, SIGINT);
    sigaddset(&unblocked, SIGHUP);
    sigaddset(&unblocked, SIGCHLD);
    sigprocmask(SIG_UNBLOCK, &unblocked, NULL);
}

/*
 * Makes the kernel send SIGTERM when the master dies, so that workers of
 * a master killed with SIGKILL finish their request and exit instead of
 * serving on, which would also keep a new master from taking the
 * socket. A master that died before the call has made us a child of
 * init (or of a subreaper), which the check of the parent catches.
 */
static void worker_follow_master(void)
{
    if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0) {
        log_event(LOG_LEVEL_WARNING, "parent_death_signal_unavailable",
                  "error=\"%s\"", strerror(errno));
    }
    if (getppid() == 1) {
        worker_stop_requested = 1;
    }
}

/*
 * Serves the connections that nginx queued before the master removed
 * the socket path, so that a stop fails none of them. The socket is
 * non-blocking then, and FCGX_Accept_r() returns -1 once the queue is
 * empty: libfcgi 2.4.2 (Debian 12) retries accept() only after
 * EPROTO, ECONNABORTED and network errors, never after EAGAIN.
 */
static void worker_drain(struct worker_context *context, FCGX_Request *request)
{
    int served = 0;

    while (worker_socket_draining() && FCGX_Accept_r(request) >= 0) {
        handlers_serve(context, request);
        FCGX_Finish_r(request);
        served++;
    }
    if (served > 0) {
        log_event(LOG_LEVEL_INFO, "worker_drained", "requests=%d", served);
    }
}

void worker_run(int listen_fd, const struct config *config,
                const struct auth_verifier *verifier)
{
    struct worker_context context;
    FCGX_Request request;
    int status = 0;

    worker_listen_fd = listen_fd;
    worker_install_signals();
    worker_follow_master();
    log_event(LOG_LEVEL_INFO, "worker_started", "%s", "");

    memset(&context, 0, sizeof(context));
    context.config = config;
    context.verifier = verifier;
    db_init(&context.db, config);

    FCGX_Init();
    FCGX_InitRequest(&request, listen_fd, FCGI_FAIL_ACCEPT_ON_INTR);

    while (!worker_stop_requested) {
        if (FCGX_Accept_r(&request) < 0) {
            if (worker_socket_draining()) {
                /* The master is stopping and its SIGTERM is on the way. */
                break;
            }
            /* EAGAIN: a second passed without a connection (the
             * socket's SO_RCVTIMEO), so look at the stop flag again. */
            if (worker_stop_requested || errno == EINTR || errno == EAGAIN ||
                errno == EWOULDBLOCK) {
                continue;
            }
            log_event(LOG_LEVEL_ERROR, "accept_failed", "error=\"%s\"",
                      strerror(errno));
            status = 1;
            break;
        }
        handlers_serve(&context, &request);
        FCGX_Finish_r(&request);
    }
    if (status == 0) {
        worker_drain(&context, &request);
    }

    db_close(&context.db);
    log_event(LOG_LEVEL_INFO, "worker_stopped", "status=%d", status);
    exit(status);
}
