#include "node/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static enum node_log_level min_level = NODE_LOG_INFO;

void node_log_set_level(enum node_log_level level)
{
    min_level = level;
}

void node_log(enum node_log_level level, const char *fmt, ...)
{
    static const char *const names[] = {"DEBUG", "INFO", "WARN", "ERROR"};
    char line[1024], out[1100], stamp[32];
    struct timespec ts;
    struct tm tm;
    va_list ap;
    int n;

    if (level < min_level)
        return;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    /* One line per event: fold any newline a message carried. */
    for (char *p = line; *p; p++)
        if (*p == '\n' || *p == '\r')
            *p = ' ';
    /* One write per line so lines from several threads never interleave. */
    n = snprintf(out, sizeof out, "%s.%03ldZ %s %s\n", stamp, ts.tv_nsec / 1000000, names[level],
                 line);
    if (n > 0)
        fwrite(out, 1, (size_t)n < sizeof out ? (size_t)n : sizeof out - 1, stderr);
}
