/* tracectl submit: validate every event first (nothing is sent if any is bad), then send
 * them to the node in batches; print each id once the node reports it durable. */
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
    "one a line, in input order. Every event is checked before anything is sent: if one is\n"
    "bad, nothing is appended (exit 2). An event whose \"id\" the org already used returns\n"
    "the existing record id and appends nothing.\n"
    "Exit codes: 0 ok, 2 bad input (nothing appended), 4 node not running or I/O error.\n"
    "If the node fails mid-way (e.g. its disk is full), the ids printed so far are durable.\n";

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

static int validate_all(const struct api_event *ev, size_t n, const struct proto_ecosystem *eco,
                        const char *org)
{
    for (size_t i = 0; i < n; i++) {
        struct proto_event e;
        char err[512], at[32];
        int rc = proto_event_parse(ev[i].text, ev[i].len, &e, err, sizeof err);
        if (rc == 0)
            rc = proto_event_check_context(&e, eco, org, err, sizeof err);
        if (rc == 0)
            rc = proto_event_check_size(&e, eco->network, org, err, sizeof err);
        proto_event_release(&e);
        if (rc != 0) {
            where(at, sizeof at, &ev[i]);
            return cli_error(CLI_USAGE, "%s%s (nothing was submitted)", at, err);
        }
    }
    return 0;
}

struct batch {
    size_t first, n;
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
    size_t n_pos, n_ev = 0, next = 0, head = 0, count = 0, printed = 0;
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
    if ((code = validate_all(ev, n_ev, &eco, org)) != 0)
        goto out;
    if (cli.json)
        ids = json_array();

    /* Keep up to WINDOW batches in flight; replies come back in order. */
    for (;;) {
        struct proto_msg m;
        while (count < WINDOW && next_batch(ev, n_ev, &next, &inflight[(head + count) % WINDOW])) {
            struct batch *b = &inflight[(head + count) % WINDOW];
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
            goto out;
        }
        if (m.type == PROTO_API_OK && m.body->type == MSGPACK_OBJECT_ARRAY &&
            m.body->via.array.size == inflight[head].n) {
            for (uint32_t i = 0; i < m.body->via.array.size; i++) {
                const msgpack_object *o = &m.body->via.array.ptr[i];
                char hex[CRY_HEX_LEN(32)];
                if (o->type != MSGPACK_OBJECT_BIN || o->via.bin.size != 32) {
                    proto_msg_release(&m);
                    code = cli_error(CLI_IO, "the node sent a malformed reply");
                    goto out;
                }
                cry_hex(hex, (const uint8_t *)o->via.bin.ptr, 32);
                if (ids)
                    json_array_append_new(ids, json_string(hex));
                else
                    printf("%s\n", hex);
            }
            printed += inflight[head].n;
            fflush(stdout);
        } else if (m.type == PROTO_API_ERR) {
            uint64_t index;
            char at[32];
            int e = api_client_error(&m, err, sizeof err, &index);
            index = index < inflight[head].n ? index : 0;
            where(at, sizeof at, &ev[inflight[head].first + index]);
            code = cli_error(cli_exit_for(e), "%s%s; %zu of %zu events acknowledged", at, err,
                             printed, n_ev);
            proto_msg_release(&m);
            goto out;
        } else {
            proto_msg_release(&m);
            code = cli_error(CLI_IO, "the node sent a malformed reply");
            goto out;
        }
        proto_msg_release(&m);
        head = (head + 1) % WINDOW;
        count--;
    }
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
