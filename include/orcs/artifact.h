/*  orcs/artifact.h — content-addressed artifacts in the node's store
    (sub-database `artifacts`), with lineage and optional signatures.
    SPDX-License-Identifier: MPL-2.0

    An artifact's id is the BLAKE2b-256 of its bytes, in lowercase hex:
    storing the same bytes twice stores them once (the first metadata
    stays). Its metadata: media type, size, created time, producer (run,
    node, actor), and the ids of the artifacts it was made from (which must
    exist). A lineage query walks inputs (ancestors) and outputs
    (descendants, through a reverse index).

    With opts.sign the metadata is signed with the node's Ed25519 key
    (libsodium), kept in DATA/node.key (created on first use, mode 0600);
    the public key is recorded beside the signature. Every read checks the
    bytes against the id and a signature against the metadata: an artifact
    whose bytes or signed metadata changed on disk is refused with
    ORCS_EPROTO. A signature proves the artifact is as the holder of the
    recorded key signed it; whether that key is trusted is the reader's
    call (compare it with orcs_artifacts_public_key of the node).

    An artifacts object may be used from any number of threads at once.
    Writes wait for a durable commit: not for actor callbacks. */
#ifndef ORCS_ARTIFACT_H_INCLUDED
#define ORCS_ARTIFACT_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "orcs/status.h"
#include "orcs/store.h"

