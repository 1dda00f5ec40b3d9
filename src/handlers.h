/* Serving one FastCGI request: parameters, route, identity, body, response. */
#ifndef FLEETREG_HANDLERS_H
#define FLEETREG_HANDLERS_H

#include <fcgiapp.h>

#include "auth.h"
#include "config.h"
#include "db.h"

/* The state a worker keeps between requests. */
struct worker_context {
    const struct config *config;          /* borrowed */
    const struct auth_verifier *verifier; /* borrowed */
    struct db db;
};

/*
 * Serves the accepted request completely: writes a response for every
 * outcome, including errors, and logs every error it catches. The
 * request's parameters and streams stay owned by libfcgi.
 */
void handlers_serve(struct worker_context *context, FCGX_Request *request);

#endif
