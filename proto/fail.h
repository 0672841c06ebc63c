/* Error reasons for input that does not parse: every proto parser reports through this. */
#ifndef TN_PROTO_FAIL_H
#define TN_PROTO_FAIL_H

#include <stddef.h>

/* Formats a one-line reason into err[0..errlen) and returns TN_ERR_INVALID. */
__attribute__((format(printf, 3, 4))) int proto_fail(char *err, size_t errlen, const char *fmt,
                                                     ...);

#endif
