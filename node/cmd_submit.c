/* tracectl submit: validate every event first (nothing is sent if any is bad), then send
 * them to the node in batches; print each id once the node reports it durable. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/encode.h"
#include "node/api_client.h"
#include "node/cli.h"
#include "node/commands.h"
#include "proto/event.h"
#include "proto/readfile.h"

#define INPUT_MAX (512u * 1024 * 1024) /* bytes of event input per submit */
#define BATCH_BYTES (4u * 1024 * 1024)
#define WINDOW 8 /* batches in flight: the node commits one while the next queues */

static const char usage[] =
    "usage: tracectl submit [--data DIR] [--json] FILE|-\n"
    "\n"
    "Submits one event (a JSON object) or JSON Lines (one event per line) to the running\n"
    "node, which signs each as its org, appends it durably and prints its record id (hex),\n"
    "one a line, in input order. Every event is checked before anything is sent (a\n"
    "mud-anchor's versioning rule against the repository too, and at most one anchor of a\n"
    "URL per submit): if one is bad, nothing is appended (exit 2). An event whose \"id\"\n"
    "the org already used returns the existing record id and appends nothing.\n"
    "If the node still fails a request once others were sent (an anchor stored meanwhile,\n"
    "a full disk), tracectl waits for the rest, prints the ids of the requests before the\n"
    "failed one, and says which event failed and how many events were appended.\n"
    "Exit codes: 0 ok, 2 bad input (nothing appended), 4 node not running, I/O error, or a\n"
    "failure after some events were appended. With --json the ids appended are printed\n"
    "(as {\"count\", \"ids\"}) when it fails too.\n";

/* Splits the input into events: one JSON object, or one event per non-empty line. */
static int split_events(char *buf, size_t len, struct api_event **out, size_t *n)
{
    struct api_event *ev;
    size_t cap = 1, count = 0, line = 1;
    json_error_t jerr;
    json_t *one;
    char *p = buf, *end = buf + len;

    for (size_t i = 0; i < len; i++)
        cap += buf[i] == '\n';
    if (!(ev = calloc(cap, sizeof *ev)))
        return TN_ERR_NOMEM;
    one = json_loadb(buf, len, 0, &jerr);
    if (one && json_is_object(one)) {
        json_decref(one);
        ev[0] = (struct api_event){buf, len, 0};
        *out = ev;
        *n = 1;
        return 0;
    }
    json_decref(one);
    while (p < end) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        char *stop = nl ? nl : end, *q = p;
        while (q < stop && (*q == ' ' || *q == '\t' || *q == '\r'))
            q++;
        if (q < stop)
            ev[count++] = (struct api_event){p, (size_t)(stop - p), line};
        p = nl ? nl + 1 : end;
        line++;
    }
    *out = ev;
    *n = count;
    return 0;
}

static void where(char *buf, size_t cap, const struct api_event *e)
{
    if (e->line)
        snprintf(buf, cap, "line %zu: ", e->line);
    else
        buf[0] = '\0';
}

struct anchor_at {
    char *url;
    size_t i; /* event index */
};

static int cmp_anchor_url(const void *a, const void *b)
{
    const struct anchor_at *x = a, *y = b;
    int c = strcmp(x->url, y->url);
    return c ? c : (x->i > y->i) - (x->i < y->i);
}

static int cmp_anchor_input(const void *a, const void *b)
{
    const struct anchor_at *x = a, *y = b;
    return (x->i > y->i) - (x->i < y->i);
}

/* A mud-anchor's versioning rule against the repository, read-only in one short read
 * transaction (the node checks it again on arrival and when it stores the record). */
