/* The local API: a Unix socket in the data dir (mode 0600 inside a 0700 dir), framed
 * msgpack requests (proto/msg.h). tracectl is its client. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypto/checkpoint.h"
#include "crypto/encode.h"
#include "node/daemon.h"
#include "node/gossip.h"
#include "node/log.h"
#include "node/peer.h"
#include "proto/msg.h"

#define READ_CHUNK 65536
#define CONN_BUF_MAX (PROTO_API_FRAME_MAX + 4 + READ_CHUNK)
/* What one client may hold of the node. Requests handed to the writer (tracectl keeps 8 in
 * flight): at CONN_WAITING_MAX the node stops reading the client until one is answered.
 * Replies it has not read: at CONN_REPLY_BYTES_MAX (about 120 replies to 1,024 events) the
 * node closes the connection. Pausing there would hang a client that sends everything
 * before it reads anything, since neither side would move again; without either limit, a
 * client that never reads would make the node queue events and replies without limit. */
#define CONN_WAITING_MAX 16
#define CONN_REPLY_BYTES_MAX (4u * 1024 * 1024)

struct api_conn {
    uv_pipe_t pipe;
    struct node *node;
    uint8_t *buf;
    size_t len, cap;
    size_t waiting; /* requests at the writer (submissions and imports) */
    bool closing, reading;
    bool closed; /* the handle's close callback ran: freed once nothing waits either */
    struct api_conn *next, *prev; /* open connections, for shutdown */
};

struct node_api {
    uv_pipe_t server;
    bool open;
    struct api_conn *conns;
};

struct write_req {
    uv_write_t req;
    struct api_conn *conn;
    msgpack_sbuffer sb;
    uint8_t hdr[4];
};

static void conn_pump(struct api_conn *c);

/* Frees c once its handle is closed and none of its requests is at the writer. */
static void conn_release(struct api_conn *c)
{
    if (c->closed && c->waiting == 0) {
        free(c->buf);
        free(c);
    }
}

/* A request of c came back from the writer: c may read again, or be freed. */
static void conn_answered(struct api_conn *c)
{
    c->waiting--;
    conn_pump(c);
    conn_release(c);
}

static void on_conn_closed(uv_handle_t *h)
{
    struct api_conn *c = h->data;

    c->closed = true;
    conn_release(c);
}

static void conn_close(struct api_conn *c)
{
    struct node_api *api = c->node->api;

    if (c->closing)
        return;
    c->closing = true;
    if (c->prev)
        c->prev->next = c->next;
    else
        api->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    uv_close((uv_handle_t *)&c->pipe, on_conn_closed);
}

static void on_written(uv_write_t *req, int status)
{
    struct write_req *w = (struct write_req *)req;
    struct api_conn *c = w->conn; /* write callbacks run before the handle's close one */

    msgpack_sbuffer_destroy(&w->sb);
    free(w);
    if (status == 0)
        conn_pump(c); /* the client read a reply: it may have room again */
    else
        conn_close(c); /* gone: while paused at CONN_WAITING_MAX it would not see its EOF */
}

/* Sends one framed message; w->sb holds the message. Takes ownership of w. */
static void send_msg(struct api_conn *c, struct write_req *w)
{
    uv_buf_t bufs[2];

    if (c->closing) {
        msgpack_sbuffer_destroy(&w->sb);
        free(w);
        return;
    }
    w->conn = c;
    proto_frame_put_len(w->hdr, (uint32_t)w->sb.size);
    bufs[0] = uv_buf_init((char *)w->hdr, 4);
    bufs[1] = uv_buf_init(w->sb.data, (unsigned)w->sb.size);
    if (uv_write(&w->req, (uv_stream_t *)&c->pipe, bufs, 2, on_written) != 0) {
        msgpack_sbuffer_destroy(&w->sb);
        free(w);
        conn_close(c);
    }
}

static struct write_req *reply_new(msgpack_packer *pk)
{
    struct write_req *w = calloc(1, sizeof *w);

    if (!w)
        return NULL;
    msgpack_sbuffer_init(&w->sb);
    msgpack_packer_init(pk, &w->sb, msgpack_sbuffer_write);
    return w;
}

static void pack_str(msgpack_packer *pk, const char *s)
{
    size_t n = strlen(s);
    msgpack_pack_str(pk, n);
    msgpack_pack_str_body(pk, s, n);
}

