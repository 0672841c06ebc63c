#include "node/api_client.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int api_client_connect(struct api_client *c, const char *sock_path, char *err, size_t errlen)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};

    memset(c, 0, sizeof *c);
    c->fd = -1;
    c->next_id = 1;
    if (strlen(sock_path) >= sizeof sa.sun_path) {
        snprintf(err, errlen, "socket path too long: %s", sock_path);
        return TN_ERR_INVALID;
    }
    memcpy(sa.sun_path, sock_path, strlen(sock_path) + 1);
    c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        if (errno == EACCES || errno == EPERM)
            snprintf(err, errlen, "no permission to use the node's socket %s (it belongs to "
                                  "another user)", sock_path);
        else
            snprintf(err, errlen, "node not running (cannot connect to %s: %s)", sock_path,
                     strerror(errno));
        if (c->fd >= 0)
            close(c->fd);
        c->fd = -1;
        return TN_ERR_UNREACHABLE;
    }
    if (!(c->buf = malloc(PROTO_API_FRAME_MAX))) {
        close(c->fd);
        c->fd = -1;
        return TN_ERR_NOMEM;
    }
    return 0;
}

void api_client_close(struct api_client *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    free(c->buf);
    c->buf = NULL;
}

static int write_all(int fd, const void *p, size_t n)
{
    const uint8_t *b = p;

    while (n) {
        ssize_t w = send(fd, b, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return TN_ERR_UNREACHABLE;
        b += w;
        n -= (size_t)w;
    }
    return 0;
}

static int read_all(int fd, void *p, size_t n)
{
    uint8_t *b = p;

    while (n) {
        ssize_t r = read(fd, b, n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return TN_ERR_UNREACHABLE;
        b += r;
        n -= (size_t)r;
    }
    return 0;
}

int api_client_send(struct api_client *c, const msgpack_sbuffer *sb)
{
    uint8_t hdr[4];
    int rc;

    if (sb->size > PROTO_API_FRAME_MAX)
        return TN_ERR_TOO_BIG;
    proto_frame_put_len(hdr, (uint32_t)sb->size);
    if ((rc = write_all(c->fd, hdr, 4)) != 0)
        return rc;
    return write_all(c->fd, sb->data, sb->size);
}

int api_client_recv(struct api_client *c, struct proto_msg *m, char *err, size_t errlen)
{
    uint8_t hdr[4];
    uint32_t len;
    int rc;

    if ((rc = read_all(c->fd, hdr, 4)) != 0) {
        snprintf(err, errlen, "the node closed the connection (stopped or crashed?)");
        return rc;
    }
    len = proto_frame_get_len(hdr);
    if (len > PROTO_API_FRAME_MAX) {
        snprintf(err, errlen, "the node sent an oversized reply");
        return TN_ERR_IO;
    }
    if ((rc = read_all(c->fd, c->buf, len)) != 0) {
        snprintf(err, errlen, "the node closed the connection mid-reply");
        return rc;
    }
    return proto_msg_decode(c->buf, len, m, err, errlen);
}

int api_client_call(struct api_client *c, uint64_t type, struct proto_msg *reply, char *err,
                    size_t errlen)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    int rc;

    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    proto_msg_begin(&pk, type, c->next_id++);
    msgpack_pack_nil(&pk);
    rc = api_client_send(c, &sb);
    msgpack_sbuffer_destroy(&sb);
    if (rc != 0) {
        snprintf(err, errlen, "the node closed the connection");
        return rc;
    }
    return api_client_recv(c, reply, err, errlen);
}

int api_client_send_submit(struct api_client *c, const struct api_event *ev, size_t n)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    int rc;

    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    proto_msg_begin(&pk, PROTO_API_SUBMIT, c->next_id++);
    msgpack_pack_array(&pk, n);
    for (size_t i = 0; i < n; i++) {
        msgpack_pack_str(&pk, ev[i].len);
        msgpack_pack_str_body(&pk, ev[i].text, ev[i].len);
    }
    rc = api_client_send(c, &sb);
    msgpack_sbuffer_destroy(&sb);
    return rc;
}

