/* The master process: the listening socket and the supervision of workers. */
#ifndef FLEETREG_MASTER_H
#define FLEETREG_MASTER_H

/*
 * Loads the configuration from config_path (NULL for the default),
 * opens or inherits the socket, checks the schema, forks the workers and
 * supervises them until SIGTERM or SIGINT. Returns the exit status: 0
 * after a clean stop, 1 on a runtime failure, 78 (EX_CONFIG) when the
 * configuration or the schema is unusable.
 */
int master_run(const char *config_path);

#endif
