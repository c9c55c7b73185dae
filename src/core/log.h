/* log: leveled structured logging. Every line is one JSON object on stderr:
 * {"time":"...","level":"info","component":"http","msg":"...", ...extra}.
 * The level check happens in the macro, so disabled levels cost one comparison.
 * Never pass secrets, tokens or passwords to these functions. */
#ifndef NOVA_CORE_LOG_H
#define NOVA_CORE_LOG_H

#include <stdarg.h>

typedef enum { LOG_LEVEL_DEBUG = 0, LOG_LEVEL_INFO, LOG_LEVEL_WARN, LOG_LEVEL_ERROR } log_level_t;

extern log_level_t log__level;

/* Parses "debug", "info", "warn" or "error"; returns 0 or -1. */
int log_parse_level(const char *s, log_level_t *out);
void log_set_level(log_level_t level);

/* Writes one line. `component` names the module ("http", "db"); the formatted message is escaped
 * as a JSON string. */
void log_write(log_level_t level, const char *component, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Writes a pre-built JSON object body (without braces) after the standard fields, for access
 * logs: log_write_json(LOG_LEVEL_INFO, "access", "\"status\":200,...") */
void log_write_json(log_level_t level, const char *component, const char *json_fields);

#define log_debug(comp, ...)                                                                       \
    do {                                                                                           \
        if (log__level <= LOG_LEVEL_DEBUG) log_write(LOG_LEVEL_DEBUG, comp, __VA_ARGS__);          \
    } while (0)
#define log_info(comp, ...)                                                                        \
    do {                                                                                           \
        if (log__level <= LOG_LEVEL_INFO) log_write(LOG_LEVEL_INFO, comp, __VA_ARGS__);            \
    } while (0)
#define log_warn(comp, ...)                                                                        \
    do {                                                                                           \
        if (log__level <= LOG_LEVEL_WARN) log_write(LOG_LEVEL_WARN, comp, __VA_ARGS__);            \
    } while (0)
#define log_error(comp, ...) log_write(LOG_LEVEL_ERROR, comp, __VA_ARGS__)

#endif
