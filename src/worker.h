/* A worker process: serves FastCGI requests one at a time until it stops. */
#ifndef FLEETREG_WORKER_H
#define FLEETREG_WORKER_H

#include "auth.h"
#include "config.h"

/*
 * Serves requests on listen_fd until SIGTERM or SIGINT, finishing the
 * request in hand first. Never returns; exits 0 on a requested stop and
 * 1 when accepting fails for another reason.
 */
void worker_run(int listen_fd, const struct config *config,
                const struct auth_verifier *verifier) __attribute__((noreturn));

#endif
