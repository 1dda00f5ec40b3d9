/* One-line key=value event logging to stderr, with repeat suppression. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

#define LOG_LINE_MAX 2048
#define LOG_REPEAT_SLOTS 16

/* A recently written line, kept to suppress identical repeats. */
struct log_repeat {
    unsigned long hash;
    time_t first_seen;
    unsigned long suppressed;
};

static const char *log_program = "fleetreg";
static enum log_level log_threshold = LOG_LEVEL_INFO;
static int log_journal_prefix;
static char log_request_id[65];
static struct log_repeat log_repeats[LOG_REPEAT_SLOTS];

static const char *const log_level_names[] = {"error", "warning", "info",
                                              "debug"};

/* journald priorities: err, warning, info, debug. */
static const int log_journal_priorities[] = {3, 4, 6, 7};

void log_init(const char *program, enum log_level level)
{
    log_program = program;
    log_threshold = level;
    log_journal_prefix = getenv("JOURNAL_STREAM") != NULL;
}

void log_set_level(enum log_level level)
{
    log_threshold = level;
}

int log_level_parse(const char *text, enum log_level *out)
{
    for (size_t i = 0; i < sizeof(log_level_names) / sizeof(*log_level_names);
         i++) {
        if (strcmp(text, log_level_names[i]) == 0) {
            *out = (enum log_level)i;
            return 0;
        }
    }
    return -1;
}

/* Replaces control characters so that one event stays one line. */
static void log_neutralise(char *text)
{
    for (; *text != '\0'; text++) {
        if ((unsigned char)*text < 0x20 || *text == 0x7f) {
            *text = ' ';
        }
    }
}

void log_set_request_id(const char *request_id)
{
    if (request_id == NULL) {
        log_request_id[0] = '\0';
        return;
    }
    snprintf(log_request_id, sizeof(log_request_id), "%s", request_id);
    log_neutralise(log_request_id);
}

static unsigned long log_hash(const char *event, const char *fields)
{
    unsigned long hash = 5381;

    for (const char *p = event; *p != '\0'; p++) {
        hash = hash * 33 + (unsigned char)*p;
    }
    for (const char *p = fields; *p != '\0'; p++) {
        hash = hash * 33 + (unsigned char)*p;
    }
    return hash;
}

/*
 * Returns 1 when the line was written less than a second ago and must be
 * suppressed. Otherwise returns 0 and stores in *suppressed how many
 * copies were dropped since the line was last written.
 */
static int log_check_repeat(unsigned long hash, unsigned long *suppressed)
{
    struct log_repeat *slot = &log_repeats[hash % LOG_REPEAT_SLOTS];
    time_t now = time(NULL);

    *suppressed = 0;
    if (slot->hash == hash && now - slot->first_seen < 1) {
        slot->suppressed++;
        return 1;
    }
    if (slot->hash == hash) {
        *suppressed = slot->suppressed;
    }
    slot->hash = hash;
    slot->first_seen = now;
    slot->suppressed = 0;
    return 0;
}

void log_make_quotable(char *text)
{
    for (; *text != '\0'; text++) {
        if (*text == '"') {
            *text = '\'';
        }
    }
}

/* Formats the current time as 2026-12-04T15:18:45.123Z. */
static void log_format_time(char *out, size_t out_size)
{
    struct timespec now;
    struct tm parts;

    clock_gettime(CLOCK_REALTIME, &now);
    gmtime_r(&now.tv_sec, &parts);
    snprintf(out, out_size, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ",
             parts.tm_year + 1900, parts.tm_mon + 1, parts.tm_mday,
             parts.tm_hour, parts.tm_min, parts.tm_sec, now.tv_nsec / 1000000);
}

void log_event(enum log_level level, const char *event, const char *fields, ...)
{
    char text[LOG_LINE_MAX];
    char line[LOG_LINE_MAX + 256];
    char timestamp[64];
    unsigned long suppressed;
    int saved_errno = errno;
    va_list arguments;
    int length;

    if (level > log_threshold) {
        return;
    }

    va_start(arguments, fields);
    vsnprintf(text, sizeof(text), fields, arguments);
    va_end(arguments);
    log_neutralise(text);

    if (log_check_repeat(log_hash(event, text), &suppressed)) {
        errno = saved_errno;
        return;
    }

    log_format_time(timestamp, sizeof(timestamp));
    length = snprintf(
        line, sizeof(line), "time=%s level=%s program=%s pid=%d event=%s",
        timestamp, log_level_names[level], log_program, (int)getpid(), event);
    if (log_request_id[0] != '\0') {
        length += snprintf(line + length, sizeof(line) - (size_t)length,
                           " request_id=%s", log_request_id);
    }
    if (text[0] != '\0') {
        length +=
            snprintf(line + length, sizeof(line) - (size_t)length, " %s", text);
    }
    if (suppressed > 0) {
        snprintf(line + length, sizeof(line) - (size_t)length,
                 " repeats_suppressed=%lu", suppressed);
    }

    if (log_journal_prefix) {
        fprintf(stderr, "<%d>%s\n", log_journal_priorities[level], line);
    } else {
        fprintf(stderr, "%s\n", line);
    }
    errno = saved_errno;
}
