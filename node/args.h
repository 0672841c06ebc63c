/* Command-line parsing shared by tracenode and tracectl: "--name VALUE" or
 * "--name=VALUE" options from a table, everything else positional. */
#ifndef TN_NODE_ARGS_H
#define TN_NODE_ARGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/error.h"

#define ARGS_MULTI_MAX 64

enum args_kind { ARGS_FLAG, ARGS_VALUE, ARGS_MULTI };

struct args_multi {
    const char *v[ARGS_MULTI_MAX];
    size_t n;
};

struct args_opt {
    const char *name; /* without the leading "--" */
    enum args_kind kind;
    void *target; /* bool *, const char **, struct args_multi * */
};

/* Parses argv[0..argc) against opts (terminated by a NULL name). Positional arguments
 * go to pos (at most max_pos). "--" ends options. Returns 0, or TN_ERR_INVALID with a
 * message in err (unknown option, missing value, repeated option, too many arguments). */
int args_parse(int argc, char **argv, const struct args_opt *opts, const char **pos,
               size_t max_pos, size_t *n_pos, char *err, size_t errlen) TN_MUST_CHECK;

/* "1048576", "64K", "512M", "16G" (binary units) -> bytes. TN_ERR_INVALID otherwise. */
int args_parse_size(const char *s, uint64_t *out) TN_MUST_CHECK;

/* Non-negative decimal integer; TN_ERR_INVALID otherwise. */
int args_parse_u64(const char *s, uint64_t *out) TN_MUST_CHECK;

/* "HOST:PORT" with a port 1..65535; TN_ERR_INVALID otherwise. */
int args_check_hostport(const char *s) TN_MUST_CHECK;

#endif
