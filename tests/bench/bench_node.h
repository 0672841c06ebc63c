/* What the benchmarks share: the clock, medians, the standard event, and a real tracenode
 * of one org ("maker", network "bench") in a temporary directory, fed through the local
 * API as tracectl submit feeds it. Every function here exits the program with a message
 * on failure: a benchmark has nothing to recover. */
#ifndef TN_BENCH_NODE_H
#define TN_BENCH_NODE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "node/api_client.h"

/* Monotonic seconds. */
double bench_now(void);

/* Median of v[0..n) (sorts v in place). */
double bench_median(double *v, int n); /* sorts v in place */

/* Prints "PROGRAM: what" to stderr and exits 1. */
void bench_die(const char *what) __attribute__((noreturn));

/* The event every benchmark submits: a commission of item i in lot i/1000. Its record,
 * signed by "maker" on network "bench", is about 300 bytes (292 near seq 0, about 300 by
 * seq 100,000; bench_reads prints the mean of a whole shard). Writes the JSON text to
 * buf[0..cap) and returns its length. */
size_t bench_event_text(char *buf, size_t cap, size_t i);

/* Writes gov.key, org.key, node.key and eco.json into dir: an ecosystem of the one org
 * "maker" whose node listens on 127.0.0.1:port. */
void bench_ecosystem_one(const char *dir, unsigned port);

/* A new Ed25519 key file DIR/NAME (0600); pk gets its public key. Dies on failure. */
void bench_keyfile(const char *dir, const char *name, uint8_t pk[32]);

/* Starts argv[0] with stdout (fd 1) or stderr (fd 2) sent to `to`, appended; dies on
 * failure. posix_spawn rather than fork: glibc's spawns without copying this process's
 * page tables, so start-up figures do not grow with the benchmark's own memory. */
pid_t bench_spawn(char *const argv[], int fd, const char *to);

/* Starts tracenode bin as "maker" on data dir data with the keys bench_ecosystem_one
 * wrote into dir, listening on 127.0.0.1:port, its log appended to dir/node.log. */
pid_t bench_node_start(const char *bin, const char *dir, const char *data, unsigned port);

/* SIGTERM, then waits for the node to exit. */
void bench_node_stop(pid_t pid);

/* Connects c to the API socket of data dir data, waiting up to 30 s for the node to
 * come up; 0 on success, -1 if it never answered. */
int bench_node_connect(struct api_client *c, const char *data);

/* Submits events first..first+n-1 (bench_event_text) in SUBMIT requests of 1,024 with
 * up to 4 requests in flight, and waits for every acknowledgement (each one sent once
 * the records are durably committed). With ids non-NULL, ids[k] gets the record id of
 * event first+k. */
void bench_node_fill(struct api_client *c, size_t first, size_t n, uint8_t (*ids)[32]);

#endif
