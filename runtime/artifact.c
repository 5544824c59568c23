/*  artifact.c — content-addressed artifacts: ids, metadata records,
    signatures, put/get with verification, list and lineage. The node key
    file is in artifact_key.c. Design notes: docs/memory.md.
    SPDX-License-Identifier: MPL-2.0

    LMDB keys in the sub-database `artifacts` (ID = the 32 raw bytes):
      'b' ID              the bytes
      'm' ID              the metadata record (MessagePack map)
      'o' INPUT OUTPUT    reverse index: OUTPUT was made from INPUT (empty)
      't' BE64(created) ID   creation-time index, for listing (empty)

    A signature is Ed25519 over S_SIGN_DOMAIN followed by the metadata in a
    fixed binary form (s_signed_bytes): id, size, created time, media type,
    producer and inputs. The id binds the bytes, so a signature covers
    both; the bytes are checked against the id on every read. */
#include "orcs/artifact.h"

#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "artifact_internal.h"
#include "orcs/doc.h"
#include "orcs/log.h"
#include "orcs/sys.h"

#define S_SIGN_DOMAIN   "orcs.artifact.v1" // first bytes of a signed message
#define S_LIST_DEFAULT  1000u              // list limit when 0 is given
#define S_MEDIA_DEFAULT "application/octet-stream"

// ---------------------------------------------------------------------------
// Lifecycle

orcs_artifacts_t *
orcs_artifacts_new(orcs_store_t *store, const char *data_dir)
{
    orcs_assert(store);
    if (sodium_init() < 0)
        orcs_panic("libsodium failed to initialise");
    orcs_artifacts_t *self = orcs_calloc(1, sizeof *self);
    self->store = store;
    self->data_dir = data_dir ? orcs_strdup(data_dir) : NULL;
    pthread_mutex_init(&self->key_lock, NULL);
    return self;
}

void
orcs_artifacts_destroy(orcs_artifacts_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    orcs_artifacts_t *self = *self_p;
    sodium_memzero(self->secret_key, sizeof self->secret_key);
    pthread_mutex_destroy(&self->key_lock);
    free(self->data_dir);
    free(self);
    *self_p = NULL;
}

// ---------------------------------------------------------------------------
// Ids

