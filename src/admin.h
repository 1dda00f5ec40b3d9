/* Subcommands of fleetreg-admin, each called with argv starting at its name. */
#ifndef FLEETREG_ADMIN_H
#define FLEETREG_ADMIN_H

/* Each returns the process exit status. */
int admin_token_main(int argc, char **argv);
int admin_duplicates_main(int argc, char **argv);
int admin_dedupe_main(int argc, char **argv);

#endif
