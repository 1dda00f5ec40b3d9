/* Readiness and status messages to systemd (the sd_notify protocol). */
#ifndef FLEETREG_NOTIFY_H
#define FLEETREG_NOTIFY_H

/*
 * Sends state (e.g. "READY=1") to the socket named by NOTIFY_SOCKET.
 * Does nothing when the variable is unset; failures are logged, since a
 * missed notification must not stop the service.
 */
void notify_systemd(const char *state);

#endif
