/* The worked example in docs/FORMAT.md, rebuilt from its inputs: guards the record and
 * checkpoint formats against any drift (a changed byte breaks every stored shard). */
#include <jansson.h>
#include <sodium.h>

#include "../test_util.h"
#include "crypto/checkpoint.h"
#include "crypto/encode.h"
#include "crypto/merkle.h"
#include "proto/record.h"

static json_t *vec;

static int setup(void **state)
{
    json_error_t e;
    (void)state;
    assert_int_equal(cry_init(), 0);
    vec = json_load_file(TN_VECTORS "/record-example.json", 0, &e);
    return vec ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    json_decref(vec);
    return 0;
}

static const char *field(const char *name)
{
    const char *s = json_string_value(json_object_get(vec, name));
    assert_non_null(s);
    return s;
}

static void test_example_record_and_checkpoint(void **state)
{
    struct cry_keypair kp;
    struct proto_record r, back;
    const char *outs[] = {"urn:epc:id:sgtin:0614141.107346.1"};
    struct proto_attr attrs[2] = {{.name = "lot", .kind = PROTO_VAL_TEXT, .text = "L17"},
                                  {.name = "model", .kind = PROTO_VAL_TEXT,
                                   .text = "lightbulb2000"}};
    uint8_t seed[32], out[PROTO_RECORD_MAX], want[PROTO_RECORD_MAX], id[32], leaf[32];
    char pk[CRY_PK_TEXT_LEN], hex[CRY_HEX_LEN(32)], err[200], note[CRY_NOTE_MAX];
    size_t len, want_len = strlen(field("record")) / 2, note_len;
    struct cry_checkpoint cp = {.origin = "demo-net/acme", .size = 1};
    (void)state;

    tn_test_unhex(seed, 32, field("seed"));
    kp.sk = sodium_malloc(crypto_sign_SECRETKEYBYTES);
    crypto_sign_seed_keypair(kp.pk, kp.sk, seed);
    cry_pk_format(pk, kp.pk);
    assert_string_equal(pk, field("public_key"));

    proto_record_init(&r);
    r.v = 1;
    r.net = "demo-net";
    r.org = "acme";
    r.time = UINT64_C(1700000000000);
    r.type = PROTO_T_COMMISSION;
    r.outputs = outs;
    r.n_outputs = 1;
    r.attrs = attrs;
    r.n_attrs = 2;
    assert_int_equal(proto_record_sign(&r, &kp, out, sizeof out, &len, err, sizeof err), 0);
    tn_test_unhex(want, want_len, field("record"));
    assert_int_equal(len, want_len);
    assert_memory_equal(out, want, len);
    proto_record_id(id, out, len);
    cry_hex(hex, id, 32);
    assert_string_equal(hex, field("id"));

    proto_record_init(&back);
    assert_int_equal(proto_record_decode(out, len, &back, err, sizeof err), 0);
    assert_true(proto_record_verify(&back, kp.pk));
    assert_string_equal(back.outputs[0], outs[0]);
    proto_record_release(&back);

    cry_merkle_leaf_hash(leaf, out, len);
    memcpy(cp.root, leaf, 32);
    assert_int_equal(cry_checkpoint_sign(&cp, &kp, note, sizeof note, &note_len), 0);
    assert_string_equal(note, field("checkpoint"));
    cry_keypair_release(&kp);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_example_record_and_checkpoint),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