int api_client_error(const struct proto_msg *m, char *msg, size_t msglen, uint64_t *index)
{
    const msgpack_object *code = proto_msg_map_get(m->body, "code");
    const msgpack_object *text = proto_msg_map_get(m->body, "msg");
    const msgpack_object *idx = proto_msg_map_get(m->body, "index");
    int rc = TN_ERR_IO;

    if (code && code->type == MSGPACK_OBJECT_NEGATIVE_INTEGER && code->via.i64 >= -100)
        rc = (int)code->via.i64;
    if (text && text->type == MSGPACK_OBJECT_STR)
        snprintf(msg, msglen, "%.*s", (int)text->via.str.size, text->via.str.ptr);
    else
        snprintf(msg, msglen, "%s", "the node refused the request");
    *index = idx && idx->type == MSGPACK_OBJECT_POSITIVE_INTEGER ? idx->via.u64 : 0;
    return rc;
}

int api_client_context(struct api_client *c, struct proto_ecosystem *eco, char *org,
                       size_t org_cap, char *err, size_t errlen)
{
    struct proto_msg m;
    const msgpack_object *o, *e;
    char why[512];
    int rc;

    if ((rc = api_client_call(c, PROTO_API_INFO, &m, err, errlen)) != 0)
        return rc;
    o = proto_msg_map_get(m.body, "org");
    e = proto_msg_map_get(m.body, "ecosystem");
    if (m.type != PROTO_API_OK || !o || o->type != MSGPACK_OBJECT_STR ||
        o->via.str.size >= org_cap || !e || e->type != MSGPACK_OBJECT_STR) {
        proto_msg_release(&m);
        snprintf(err, errlen, "the node sent an unexpected reply to INFO");
        return TN_ERR_IO;
    }
    memcpy(org, o->via.str.ptr, o->via.str.size);
    org[o->via.str.size] = '\0';
    rc = proto_ecosystem_parse(e->via.str.ptr, e->via.str.size, true, eco, why, sizeof why);
    /* the node's effective ecosystem: the file, then its governance records in order */
    o = proto_msg_map_get(m.body, "governance");
    for (uint32_t i = 0; rc == 0 && o && o->type == MSGPACK_OBJECT_ARRAY && i < o->via.array.size;
         i++) {
        const msgpack_object *b = &o->via.array.ptr[i];
        struct proto_record r;
        char skip[256];
        proto_record_init(&r);
        /* a governance record without effect on the node has none here either */
        if (b->type == MSGPACK_OBJECT_BIN &&
            proto_record_decode((const uint8_t *)b->via.bin.ptr, b->via.bin.size, &r, skip,
                                sizeof skip) == 0)
            (void)!proto_ecosystem_apply(eco, &r, skip, sizeof skip);
        proto_record_release(&r);
    }
    proto_msg_release(&m);
    if (rc != 0) {
        snprintf(err, errlen, "the node's ecosystem is unreadable: %s", why);
        return TN_ERR_IO;
    }
    return 0;
}

int api_client_submit_one(struct api_client *c, const char *text, size_t len,
                          uint8_t id[PROTO_ID_LEN], char *err, size_t errlen)
{
    struct api_event ev = {.text = text, .len = len};
    struct proto_msg m;
    int rc;

    if ((rc = api_client_send_submit(c, &ev, 1)) != 0) {
        snprintf(err, errlen, "the node closed the connection (stopped?)");
        return rc;
    }
    if ((rc = api_client_recv(c, &m, err, errlen)) != 0)
        return rc;
    if (m.type == PROTO_API_OK && m.body->type == MSGPACK_OBJECT_ARRAY &&
        m.body->via.array.size == 1 && m.body->via.array.ptr[0].type == MSGPACK_OBJECT_BIN &&
        m.body->via.array.ptr[0].via.bin.size == PROTO_ID_LEN) {
        memcpy(id, m.body->via.array.ptr[0].via.bin.ptr, PROTO_ID_LEN);
        rc = 0;
    } else if (m.type == PROTO_API_ERR) {
        uint64_t index;
        rc = api_client_error(&m, err, errlen, &index);
    } else {
        snprintf(err, errlen, "the node sent a malformed reply");
        rc = TN_ERR_IO;
    }
    proto_msg_release(&m);
    return rc;
}
