#include "proto/fail.h"

#include <stdarg.h>
#include <stdio.h>

#include "crypto/error.h"

int proto_fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return TN_ERR_INVALID;
}
