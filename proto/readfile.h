/* Reading whole input files with a size cap checked before allocating. */
#ifndef TN_PROTO_READFILE_H
#define TN_PROTO_READFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "crypto/error.h"

/* Reads all of path ("-" = standard input) into a malloc'd, NUL-terminated buffer.
 * TN_ERR_TOO_BIG past max bytes, TN_ERR_IO if it cannot be read; reason in err. */
int proto_read_file(const char *path, size_t max, char **out, size_t *len, char *err,
                    size_t errlen) TN_MUST_CHECK;

#endif
