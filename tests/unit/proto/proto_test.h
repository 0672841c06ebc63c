/* Helpers shared by the proto unit tests: checks that print both values, hex parsing of
 * literal byte strings, and a bounded-memory runner for decoder calls. Not a test itself
 * (the CMake glob only picks up test_*.c). */
#ifndef TN_PROTO_TEST_H
#define TN_PROTO_TEST_H

#include <ctype.h>
#include <inttypes.h>
#include <stdbool.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../test_util.h"

#include "crypto/error.h"

/* Address sanitizer reserves terabytes of address space, so RLIMIT_AS cannot be used. */
#if defined(__SANITIZE_ADDRESS__)
#define PT_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define PT_ASAN 1
#endif
#endif
#ifndef PT_ASAN
#define PT_ASAN 0
#endif

/* A failing check prints what was being checked, both codes and the error text. */
#define EXPECT_RC(got, want, errtext, ...)                                                   \
    do {                                                                                     \
        int got_ = (got), want_ = (want);                                                    \
        if (got_ != want_) {                                                                 \
            print_error(__VA_ARGS__);                                                        \
            print_error(": got %d (%s), want %d (%s); err \"%s\"\n", got_, tn_strerror(got_), \
                        want_, tn_strerror(want_), (errtext));                               \
            fail();                                                                          \
        }                                                                                    \
    } while (0)

/* Fails unless haystack contains needle; prints both. */
#define EXPECT_CONTAINS(haystack, needle, ...)                                               \
    do {                                                                                     \
        const char *h_ = (haystack), *n_ = (needle);                                         \
        if (!h_ || !strstr(h_, n_)) {                                                        \
            print_error(__VA_ARGS__);                                                        \
            print_error(": \"%s\" does not contain \"%s\"\n", h_ ? h_ : "(null)", n_);      \
            fail();                                                                          \
        }                                                                                    \
    } while (0)

/* Parses hex with optional spaces ("d2 84 58") into out; returns the byte count. */
static inline size_t pt_hex(uint8_t *out, size_t cap, const char *hex)
{
    size_t n = 0;

    while (*hex) {
        unsigned v;
        if (isspace((unsigned char)*hex)) {
            hex++;
            continue;
        }
        assert_true(n < cap);
        assert_int_equal(sscanf(hex, "%2x", &v), 1);
        out[n++] = (uint8_t)v;
        hex += 2;
    }
    return n;
}

static inline double pt_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Virtual memory size of this process in bytes, from /proc/self/status. */
static inline size_t pt_vmsize(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    size_t kb = 0;

    if (!f)
        return 0;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "VmSize:", 7) == 0)
            kb = (size_t)strtoull(line + 7, NULL, 10);
    fclose(f);
    return kb * 1024;
}

/* Runs fn(ctx) in a child whose address space may grow by at most extra bytes and
 * returns fn's result (an error code), or 1000 + signal if the child died. A decoder
 * that tries to allocate past the limit sees malloc fail (typically TN_ERR_NOMEM). */
typedef int (*pt_fn)(void *ctx);
static inline int pt_run_limited(pt_fn fn, void *ctx, size_t extra)
{
    int status = 0;
    pid_t pid;

    fflush(NULL);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct rlimit rl;
        size_t base = pt_vmsize();
        int rc;
        rl.rlim_cur = rl.rlim_max = base + extra;
        if (base == 0 || setrlimit(RLIMIT_AS, &rl) != 0)
            _exit(99);
        rc = fn(ctx);
        _exit(-rc & 0x7f);
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    if (WIFSIGNALED(status))
        return 1000 + WTERMSIG(status);
    assert_true(WIFEXITED(status));
    assert_int_not_equal(WEXITSTATUS(status), 99);
    return -WEXITSTATUS(status);
}

#endif