static void send_error(struct api_conn *c, int64_t req_id, int code, const char *msg,
                       size_t index)
{
    msgpack_packer pk;
    struct write_req *w = reply_new(&pk);

    if (!w)
        return conn_close(c);
    proto_msg_begin(&pk, PROTO_API_ERR, req_id);
    msgpack_pack_map(&pk, 3);
    pack_str(&pk, "code");
    msgpack_pack_int(&pk, code);
    pack_str(&pk, "msg");
    pack_str(&pk, msg);
    pack_str(&pk, "index");
    msgpack_pack_uint64(&pk, index);
    send_msg(c, w);
}

/* --- SUBMIT ------------------------------------------------------------------------- */

struct api_submit {
    struct node_submit s;
    struct api_conn *conn;
    int64_t req_id;
};

static void submit_free(struct api_submit *a)
{
    for (size_t i = 0; i < a->s.n; i++)
        proto_event_release(&a->s.evs[i]);
    free(a->s.evs);
    free(a->s.ids);
    free(a);
}

static void submit_done(struct node_submit *s, void *ctx)
{
    struct api_submit *a = ctx;
    struct api_conn *c = a->conn;

    if (s->rc != 0) {
        send_error(c, a->req_id, s->rc, s->err, s->err_index);
    } else {
        msgpack_packer pk;
        struct write_req *w = reply_new(&pk);
        if (w) {
            proto_msg_begin(&pk, PROTO_API_OK, a->req_id);
            msgpack_pack_array(&pk, s->n);
            for (size_t i = 0; i < s->n; i++) {
                msgpack_pack_bin(&pk, PROTO_ID_LEN);
                msgpack_pack_bin_body(&pk, s->ids[i], PROTO_ID_LEN);
            }
            send_msg(c, w);
        } else {
            conn_close(c);
        }
    }
    submit_free(a);
    conn_answered(c);
}

/* Events are parsed and checked here, on the loop thread, while the writer thread
 * signs and commits earlier ones: the two cores work in a pipeline, and a bad request is
 * answered at once without touching the repository. */
static void handle_submit(struct api_conn *c, const struct proto_msg *m)
{
    const msgpack_object *body = m->body;
    struct api_submit *a;
    char err[512];
    uint32_t n;
    int rc;

    if (body->type != MSGPACK_OBJECT_ARRAY || body->via.array.size == 0 ||
        body->via.array.size > PROTO_API_SUBMIT_MAX)
        return send_error(c, m->req_id, TN_ERR_INVALID,
                          "submit body must be an array of 1..1024 event texts", 0);
    n = body->via.array.size;
    if (!(a = calloc(1, sizeof *a)) || !(a->s.evs = calloc(n, sizeof *a->s.evs)) ||
        !(a->s.ids = calloc(n, sizeof *a->s.ids))) {
        if (a)
            submit_free(a);
        return send_error(c, m->req_id, TN_ERR_NOMEM, "out of memory", 0);
    }
    a->conn = c;
    a->req_id = m->req_id;
    for (uint32_t i = 0; i < n; i++) {
        const msgpack_object *e = &body->via.array.ptr[i];
        if (e->type != MSGPACK_OBJECT_STR) {
            a->s.n = i;
            submit_free(a);
            return send_error(c, m->req_id, TN_ERR_INVALID, "event is not a text string", i);
        }
        rc = node_submit_check(c->node, e->via.str.ptr, e->via.str.size, &a->s.evs[i], err,
                               sizeof err);
        a->s.n = i + 1;
        a->s.bytes += e->via.str.size;
        if (rc != 0) {
            submit_free(a);
            return send_error(c, m->req_id, rc, err, i);
        }
    }
    a->s.done = submit_done;
    a->s.ctx = a;
    c->waiting++;
    node_writer_submit(c->node->writer, &a->s);
}

/* --- STATUS and INFO ---------------------------------------------------------------- */

struct shard_list {
    struct node *node;
    struct store_txn *txn;
    msgpack_packer *pk;
    size_t count;
    bool pack; /* false: only count */
};

