/* Small helpers shared by the unit tests: temp dirs and hex. */
#ifndef TN_TEST_UTIL_H
#define TN_TEST_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

/* Makes a fresh private temp dir; the caller removes it with tn_test_rmdir. */
static inline char *tn_test_mkdtemp(void)
{
    char tmpl[] = "/tmp/tn-test-XXXXXX";
    char *d = mkdtemp(tmpl);
    assert_non_null(d);
    return strdup(d);
}

static inline void tn_test_rmdir(char *dir)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
    free(dir);
}

static inline void tn_test_unhex(uint8_t *out, size_t n, const char *hex)
{
    assert_int_equal(strlen(hex), n * 2);
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        assert_int_equal(sscanf(hex + 2 * i, "%2x", &v), 1);
        out[i] = (uint8_t)v;
    }
}

#endif
