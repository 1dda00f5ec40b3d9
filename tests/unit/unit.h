/* A minimal check harness for the unit test programs. */
#ifndef FLEETREG_UNIT_H
#define FLEETREG_UNIT_H

#include <stdio.h>
#include <string.h>

static int unit_failures;
static int unit_checks;

/* Records one check; prints the failing expression with its location. */
#define CHECK(condition)                                                       \
    do {                                                                       \
        unit_checks++;                                                         \
        if (!(condition)) {                                                    \
            unit_failures++;                                                   \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__,   \
                    #condition);                                               \
        }                                                                      \
    } while (0)

#define CHECK_STR_EQ(actual, expected)                                         \
    do {                                                                       \
        const char *unit_actual_ = (actual);                                   \
        const char *unit_expected_ = (expected);                               \
        unit_checks++;                                                         \
        if (unit_actual_ == NULL ||                                            \
            strcmp(unit_actual_, unit_expected_) != 0) {                       \
            unit_failures++;                                                   \
            fprintf(stderr, "%s:%d: expected \"%s\", got \"%s\"\n", __FILE__,  \
                    __LINE__, unit_expected_,                                  \
                    unit_actual_ ? unit_actual_ : "(null)");                   \
        }                                                                      \
    } while (0)

/* Runs one test function and names it in the output. */
#define RUN_TEST(function)                                                     \
    do {                                                                       \
        int unit_before_ = unit_failures;                                      \
        function();                                                            \
        printf("%s %s\n", unit_failures == unit_before_ ? "ok" : "FAIL",       \
               #function);                                                     \
    } while (0)

/* Prints the totals and returns the process exit status. */
static inline int unit_finish(void)
{
    printf("%d checks, %d failed\n", unit_checks, unit_failures);
    return unit_failures == 0 ? 0 : 1;
}

#endif
