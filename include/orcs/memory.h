/*  orcs/memory.h — scoped key-value memory for agents, kept in the node's
    store (sub-database `memory`), with access rules, tenant isolation,
    versions, snapshots and time-to-live.
    SPDX-License-Identifier: MPL-2.0

    A key lives in a scope: `global`, `workflow:<id>`, `task:<id>`,
    `agent:<id>` or `thread:<id>`. Every access names a caller (the
    identity the access rules are checked against, e.g. an actor name);
    a NULL caller is the node itself, which no rule restricts. An
    isolation hook maps the caller to a tenant prefix that is part of every
    LMDB key, so one tenant never reads, lists or overwrites another's keys.

    Values are documents (jansson json_t, stored as MessagePack). Every put
    increments the key's version (1 for a new key); the last versions_kept
    versions (the current one included) can be read back. A deleted or
    expired key is absent: the next put starts again at version 1.

    A memory object is configured once (orcs_memory_configure,
    orcs_memory_set_isolation, orcs_memory_set_clock) and may then be used
    from any number of threads at once. The blocking calls wait for a
    durable commit and are not for actor callbacks; actors use the
    orcs_memory_prepare_* calls and orcs_store_write_async (see
    docs/memory.md). A denied access returns ORCS_EDENIED and appends an
    entry to the audit log (sub-database `audit`). */
#ifndef ORCS_MEMORY_H_INCLUDED
#define ORCS_MEMORY_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "orcs/status.h"
#include "orcs/store.h"

