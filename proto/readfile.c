#include "proto/readfile.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int proto_read_file(const char *path, size_t max, char **out, size_t *len, char *err,
                    size_t errlen)
{
    bool is_stdin = strcmp(path, "-") == 0;
    FILE *f = is_stdin ? stdin : fopen(path, "rb");
    size_t cap = 4096, n = 0;
    char *buf = NULL;
    int rc = 0;

    if (!f) {
        snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
        return TN_ERR_IO;
    }
    /* Grow by doubling, never past max + 1 (the extra byte detects "too big"). */
    for (;;) {
        size_t got;
        if (n == cap || !buf) {
            char *nb;
            if (buf)
                cap = cap * 2 > max + 1 ? max + 1 : cap * 2;
            if (!(nb = realloc(buf, cap + 1))) {
                rc = TN_ERR_NOMEM;
                break;
            }
            buf = nb;
        }
        got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (n > max) {
            snprintf(err, errlen, "%s is larger than %zu bytes", is_stdin ? "input" : path, max);
            rc = TN_ERR_TOO_BIG;
            break;
        }
        if (got == 0) {
            if (ferror(f)) {
                snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
                rc = TN_ERR_IO;
            }
            break;
        }
    }
    if (!is_stdin)
        fclose(f);
    if (rc != 0) {
        free(buf);
        return rc;
    }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return 0;
}