static int pack_shard(void *ctx, const char *org, const struct store_shard *s)
{
    struct shard_list *l = ctx;
    uint8_t root[CRY_HASH_LEN];
    char hex[CRY_HEX_LEN(CRY_HASH_LEN)];
    uint64_t cp_size = 0;
    const char *note;
    size_t note_len;
    int rc;

    l->count++;
    if (!l->pack)
        return 0;
    if ((rc = store_root(l->txn, org, s->size, root)) != 0)
        return rc;
    if (store_checkpoint_get(l->txn, org, &cp_size, &note, &note_len) != 0)
        cp_size = 0;
    cry_hex(hex, root, CRY_HASH_LEN);
    msgpack_pack_map(l->pk, 8);
    pack_str(l->pk, "org");
    pack_str(l->pk, org);
    pack_str(l->pk, "size");
    msgpack_pack_uint64(l->pk, s->size);
    pack_str(l->pk, "root");
    pack_str(l->pk, hex);
    pack_str(l->pk, "frozen");
    if (s->frozen)
        msgpack_pack_true(l->pk);
    else
        msgpack_pack_false(l->pk);
    pack_str(l->pk, "checkpoint_size");
    msgpack_pack_uint64(l->pk, cp_size);
    /* sync progress: the most any peer has said it holds, and how far behind we are */
    {
        uint64_t peer_max = gossip_peer_max(l->node, org);
        pack_str(l->pk, "peer_max");
        msgpack_pack_uint64(l->pk, peer_max);
        pack_str(l->pk, "behind");
        msgpack_pack_uint64(l->pk, peer_max > s->size ? peer_max - s->size : 0);
        pack_str(l->pk, "fetch");
        gossip_pack_fetch(l->node, org, l->pk);
    }
    return 0;
}

static void handle_status(struct api_conn *c, const struct proto_msg *m)
{
    struct node *n = c->node;
    struct store_txn *txn;
    msgpack_packer pk;
    struct write_req *w;
    struct shard_list l = {.node = n, .pk = &pk};
    char pk_text[CRY_PK_TEXT_LEN];
    int rc;

    if ((rc = store_txn_begin(n->repo, false, &txn)) != 0)
        return send_error(c, m->req_id, rc, "cannot read the repository", 0);
    l.txn = txn;
    if ((rc = store_shard_each(txn, pack_shard, &l)) != 0 || !(w = reply_new(&pk))) {
        store_txn_abort(txn);
        return send_error(c, m->req_id, rc ? rc : TN_ERR_NOMEM, "cannot list shards", 0);
    }
    proto_msg_begin(&pk, PROTO_API_OK, m->req_id);
    msgpack_pack_map(&pk, 8);
    pack_str(&pk, "org");
    pack_str(&pk, n->self->id);
    pack_str(&pk, "network");
    pack_str(&pk, node_eco(n)->network);
    pack_str(&pk, "listen");
    pack_str(&pk, n->cfg->listen);
    pack_str(&pk, "node");
    cry_pk_format(pk_text, n->node_key.pk);
    pack_str(&pk, pk_text);
    pack_str(&pk, "map_size");
    msgpack_pack_uint64(&pk, store_map_size(n->repo));
    pack_str(&pk, "peers_dropped"); /* for misbehaviour, since the node started */
    msgpack_pack_uint64(&pk, node_net_dropped(n));
    pack_str(&pk, "peers");
    msgpack_pack_array(&pk, node_net_pack_status(n, NULL));
    node_net_pack_status(n, &pk);
    pack_str(&pk, "shards");
    msgpack_pack_array(&pk, l.count);
    l.pack = true;
    l.count = 0;
    rc = store_shard_each(txn, pack_shard, &l);
    store_txn_abort(txn);
    if (rc != 0) {
        msgpack_sbuffer_destroy(&w->sb);
        free(w);
        return send_error(c, m->req_id, rc, "cannot list shards", 0);
    }
    send_msg(c, w);
}