static int check_anchors(struct cli *cli, const struct api_event *ev,
                         const struct anchor_at *anchors, size_t n_anchors, const char *org)
{
    struct cli_repo repo;
    int code;

    if ((code = cli_repo_open(cli, &repo)) != 0)
        return code;
    for (size_t k = 0; k < n_anchors && code == 0; k++) {
        const struct api_event *e = &ev[anchors[k].i];
        struct proto_event pe;
        char err[512], at[32];
        int rc = proto_event_parse(e->text, e->len, &pe, err, sizeof err);
        if (rc == 0) {
            struct proto_record probe = pe.rec;
            probe.org = org;
            rc = store_mud_check(repo.txn, &probe, err, sizeof err);
        }
        proto_event_release(&pe);
        if (rc != 0) {
            where(at, sizeof at, e);
            code = cli_error(rc == TN_ERR_INVALID ? CLI_USAGE : cli_exit_for(rc),
                             "%s%s (nothing was submitted)", at, err);
        }
    }
    cli_repo_close(&repo);
    return code;
}

/* The node's checks on arrival (node_submit_check), before anything is sent, so that a bad
 * event appends nothing. Two mud-anchors of one URL cannot go in one submit: the second
 * must name the first (its ref), which has no id until it is signed. */
static int validate_all(struct cli *cli, const struct api_event *ev, size_t n,
                        const struct proto_ecosystem *eco, const char *org)
{
    struct anchor_at *anchors = NULL;
    size_t n_anchors = 0;
    int code = 0;

    for (size_t i = 0; i < n && code == 0; i++) {
        struct proto_event e;
        char err[512], at[32];
        int rc = proto_event_parse(ev[i].text, ev[i].len, &e, err, sizeof err);
        if (rc == 0)
            rc = proto_event_check_context(&e, eco, org, err, sizeof err);
        if (rc == 0)
            rc = proto_event_check_size(&e, eco->network, org, err, sizeof err);
        if (rc == 0 && e.rec.type == PROTO_T_MUD_ANCHOR && e.rec.mud) {
            struct anchor_at *grown = realloc(anchors, (n_anchors + 1) * sizeof *anchors);
            if (!grown || !(grown[n_anchors].url = strdup(e.rec.mud->url))) {
                anchors = grown ? grown : anchors;
                code = cli_error(CLI_IO, "out of memory");
            } else {
                anchors = grown;
                anchors[n_anchors++].i = i;
            }
        }
        proto_event_release(&e);
        if (rc != 0) {
            where(at, sizeof at, &ev[i]);
            code = cli_error(CLI_USAGE, "%s%s (nothing was submitted)", at, err);
        }
    }
    if (code == 0 && n_anchors > 1) {
        qsort(anchors, n_anchors, sizeof *anchors, cmp_anchor_url);
        for (size_t k = 1; k < n_anchors && code == 0; k++)
            if (strcmp(anchors[k].url, anchors[k - 1].url) == 0) {
                char at[32];
                where(at, sizeof at, &ev[anchors[k].i]);
                code = cli_error(CLI_USAGE,
                                 "%sa second mud-anchor of %s in one submit: it must supersede "
                                 "the first, so submit it once the first is stored (nothing "
                                 "was submitted)",
                                 at, anchors[k].url);
            }
    }
    if (code == 0 && n_anchors > 0) {
        qsort(anchors, n_anchors, sizeof *anchors, cmp_anchor_input); /* errors in input order */
        code = check_anchors(cli, ev, anchors, n_anchors, org);
    }
    for (size_t k = 0; k < n_anchors; k++)
        free(anchors[k].url);
    free(anchors);
    return code;
}

struct batch {
    size_t first, n;
    int64_t req_id;
    bool answered;
};

/* Next batch starting at *next: at most PROTO_API_SUBMIT_MAX events and BATCH_BYTES. */
static bool next_batch(const struct api_event *ev, size_t n, size_t *next, struct batch *b)
{
    size_t bytes = 0;

    if (*next >= n)
        return false;
    b->first = *next;
    b->n = 0;
    while (*next < n && b->n < PROTO_API_SUBMIT_MAX &&
           (b->n == 0 || bytes + ev[*next].len + 8 <= BATCH_BYTES)) {
        bytes += ev[*next].len + 8;
        b->n++;
        (*next)++;
    }
    return true;
}

