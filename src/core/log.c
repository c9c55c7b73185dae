#include "core/log.h"

#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

log_level_t log__level = LOG_LEVEL_INFO;

static const char *const log__names[] = {"debug", "info", "warn", "error"};

int log_parse_level(const char *s, log_level_t *out)
{
    for (int i = 0; i < 4; i++) {
        if (strcmp(s, log__names[i]) == 0) {
            *out = (log_level_t)i;
            return 0;
        }
    }
    return -1;
}

void log_set_level(log_level_t level)
{
    log__level = level;
}

/* Appends `s` to out as JSON string content (without quotes); truncates at the buffer end. */
static size_t log__escape(char *out, size_t cap, size_t pos, const char *s)
{
    for (; *s && pos + 7 < cap; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            out[pos++] = '\\';
            out[pos++] = (char)c;
        } else if (c == '\n') {
            out[pos++] = '\\';
            out[pos++] = 'n';
        } else if (c < 0x20) {
            pos += (size_t)snprintf(out + pos, cap - pos, "\\u%04x", c);
        } else {
            out[pos++] = (char)c;
        }
    }
    return pos;
}

static size_t log__prefix(char *line, size_t cap, log_level_t level, const char *component)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    struct tm tm;
    gmtime_r(&tv.tv_sec, &tm);
    char ts[32];
    strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
    return (size_t)snprintf(
        line, cap, "{\"time\":\"%s.%03ldZ\",\"level\":\"%s\",\"pid\":%d,\"component\":\"%s\"", ts,
        (long)(tv.tv_usec / 1000), log__names[level], (int)getpid(), component);
}

static void log__emit(char *line, size_t pos, size_t cap)
{
    if (pos > cap - 3) pos = cap - 3;
    line[pos++] = '}';
    line[pos++] = '\n';
    /* One write(2) per line so lines from several processes never interleave. stderr is a pipe
     * or a file; a short write here is lost log data, never a stall of the loop. */
    ssize_t n = write(STDERR_FILENO, line, pos);
    (void)n;
}

void log_write(log_level_t level, const char *component, const char *fmt, ...)
{
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);

    char line[4096];
    size_t pos = log__prefix(line, sizeof line, level, component);
    pos += (size_t)snprintf(line + pos, sizeof line - pos, ",\"msg\":\"");
    pos = log__escape(line, sizeof line, pos, msg);
    if (pos < sizeof line) line[pos++] = '"';
    log__emit(line, pos, sizeof line);
}

void log_write_json(log_level_t level, const char *component, const char *json_fields)
{
    char line[4096];
    size_t pos = log__prefix(line, sizeof line, level, component);
    size_t n = strlen(json_fields);
    if (pos + 1 + n + 3 < sizeof line) {
        line[pos++] = ',';
        // NOLINTNEXTLINE(bugprone-not-null-terminated-result): emitted by length
        memcpy(line + pos, json_fields, n);
        pos += n;
    }
    log__emit(line, pos, sizeof line);
}
