/*  test_artifact.c — content-addressed artifacts on a real LMDB store:
    ids, dedup, metadata, lineage both ways, signatures with the node key,
    and tampered bytes or metadata refused.
    SPDX-License-Identifier: MPL-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "fixture.h"
#include "orcs/artifact.h"
#include "orcs/orcs.h"
#include "orcs/store.h"

typedef struct {
    char dir[64];                // mkdtemp data directory
    orcs_store_t *store;         // DIR/store
    orcs_artifacts_t *artifacts; // on it, key in DIR
} s_env_t;

static int
s_setup(void **state)
{
    s_env_t *env = calloc(1, sizeof *env);
    orcs_runtime_init();
    orcs_log_level_set(ORCS_LOG_ERROR);
    snprintf(env->dir, sizeof env->dir, "/tmp/orcs-artifact-XXXXXX");
    assert_non_null(mkdtemp(env->dir));
    char path[128];
    snprintf(path, sizeof path, "%s/store", env->dir);
    env->store = orcs_store_new();
    assert_int_equal(orcs_store_open(env->store, path, NULL), ORCS_OK);
    env->artifacts = orcs_artifacts_new(env->store, env->dir);
    *state = env;
    return 0;
}

static int
s_teardown(void **state)
{
    s_env_t *env = *state;
    orcs_artifacts_destroy(&env->artifacts);
    orcs_store_destroy(&env->store);
    nftw(env->dir, fixture_rm, 16, FTW_DEPTH | FTW_PHYS);
    free(env);
    return 0;
}

// Stores text with inputs (NULL-terminated list, may be NULL).
static void
s_put(s_env_t *env,
      const char *text,
      const char *const *inputs,
      bool sign,
      char id[ORCS_ARTIFACT_ID_SIZE])
{
    size_t count = 0;
    while (inputs && inputs[count])
        count++;
    orcs_artifact_opts_t opts = {"text/plain", "run-1", "node-a", "writer",
                                 inputs,       count,   sign};
    assert_int_equal(
        orcs_artifacts_put(env->artifacts, text, strlen(text), &opts, id),
        ORCS_OK);
}

// Replaces the raw value of ('b' or 'm') + id in the store.
static void
s_overwrite(
    s_env_t *env, char tag, const char *id, const void *data, size_t size)
{
    uint8_t key[33];
    key[0] = (uint8_t) tag;
    assert_int_equal(sodium_hex2bin(key + 1, 32, id, 64, NULL, NULL, NULL), 0);
    orcs_batch_t *batch = orcs_batch_new();
    assert_int_equal(
        orcs_batch_put(batch, ORCS_DB_ARTIFACTS, key, sizeof key, data, size),
        ORCS_OK);
    assert_int_equal(orcs_store_write(env->store, &batch), ORCS_OK);
}

static json_int_t
s_entries(s_env_t *env)
{
    json_t *stats = orcs_store_stats(env->store);
    json_int_t n = json_integer_value(json_object_get(
        json_object_get(json_object_get(stats, "dbs"), "artifacts"),
        "entries"));
    json_decref(stats);
    return n;
}

// Index of id in a lineage's artifacts, or -1.
static int
s_find(const json_t *graph, const char *id)
{
    size_t i;
    json_t *entry;
    json_array_foreach(json_object_get(graph, "artifacts"), i, entry)
    {
        if (strcmp(json_string_value(json_object_get(entry, "id")), id) == 0)
            return (int) i;
    }
    return -1;
}

static int
s_depth(const json_t *graph, const char *id)
{
    int i = s_find(graph, id);
    assert_true(i >= 0);
    return (int) json_integer_value(json_object_get(
        json_array_get(json_object_get(graph, "artifacts"), (size_t) i),
        "depth"));
}

static bool
s_has_edge(const json_t *graph, const char *from, const char *to)
{
    size_t i;
    json_t *edge;
    json_array_foreach(json_object_get(graph, "edges"), i, edge)
    {
        if (strcmp(json_string_value(json_object_get(edge, "from")), from) == 0
            && strcmp(json_string_value(json_object_get(edge, "to")), to) == 0)
            return true;
    }
    return false;
}

// ---------------------------------------------------------------------------

static void
test_artifact_destroy_nulls_reference(void **state)
{
    s_env_t *env = *state;
    orcs_artifacts_t *artifacts = orcs_artifacts_new(env->store, NULL);
    orcs_artifacts_destroy(&artifacts);
    assert_null(artifacts);
    orcs_artifacts_destroy(&artifacts); // idempotent
}

static void
test_artifact_id_is_the_blake2b_of_the_bytes(void **state)
{
    s_env_t *env = *state;
    static const char text[] = "hello, artifacts";
    char id[ORCS_ARTIFACT_ID_SIZE];
    s_put(env, text, NULL, false, id);
    uint8_t hash[32];
    crypto_generichash(hash, sizeof hash, (const uint8_t *) text,
                       sizeof text - 1, NULL, 0);
    char hex[65];
    sodium_bin2hex(hex, sizeof hex, hash, sizeof hash);
    assert_string_equal(id, hex);
    assert_true(orcs_artifacts_id_is_valid(id));
    void *data = NULL;
    size_t size = 0;
    json_t *meta = NULL;
    assert_int_equal(
        orcs_artifacts_get(env->artifacts, id, &data, &size, &meta), ORCS_OK);
    assert_int_equal(size, sizeof text - 1);
    assert_memory_equal(data, text, size);
    assert_string_equal(json_string_value(json_object_get(meta, "media_type")),
                        "text/plain");
    assert_int_equal(json_integer_value(json_object_get(meta, "size")), size);
    assert_true(json_integer_value(json_object_get(meta, "created_us")) > 0);
    json_t *producer = json_object_get(meta, "producer");
    assert_string_equal(json_string_value(json_object_get(producer, "run")),
                        "run-1");
    assert_string_equal(json_string_value(json_object_get(producer, "node")),
                        "node-a");
    assert_string_equal(json_string_value(json_object_get(producer, "actor")),
                        "writer");
    assert_int_equal(json_array_size(json_object_get(meta, "inputs")), 0);
    assert_null(json_object_get(meta, "signature"));
    free(data);
    json_decref(meta);
    // An empty artifact is an artifact too; defaults for a NULL opts.
    assert_int_equal(orcs_artifacts_put(env->artifacts, NULL, 0, NULL, id),
                     ORCS_OK);
    assert_int_equal(orcs_artifacts_get(env->artifacts, id, &data, &size, NULL),
                     ORCS_OK);
    assert_int_equal(size, 0);
    free(data);
    assert_int_equal(orcs_artifacts_meta(env->artifacts, id, &meta), ORCS_OK);
    assert_string_equal(json_string_value(json_object_get(meta, "media_type")),
                        "application/octet-stream");
    json_decref(meta);
}

static void
test_artifact_same_bytes_are_stored_once(void **state)
{
    s_env_t *env = *state;
    char first[ORCS_ARTIFACT_ID_SIZE], second[ORCS_ARTIFACT_ID_SIZE];
    s_put(env, "twice", NULL, false, first);
    json_int_t entries = s_entries(env);
    orcs_artifact_opts_t opts = {.media_type = "application/x-other",
                                 .actor = "someone-else"};
    assert_int_equal(
        orcs_artifacts_put(env->artifacts, "twice", 5, &opts, second), ORCS_OK);
    assert_string_equal(first, second);
    assert_int_equal(s_entries(env), entries); // nothing new stored
    json_t *meta = NULL;
    assert_int_equal(orcs_artifacts_meta(env->artifacts, first, &meta),
                     ORCS_OK);
    assert_string_equal(json_string_value(json_object_get(meta, "media_type")),
                        "text/plain"); // the first metadata stays
    json_decref(meta);
    json_t *list = NULL;
    assert_int_equal(orcs_artifacts_list(env->artifacts, 0, &list), ORCS_OK);
    assert_int_equal(json_array_size(list), 1);
    json_decref(list);
}

static void
test_artifact_put_checks_inputs_and_texts(void **state)
{
    s_env_t *env = *state;
    char id[ORCS_ARTIFACT_ID_SIZE];
    const char *missing[] = {
        "0000000000000000000000000000000000000000000000000000000000000000"};
    orcs_artifact_opts_t opts = {.inputs = missing, .input_count = 1};
    assert_int_equal(orcs_artifacts_put(env->artifacts, "x", 1, &opts, id),
                     ORCS_ENOTFOUND);
    assert_string_equal(id, "");
    const char *bad[] = {"not-an-id"};
    opts.inputs = bad;
    assert_int_equal(orcs_artifacts_put(env->artifacts, "x", 1, &opts, id),
                     ORCS_EINVAL);
    opts = (orcs_artifact_opts_t){.media_type = "text/\x01plain"};
    assert_int_equal(orcs_artifacts_put(env->artifacts, "x", 1, &opts, id),
                     ORCS_EINVAL);
    opts = (orcs_artifact_opts_t){.actor = "\xff\xfe"};
    assert_int_equal(orcs_artifacts_put(env->artifacts, "x", 1, &opts, id),
                     ORCS_EINVAL);
    char long_text[ORCS_ARTIFACT_TEXT_MAX + 2];
    memset(long_text, 'r', sizeof long_text - 1);
    long_text[sizeof long_text - 1] = '\0';
    opts = (orcs_artifact_opts_t){.run = long_text};
    assert_int_equal(orcs_artifacts_put(env->artifacts, "x", 1, &opts, id),
                     ORCS_ETOOBIG);
    opts = (orcs_artifact_opts_t){.input_count = ORCS_ARTIFACT_INPUTS_MAX + 1,
                                  .inputs = bad};
    assert_int_equal(orcs_artifacts_put(env->artifacts, "x", 1, &opts, id),
                     ORCS_ETOOBIG);
    void *data = NULL;
    size_t size = 0;
    assert_int_equal(
        orcs_artifacts_get(env->artifacts, "nope", &data, &size, NULL),
        ORCS_EINVAL);
    assert_int_equal(
        orcs_artifacts_get(env->artifacts, missing[0], &data, &size, NULL),
        ORCS_ENOTFOUND);
    assert_null(data);
    assert_int_equal(s_entries(env), 0);
}

static void
test_artifact_lineage_walks_inputs_and_outputs(void **state)
{
    s_env_t *env = *state;
    char a[65], b[65], c[65], d[65], e[65];
    s_put(env, "raw reads", NULL, false, a);
    s_put(env, "reference", NULL, false, b);
    const char *ab[] = {a, b, NULL};
    s_put(env, "alignment", ab, false, c);
    const char *just_c[] = {c, NULL};
    s_put(env, "report", just_c, false, d);
    const char *just_a[] = {a, NULL};
    s_put(env, "qc", just_a, false, e);

    json_t *graph = NULL;
    assert_int_equal(orcs_artifacts_lineage(env->artifacts, c,
                                            ORCS_LINEAGE_INPUTS, 0, &graph),
                     ORCS_OK);
    assert_string_equal(json_string_value(json_object_get(graph, "root")), c);
    assert_int_equal(json_array_size(json_object_get(graph, "artifacts")), 3);
    assert_int_equal(s_depth(graph, c), 0);
    assert_int_equal(s_depth(graph, a), -1);
    assert_int_equal(s_depth(graph, b), -1);
    assert_true(s_has_edge(graph, a, c));
    assert_true(s_has_edge(graph, b, c));
    assert_int_equal(json_array_size(json_object_get(graph, "edges")), 2);
    json_decref(graph);

    assert_int_equal(orcs_artifacts_lineage(env->artifacts, a,
                                            ORCS_LINEAGE_OUTPUTS, 0, &graph),
                     ORCS_OK);
    assert_int_equal(json_array_size(json_object_get(graph, "artifacts")), 4);
    assert_int_equal(s_depth(graph, c), 1);
    assert_int_equal(s_depth(graph, e), 1);
    assert_int_equal(s_depth(graph, d), 2);
    assert_int_equal(s_find(graph, b), -1);
    assert_true(s_has_edge(graph, c, d));
    json_decref(graph);

    assert_int_equal(orcs_artifacts_lineage(env->artifacts, a,
                                            ORCS_LINEAGE_OUTPUTS, 1, &graph),
                     ORCS_OK);
    assert_int_equal(json_array_size(json_object_get(graph, "artifacts")), 3);
    assert_int_equal(s_find(graph, d), -1); // beyond max_depth
    json_decref(graph);

    assert_int_equal(
        orcs_artifacts_lineage(env->artifacts, c, ORCS_LINEAGE_BOTH, 0, &graph),
        ORCS_OK);
    assert_int_equal(json_array_size(json_object_get(graph, "artifacts")), 4);
    assert_int_equal(s_depth(graph, d), 1);
    assert_int_equal(s_find(graph, e), -1); // a sibling, not a relative
    json_decref(graph);

    assert_int_equal(orcs_artifacts_lineage(env->artifacts, e + 1,
                                            ORCS_LINEAGE_BOTH, 0, &graph),
                     ORCS_EINVAL);
    char absent[65];
    memset(absent, 'f', 64);
    absent[64] = '\0';
    assert_int_equal(orcs_artifacts_lineage(env->artifacts, absent,
                                            ORCS_LINEAGE_BOTH, 0, &graph),
                     ORCS_ENOTFOUND);
    assert_null(graph);
}

static void
test_artifact_tampered_bytes_are_refused(void **state)
{
    s_env_t *env = *state;
    char plain[65], signed_id[65];
    s_put(env, "original bytes", NULL, false, plain);
    s_put(env, "signed bytes", NULL, true, signed_id);
    s_overwrite(env, 'b', plain, "original bytez", 14);
    s_overwrite(env, 'b', signed_id, "signed", 6);
    void *data = NULL;
    size_t size = 0;
    json_t *meta = NULL;
    assert_int_equal(
        orcs_artifacts_get(env->artifacts, plain, &data, &size, &meta),
        ORCS_EPROTO);
    assert_null(data);
    assert_null(meta);
    assert_int_equal(
        orcs_artifacts_get(env->artifacts, signed_id, &data, &size, &meta),
        ORCS_EPROTO);
    // Bytes under another artifact's id are caught the same way.
    char other[65];
    s_put(env, "other", NULL, false, other);
    s_overwrite(env, 'b', other, "signed bytes", 12);
    assert_int_equal(
        orcs_artifacts_get(env->artifacts, other, &data, &size, &meta),
        ORCS_EPROTO);
}

static void
test_artifact_tampered_metadata_is_refused(void **state)
{
    s_env_t *env = *state;
    char id[65];
    s_put(env, "a signed result", NULL, true, id);
    json_t *meta = NULL;
    assert_int_equal(orcs_artifacts_meta(env->artifacts, id, &meta), ORCS_OK);
    // Change the producer and write the record back as it would be stored.
    json_object_set_new(json_object_get(meta, "producer"), "actor",
                        json_string("mallory"));
    uint8_t *record = NULL;
    size_t size = 0;
    assert_int_equal(orcs_doc_encode(meta, &record, &size), ORCS_OK);
    s_overwrite(env, 'm', id, record, size);
    free(record);
    json_decref(meta);
    void *data = NULL;
    assert_int_equal(
        orcs_artifacts_get(env->artifacts, id, &data, &size, &meta),
        ORCS_EPROTO);
    assert_int_equal(orcs_artifacts_meta(env->artifacts, id, &meta),
                     ORCS_EPROTO);
    json_t *graph = NULL;
    assert_int_equal(orcs_artifacts_lineage(env->artifacts, id,
                                            ORCS_LINEAGE_BOTH, 0, &graph),
                     ORCS_EPROTO);
    // A damaged record (not MessagePack) is refused too.
    s_overwrite(env, 'm', id, "\xc1", 1);
    assert_int_equal(orcs_artifacts_meta(env->artifacts, id, &meta),
                     ORCS_EPROTO);
    // A record moved under another id.
    char other[65];
    s_put(env, "other", NULL, false, other);
    assert_int_equal(orcs_artifacts_meta(env->artifacts, other, &meta),
                     ORCS_OK);
    assert_int_equal(orcs_doc_encode(meta, &record, &size), ORCS_OK);
    json_decref(meta);
    s_overwrite(env, 'm', id, record, size);
    free(record);
    assert_int_equal(orcs_artifacts_meta(env->artifacts, id, &meta),
                     ORCS_EPROTO);
}

static void
test_artifact_tampered_input_is_marked_in_lineage(void **state)
{
    s_env_t *env = *state;
    char a[65], b[65];
    s_put(env, "input", NULL, true, a);
    const char *inputs[] = {a, NULL};
    s_put(env, "output", inputs, true, b);
    s_overwrite(env, 'm', a, "\xc1", 1);
    json_t *graph = NULL;
    assert_int_equal(orcs_artifacts_lineage(env->artifacts, b,
                                            ORCS_LINEAGE_INPUTS, 0, &graph),
                     ORCS_OK);
    json_t *entry = json_array_get(json_object_get(graph, "artifacts"),
                                   (size_t) s_find(graph, a));
    assert_string_equal(json_string_value(json_object_get(entry, "error")),
                        "EPROTO");
    json_decref(graph);
}

static void
test_artifact_signatures_use_the_node_key(void **state)
{
    s_env_t *env = *state;
    char id[65];
    s_put(env, "signed", NULL, true, id);
    char path[128];
    snprintf(path, sizeof path, "%s/node.key", env->dir);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(st.st_size, crypto_sign_SECRETKEYBYTES);
    char pk[65];
    assert_int_equal(orcs_artifacts_public_key(env->artifacts, pk), ORCS_OK);
    void *data = NULL;
    size_t size = 0;
    json_t *meta = NULL;
    assert_int_equal(
        orcs_artifacts_get(env->artifacts, id, &data, &size, &meta), ORCS_OK);
    free(data);
    json_t *signature = json_object_get(meta, "signature");
    assert_non_null(signature);
    assert_string_equal(json_string_value(json_object_get(signature, "alg")),
                        "ed25519");
    assert_string_equal(
        json_string_value(json_object_get(signature, "public_key")), pk);
    assert_int_equal(json_string_length(json_object_get(signature, "value")),
                     128);
    json_decref(meta);
    // Another object on the same directory loads the same key.
    orcs_artifacts_t *again = orcs_artifacts_new(env->store, env->dir);
    char pk2[65];
    assert_int_equal(orcs_artifacts_public_key(again, pk2), ORCS_OK);
    assert_string_equal(pk, pk2);
    orcs_artifacts_destroy(&again);
    // No data directory: no signing.
    orcs_artifacts_t *keyless = orcs_artifacts_new(env->store, NULL);
    orcs_artifact_opts_t opts = {.sign = true};
    assert_int_equal(orcs_artifacts_put(keyless, "z", 1, &opts, id),
                     ORCS_EINVAL);
    orcs_artifacts_destroy(&keyless);
    // A key others can read is refused; so is a damaged one.
    assert_int_equal(chmod(path, 0644), 0);
    again = orcs_artifacts_new(env->store, env->dir);
    assert_int_equal(orcs_artifacts_put(again, "z", 1, &opts, id),
                     ORCS_EDENIED);
    orcs_artifacts_destroy(&again);
    assert_int_equal(chmod(path, 0600), 0);
    assert_int_equal(truncate(path, 10), 0);
    again = orcs_artifacts_new(env->store, env->dir);
    assert_int_equal(orcs_artifacts_put(again, "z", 1, &opts, id), ORCS_EPROTO);
    orcs_artifacts_destroy(&again);
}

static void
test_artifact_list_gives_the_newest(void **state)
{
    s_env_t *env = *state;
    char id[65];
    static const char *const texts[] = {"one", "two", "three", NULL};
    for (size_t i = 0; texts[i]; i++)
        s_put(env, texts[i], NULL, false, id);
    json_t *list = NULL;
    assert_int_equal(orcs_artifacts_list(env->artifacts, 2, &list), ORCS_OK);
    assert_int_equal(json_array_size(list), 2);
    assert_int_equal(
        json_integer_value(json_object_get(json_array_get(list, 1), "size")),
        5); // "three", the newest, last
    json_decref(list);
}

static void
test_artifact_meta_decode_rejects_garbage(void **state)
{
    (void) state;
    json_t *meta = json_true();
    assert_int_equal(orcs_artifacts_meta_decode((const uint8_t *) "", 0, &meta),
                     ORCS_EPROTO);
    assert_null(meta);
    static const char *const bad[] = {
        "{}",
        "{\"schema\": 1, \"id\": \"ab\", \"media_type\": \"t\", \"size\": 1, "
        "\"created_us\": 1, \"producer\": {\"run\": \"\", \"node\": \"\", "
        "\"actor\": \"\"}, \"inputs\": []}",
        "{\"schema\": 9, \"id\": "
        "\"0000000000000000000000000000000000000000000000000000000000000000\", "
        "\"media_type\": \"t\", \"size\": 1, \"created_us\": 1, \"producer\": "
        "{\"run\": \"\", \"node\": \"\", \"actor\": \"\"}, \"inputs\": []}",
        "{\"schema\": 1, \"id\": "
        "\"0000000000000000000000000000000000000000000000000000000000000000\", "
        "\"media_type\": \"t\", \"size\": 1, \"created_us\": 1, \"producer\": "
        "{\"run\": \"\", \"node\": \"\", \"actor\": \"\"}, \"inputs\": [1]}",
        "{\"schema\": 1, \"id\": "
        "\"0000000000000000000000000000000000000000000000000000000000000000\", "
        "\"media_type\": \"t\", \"size\": 1, \"created_us\": 1, \"producer\": "
        "{\"run\": \"\", \"node\": \"\", \"actor\": \"\"}, \"inputs\": [], "
        "\"signature\": {\"alg\": \"rsa\"}}",
        NULL};
    for (size_t i = 0; bad[i]; i++) {
        json_t *doc = json_loads(bad[i], 0, NULL);
        assert_non_null(doc);
        uint8_t *data = NULL;
        size_t size = 0;
        assert_int_equal(orcs_doc_encode(doc, &data, &size), ORCS_OK);
        assert_int_equal(orcs_artifacts_meta_decode(data, size, &meta),
                         ORCS_EPROTO);
        assert_null(meta);
        free(data);
        json_decref(doc);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, s_setup, s_teardown)
        T(test_artifact_destroy_nulls_reference),
        T(test_artifact_id_is_the_blake2b_of_the_bytes),
        T(test_artifact_same_bytes_are_stored_once),
        T(test_artifact_put_checks_inputs_and_texts),
        T(test_artifact_lineage_walks_inputs_and_outputs),
        T(test_artifact_tampered_bytes_are_refused),
        T(test_artifact_tampered_metadata_is_refused),
        T(test_artifact_tampered_input_is_marked_in_lineage),
        T(test_artifact_signatures_use_the_node_key),
        T(test_artifact_list_gives_the_newest),
        T(test_artifact_meta_decode_rejects_garbage),
#undef T
    };
    int failed =
        cmocka_run_group_tests_name("orcs_artifact", tests, NULL, NULL);
    orcs_runtime_shutdown();
    return failed;
}
