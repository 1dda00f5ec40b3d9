/* A worker process: accepts FastCGI requests one at a time until told to stop. */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include <fcgiapp.h>

#include "handlers.h"
#include "log.h"
#include "worker.h"

static volatile sig_atomic_t worker_stop_requested;

/*
 * SIGTERM and SIGINT: finish the request in hand, then exit. The handler
 * is installed without SA_RESTART so that a worker blocked in accept()
 * wakes up, and FCGX_ShutdownPending() makes libfcgi stop accepting.
 */
static void worker_handle_stop(int signal_number)
{
    (void)signal_number;
    worker_stop_requested = 1;
    FCGX_ShutdownPending();
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

void worker_run(int listen_fd, const struct config *config,
                const struct auth_verifier *verifier)
{
    struct worker_context context;
    FCGX_Request request;
    int status = 0;

    worker_install_signals();
    log_event(LOG_LEVEL_INFO, "worker_started", "%s", "");

    memset(&context, 0, sizeof(context));
    context.config = config;
    context.verifier = verifier;
    db_init(&context.db, config);

    FCGX_Init();
    FCGX_InitRequest(&request, listen_fd, FCGI_FAIL_ACCEPT_ON_INTR);

    while (!worker_stop_requested) {
        if (FCGX_Accept_r(&request) < 0) {
            if (worker_stop_requested || errno == EINTR) {
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

    db_close(&context.db);
    log_event(LOG_LEVEL_INFO, "worker_stopped", "status=%d", status);
    exit(status);
}