static void handle_info(struct api_conn *c, const struct proto_msg *m)
{
    struct node *n = c->node;
    struct store_txn *txn;
    const uint8_t *eco;
    size_t eco_len;
    msgpack_packer pk;
    struct write_req *w;
    int rc;

    if ((rc = store_txn_begin(n->repo, false, &txn)) != 0)
        return send_error(c, m->req_id, rc, "cannot read the repository", 0);
    if ((rc = store_meta_get(txn, NODE_META_ECOSYSTEM, &eco, &eco_len)) != 0 ||
        !(w = reply_new(&pk))) {
        store_txn_abort(txn);
        return send_error(c, m->req_id, rc ? rc : TN_ERR_NOMEM, "cannot read the ecosystem", 0);
    }
    proto_msg_begin(&pk, PROTO_API_OK, m->req_id);
    msgpack_pack_map(&pk, 4);
    pack_str(&pk, "org");
    pack_str(&pk, n->self->id);
    pack_str(&pk, "network");
    pack_str(&pk, node_eco(n)->network);
    pack_str(&pk, "ecosystem");
    msgpack_pack_str(&pk, eco_len);
    msgpack_pack_str_body(&pk, eco, eco_len);
    /* with the governance records, the client rebuilds the ecosystem the node uses */
    pack_str(&pk, "governance");
    {
        struct store_shard sh;
        if (store_shard_get(txn, PROTO_GOV_ORG, &sh) != 0)
            sh.size = 0;
        msgpack_pack_array(&pk, sh.size);
        for (uint64_t seq = 0; seq < sh.size; seq++) {
            uint8_t id[PROTO_ID_LEN];
            const uint8_t *b = NULL;
            size_t len = 0;
            if (store_record_at(txn, PROTO_GOV_ORG, seq, id) != 0 ||
                store_record_get(txn, id, &b, &len) != 0)
                len = 0;
            msgpack_pack_bin_with_body(&pk, b, len);
        }
    }
    store_txn_abort(txn);
    send_msg(c, w);
}

/* --- IMPORT ------------------------------------------------------------------------- */

struct api_import {
    struct api_conn *conn;
    int64_t req_id;
    size_t n, left;
    char (*results)[200];
};

static void import_reply(struct api_import *a)
{
    msgpack_packer pk;
    struct write_req *w = reply_new(&pk);

    if (w) {
        proto_msg_begin(&pk, PROTO_API_OK, a->req_id);
        msgpack_pack_array(&pk, a->n);
        for (size_t i = 0; i < a->n; i++)
            pack_str(&pk, a->results[i]);
        send_msg(a->conn, w);
    } else {
        conn_close(a->conn); /* no reply to send: the client must not wait for one */
    }
    conn_answered(a->conn);
    free(a->results);
    free(a);
}

static void import_done(struct node_repl *r, void *ctx)
{
    struct api_import *a = ctx;
    size_t i = r->pos;
    const char *what = r->result == REPL_APPENDED    ? "appended"
                       : r->result == REPL_STORED_CP ? "checkpoint stored"
                       : r->result == REPL_DUPLICATE ? "duplicate"
                       : r->result == REPL_FORK      ? "equivocation: evidence stored, shard frozen"
                       : r->result == REPL_GAP       ? "its prev is not the record held at seq-1"
                                                     : "not stored (frozen shard, own shard, or "
                                                       "does not continue the shard)";

    if (i < a->n)
        snprintf(a->results[i], sizeof a->results[i], "%s", what);
    if (--a->left == 0)
        import_reply(a);
}

/* A checkpoint note for the import: signed by one of its org's keys (origin "net/org");
 * the writer then compares it with the records held. */
static int import_checkpoint(struct node *n, const char *note, size_t len, struct node_repl *r,
                             char *err, size_t errlen)
{
    const struct proto_ecosystem *eco = node_eco(n);
    const char *nl = memchr(note, '\n', len), *slash;
    char origin[CRY_ORIGIN_MAX + 1];
    const struct proto_org *org;
    struct cry_checkpoint cp;

    snprintf(err, errlen, "not a checkpoint signed by a member org");
    slash = nl ? memchr(note, '/', (size_t)(nl - note)) : NULL;
    if (!slash || (size_t)(nl - slash - 1) > PROTO_ID_MAX)
        return TN_ERR_INVALID;
    memcpy(r->org, slash + 1, (size_t)(nl - slash - 1));
    r->org[nl - slash - 1] = '\0';
    if (!(org = proto_ecosystem_org(eco, r->org)))
        return TN_ERR_UNKNOWN_ORG;
    snprintf(origin, sizeof origin, "%s/%s", eco->network, r->org);
    for (size_t k = 0; k < org->n_keys; k++)
        if (cry_checkpoint_verify(note, len, origin, org->keys[k].pk, &cp) == 0) {
            if (!(r->note = malloc(len)))
                return TN_ERR_NOMEM;
            memcpy(r->note, note, len);
            r->note_len = len;
            r->seq = cp.size;
            memcpy(r->root, cp.root, CRY_HASH_LEN);
            r->kind = REPL_CHECKPOINT;
            return 0;
        }
    return TN_ERR_BAD_SIGNATURE;
}

