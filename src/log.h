/* One-line key=value event logging to stderr, shared by every process. */
#ifndef FLEETREG_LOG_H
#define FLEETREG_LOG_H

enum log_level {
    LOG_LEVEL_ERROR = 0,
    LOG_LEVEL_WARNING,
    LOG_LEVEL_INFO,
    LOG_LEVEL_DEBUG
};

/*
 * Sets the program name and the lowest level that is written. When
 * JOURNAL_STREAM is set, each line starts with the journald priority
 * prefix ("<3>" and so on) so that journalctl shows the level.
 */
void log_init(const char *program, enum log_level level);

void log_set_level(enum log_level level);

/* Parses "error", "warning", "info" or "debug". Returns 0, or -1. */
int log_level_parse(const char *text, enum log_level *out);

/*
 * Sets the request id added to every line until the next call; NULL or ""
 * clears it. The string is copied (at most 64 bytes).
 */
void log_set_request_id(const char *request_id);

/*
 * Replaces each double quote in text with a single quote, so that text
 * from outside (a server's error message) can sit inside a quoted value
 * such as error="..." without ending it early.
 */
void log_make_quotable(char *text);

/*
 * Writes one line: "time=T level=L program=P pid=N event=EVENT
 * [request_id=R] FIELDS", with T in UTC to the millisecond.
 * FIELDS is a printf format for further key=value pairs; newlines and
 * other control characters in the result are replaced with spaces so one
 * event is always one line. errno is preserved. Identical (event, fields)
 * lines repeated within a second are suppressed and counted, and the
 * count is reported on the next line written for that event.
 */
void log_event(enum log_level level, const char *event, const char *fields, ...)
    __attribute__((format(printf, 3, 4)));

#endif
