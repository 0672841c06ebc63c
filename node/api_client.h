/* Blocking client of the local API (tracectl side). */
#ifndef TN_NODE_API_CLIENT_H
#define TN_NODE_API_CLIENT_H

#include <msgpack.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/error.h"
#include "proto/ecosystem.h"
#include "proto/msg.h"
#include "proto/record.h"

struct api_client {
    int fd;
    int64_t next_id;
    uint8_t *buf; /* one frame */
};

/* Connects to the node's socket. TN_ERR_UNREACHABLE if no node is listening; reason in
 * err. */
int api_client_connect(struct api_client *c, const char *sock_path, char *err,
                       size_t errlen) TN_MUST_CHECK;
void api_client_close(struct api_client *c);

/* Sends one framed message (already packed in sb). TN_ERR_UNREACHABLE if the node went
 * away. */
int api_client_send(struct api_client *c, const msgpack_sbuffer *sb) TN_MUST_CHECK;

/* Receives one reply into m (release with proto_msg_release). m's strings and
 * binaries point into the client's buffer: valid until the next recv or close. */
int api_client_recv(struct api_client *c, struct proto_msg *m, char *err,
                    size_t errlen) TN_MUST_CHECK;

/* One request with a nil body, one reply. */
int api_client_call(struct api_client *c, uint64_t type, struct proto_msg *reply, char *err,
                    size_t errlen) TN_MUST_CHECK;

/* One event text to submit, and where it came from (1-based input line, 0: none). */
struct api_event {
    const char *text;
    size_t len;
    size_t line;
};

/* Sends one SUBMIT request with ev[0..n) (n at most PROTO_API_SUBMIT_MAX). */
int api_client_send_submit(struct api_client *c, const struct api_event *ev,
                           size_t n) TN_MUST_CHECK;

/* For a PROTO_API_ERR reply: the node's code, message and event index. */
int api_client_error(const struct proto_msg *m, char *msg, size_t msglen, uint64_t *index);

/* The node's org and effective ecosystem (the file plus its governance records), from
 * INFO; release eco with proto_ecosystem_release. */
int api_client_context(struct api_client *c, struct proto_ecosystem *eco, char *org,
                       size_t org_cap, char *err, size_t errlen) TN_MUST_CHECK;

/* Submits one event and waits for its record id (returned once durably committed). On
 * refusal returns the node's error code with its message in err. */
int api_client_submit_one(struct api_client *c, const char *text, size_t len,
                          uint8_t id[PROTO_ID_LEN], char *err, size_t errlen) TN_MUST_CHECK;

#endif