/* Records signed elsewhere are checked exactly like a peer's (strict decoding, org, key,
 * signature, role) and then go through the writer like replicated ones. */
static void handle_import(struct api_conn *c, const struct proto_msg *m)
{
    const msgpack_object *body = m->body;
    struct node_repl *list = NULL, **tail = &list;
    struct api_import *a;
    char err[300];
    uint32_t n;

    if (body->type != MSGPACK_OBJECT_ARRAY || body->via.array.size == 0 ||
        body->via.array.size > PROTO_API_SUBMIT_MAX)
        return send_error(c, m->req_id, TN_ERR_INVALID, "import body must be 1..1024 records",
                          0);
    n = body->via.array.size;
    if (!(a = calloc(1, sizeof *a)) || !(a->results = calloc(n, sizeof *a->results))) {
        free(a);
        return send_error(c, m->req_id, TN_ERR_NOMEM, "out of memory", 0);
    }
    for (uint32_t i = 0; i < n; i++) {
        const msgpack_object *o = &body->via.array.ptr[i];
        struct node_repl *r = calloc(1, sizeof *r);
        int rc = TN_ERR_NOMEM;
        if (r && o->type == MSGPACK_OBJECT_STR) {
            rc = import_checkpoint(c->node, o->via.str.ptr, o->via.str.size, r, err, sizeof err);
        } else if (r && o->type == MSGPACK_OBJECT_BIN && o->via.bin.size <= PROTO_RECORD_MAX &&
            (r->bytes = malloc(o->via.bin.size ? o->via.bin.size : 1)) &&
            (r->rec = malloc(sizeof *r->rec))) {
            memcpy(r->bytes, o->via.bin.ptr, o->via.bin.size);
            r->len = o->via.bin.size;
            proto_record_init(r->rec);
            rc = proto_record_decode(r->bytes, r->len, r->rec, err, sizeof err);
            if (rc == 0)
                rc = store_check_record(node_eco(c->node), r->rec, true, err, sizeof err);
        } else if (r && o->type != MSGPACK_OBJECT_BIN) {
            rc = TN_ERR_INVALID;
            snprintf(err, sizeof err, "not a record");
        }
        if (rc != 0) {
            node_repl_free(r);
            node_repl_free(list);
            free(a->results);
            free(a);
            return send_error(c, m->req_id, rc, rc == TN_ERR_NOMEM ? "out of memory" : err, i);
        }
        if (r->kind != REPL_CHECKPOINT) {
            r->kind = REPL_RECORD;
            proto_record_id(r->id, r->bytes, r->len);
            snprintf(r->org, sizeof r->org, "%s", r->rec->org);
            r->seq = r->rec->seq;
        }
        r->pos = i;
        r->no_wait = true;
        r->done = import_done;
        r->ctx = a;
        *tail = r;
        tail = &r->next;
    }
    a->conn = c;
    a->req_id = m->req_id;
    a->n = a->left = n;
    c->waiting++;
    node_writer_replicate(c->node->writer, list);
}

/* --- connections -------------------------------------------------------------------- */

static void handle_frame(struct api_conn *c, const uint8_t *p, size_t len)
{
    struct proto_msg m;
    char err[200];

    if (proto_msg_decode(p, len, &m, err, sizeof err) != 0) {
        node_warn("local API: closing a client that sent a malformed request: %s", err);
        return conn_close(c);
    }
    switch (m.type) {
    case PROTO_API_SUBMIT: handle_submit(c, &m); break;
    case PROTO_API_STATUS: handle_status(c, &m); break;
    case PROTO_API_INFO: handle_info(c, &m); break;
    case PROTO_API_IMPORT: handle_import(c, &m); break;
    default: send_error(c, m.req_id, TN_ERR_INVALID, "unknown request type", 0); break;
    }
    proto_msg_release(&m);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct api_conn *c = h->data;

    (void)suggested;
    if (c->cap - c->len < READ_CHUNK && c->cap < CONN_BUF_MAX) {
        size_t cap = c->cap ? c->cap * 2 : 2 * READ_CHUNK;
        uint8_t *nb;
        if (cap > CONN_BUF_MAX)
            cap = CONN_BUF_MAX;
        if ((nb = realloc(c->buf, cap))) {
            c->buf = nb;
            c->cap = cap;
        }
    }
    buf->base = (char *)c->buf + c->len;
    buf->len = c->cap - c->len;
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);