bool
orcs_artifacts_id_is_valid(const char *id)
{
    if (!id || strlen(id) != 64)
        return false;
    for (size_t i = 0; i < 64; i++)
        if (!((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f')))
            return false;
    return true;
}

// Parses a valid hex id into 32 bytes.
static void
s_id_bytes(const char *id, uint8_t raw[32])
{
    size_t n = 0;
    int rc = sodium_hex2bin(raw, 32, id, 64, NULL, &n, NULL);
    orcs_assert(rc == 0 && n == 32); // ids are checked first
}

static void
s_key(uint8_t key[65], char tag, const uint8_t a[32], const uint8_t *b)
{
    key[0] = (uint8_t) tag;
    memcpy(key + 1, a, 32);
    if (b)
        memcpy(key + 33, b, 32);
}

// ---------------------------------------------------------------------------
// Metadata records

static bool
s_is_text(const json_t *value, bool may_be_empty)
{
    if (!json_is_string(value))
        return false;
    size_t n = json_string_length(value);
    const char *s = json_string_value(value);
    if ((n == 0 && !may_be_empty) || n > ORCS_ARTIFACT_TEXT_MAX
        || strlen(s) != n)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char) s[i] < 0x20 || s[i] == 0x7f)
            return false;
    return true;
}

static bool
s_is_hex(const json_t *value, size_t digits)
{
    if (!json_is_string(value) || json_string_length(value) != digits)
        return false;
    const char *s = json_string_value(value);
    for (size_t i = 0; i < digits; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return true;
}

static bool
s_producer_is_valid(const json_t *producer)
{
    return json_is_object(producer)
           && s_is_text(json_object_get(producer, "run"), true)
           && s_is_text(json_object_get(producer, "node"), true)
           && s_is_text(json_object_get(producer, "actor"), true);
}

static bool
s_inputs_are_valid(const json_t *inputs)
{
    if (!json_is_array(inputs)
        || json_array_size(inputs) > ORCS_ARTIFACT_INPUTS_MAX)
        return false;
    size_t i;
    json_t *input;
    json_array_foreach(inputs, i, input)
    {
        if (!s_is_hex(input, 64))
            return false;
    }
    return true;
}

static bool
s_signature_is_valid(const json_t *signature)
{
    json_t *alg = json_object_get(signature, "alg");
    return json_is_object(signature) && json_is_string(alg)
           && strcmp(json_string_value(alg), "ed25519") == 0
           && s_is_hex(json_object_get(signature, "public_key"), 64)
           && s_is_hex(json_object_get(signature, "value"), 128);
}

orcs_status
orcs_artifacts_meta_decode(const uint8_t *data, size_t size, json_t **meta_p)
{
    orcs_assert(meta_p);
    *meta_p = NULL;
    orcs_doc_limits_t limits = {ORCS_ARTIFACT_META_MAX, 8,
                                ORCS_ARTIFACT_INPUTS_MAX + 64};
    json_t *doc = NULL;
    orcs_status rc = orcs_doc_decode(data, size, &limits, &doc);
    if (rc != ORCS_OK)
        return rc;
    json_t *schema = json_object_get(doc, "schema");
    json_t *size_v = json_object_get(doc, "size");
    json_t *created = json_object_get(doc, "created_us");
    json_t *signature = json_object_get(doc, "signature");
    bool ok = json_is_object(doc) && json_is_integer(schema)
              && json_integer_value(schema) >= 1
              && json_integer_value(schema) <= ORCS_ARTIFACT_SCHEMA
              && s_is_hex(json_object_get(doc, "id"), 64)
              && s_is_text(json_object_get(doc, "media_type"), false)
              && json_is_integer(size_v) && json_integer_value(size_v) >= 0
              && json_integer_value(size_v) <= ORCS_ARTIFACT_SIZE_MAX
              && json_is_integer(created)
              && s_producer_is_valid(json_object_get(doc, "producer"))
              && s_inputs_are_valid(json_object_get(doc, "inputs"))
              && (!signature || s_signature_is_valid(signature));
    if (ok) {
        json_t *meta = json_pack(
            "{s:O, s:O, s:O, s:O, s:O, s:O, s:O}", "schema", schema, "id",
            json_object_get(doc, "id"), "media_type",
            json_object_get(doc, "media_type"), "size", size_v, "created_us",
            created, "producer", json_object_get(doc, "producer"), "inputs",
            json_object_get(doc, "inputs"));
        if (signature)
            json_object_set(meta, "signature", signature);
        *meta_p = meta;
    }
    json_decref(doc);
    return ok ? ORCS_OK : ORCS_EPROTO;
}

// Appends a 4-byte length and the text.
static void
s_put_text(uint8_t *buf, size_t *at, const char *text)
{
    size_t n = strlen(text);
    for (int i = 0; i < 4; i++)
        buf[(*at)++] = (uint8_t) (n >> (24 - 8 * i));
    memcpy(buf + *at, text, n);
    *at += n;
}

static void
s_put_u64(uint8_t *buf, size_t *at, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        buf[(*at)++] = (uint8_t) (v >> (56 - 8 * i));
}

// The message a signature covers, for a checked metadata document.
// Caller frees it.
static uint8_t *
s_signed_bytes(const json_t *meta, size_t *size_p)
{
    const json_t *producer = json_object_get(meta, "producer");
    const json_t *inputs = json_object_get(meta, "inputs");
    size_t cap = sizeof S_SIGN_DOMAIN + 32 + 16
                 + 4 * (4 + ORCS_ARTIFACT_TEXT_MAX) + 4
                 + 32 * json_array_size(inputs);
    uint8_t *buf = orcs_malloc(cap);
    size_t at = 0;
    memcpy(buf, S_SIGN_DOMAIN, sizeof S_SIGN_DOMAIN); // with its NUL
    at += sizeof S_SIGN_DOMAIN;
    s_id_bytes(json_string_value(json_object_get(meta, "id")), buf + at);
    at += 32;
    s_put_u64(buf, &at,
              (uint64_t) json_integer_value(json_object_get(meta, "size")));
    s_put_u64(
        buf, &at,
        (uint64_t) json_integer_value(json_object_get(meta, "created_us")));
    s_put_text(buf, &at,
               json_string_value(json_object_get(meta, "media_type")));
    s_put_text(buf, &at, json_string_value(json_object_get(producer, "run")));
    s_put_text(buf, &at, json_string_value(json_object_get(producer, "node")));
    s_put_text(buf, &at, json_string_value(json_object_get(producer, "actor")));
    size_t n = json_array_size(inputs);
    for (int i = 0; i < 4; i++)
        buf[at++] = (uint8_t) (n >> (24 - 8 * i));
    for (size_t i = 0; i < n; i++) {
        s_id_bytes(json_string_value(json_array_get(inputs, i)), buf + at);
        at += 32;
    }
    orcs_assert(at <= cap);
    *size_p = at;
    return buf;
}

// ORCS_OK when meta is unsigned or its signature verifies.
static orcs_status
s_verify_signature(const json_t *meta)
{
    const json_t *signature = json_object_get(meta, "signature");
    if (!signature)
        return ORCS_OK;
    uint8_t pk[crypto_sign_PUBLICKEYBYTES], sig[crypto_sign_BYTES];
    size_t n = 0;
    sodium_hex2bin(pk, sizeof pk,
                   json_string_value(json_object_get(signature, "public_key")),
                   64, NULL, &n, NULL);
    sodium_hex2bin(sig, sizeof sig,
                   json_string_value(json_object_get(signature, "value")), 128,
                   NULL, &n, NULL);
    size_t size = 0;
    uint8_t *message = s_signed_bytes(meta, &size);
    int rc = crypto_sign_verify_detached(sig, message, size, pk);
    free(message);
    return rc == 0 ? ORCS_OK : ORCS_EPROTO;
}

// ---------------------------------------------------------------------------
// Put

// Builds and checks the metadata document of a put.
static orcs_status
s_build_meta(const char *id,
             size_t size,
             int64_t created_us,
             const orcs_artifact_opts_t *opts,
             json_t **meta_p)
{
    *meta_p = NULL;
    if (opts->input_count > ORCS_ARTIFACT_INPUTS_MAX)
        return ORCS_ETOOBIG;
    json_t *inputs = json_array();
    for (size_t i = 0; i < opts->input_count; i++) {
        if (!orcs_artifacts_id_is_valid(opts->inputs[i])) {
            json_decref(inputs);
            return ORCS_EINVAL;
        }
        json_array_append_new(inputs, json_string(opts->inputs[i]));
    }
    const char *texts[] = {
        opts->media_type ? opts->media_type : S_MEDIA_DEFAULT,
        opts->run ? opts->run : "", opts->node ? opts->node : "",
        opts->actor ? opts->actor : ""};
    for (size_t i = 0; i < 4; i++)
        if (strlen(texts[i]) > ORCS_ARTIFACT_TEXT_MAX) {
            json_decref(inputs);
            return ORCS_ETOOBIG;
        }
    json_t *meta = json_pack(
        "{s:i, s:s, s:s, s:I, s:I, s:{s:s, s:s, s:s}, s:o}", "schema",
        (int) ORCS_ARTIFACT_SCHEMA, "id", id, "media_type", texts[0], "size",
        (json_int_t) size, "created_us", (json_int_t) created_us, "producer",
        "run", texts[1], "node", texts[2], "actor", texts[3], "inputs", inputs);
    // json_pack refuses text that is not UTF-8 (and steals inputs anyway).
    if (!meta || !s_is_text(json_object_get(meta, "media_type"), false)
        || !s_producer_is_valid(json_object_get(meta, "producer"))) {
        json_decref(meta);
        return ORCS_EINVAL;
    }
    *meta_p = meta;
    return ORCS_OK;
}

static orcs_status
s_sign(orcs_artifacts_t *self, json_t *meta)
{
    uint8_t sk[crypto_sign_SECRETKEYBYTES];
    orcs_status rc = orcs__artifacts_secret_key(self, sk);
    if (rc != ORCS_OK)
        return rc;
    size_t size = 0;
    uint8_t *message = s_signed_bytes(meta, &size);
    uint8_t sig[crypto_sign_BYTES];
    crypto_sign_detached(sig, NULL, message, size, sk);
    free(message);
    char pk_hex[65], sig_hex[129];
    sodium_bin2hex(pk_hex, sizeof pk_hex, sk + 32, 32); // sk = seed || pk
    sodium_bin2hex(sig_hex, sizeof sig_hex, sig, sizeof sig);
    sodium_memzero(sk, sizeof sk);
    json_object_set_new(meta, "signature",
                        json_pack("{s:s, s:s, s:s}", "alg", "ed25519",
                                  "public_key", pk_hex, "value", sig_hex));
    return ORCS_OK;
}

// Stages the records of a new artifact; ORCS_ENOTFOUND for a missing
// input; *exists_p when the id is already stored.
static orcs_status
s_stage_put(orcs_artifacts_t *self,
            const uint8_t raw[32],
            const void *data,
            size_t size,
            const json_t *meta,
            orcs_batch_t *batch,
            bool *exists_p)
{
    orcs_store_txn_t *txn = NULL;
    orcs_status rc = orcs_store_txn_begin(self->store, &txn);
    uint8_t key[65];
    const void *value = NULL;
    size_t value_size = 0;
    s_key(key, 'm', raw, NULL);
    if (rc == ORCS_OK) {
        rc = orcs_store_txn_get(txn, ORCS_DB_ARTIFACTS, key, 33, &value,
                                &value_size);
        *exists_p = rc == ORCS_OK;
        rc = rc == ORCS_ENOTFOUND || rc == ORCS_OK ? ORCS_OK : rc;
    }
    const json_t *inputs = json_object_get(meta, "inputs");
    for (size_t i = 0;
         rc == ORCS_OK && !*exists_p && i < json_array_size(inputs); i++) {
        uint8_t input[32], edge[65];
        s_id_bytes(json_string_value(json_array_get(inputs, i)), input);
        s_key(edge, 'm', input, NULL);
        rc = orcs_store_txn_get(txn, ORCS_DB_ARTIFACTS, edge, 33, &value,
                                &value_size);
        s_key(edge, 'o', input, raw);
        if (rc == ORCS_OK)
            rc = orcs_batch_put(batch, ORCS_DB_ARTIFACTS, edge, 65, NULL, 0);
    }
    orcs_store_txn_end(&txn);
    if (rc != ORCS_OK || *exists_p)
        return rc;
    uint8_t *record = NULL;
    size_t record_size = 0;
    rc = orcs_doc_encode(meta, &record, &record_size);
    if (rc == ORCS_OK) // a racing put of the same bytes makes this EEXIST
        rc = orcs_batch_check(batch, ORCS_DB_ARTIFACTS, key, 33, NULL, 0);
    if (rc == ORCS_OK)
        rc = orcs_batch_put(batch, ORCS_DB_ARTIFACTS, key, 33, record,
                            record_size);
    s_key(key, 'b', raw, NULL);
    if (rc == ORCS_OK)
        rc = orcs_batch_put(batch, ORCS_DB_ARTIFACTS, key, 33, data, size);
    uint8_t when[41];
    size_t at = 1;
    when[0] = 't';
    s_put_u64(
        when, &at,
        (uint64_t) json_integer_value(json_object_get(meta, "created_us")));
    memcpy(when + at, raw, 32);
    if (rc == ORCS_OK)
        rc = orcs_batch_put(batch, ORCS_DB_ARTIFACTS, when, sizeof when, NULL,
                            0);
    free(record);
    return rc;
}

orcs_status
orcs_artifacts_put(orcs_artifacts_t *self,
                   const void *data,
                   size_t size,
                   const orcs_artifact_opts_t *opts,
                   char id[ORCS_ARTIFACT_ID_SIZE])
{
    orcs_assert(self && id && (data || size == 0));
    id[0] = '\0';
    orcs_artifact_opts_t none = {0};
    if (!opts)
        opts = &none;
    if (size > ORCS_ARTIFACT_SIZE_MAX)
        return ORCS_ETOOBIG;
    uint8_t raw[32];
    crypto_generichash(raw, sizeof raw, data, size, NULL, 0);
    char hex[ORCS_ARTIFACT_ID_SIZE];
    sodium_bin2hex(hex, sizeof hex, raw, sizeof raw);
    json_t *meta = NULL;
    orcs_status rc = s_build_meta(hex, size, orcs_clock_wall_us(), opts, &meta);
    if (rc == ORCS_OK && opts->sign)
        rc = s_sign(self, meta);
    orcs_batch_t *batch = orcs_batch_new();
    bool exists = false;
    if (rc == ORCS_OK)
        rc = s_stage_put(self, raw, data, size, meta, batch, &exists);
    if (rc == ORCS_OK && !exists)
        rc = orcs_store_write(self->store, &batch);
    if (rc == ORCS_EEXIST) // the same bytes were stored meanwhile
        rc = ORCS_OK;
    orcs_batch_destroy(&batch);
    json_decref(meta);
    if (rc == ORCS_OK)
        memcpy(id, hex, sizeof hex);
    return rc;
}

// ---------------------------------------------------------------------------
// Get

// Reads and checks the metadata of raw inside txn (signature verified).
static orcs_status
s_read_meta(orcs_store_txn_t *txn,
            const char *id,
            const uint8_t raw[32],
            json_t **meta_p)
{
    uint8_t key[65];
    s_key(key, 'm', raw, NULL);
    const void *value = NULL;
    size_t size = 0;
    orcs_status rc =
        orcs_store_txn_get(txn, ORCS_DB_ARTIFACTS, key, 33, &value, &size);
    if (rc == ORCS_OK)
        rc = orcs_artifacts_meta_decode(value, size, meta_p);
    if (rc == ORCS_ETOOBIG)
        rc = ORCS_EPROTO;
    if (rc == ORCS_OK
        && strcmp(json_string_value(json_object_get(*meta_p, "id")), id) != 0)
        rc = ORCS_EPROTO; // a record moved under another id
    if (rc == ORCS_OK)
        rc = s_verify_signature(*meta_p);
    if (rc != ORCS_OK) {
        if (rc == ORCS_EPROTO)
            orcs_log_debug("artifact", "refused id=%s: damaged or tampered",
                           id);
        json_decref(*meta_p);
        *meta_p = NULL;
    }
    return rc;
}

orcs_status
orcs_artifacts_get(orcs_artifacts_t *self,
                   const char *id,
                   void **data_p,
                   size_t *size_p,
                   json_t **meta_p)
{
    orcs_assert(self && data_p && size_p);
    *data_p = NULL;
    *size_p = 0;
    if (meta_p)
        *meta_p = NULL;
    if (!orcs_artifacts_id_is_valid(id))
        return ORCS_EINVAL;
    uint8_t raw[32];
    s_id_bytes(id, raw);
    json_t *meta = NULL;
    orcs_store_txn_t *txn = NULL;
    orcs_status rc = orcs_store_txn_begin(self->store, &txn);
    if (rc == ORCS_OK)
        rc = s_read_meta(txn, id, raw, &meta);
    uint8_t key[65];
    s_key(key, 'b', raw, NULL);
    const void *value = NULL;
    size_t size = 0;
    if (rc == ORCS_OK) {
        rc = orcs_store_txn_get(txn, ORCS_DB_ARTIFACTS, key, 33, &value, &size);
        rc = rc == ORCS_ENOTFOUND ? ORCS_EPROTO : rc; // metadata without bytes
    }
    if (rc == ORCS_OK) {
        uint8_t hash[32];
        crypto_generichash(hash, sizeof hash, value, size, NULL, 0);
        if ((json_int_t) size
                != json_integer_value(json_object_get(meta, "size"))
            || sodium_memcmp(hash, raw, sizeof hash) != 0) {
            orcs_log_debug("artifact", "refused id=%s: bytes changed", id);
            rc = ORCS_EPROTO;
        }
    }
    if (rc == ORCS_OK) {
        *data_p = orcs_malloc(size ? size : 1);
        memcpy(*data_p, value, size);
        *size_p = size;
    }
    orcs_store_txn_end(&txn);
    if (rc == ORCS_OK && meta_p)
        *meta_p = json_incref(meta);
    json_decref(meta);
    return rc;
}

orcs_status
orcs_artifacts_meta(orcs_artifacts_t *self, const char *id, json_t **meta_p)
{
    orcs_assert(self && meta_p);
    *meta_p = NULL;
    if (!orcs_artifacts_id_is_valid(id))
        return ORCS_EINVAL;
    uint8_t raw[32];
    s_id_bytes(id, raw);
    orcs_store_txn_t *txn = NULL;
    orcs_status rc = orcs_store_txn_begin(self->store, &txn);
    if (rc == ORCS_OK)
        rc = s_read_meta(txn, id, raw, meta_p);
    orcs_store_txn_end(&txn);
    return rc;
}

// ---------------------------------------------------------------------------
// List

typedef struct {
    uint8_t (*ids)[32]; // ring of the newest ids seen
    size_t limit;       // ring size
    size_t seen;        // ids seen so far
} s_ring_t;

static bool
s_ring_add(const void *key,
           size_t key_size,
           const void *value,
           size_t value_size,
           void *arg)
{
    (void) value;
    (void) value_size;
    s_ring_t *ring = arg;
    if (key_size == 41) // 't' BE64 ID; anything else is not ours
        memcpy(ring->ids[ring->seen++ % ring->limit], (const uint8_t *) key + 9,
               32);
    return true;
}

orcs_status
orcs_artifacts_list(orcs_artifacts_t *self, size_t limit, json_t **list_p)
{
    orcs_assert(self && list_p);
    *list_p = NULL;
    if (limit == 0 || limit > ORCS_ARTIFACT_LINEAGE_MAX)
        limit = limit == 0 ? S_LIST_DEFAULT : ORCS_ARTIFACT_LINEAGE_MAX;
    s_ring_t ring = {orcs_calloc(limit, 32), limit, 0};
    orcs_store_txn_t *txn = NULL;
    orcs_status rc = orcs_store_txn_begin(self->store, &txn);
    if (rc == ORCS_OK)
        rc = orcs_store_txn_scan(txn, ORCS_DB_ARTIFACTS, "t", 1, s_ring_add,
                                 &ring);
    json_t *list = json_array();
    size_t count = ring.seen < limit ? ring.seen : limit;
    for (size_t i = 0; rc == ORCS_OK && i < count; i++) {
        const uint8_t *raw = ring.ids[(ring.seen - count + i) % limit];
        uint8_t key[65];
        s_key(key, 'm', raw, NULL);
        const void *value = NULL;
        size_t size = 0;
        json_t *meta = NULL;
        if (orcs_store_txn_get(txn, ORCS_DB_ARTIFACTS, key, 33, &value, &size)
                == ORCS_OK
            && orcs_artifacts_meta_decode(value, size, &meta) == ORCS_OK)
            json_array_append_new(list, meta);
    }
    orcs_store_txn_end(&txn);
    free(ring.ids);
    if (rc == ORCS_OK)
        *list_p = json_incref(list);
    json_decref(list);
    return rc;
}

// ---------------------------------------------------------------------------
// Lineage

typedef struct {
    orcs_store_txn_t *txn; // one snapshot for the whole walk
    json_t *seen;          // id -> its entry in artifacts
    json_t *artifacts;     // result entries, in walk order
    json_t *edges;         // result edges
    json_t *edge_seen;     // "from>to" -> true
    char (*queue)[65];     // ids to expand
    int *depths;           // their depths
    size_t head;           // next to expand
    size_t tail;           // next free slot
    unsigned max_depth;    // 0 = no limit
    bool truncated;        // ORCS_ARTIFACT_LINEAGE_MAX reached
} s_walk_t;

// Adds id at depth unless seen; returns its entry (NULL when the walk is
// full). A readable artifact is queued for expansion.
static json_t *
s_walk_visit(s_walk_t *w, const char *id, int depth)
{
    json_t *entry = json_object_get(w->seen, id);
    if (entry)
        return entry;
    if (json_array_size(w->artifacts) >= ORCS_ARTIFACT_LINEAGE_MAX) {
        w->truncated = true;
        return NULL;
    }
    uint8_t raw[32];
    s_id_bytes(id, raw);
    json_t *meta = NULL;
    orcs_status rc = s_read_meta(w->txn, id, raw, &meta);
    if (rc == ORCS_OK) {
        entry = json_pack("{s:s, s:O, s:O, s:O, s:O, s:b, s:i}", "id", id,
                          "media_type", json_object_get(meta, "media_type"),
                          "size", json_object_get(meta, "size"), "created_us",
                          json_object_get(meta, "created_us"), "producer",
                          json_object_get(meta, "producer"), "signed",
                          json_object_get(meta, "signature") != NULL, "depth",
                          depth);
        json_object_set(entry, "inputs", json_object_get(meta, "inputs"));
        memcpy(w->queue[w->tail], id, 65);
        w->depths[w->tail++] = depth;
    } else {
        entry = json_pack("{s:s, s:i, s:s}", "id", id, "depth", depth, "error",
                          orcs_status_name(rc));
    }
    json_decref(meta);
    json_array_append_new(w->artifacts, entry);
    json_object_set(w->seen, id, entry);
    return entry;
}

static void
s_walk_edge(s_walk_t *w, const char *from, const char *to)
{
    char key[130];
    snprintf(key, sizeof key, "%s>%s", from, to);
    if (json_object_get(w->edge_seen, key))
        return;
    json_object_set_new(w->edge_seen, key, json_true());
    json_array_append_new(w->edges,
                          json_pack("{s:s, s:s}", "from", from, "to", to));
}

static bool
s_walk_in_range(const s_walk_t *w, int depth)
{
    return w->max_depth == 0 || (unsigned) abs(depth) <= w->max_depth;
}

static bool
s_collect_outputs(const void *key,
                  size_t key_size,
                  const void *value,
                  size_t value_size,
                  void *arg)
{
    (void) value;
    (void) value_size;
    if (key_size == 65) {
        char hex[65];
        sodium_bin2hex(hex, sizeof hex, (const uint8_t *) key + 33, 32);
        json_array_append_new(arg, json_string(hex));
    }
    return true;
}

// Expands one queued artifact in the walk's direction(s).
static orcs_status
s_walk_expand(s_walk_t *w, const char *id, int depth, orcs_lineage_dir dir)
{
    json_t *entry = json_object_get(w->seen, id);
    if (depth <= 0 && (dir & ORCS_LINEAGE_INPUTS)
        && s_walk_in_range(w, depth - 1)) {
        json_t *inputs = json_object_get(entry, "inputs");
        size_t i;
        json_t *input;
        json_array_foreach(inputs, i, input)
        {
            if (s_walk_visit(w, json_string_value(input), depth - 1))
                s_walk_edge(w, json_string_value(input), id);
        }
    }
    if (depth >= 0 && (dir & ORCS_LINEAGE_OUTPUTS)
        && s_walk_in_range(w, depth + 1)) {
        uint8_t prefix[33];
        prefix[0] = 'o';
        s_id_bytes(id, prefix + 1);
        json_t *outputs = json_array();
        orcs_status rc =
            orcs_store_txn_scan(w->txn, ORCS_DB_ARTIFACTS, prefix,
                                sizeof prefix, s_collect_outputs, outputs);
        size_t i;
        json_t *output;
        json_array_foreach(outputs, i, output)
        {
            if (rc == ORCS_OK
                && s_walk_visit(w, json_string_value(output), depth + 1))
                s_walk_edge(w, id, json_string_value(output));
        }
        json_decref(outputs);
        return rc;
    }
    return ORCS_OK;
}

orcs_status
orcs_artifacts_lineage(orcs_artifacts_t *self,
                       const char *id,
                       orcs_lineage_dir dir,
                       unsigned max_depth,
                       json_t **graph_p)
{
    orcs_assert(self && graph_p);
    *graph_p = NULL;
    if (!orcs_artifacts_id_is_valid(id) || dir < ORCS_LINEAGE_INPUTS
        || dir > ORCS_LINEAGE_BOTH)
        return ORCS_EINVAL;
    s_walk_t w = {.seen = json_object(),
                  .artifacts = json_array(),
                  .edges = json_array(),
                  .edge_seen = json_object(),
                  .queue = orcs_malloc(ORCS_ARTIFACT_LINEAGE_MAX * 65),
                  .depths =
                      orcs_malloc(ORCS_ARTIFACT_LINEAGE_MAX * sizeof(int)),
                  .max_depth = max_depth};
    orcs_status rc = orcs_store_txn_begin(self->store, &w.txn);
    if (rc == ORCS_OK) {
        json_t *root = s_walk_visit(&w, id, 0);
        const char *error = json_string_value(json_object_get(root, "error"));
        if (error)
            orcs_status_from_name(error, &rc);
    }
    while (rc == ORCS_OK && w.head < w.tail) {
        size_t at = w.head++;
        rc = s_walk_expand(&w, w.queue[at], w.depths[at], dir);
    }
    orcs_store_txn_end(&w.txn);
    size_t i;
    json_t *entry;
    json_array_foreach(w.artifacts, i, entry)
    {
        json_object_del(entry, "inputs"); // edges say it
    }
    if (rc == ORCS_OK)
        *graph_p =
            json_pack("{s:s, s:O, s:O, s:b}", "root", id, "artifacts",
                      w.artifacts, "edges", w.edges, "truncated", w.truncated);
    json_decref(w.seen);
    json_decref(w.artifacts);
    json_decref(w.edges);
    json_decref(w.edge_seen);
    free(w.queue);
    free(w.depths);
    return rc;
}
