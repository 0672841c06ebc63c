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
    "mud-anchor's versioning rule against the repository too): if one is bad, nothing is\n"
    "appended (exit 2). If the node still refuses one (another anchor stored meanwhile),\n"
    "the ids of the events before it are printed and the error says how many after it\n"
    "were appended. An event whose \"id\" the org already used returns the existing\n"
    "record id and appends nothing.\n"
    "Exit codes: 0 ok, 2 bad input (nothing appended), 4 node not running or I/O error.\n"
    "If the node fails mid-way (e.g. its disk is full), the ids printed so far are durable;\n"
    "with --json they are printed (as {\"count\", \"ids\"}) when it fails too.\n";

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

/* The node's checks on arrival (node_submit_check), before anything is sent, so that a bad
 * event appends nothing: a mud-anchor's versioning rule is checked against the repository
 * (read-only, opened only if there is one), as the node checks it. */
static int validate_all(struct cli *cli, const struct api_event *ev, size_t n,
                        const struct proto_ecosystem *eco, const char *org)
{
    struct cli_repo repo;
    bool repo_open = false;
    int code = 0;

    for (size_t i = 0; i < n && code == 0; i++) {
        struct proto_event e;
        char err[512], at[32];
        int rc = proto_event_parse(ev[i].text, ev[i].len, &e, err, sizeof err);
        if (rc == 0)
            rc = proto_event_check_context(&e, eco, org, err, sizeof err);
        if (rc == 0)
            rc = proto_event_check_size(&e, eco->network, org, err, sizeof err);
        if (rc == 0 && e.rec.type == PROTO_T_MUD_ANCHOR) {
            struct proto_record probe = e.rec;
            probe.org = org;
            if (!repo_open && (code = cli_repo_open(cli, &repo)) != 0) {
                proto_event_release(&e);
                break;
            }
            repo_open = true;
            rc = store_mud_check(repo.txn, &probe, err, sizeof err);
        }
        proto_event_release(&e);
        if (rc != 0) {
            where(at, sizeof at, &ev[i]);
            code = cli_error(CLI_USAGE, "%s%s (nothing was submitted)", at, err);
        }
    }
    if (repo_open)
        cli_repo_close(&repo);
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

int cmd_submit(int argc, char **argv)
{
    struct cli cli = {.usage = usage};
    struct node_paths paths;
    struct api_client c = {.fd = -1};
    struct proto_ecosystem eco = {0};
    struct api_event *ev = NULL;
    struct batch inflight[WINDOW];
    size_t n_pos, n_ev = 0, next = 0, head = 0, count = 0, printed = 0, after = 0;
    size_t fail_at = SIZE_MAX; /* the first event the node refused, in input order */
    char fail_msg[700];
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

    /* Keep up to WINDOW batches in flight. Accepted batches are answered in order; a batch
     * the node refuses on arrival (what the checks above cannot see: another mud-anchor
     * stored meanwhile) is answered at once, ahead of them, so replies are matched by
     * req_id. After a refusal nothing more is sent, but every batch already sent is waited
     * for: what was appended is settled, and said, when tracectl exits. */
    for (;;) {
        struct proto_msg m;
        struct batch *b = NULL;
        while (fail_at == SIZE_MAX && count < WINDOW &&
               next_batch(ev, n_ev, &next, &inflight[(head + count) % WINDOW])) {
            b = &inflight[(head + count) % WINDOW];
            b->req_id = c.next_id;
            b->answered = false;
            if ((rc = api_client_send_submit(&c, ev + b->first, b->n)) != 0) {
                code = cli_error(CLI_IO, "the node closed the connection (stopped?)");
                goto out;
            }
            count++;
        }
        if (count == 0)
            break;
        if ((rc = api_client_recv(&c, &m, err, sizeof err)) != 0) {
            code = cli_error(CLI_IO, "%s; %zu of %zu events acknowledged", err, printed, n_ev);
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
            /* batches after a refused one were appended too, but their ids would leave a
             * gap in the output: they are counted instead */
            bool print = b->first < fail_at;
            for (uint32_t i = 0; i < m.body->via.array.size; i++) {
                const msgpack_object *o = &m.body->via.array.ptr[i];
                char hex[CRY_HEX_LEN(32)];
                if (o->type != MSGPACK_OBJECT_BIN || o->via.bin.size != 32) {
                    proto_msg_release(&m);
                    code = cli_error(CLI_IO, "the node sent a malformed reply");
                    goto out;
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
            char at[32];
            int e = api_client_error(&m, err, sizeof err, &index);
            index = index < b->n ? index : 0;
            if (b->first + index < fail_at) { /* the first refusal in input order */
                fail_at = b->first + index;
                where(at, sizeof at, &ev[fail_at]);
                snprintf(fail_msg, sizeof fail_msg, "%s%s", at, err);
                fail_code = cli_exit_for(e);
            }
        } else {
            proto_msg_release(&m);
            code = cli_error(CLI_IO, "the node sent a malformed reply");
            goto out;
        }
        proto_msg_release(&m);
        b->answered = true;
        while (count > 0 && inflight[head].answered) {
            head = (head + 1) % WINDOW;
            count--;
        }
    }
    if (fail_at != SIZE_MAX) {
        char more[96] = "";
        if (after)
            snprintf(more, sizeof more, "; %zu events after it were appended too (ids not printed)",
                     after);
        code = cli_error(fail_code, "%s; %zu of %zu events appended before it (ids printed)%s",
                         fail_msg, printed, n_ev, more);
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