/* A client holding CONN_WAITING_MAX requests at the writer is paused: the node handles no
 * more of its requests and stops reading its socket (its writes block) until one is
 * answered. */
static bool conn_full(const struct api_conn *c)
{
    return c->waiting >= CONN_WAITING_MAX;
}

/* Closes c if it has left CONN_REPLY_BYTES_MAX of replies unread. */
static bool replies_unread(struct api_conn *c)
{
    if (c->closing ||
        uv_stream_get_write_queue_size((const uv_stream_t *)&c->pipe) < CONN_REPLY_BYTES_MAX)
        return false;
    node_warn("local API: closing a client that left %u MiB of replies unread",
              CONN_REPLY_BYTES_MAX >> 20);
    conn_close(c);
    return true;
}

/* Handles the whole requests buffered from c while it has room, then reads from its
 * socket only if it still has room. Called when bytes arrive and when room is freed. */
static void conn_pump(struct api_conn *c)
{
    size_t off = 0;

    if (replies_unread(c))
        return;
    while (!c->closing && !conn_full(c) && c->len - off >= 4) {
        uint32_t flen = proto_frame_get_len(c->buf + off);
        if (flen > PROTO_API_FRAME_MAX) {
            node_warn("local API: closing a client that sent a %u-byte frame (limit %u)", flen,
                      PROTO_API_FRAME_MAX);
            conn_close(c);
            return;
        }
        if (c->len - off - 4 < flen)
            break;
        handle_frame(c, c->buf + off + 4, flen);
        off += 4 + flen;
        if (replies_unread(c)) /* a burst of small requests answered at once */
            return;
    }
    if (off) {
        memmove(c->buf, c->buf + off, c->len - off);
        c->len -= off;
    }
    if (c->closing)
        return;
    if (conn_full(c) && c->reading) {
        uv_read_stop((uv_stream_t *)&c->pipe);
        c->reading = false;
    } else if (!conn_full(c) && !c->reading) {
        if (uv_read_start((uv_stream_t *)&c->pipe, on_alloc, on_read) != 0)
            return conn_close(c);
        c->reading = true;
    }
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    struct api_conn *c = s->data;

    (void)buf;
    if (nread < 0) {
        conn_close(c);
        return;
    }
    c->len += (size_t)nread;
    conn_pump(c);
}

static void on_connection(uv_stream_t *server, int status)
{
    struct node *n = server->data;
    struct api_conn *c;

    if (status != 0 || !(c = calloc(1, sizeof *c)))
        return;
    c->node = n;
    c->next = n->api->conns;
    if (c->next)
        c->next->prev = c;
    n->api->conns = c;
    uv_pipe_init(n->loop, &c->pipe, 0);
    c->pipe.data = c;
    if (uv_accept(server, (uv_stream_t *)&c->pipe) != 0)
        return conn_close(c);
    conn_pump(c); /* starts reading */
}

int node_api_start(struct node *n)
{
    struct node_api *api = calloc(1, sizeof *api);
    mode_t old;
    int rc;

    if (!api)
        return TN_ERR_NOMEM;
    n->api = api;
    /* We hold the data dir lock, so a socket file left here is stale. */
    unlink(n->paths.sock);
    uv_pipe_init(n->loop, &api->server, 0);
    api->server.data = n;
    api->open = true;
    old = umask(077); /* the socket is created private, before chmod makes it exact */
    rc = uv_pipe_bind(&api->server, n->paths.sock);
    umask(old);
    if (rc == 0 && chmod(n->paths.sock, 0600) != 0)
        rc = -errno;
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&api->server, 64, on_connection);
    if (rc != 0) {
        node_error("cannot listen on %s: %s", n->paths.sock, uv_strerror(rc));
        return TN_ERR_IO;
    }
    return 0;
}

static void on_server_closed(uv_handle_t *h)
{
    (void)h;
}

void node_api_stop(struct node *n)
{
    if (!n->api || !n->api->open)
        return;
    n->api->open = false;
    uv_close((uv_handle_t *)&n->api->server, on_server_closed);
    unlink(n->paths.sock);
    while (n->api->conns)
        conn_close(n->api->conns);
}

void node_api_free(struct node *n)
{
    free(n->api);
    n->api = NULL;
}