#ifdef __cplusplus
extern "C" {
#endif

#define ORCS_ARTIFACT_SCHEMA      1u          // metadata record schema written
#define ORCS_ARTIFACT_ID_SIZE     65u         // hex id + NUL
#define ORCS_ARTIFACT_SIZE_MAX    (1u << 30)  // bytes of one artifact
#define ORCS_ARTIFACT_INPUTS_MAX  256u        // inputs of one artifact
#define ORCS_ARTIFACT_TEXT_MAX    255u        // media type, run, node, actor
#define ORCS_ARTIFACT_META_MAX    (64u << 10) // bytes of a metadata record
#define ORCS_ARTIFACT_LINEAGE_MAX 10000u      // artifacts one lineage returns

typedef struct orcs_artifacts_t orcs_artifacts_t;

// What a put records besides the bytes. NULL strings are "".
typedef struct {
    const char *media_type;    // NULL = "application/octet-stream"
    const char *run;           // producing run id
    const char *node;          // producing node
    const char *actor;         // producing actor
    const char *const *inputs; // ids of the artifacts it was made from
    size_t input_count;        // entries of inputs
    bool sign;                 // sign with the node key
} orcs_artifact_opts_t;

// Which way a lineage query walks.
typedef enum {
    ORCS_LINEAGE_INPUTS = 1,  // what it was made from, recursively
    ORCS_LINEAGE_OUTPUTS = 2, // what was made from it, recursively
    ORCS_LINEAGE_BOTH = 3     // both
} orcs_lineage_dir;

// Creates an artifacts object on store (borrowed: it must outlive the
// object). data_dir (copied; may be NULL: signing is then refused) is
// where node.key lives. Caller owns the result; destroy with
// orcs_artifacts_destroy().
ORCS_EXPORT orcs_artifacts_t *orcs_artifacts_new(orcs_store_t *store,
                                                 const char *data_dir);

// Destroys it (wiping the secret key from memory); safe with *self_p NULL;
// sets it to NULL.
ORCS_EXPORT void orcs_artifacts_destroy(orcs_artifacts_t **self_p);

// Stores size bytes (data may be NULL when size is 0) and writes the id
// (ORCS_ARTIFACT_ID_SIZE bytes with the NUL) into id. opts may be NULL.
// Returns ORCS_OK (also when the bytes were already stored: nothing is
// changed then); ORCS_EINVAL for a bad input id, a text with control
// bytes or not UTF-8, or sign without a data directory; ORCS_ENOTFOUND
// when an input does not exist; ORCS_ETOOBIG (over ORCS_ARTIFACT_SIZE_MAX,
// ORCS_ARTIFACT_INPUTS_MAX or ORCS_ARTIFACT_TEXT_MAX, or the map is
// full); ORCS_EIO, ORCS_EDENIED or ORCS_EPROTO when the node key cannot
// be created, is not mode 0600 or is damaged; ORCS_ECLOSED.
ORCS_EXPORT orcs_status orcs_artifacts_put(orcs_artifacts_t *self,
                                           const void *data,
                                           size_t size,
                                           const orcs_artifact_opts_t *opts,
                                           char id[ORCS_ARTIFACT_ID_SIZE]);

// Reads an artifact and verifies it (bytes against the id, signature
// against the metadata). Caller owns *data_p (free()) and *meta_p (may be
// NULL; json_decref()); on error both are NULL. The metadata is as
// orcs_artifacts_meta_decode gives it. Returns ORCS_OK; ORCS_EINVAL for an
// id that is not 64 lowercase hex digits; ORCS_ENOTFOUND; ORCS_EPROTO
// when it was tampered with or is damaged; ORCS_EIO.
ORCS_EXPORT orcs_status orcs_artifacts_get(orcs_artifacts_t *self,
                                           const char *id,
                                           void **data_p,
                                           size_t *size_p,
                                           json_t **meta_p);

// Reads the metadata only, verifying its signature (not the bytes).
// Caller owns *meta_p. Statuses as orcs_artifacts_get.
ORCS_EXPORT orcs_status orcs_artifacts_meta(orcs_artifacts_t *self,
                                            const char *id,
                                            json_t **meta_p);

// Lists the newest limit (0 = 1000) artifacts' metadata, oldest first,
// unverified (damaged records are skipped). Caller owns *list_p (an
// array). Returns ORCS_OK or ORCS_EIO.
ORCS_EXPORT orcs_status orcs_artifacts_list(orcs_artifacts_t *self,
                                            size_t limit,
                                            json_t **list_p);

// Walks the lineage of id up to max_depth steps (0 = no limit) each way:
// {"root": id, "artifacts": [{"id", "media_type", "size", "created_us",
// "producer", "signed", "depth"} or {"id", "depth", "error"}], "edges":
// [{"from": input, "to": output}]}, depth < 0 for ancestors and > 0 for
// descendants, in walk order, at most ORCS_ARTIFACT_LINEAGE_MAX artifacts.
// A damaged or tampered artifact on the way is listed with "error" and not
// walked through. Caller owns *graph_p. Returns ORCS_OK; ORCS_EINVAL;
// ORCS_ENOTFOUND (no such root); ORCS_EPROTO (the root is damaged);
// ORCS_EIO.
ORCS_EXPORT orcs_status orcs_artifacts_lineage(orcs_artifacts_t *self,
                                               const char *id,
                                               orcs_lineage_dir dir,
                                               unsigned max_depth,
                                               json_t **graph_p);

// Writes the node's public key (64 hex digits + NUL) into hex, creating
// the key when needed. Returns ORCS_OK, or the statuses of a signing put
// about the key.
ORCS_EXPORT orcs_status orcs_artifacts_public_key(orcs_artifacts_t *self,
                                                  char hex[65]);

// True when id is 64 lowercase hex digits.
ORCS_EXPORT bool orcs_artifacts_id_is_valid(const char *id);

// Decodes a stored metadata record into {"schema", "id", "media_type",
// "size", "created_us", "producer": {"run", "node", "actor"}, "inputs":
// [ids], and "signature": {"alg": "ed25519", "public_key", "value"} when
// signed}. Does not verify the signature. Caller owns *meta_p. Returns
// ORCS_OK; ORCS_EPROTO for anything else (ORCS_ETOOBIG over
// ORCS_ARTIFACT_META_MAX), with *meta_p NULL.
ORCS_EXPORT orcs_status orcs_artifacts_meta_decode(const uint8_t *data,
                                                   size_t size,
                                                   json_t **meta_p);

#ifdef __cplusplus
}
#endif
#endif