#ifdef __cplusplus
extern "C" {
#endif

#define ORCS_MEMORY_SCHEMA       1u          // value record schema written
#define ORCS_MEMORY_PREFIX_MAX   63u         // longest isolation prefix (bytes)
#define ORCS_MEMORY_SCOPE_MAX    127u        // longest scope ("agent:<id>")
#define ORCS_MEMORY_KEY_MAX      250u        // longest key within a scope
#define ORCS_MEMORY_NAME_MAX     63u         // longest snapshot name
#define ORCS_MEMORY_VERSIONS     10u         // default versions_kept
#define ORCS_MEMORY_VERSIONS_MAX 1000u       // versions_kept ceiling
#define ORCS_MEMORY_VALUE_MAX    (16u << 20) // encoded value bytes
#define ORCS_MEMORY_LIST_MAX     100000u     // entries one list returns
#define ORCS_MEMORY_RULES_MAX    1024u       // rules in a config
#define ORCS_MEMORY_TTL_MAX_MS   (INT64_C(1) << 50) // ~35,000 years

typedef struct orcs_memory_t orcs_memory_t;

// Supplies the isolation prefix of a caller (NULL for the node itself):
// writes a NUL-terminated prefix of at most size-1 bytes (ORCS_MEMORY_
// PREFIX_MAX) into prefix and returns ORCS_OK, or returns an error (e.g.
// ORCS_EDENIED for an unknown tenant), which the access then returns.
// Called from any thread that uses the memory object: must be
// thread-safe and quick.
typedef orcs_status(orcs_memory_isolation_fn)(const char *caller,
                                              char *prefix,
                                              size_t size,
                                              void *arg);

// A wall clock in microseconds since the epoch, for TTLs and timestamps
// (tests inject one). Must be thread-safe.
typedef int64_t(orcs_memory_clock_fn)(void *arg);

typedef struct {
    int64_t ttl_ms;          // > 0: expires this long after the write;
                             // 0 = never
    bool cas;                // compare-and-set on expect_version
    uint64_t expect_version; // with cas: the key's current version, or 0
                             // for "the key must be absent"
} orcs_memory_put_opts_t;

// Creates a memory object on store (borrowed: it must outlive the memory
// object), with no rules (so only the node itself and each agent in its
// own scope may access), ORCS_MEMORY_VERSIONS versions kept, no isolation
// prefix and the system wall clock. Caller owns the result; destroy with
// orcs_memory_destroy().
ORCS_EXPORT orcs_memory_t *orcs_memory_new(orcs_store_t *store);

// Destroys a memory object; safe with *self_p NULL; sets it to NULL.
ORCS_EXPORT void orcs_memory_destroy(orcs_memory_t **self_p);

// Applies the node config's `memory` mapping (borrowed; NULL = defaults):
// {versions_kept: 1..1000, rules: [{agent: glob, read: [scope patterns],
// write: [scope patterns]}]}. Scope patterns are `*`, `global` or
// `KIND:GLOB` with KIND one of workflow, task, agent, thread; `KIND:self`
// (or `KIND:self/GLOB`) names the caller's own id. Call before the object
// is shared between threads. Returns ORCS_OK, or ORCS_ECONFIG with
// "PATH: what" in err (the object is then unchanged).
ORCS_EXPORT orcs_status orcs_memory_configure(orcs_memory_t *self,
                                              const json_t *config,
                                              char *err,
                                              size_t err_size);

// Installs the isolation hook (NULL = every caller gets the empty prefix).
// Call before the object is shared between threads.
ORCS_EXPORT void orcs_memory_set_isolation(orcs_memory_t *self,
                                           orcs_memory_isolation_fn *fn,
                                           void *arg);

// Replaces the wall clock (NULL = the system clock). Call before the
// object is shared between threads.
ORCS_EXPORT void
orcs_memory_set_clock(orcs_memory_t *self, orcs_memory_clock_fn *fn, void *arg);

// True when the rules let caller read (write false) or write (write true)
// scope. No audit entry is written. scope must be valid.
ORCS_EXPORT bool orcs_memory_allowed(const orcs_memory_t *self,
                                     const char *caller,
                                     const char *scope,
                                     bool write);

// ---- reading (any thread; never blocks on writers)

// Reads the current value of key. Caller owns *value_p; destroy with
// json_decref(). *version_p (may be NULL) gets its version. Returns
// ORCS_OK; ORCS_ENOTFOUND (absent or expired); ORCS_EDENIED; ORCS_EINVAL
// for a bad scope or key (ORCS_ETOOBIG when too long); ORCS_EPROTO when
// the stored record is damaged; ORCS_EIO; or the isolation hook's error.
// On error *value_p is NULL.
ORCS_EXPORT orcs_status orcs_memory_get(orcs_memory_t *self,
                                        const char *caller,
                                        const char *scope,
                                        const char *key,
                                        json_t **value_p,
                                        uint64_t *version_p);

// Reads one version of key (0 = the current one) with its metadata:
// {"key", "version", "value", "updated_us", "expires_us", "writer",
// "schema"}. Caller owns *entry_p. Statuses as orcs_memory_get;
// ORCS_ENOTFOUND also for a version no longer kept.
ORCS_EXPORT orcs_status orcs_memory_get_entry(orcs_memory_t *self,
                                              const char *caller,
                                              const char *scope,
                                              const char *key,
                                              uint64_t version,
                                              json_t **entry_p);

// Every kept version of key, newest first, as entries like
// orcs_memory_get_entry's. Caller owns *entries_p (an array). Statuses as
// orcs_memory_get.
ORCS_EXPORT orcs_status orcs_memory_history(orcs_memory_t *self,
                                            const char *caller,
                                            const char *scope,
                                            const char *key,
                                            json_t **entries_p);

// Lists the live keys of scope that start with prefix (NULL or "" = all),
// in key order, at most limit (0 = ORCS_MEMORY_LIST_MAX) of them, as
// entries without "value". Caller owns *entries_p (an array). Returns
// ORCS_OK, ORCS_EDENIED, ORCS_EINVAL, ORCS_ETOOBIG, ORCS_EIO. Damaged
// records are skipped (and logged).
ORCS_EXPORT orcs_status orcs_memory_list(orcs_memory_t *self,
                                         const char *caller,
                                         const char *scope,
                                         const char *prefix,
                                         size_t limit,
                                         json_t **entries_p);

// The snapshots of scope: [{"name", "created_us", "keys", "writer"}] in
// name order. Caller owns *snapshots_p. Statuses as orcs_memory_list.
ORCS_EXPORT orcs_status orcs_memory_snapshots(orcs_memory_t *self,
                                              const char *caller,
                                              const char *scope,
                                              json_t **snapshots_p);

// ---- writing, blocking (waits until durable; not inside actors)

// Puts value (borrowed) under key: version = current + 1 (1 when absent).
// With opts->cas the put applies only if the key is at expect_version.
// opts may be NULL. *version_p (may be NULL) gets the new version.
// Returns ORCS_OK; ORCS_EEXIST when the cas check failed (nothing
// written); ORCS_EAGAIN when other writers kept changing the key;
// ORCS_EDENIED; ORCS_EINVAL (bad scope, key, TTL, or a value the codec
// refuses); ORCS_ETOOBIG (too long, or value over ORCS_MEMORY_VALUE_MAX,
// or the map is full); ORCS_EPROTO (damaged current record); ORCS_ECLOSED;
// ORCS_EIO.
ORCS_EXPORT orcs_status orcs_memory_put(orcs_memory_t *self,
                                        const char *caller,
                                        const char *scope,
                                        const char *key,
                                        const json_t *value,
                                        const orcs_memory_put_opts_t *opts,
                                        uint64_t *version_p);

// orcs_memory_put with cas on expect_version (0 = must be absent).
ORCS_EXPORT orcs_status orcs_memory_cas(orcs_memory_t *self,
                                        const char *caller,
                                        const char *scope,
                                        const char *key,
                                        const json_t *value,
                                        uint64_t expect_version,
                                        uint64_t *version_p);

// Deletes key and its kept versions. Returns ORCS_OK; ORCS_ENOTFOUND when
// it is absent or expired; other statuses as orcs_memory_put.
ORCS_EXPORT orcs_status orcs_memory_delete(orcs_memory_t *self,
                                           const char *caller,
                                           const char *scope,
                                           const char *key);

// Saves the live keys of scope (current versions, with their TTLs) as
// snapshot `name` ([A-Za-z0-9_.-]{1,63}), replacing one of that name.
// Needs write access. *count_p (may be NULL) gets the number of keys.
// Statuses as orcs_memory_put (ORCS_EINVAL for a bad name).
ORCS_EXPORT orcs_status orcs_memory_snapshot(orcs_memory_t *self,
                                             const char *caller,
                                             const char *scope,
                                             const char *name,
                                             size_t *count_p);

// Makes scope hold exactly what snapshot `name` holds: keys not in it are
// deleted, the others are put as new versions (versions never go back, so
// the pre-restore values stay in their history), keys whose TTL passed
// since the snapshot stay absent. Needs write access. *count_p (may be
// NULL) gets the number of keys restored. Returns ORCS_ENOTFOUND when
// there is no such snapshot; other statuses as orcs_memory_snapshot.
ORCS_EXPORT orcs_status orcs_memory_restore(orcs_memory_t *self,
                                            const char *caller,
                                            const char *scope,
                                            const char *name,
                                            size_t *count_p);

// Deletes snapshot `name` of scope. Needs write access. Returns ORCS_OK,
// ORCS_ENOTFOUND; other statuses as orcs_memory_snapshot.
ORCS_EXPORT orcs_status orcs_memory_snapshot_drop(orcs_memory_t *self,
                                                  const char *caller,
                                                  const char *scope,
                                                  const char *name);

// Removes every expired key (of every tenant) with its history, in
// batches. For the node itself (no rules apply). *removed_p (may be NULL)
// gets how many keys went. Returns ORCS_OK, ORCS_ECLOSED, ORCS_EIO.
ORCS_EXPORT orcs_status orcs_memory_sweep(orcs_memory_t *self,
                                          size_t *removed_p);

// ---- writing, non-blocking (for actors)
//
// These check access and read the current state now, and return the batch
// that makes the change; apply it with orcs_store_write_async() (or
// orcs_store_write()). A write that fails with ORCS_EEXIST met a
// concurrent change: for a put without cas, a delete or a restore,
// prepare again and retry; for a cas put it is the conflict. A denied
// access returns ORCS_EDENIED here and its audit entry is written
// asynchronously. Caller owns *batch_p (NULL on error).

// Prepares orcs_memory_put. *version_p (may be NULL) gets the version the
// batch writes. Statuses as orcs_memory_put, minus the write's.
ORCS_EXPORT orcs_status
orcs_memory_prepare_put(orcs_memory_t *self,
                        const char *caller,
                        const char *scope,
                        const char *key,
                        const json_t *value,
                        const orcs_memory_put_opts_t *opts,
                        orcs_batch_t **batch_p,
                        uint64_t *version_p);

// Prepares orcs_memory_delete. Statuses as orcs_memory_delete.
ORCS_EXPORT orcs_status orcs_memory_prepare_delete(orcs_memory_t *self,
                                                   const char *caller,
                                                   const char *scope,
                                                   const char *key,
                                                   orcs_batch_t **batch_p);

// Prepares orcs_memory_snapshot.
ORCS_EXPORT orcs_status orcs_memory_prepare_snapshot(orcs_memory_t *self,
                                                     const char *caller,
                                                     const char *scope,
                                                     const char *name,
                                                     orcs_batch_t **batch_p,
                                                     size_t *count_p);

// Prepares orcs_memory_restore.
ORCS_EXPORT orcs_status orcs_memory_prepare_restore(orcs_memory_t *self,
                                                    const char *caller,
                                                    const char *scope,
                                                    const char *name,
                                                    orcs_batch_t **batch_p,
                                                    size_t *count_p);

// Prepares one batch of orcs_memory_sweep: up to 512 expired keys. *batch_p
// is NULL (and *count_p 0) when nothing expired. ORCS_EEXIST from the
// write: one of them was written meanwhile; sweep again later.
ORCS_EXPORT orcs_status orcs_memory_prepare_sweep(orcs_memory_t *self,
                                                  orcs_batch_t **batch_p,
                                                  size_t *count_p);

// ---- records and names

// True when scope is `global` or KIND:ID with KIND one of workflow, task,
// agent, thread and ID 1 or more printable bytes (no control bytes), the
// whole at most ORCS_MEMORY_SCOPE_MAX bytes.
ORCS_EXPORT bool orcs_memory_scope_is_valid(const char *scope);

// True when pattern is a valid scope pattern of an access rule: `*`,
// `global`, or KIND:GLOB with KIND one of workflow, task, agent, thread
// and a non-empty GLOB (fnmatch syntax, or `self`, or `self/GLOB`), at
// most 256 bytes.
ORCS_EXPORT bool orcs_memory_pattern_is_valid(const char *pattern);

// Decodes a stored value record (what the sub-database `memory` holds for
// a key, one of its versions or a snapshot entry) into {"schema",
// "version", "value", "updated_us", "expires_us", "writer"}. Caller owns
// *record_p. Returns ORCS_OK; ORCS_EPROTO for anything that is not a
// record of schema 1..ORCS_MEMORY_SCHEMA (ORCS_ETOOBIG over the codec's
// limits), with *record_p NULL.
ORCS_EXPORT orcs_status orcs_memory_record_decode(const uint8_t *data,
                                                  size_t size,
                                                  json_t **record_p);

#ifdef __cplusplus
}
#endif
#endif
