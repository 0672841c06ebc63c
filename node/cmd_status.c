/* tracectl status: asks the running node (exit 4 if it is not running). */
#include <stdio.h>
#include <string.h>

#include "crypto/encode.h"
#include "node/api_client.h"
#include "node/cli.h"
#include "node/commands.h"

static const char usage[] =
    "usage: tracectl status [--data DIR] [--json]\n"
    "\n"
    "Shows the running node: org, network, listen address, peers, and every shard it holds\n"
    "(size, Merkle root, how many records behind the most a peer has claimed, frozen).\n"
    "--json adds per shard why it is or is not being fetched (docs/PROTOCOL.md).\n"
    "Exit 4 if the node is not running.\n";

/* msgpack (as the node sends it) to JSON: maps with text keys, arrays, text, integers,
 * booleans, nil; binary becomes hex. */
static json_t *to_json(const msgpack_object *o)
{
    switch (o->type) {
    case MSGPACK_OBJECT_NIL: return json_null();
    case MSGPACK_OBJECT_BOOLEAN: return json_boolean(o->via.boolean);
    case MSGPACK_OBJECT_POSITIVE_INTEGER: return json_integer((json_int_t)o->via.u64);
    case MSGPACK_OBJECT_NEGATIVE_INTEGER: return json_integer((json_int_t)o->via.i64);
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64: return json_real(o->via.f64);
    case MSGPACK_OBJECT_STR: return json_stringn(o->via.str.ptr, o->via.str.size);
    case MSGPACK_OBJECT_BIN: {
        char hex[2 * 256 + 1];
        if (o->via.bin.size > 256)
            return json_null();
        cry_hex(hex, (const uint8_t *)o->via.bin.ptr, o->via.bin.size);
        return json_string(hex);
    }
    case MSGPACK_OBJECT_ARRAY: {
        json_t *a = json_array();
        for (uint32_t i = 0; i < o->via.array.size; i++)
            json_array_append_new(a, to_json(&o->via.array.ptr[i]));
        return a;
    }
    case MSGPACK_OBJECT_MAP: {
        json_t *m = json_object();
        for (uint32_t i = 0; i < o->via.map.size; i++) {
            const msgpack_object *k = &o->via.map.ptr[i].key;
            char key[256];
            if (k->type != MSGPACK_OBJECT_STR || k->via.str.size >= sizeof key)
                continue;
            memcpy(key, k->via.str.ptr, k->via.str.size);
            key[k->via.str.size] = '\0';
            json_object_set_new(m, key, to_json(&o->via.map.ptr[i].val));
        }
        return m;
    }
    case MSGPACK_OBJECT_EXT: return json_null();
    }
    return json_null();
}

int cmd_status(int argc, char **argv)
{
    struct cli cli = {.usage = usage};
    struct node_paths paths;
    struct api_client c;
    struct proto_msg m;
    const char *pos[1];
    size_t n_pos, i;
    char err[512];
    json_t *doc, *x;
    int rc;

    if ((rc = cli_parse(&cli, argc, argv, NULL, pos, 0, &n_pos)) != 0)
        return rc < 0 ? 0 : rc;
    if (node_paths_init(&paths, cli.data_dir, err, sizeof err) != 0)
        return cli_error(CLI_USAGE, "%s", err);
    if ((rc = api_client_connect(&c, paths.sock, err, sizeof err)) != 0)
        return cli_error(CLI_IO, "%s", err);
    if ((rc = api_client_call(&c, PROTO_API_STATUS, &m, err, sizeof err)) != 0) {
        api_client_close(&c);
        return cli_error(CLI_IO, "%s", err);
    }
    /* m points into the client's buffer: convert before closing. */
    if (m.type != PROTO_API_OK || m.body->type != MSGPACK_OBJECT_MAP) {
        uint64_t index;
        rc = api_client_error(&m, err, sizeof err, &index);
        proto_msg_release(&m);
        api_client_close(&c);
        return cli_error(cli_exit_for(rc), "%s", err);
    }
    doc = to_json(m.body);
    proto_msg_release(&m);
    api_client_close(&c);
    if (cli.json) {
        cli_print_json(doc);
        return CLI_OK;
    }
    printf("org %s, network %s, listen %s\nnode %s\n",
           json_string_value(json_object_get(doc, "org")),
           json_string_value(json_object_get(doc, "network")),
           json_string_value(json_object_get(doc, "listen")),
           json_string_value(json_object_get(doc, "node")));
    printf("peers: %zu\n", json_array_size(json_object_get(doc, "peers")));
    json_array_foreach(json_object_get(doc, "peers"), i, x)
        printf("  %s %s %s\n", json_string_value(json_object_get(x, "org")),
               json_string_value(json_object_get(x, "addr")),
               json_string_value(json_object_get(x, "state")));
    printf("shards: %zu\n", json_array_size(json_object_get(doc, "shards")));
    json_array_foreach(json_object_get(doc, "shards"), i, x)
        printf("  %-20s size %-8lld root %s  behind %lld%s\n",
               json_string_value(json_object_get(x, "org")),
               (long long)json_integer_value(json_object_get(x, "size")),
               json_string_value(json_object_get(x, "root")),
               (long long)json_integer_value(json_object_get(x, "behind")),
               json_is_true(json_object_get(x, "frozen")) ? "  FROZEN" : "");
    json_decref(doc);
    return CLI_OK;
}