static int get_context(struct api_client *c, struct proto_ecosystem *eco, char *org,
                       size_t org_cap)
{
    char err[512];
    return api_client_context(c, eco, org, org_cap, err, sizeof err) ? cli_error(CLI_IO, "%s", err)
                                                                      : 0;
}

/* The node stopped answering, or answered nonsense, mid-way: the ids printed are durable;
 * what was in flight may or may not have been appended. */
static int cut_off(const char *why, const char *failure, size_t printed, size_t n_ev)
{
    return cli_error(CLI_IO,
                     "%s%s%s; %zu of %zu events acknowledged (ids printed); those sent after "
                     "them may or may not have been appended",
                     failure, failure[0] ? "; then " : "", why, printed, n_ev);
}

int cmd_submit(int argc, char **argv)
{
    struct cli cli = {.usage = usage};
    struct node_paths paths;
    struct api_client c = {.fd = -1};
    struct proto_ecosystem eco = {0};
    struct api_event *ev = NULL;
    struct batch inflight[WINDOW];
    size_t n_pos, n_ev = 0, next = 0, head = 0, count = 0, printed = 0, after = 0;
    /* after an error: the first event of the earliest request that failed, the earliest
     * event the node named as the failure, the earliest request failed without one */
    size_t fail_req = SIZE_MAX, named = SIZE_MAX, unnamed = SIZE_MAX;
    char fail_msg[700] = "";
    int fail_code = CLI_OK;
    const char *pos[1];
    char *input = NULL, err[512], org[PROTO_ID_MAX + 1];
    json_t *ids = NULL;
    size_t len;
    int rc, code = CLI_OK;

    if ((rc = cli_parse(&cli, argc, argv, NULL, pos, 1, &n_pos)) != 0)
        return rc < 0 ? 0 : rc;
    if (n_pos != 1)
        return cli_error(CLI_USAGE, "submit needs FILE (or - for standard input)");
    if (node_paths_init(&paths, cli.data_dir, err, sizeof err) != 0)
        return cli_error(CLI_USAGE, "%s", err);
    if ((rc = proto_read_file(pos[0], INPUT_MAX, &input, &len, err, sizeof err)) != 0)
        return cli_error(rc == TN_ERR_IO ? CLI_IO : CLI_USAGE, "%s", err);
    if ((rc = split_events(input, len, &ev, &n_ev)) != 0) {
        code = cli_error(CLI_IO, "out of memory");
        goto out;
    }
    if (n_ev == 0) {
        code = cli_error(CLI_USAGE, "no events in %s", pos[0]);
        goto out;
    }
    if ((rc = api_client_connect(&c, paths.sock, err, sizeof err)) != 0) {
        code = cli_error(CLI_IO, "%s", err);
        goto out;
    }
    if ((code = get_context(&c, &eco, org, sizeof org)) != 0)
        goto out;
    if ((code = validate_all(&cli, ev, n_ev, &eco, org)) != 0)
        goto out;
    if (cli.json)
        ids = json_array();

    /* Keep up to WINDOW batches in flight. OK replies come in the order sent; an ERR may
     * come ahead of replies to earlier requests (a request the node refuses on arrival,
     * say because another mud-anchor was stored meanwhile), so replies are matched by
     * req_id. After an error nothing more is sent, but every request already sent is
     * waited for: what was appended is settled, and said, when tracectl exits. */
    for (;;) {
        struct proto_msg m;
        struct batch *b = NULL;
        while (fail_req == SIZE_MAX && count < WINDOW &&
               next_batch(ev, n_ev, &next, &inflight[(head + count) % WINDOW])) {
            b = &inflight[(head + count) % WINDOW];
            b->req_id = c.next_id;
            b->answered = false;
            if ((rc = api_client_send_submit(&c, ev + b->first, b->n)) != 0) {
                code = cut_off("the node closed the connection (stopped?)", fail_msg, printed,
                               n_ev);
                goto print_json;
            }
            count++;
        }
        if (count == 0)
            break;
        if ((rc = api_client_recv(&c, &m, err, sizeof err)) != 0) {
            code = cut_off(err, fail_msg, printed, n_ev);
            goto print_json; /* the ids acknowledged are durable */
        }
        b = NULL;
        for (size_t j = 0; j < count; j++) {
            struct batch *x = &inflight[(head + j) % WINDOW];
            if (x->req_id == m.req_id && !x->answered)
                b = x;
        }
        if (b && m.type == PROTO_API_OK && m.body->type == MSGPACK_OBJECT_ARRAY &&
            m.body->via.array.size == b->n) {
            /* requests after a failed one were appended too, but their ids would leave a
             * gap in the output: they are counted instead */
            bool print = b->first < fail_req;
            for (uint32_t i = 0; i < m.body->via.array.size; i++) {
                const msgpack_object *o = &m.body->via.array.ptr[i];
                char hex[CRY_HEX_LEN(32)];
                if (o->type != MSGPACK_OBJECT_BIN || o->via.bin.size != 32) {
                    proto_msg_release(&m);
                    code = cut_off("the node sent a malformed reply", fail_msg, printed, n_ev);
                    goto print_json;
                }
                cry_hex(hex, (const uint8_t *)o->via.bin.ptr, 32);
                if (!print)
                    continue;
                if (ids)
                    json_array_append_new(ids, json_string(hex));
                else
                    printf("%s\n", hex);
            }
            if (print)
                printed += b->n;
            else
                after += b->n;
            fflush(stdout);
        } else if (b && m.type == PROTO_API_ERR) {
            uint64_t index;
            int e = api_client_error(&m, err, sizeof err, &index);
            if (b->first < fail_req)
                fail_req = b->first;
            /* Report the first event the node names; an error that names none of this
             * request's events (it shared a commit that failed, or the disk is full) only
             * while none is named. */
            if (index < b->n && b->first + index < named) {
                char at[32];
                named = b->first + index;
                where(at, sizeof at, &ev[named]);
                snprintf(fail_msg, sizeof fail_msg, "%s%s", at, err);
                fail_code = cli_exit_for(e);
            } else if (index >= b->n && named == SIZE_MAX && b->first < unnamed) {
                unnamed = b->first;
                snprintf(fail_msg, sizeof fail_msg, "%s", err);
                fail_code = cli_exit_for(e);
            }
        } else {
            proto_msg_release(&m);
            code = cut_off("the node sent a malformed reply", fail_msg, printed, n_ev);
            goto print_json;
        }
        proto_msg_release(&m);
        b->answered = true;
        while (count > 0 && inflight[head].answered) {
            head = (head + 1) % WINDOW;
            count--;
        }
    }
    if (fail_req != SIZE_MAX) {
        char what[200], before[40] = "it";
        if (ev[fail_req].line)
            snprintf(before, sizeof before, "line %zu", ev[fail_req].line);
        if (printed + after == 0)
            snprintf(what, sizeof what, "nothing was appended");
        else if (after == 0)
            snprintf(what, sizeof what, "the %zu events before %s were appended (ids printed)",
                     printed, before);
        else
            snprintf(what, sizeof what,
                     "%zu of %zu events were appended: the %zu before %s (ids printed) and %zu "
                     "of later requests (ids not printed)",
                     printed + after, n_ev, printed, before, after);
        /* exit 2 promises nothing was written (DESIGN): once something was, it is 4 */
        code = cli_error(printed + after ? CLI_IO : fail_code, "%s; %s", fail_msg, what);
    }
print_json:
    if (ids) {
        cli_print_json(json_pack("{s:i, s:o}", "count", (int)printed, "ids", ids));
        ids = NULL;
    }
out:
    json_decref(ids);
    api_client_close(&c);
    if (eco.network)
        proto_ecosystem_release(&eco);
    free(ev);
    free(input);
    return code;
}
