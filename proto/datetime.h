/* RFC 3339 date-times as YANG's date-and-time type writes them (RFC 6991):
 * YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM), a real calendar date. MUD files
 * carry one in last-update; anchors compare them as instants, not as text. */
#ifndef TN_PROTO_DATETIME_H
#define TN_PROTO_DATETIME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/error.h"

/* An instant: seconds since 1970-01-01T00:00:00Z (UTC) and nanoseconds. A leap second
 * (:60) counts as the last nanosecond of its minute's :59. */
struct proto_instant {
    int64_t sec;
    uint32_t nsec;
};

/* Parses s[0..len). TN_ERR_INVALID with the reason in err when it is not a date-time of
 * the form above or names a date or time that does not exist (2019-02-30, 24:00:00). */
int proto_datetime_parse(const char *s, size_t len, struct proto_instant *out, char *err,
                         size_t errlen) TN_MUST_CHECK;

/* <0, 0, >0 as a is before, at, after b. */
int proto_instant_cmp(const struct proto_instant *a, const struct proto_instant *b);

#endif
