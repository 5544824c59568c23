/*  test_memory.c — memory scopes on a real LMDB store: access rules and
    their audit entries, isolation prefixes, versions, compare-and-set,
    snapshots and restore, TTL (with an injected clock), damaged records,
    concurrent writers, and the memory actor.
    SPDX-License-Identifier: MPL-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <ftw.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fixture.h"
#include "orcs/memory.h"
#include "orcs/orcs.h"
#include "orcs/record.h"
#include "orcs/store.h"
#include "records.pb.h"

typedef struct {
    char dir[64];          // mkdtemp directory of the store
    orcs_store_t *store;   // open store
    orcs_memory_t *memory; // memory on it
    atomic_llong now_us;   // injected clock
} s_env_t;

static int64_t
s_clock(void *arg)
{
    s_env_t *env = arg;
    return atomic_load(&env->now_us);
}

static int
s_setup(void **state)
{
    s_env_t *env = calloc(1, sizeof *env);
    orcs_runtime_init();
    orcs_log_level_set(ORCS_LOG_ERROR);
    snprintf(env->dir, sizeof env->dir, "/tmp/orcs-memory-XXXXXX");
    assert_non_null(mkdtemp(env->dir));
    env->store = orcs_store_new();
    assert_int_equal(orcs_store_open(env->store, env->dir, NULL), ORCS_OK);
    env->memory = orcs_memory_new(env->store);
    atomic_init(&env->now_us, INT64_C(1700000000000000));
    orcs_memory_set_clock(env->memory, s_clock, env);
    *state = env;
    return 0;
}

static int
s_teardown(void **state)
{
    s_env_t *env = *state;
    orcs_memory_destroy(&env->memory);
    orcs_store_destroy(&env->store);
    nftw(env->dir, fixture_rm, 16, FTW_DEPTH | FTW_PHYS);
    free(env);
    return 0;
}

// Configures the memory from JSON text; returns the status.
static orcs_status
s_configure(s_env_t *env, const char *text)
{
    json_t *config = json_loads(text, 0, NULL);
    assert_non_null(config);
    char err[256];
    orcs_status rc =
        orcs_memory_configure(env->memory, config, err, sizeof err);
    json_decref(config);
    return rc;
}

static orcs_status
s_put(s_env_t *env,
      const char *caller,
      const char *scope,
      const char *key,
      json_int_t value,
      uint64_t *version_p)
{
    json_t *doc = json_integer(value);
    orcs_status rc =
        orcs_memory_put(env->memory, caller, scope, key, doc, NULL, version_p);
    json_decref(doc);
    return rc;
}

// The integer value of key, or -1 with the status in *rc_p.
static json_int_t
s_get(s_env_t *env,
      const char *caller,
      const char *scope,
      const char *key,
      orcs_status *rc_p)
{
    json_t *value = NULL;
    orcs_status rc =
        orcs_memory_get(env->memory, caller, scope, key, &value, NULL);
    if (rc_p)
        *rc_p = rc;
    json_int_t out = rc == ORCS_OK ? json_integer_value(value) : -1;
    json_decref(value);
    return out;
}

typedef struct {
    orcs_audit_entry_t entries[16]; // decoded entries in key order
    size_t count;                   // how many
    bool bad;                       // an entry did not decode
} s_audit_t;

static bool
s_audit_collect(const void *key,
                size_t key_size,
                const void *value,
                size_t value_size,
                void *arg)
{
    (void) key;
    s_audit_t *audit = arg;
    if (key_size != 12 || audit->count == 16
        || orcs_audit_entry_decode(value, value_size,
                                   &audit->entries[audit->count])
               != ORCS_OK) {
        audit->bad = true;
        return false;
    }
    audit->count++;
    return true;
}

static void
s_read_audit(s_env_t *env, s_audit_t *audit)
{
    memset(audit, 0, sizeof *audit);
    orcs_store_txn_t *txn = NULL;
    assert_int_equal(orcs_store_txn_begin(env->store, &txn), ORCS_OK);
    assert_int_equal(
        orcs_store_txn_scan(txn, ORCS_DB_AUDIT, "", 0, s_audit_collect, audit),
        ORCS_OK);
    orcs_store_txn_end(&txn);
    assert_false(audit->bad);
}

// ---------------------------------------------------------------------------

static void
test_memory_destroy_nulls_reference(void **state)
{
    s_env_t *env = *state;
    orcs_memory_t *memory = orcs_memory_new(env->store);
    orcs_memory_destroy(&memory);
    assert_null(memory);
    orcs_memory_destroy(&memory); // idempotent
}

static void
test_memory_put_get_round_trip(void **state)
{
    s_env_t *env = *state;
    json_t *value = json_pack("{s:s, s:[i,i]}", "name", "ada", "list", 1, 2);
    uint64_t version = 0;
    assert_int_equal(orcs_memory_put(env->memory, NULL, "global", "profile",
                                     value, NULL, &version),
                     ORCS_OK);
    assert_int_equal(version, 1);
    json_t *got = NULL;
    uint64_t got_version = 0;
    assert_int_equal(orcs_memory_get(env->memory, NULL, "global", "profile",
                                     &got, &got_version),
                     ORCS_OK);
    assert_true(json_equal(value, got));
    assert_int_equal(got_version, 1);
    json_decref(got);
    json_t *entry = NULL;
    assert_int_equal(orcs_memory_get_entry(env->memory, NULL, "global",
                                           "profile", 0, &entry),
                     ORCS_OK);
    assert_string_equal(json_string_value(json_object_get(entry, "key")),
                        "profile");
    assert_int_equal(json_integer_value(json_object_get(entry, "schema")),
                     ORCS_MEMORY_SCHEMA);
    assert_int_equal(json_integer_value(json_object_get(entry, "updated_us")),
                     atomic_load(&env->now_us));
    json_decref(entry);
    json_decref(value);
    orcs_status rc;
    s_get(env, NULL, "global", "absent", &rc);
    assert_int_equal(rc, ORCS_ENOTFOUND);
    s_get(env, NULL, "workflow:w1", "profile", &rc); // other scope
    assert_int_equal(rc, ORCS_ENOTFOUND);
    got = json_true();
    assert_int_equal(
        orcs_memory_get(env->memory, NULL, "global", "absent", &got, NULL),
        ORCS_ENOTFOUND);
    assert_null(got); // out-param NULL on error
}

static void
test_memory_rejects_bad_scopes_and_keys(void **state)
{
    s_env_t *env = *state;
    static const char *const bad[] = {
        "", "bogus", "agent:", "agents:x", "global:x", "task:a\tb", NULL};
    for (size_t i = 0; bad[i]; i++) {
        assert_false(orcs_memory_scope_is_valid(bad[i]));
        assert_int_equal(s_put(env, NULL, bad[i], "k", 1, NULL), ORCS_EINVAL);
    }
    assert_true(orcs_memory_scope_is_valid("thread:t-1/2"));
    assert_int_equal(s_put(env, NULL, "global", "", 1, NULL), ORCS_EINVAL);
    assert_int_equal(s_put(env, NULL, "global", "a\nb", 1, NULL), ORCS_EINVAL);
    assert_int_equal(s_put(env, NULL, "global", "\xff\xfe", 1, NULL),
                     ORCS_EINVAL);
    char key[ORCS_MEMORY_KEY_MAX + 2];
    memset(key, 'k', sizeof key - 1);
    key[sizeof key - 1] = '\0';
    assert_int_equal(s_put(env, NULL, "global", key, 1, NULL), ORCS_ETOOBIG);
    key[ORCS_MEMORY_KEY_MAX] = '\0'; // exactly the limit
    assert_int_equal(s_put(env, NULL, "global", key, 1, NULL), ORCS_OK);
    char scope[ORCS_MEMORY_SCOPE_MAX + 2] = "task:";
    memset(scope + 5, 's', sizeof scope - 6);
    scope[sizeof scope - 1] = '\0';
    assert_int_equal(s_put(env, NULL, scope, "k", 1, NULL), ORCS_ETOOBIG);
    orcs_memory_put_opts_t opts = {.ttl_ms = -1};
    json_t *one = json_integer(1);
    assert_int_equal(
        orcs_memory_put(env->memory, NULL, "global", "k", one, &opts, NULL),
        ORCS_EINVAL);
    assert_int_equal(
        orcs_memory_put(env->memory, NULL, "global", "k", NULL, NULL, NULL),
        ORCS_EINVAL);
    json_decref(one);
}

static void
test_memory_configure_rejects_bad_rules(void **state)
{
    s_env_t *env = *state;
    static const char *const bad[] = {
        "[]",
        "{\"versions_kept\": 0}",
        "{\"versions_kept\": 1001}",
        "{\"versions_kept\": \"ten\"}",
        "{\"rules\": {}}",
        "{\"rules\": [{\"read\": [\"global\"]}]}",
        "{\"rules\": [{\"agent\": \"a\", \"read\": [\"globl\"]}]}",
        "{\"rules\": [{\"agent\": \"a\", \"write\": [\"agent:\"]}]}",
        "{\"rules\": [{\"agent\": \"a\", \"write\": \"global\"}]}",
        "{\"rules\": [{\"agent\": \"a\", \"rite\": []}]}",
        "{\"versions\": 3}",
        NULL};
    for (size_t i = 0; bad[i]; i++)
        assert_int_equal(s_configure(env, bad[i]), ORCS_ECONFIG);
    char err[256] = "";
    json_t *config = json_loads(
        "{\"rules\": [{\"agent\": \"a\", \"read\": [\"global\", 7]}]}", 0,
        NULL);
    assert_int_equal(
        orcs_memory_configure(env->memory, config, err, sizeof err),
        ORCS_ECONFIG);
    assert_non_null(strstr(err, "rules[0].read[1]"));
    json_decref(config);
    assert_int_equal(s_configure(env, "{}"), ORCS_OK);
    assert_int_equal(orcs_memory_configure(env->memory, NULL, NULL, 0),
                     ORCS_OK);
}

static void
test_memory_rules_allow_and_deny(void **state)
{
    s_env_t *env = *state;
    assert_int_equal(
        s_configure(env,
                    "{\"rules\": ["
                    " {\"agent\": \"planner\", \"read\": [\"workflow:*\","
                    "  \"global\"], \"write\": [\"workflow:*\"]},"
                    " {\"agent\": \"worker.*\", \"read\": [\"global\","
                    "  \"thread:self/*\"], \"write\": [\"thread:self/*\"]},"
                    " {\"agent\": \"admin\", \"read\": [\"*\"],"
                    "  \"write\": [\"*\"]}]}"),
        ORCS_OK);
    orcs_memory_t *m = env->memory;
    // Own scope: always.
    assert_true(orcs_memory_allowed(m, "coder", "agent:coder", true));
    assert_true(orcs_memory_allowed(m, "coder", "agent:coder", false));
    // Default deny outside it.
    assert_false(orcs_memory_allowed(m, "coder", "agent:coder2", false));
    assert_false(orcs_memory_allowed(m, "coder", "global", false));
    assert_false(orcs_memory_allowed(m, "coder", "thread:coder", true));
    // Rules.
    assert_true(orcs_memory_allowed(m, "planner", "workflow:w1", true));
    assert_true(orcs_memory_allowed(m, "planner", "global", false));
    assert_false(orcs_memory_allowed(m, "planner", "global", true));
    assert_false(orcs_memory_allowed(m, "planner", "task:t1", false));
    assert_true(orcs_memory_allowed(m, "worker.1", "thread:worker.1/42", true));
    assert_false(
        orcs_memory_allowed(m, "worker.1", "thread:worker.2/42", true));
    assert_false(orcs_memory_allowed(m, "worker.1", "thread:worker.1", true));
    assert_false(orcs_memory_allowed(m, "worker.1", "global", true));
    assert_true(orcs_memory_allowed(m, "admin", "agent:planner", true));
    // The node itself.
    assert_true(orcs_memory_allowed(m, NULL, "agent:planner", true));
}

static void
test_memory_denied_access_is_audited(void **state)
{
    s_env_t *env = *state;
    assert_int_equal(
        s_configure(env, "{\"rules\": [{\"agent\": \"reader\", \"read\": "
                         "[\"global\"]}]}"),
        ORCS_OK);
    assert_int_equal(s_put(env, NULL, "global", "fact", 42, NULL), ORCS_OK);
    orcs_status rc;
    assert_int_equal(s_get(env, "reader", "global", "fact", &rc), 42);
    s_audit_t audit;
    s_read_audit(env, &audit);
    assert_int_equal(audit.count, 0); // allowed accesses are not audited
    assert_int_equal(s_put(env, "reader", "global", "fact", 1, NULL),
                     ORCS_EDENIED);
    s_get(env, "intruder", "global", "fact", &rc);
    assert_int_equal(rc, ORCS_EDENIED);
    json_t *list = json_true();
    assert_int_equal(
        orcs_memory_list(env->memory, "intruder", "global", NULL, 0, &list),
        ORCS_EDENIED);
    assert_null(list);
    assert_int_equal(
        orcs_memory_delete(env->memory, "reader", "global", "fact"),
        ORCS_EDENIED);
    assert_int_equal(
        orcs_memory_snapshot(env->memory, "reader", "global", "s1", NULL),
        ORCS_EDENIED);
    assert_int_equal(s_get(env, NULL, "global", "fact", &rc), 42); // intact
    s_read_audit(env, &audit);
    assert_int_equal(audit.count, 5);
    const orcs_audit_entry_t *e = &audit.entries[0];
    assert_int_equal(e->schema, ORCS_AUDIT_ENTRY_SCHEMA);
    assert_string_equal(e->actor, "reader");
    assert_string_equal(e->action, "memory.put");
    assert_string_equal(e->target, "global/fact");
    assert_int_equal(e->outcome, ORCS_AUDIT_DENIED);
    assert_int_equal(e->status, ORCS_EDENIED);
    assert_int_equal(e->time_us, atomic_load(&env->now_us));
    assert_non_null(strstr(e->detail, "write"));
    assert_string_equal(audit.entries[1].actor, "intruder");
    assert_string_equal(audit.entries[1].action, "memory.get");
    assert_non_null(strstr(audit.entries[1].detail, "read"));
    assert_string_equal(audit.entries[2].action, "memory.list");
    assert_string_equal(audit.entries[2].target, "global");
    assert_string_equal(audit.entries[3].action, "memory.delete");
    assert_string_equal(audit.entries[4].action, "memory.snapshot");
}

// Tenants are the part of the caller's name before the first '.'.
static orcs_status
s_tenant_hook(const char *caller, char *prefix, size_t size, void *arg)
{
    (void) arg;
    if (!caller)
        return ORCS_EDENIED;
    const char *dot = strchr(caller, '.');
    if (!dot)
        return ORCS_EDENIED;
    snprintf(prefix, size, "%.*s", (int) (dot - caller), caller);
    return ORCS_OK;
}

static void
test_memory_isolation_prefix_separates_tenants(void **state)
{
    s_env_t *env = *state;
    orcs_memory_set_isolation(env->memory, s_tenant_hook, NULL);
    assert_int_equal(s_configure(env,
                                 "{\"rules\": [{\"agent\": \"*\", \"read\": "
                                 "[\"global\"], \"write\": [\"global\"]}]}"),
                     ORCS_OK);
    // "a" and "ab": one tenant's prefix is a prefix of the other's name.
    assert_int_equal(s_put(env, "a.bot", "global", "secret", 1, NULL), ORCS_OK);
    assert_int_equal(s_put(env, "a.bot", "global", "secret2", 2, NULL),
                     ORCS_OK);
    orcs_status rc;
    s_get(env, "ab.bot", "global", "secret", &rc);
    assert_int_equal(rc, ORCS_ENOTFOUND);
    json_t *list = NULL;
    assert_int_equal(
        orcs_memory_list(env->memory, "ab.bot", "global", NULL, 0, &list),
        ORCS_OK);
    assert_int_equal(json_array_size(list), 0);
    json_decref(list);
    assert_int_equal(
        orcs_memory_list(env->memory, "ab.bot", "global", "sec", 0, &list),
        ORCS_OK);
    assert_int_equal(json_array_size(list), 0);
    json_decref(list);
    // Same key in another tenant: its own value and version line.
    uint64_t version = 0;
    assert_int_equal(s_put(env, "ab.bot", "global", "secret", 7, &version),
                     ORCS_OK);
    assert_int_equal(version, 1);
    assert_int_equal(s_get(env, "a.other", "global", "secret", &rc), 1);
    assert_int_equal(s_get(env, "ab.other", "global", "secret", &rc), 7);
    assert_int_equal(
        orcs_memory_list(env->memory, "a.bot", "global", NULL, 0, &list),
        ORCS_OK);
    assert_int_equal(json_array_size(list), 2);
    json_decref(list);
    // Snapshots are per tenant too.
    assert_int_equal(
        orcs_memory_snapshot(env->memory, "a.bot", "global", "s", NULL),
        ORCS_OK);
    json_t *snaps = NULL;
    assert_int_equal(
        orcs_memory_snapshots(env->memory, "ab.bot", "global", &snaps),
        ORCS_OK);
    assert_int_equal(json_array_size(snaps), 0);
    json_decref(snaps);
    assert_int_equal(
        orcs_memory_restore(env->memory, "ab.bot", "global", "s", NULL),
        ORCS_ENOTFOUND);
    // The hook's refusal is the access's status.
    s_get(env, "nodot", "global", "secret", &rc);
    assert_int_equal(rc, ORCS_EDENIED);
}

static void
test_memory_versions_keep_the_last_n(void **state)
{
    s_env_t *env = *state;
    assert_int_equal(s_configure(env, "{\"versions_kept\": 3}"), ORCS_OK);
    for (int i = 1; i <= 5; i++) {
        uint64_t version = 0;
        assert_int_equal(s_put(env, NULL, "task:t1", "step", i * 10, &version),
                         ORCS_OK);
        assert_int_equal(version, (uint64_t) i);
    }
    json_t *history = NULL;
    assert_int_equal(
        orcs_memory_history(env->memory, NULL, "task:t1", "step", &history),
        ORCS_OK);
    assert_int_equal(json_array_size(history), 3);
    for (size_t i = 0; i < 3; i++) {
        json_t *entry = json_array_get(history, i);
        assert_int_equal(json_integer_value(json_object_get(entry, "version")),
                         5 - i);
        assert_int_equal(json_integer_value(json_object_get(entry, "value")),
                         (5 - i) * 10);
    }
    json_decref(history);
    json_t *entry = NULL;
    assert_int_equal(
        orcs_memory_get_entry(env->memory, NULL, "task:t1", "step", 4, &entry),
        ORCS_OK);
    assert_int_equal(json_integer_value(json_object_get(entry, "value")), 40);
    json_decref(entry);
    assert_int_equal(
        orcs_memory_get_entry(env->memory, NULL, "task:t1", "step", 2, &entry),
        ORCS_ENOTFOUND); // pruned
    assert_int_equal(
        orcs_memory_get_entry(env->memory, NULL, "task:t1", "step", 6, &entry),
        ORCS_ENOTFOUND); // not yet
    // versions_kept 1: no history at all.
    assert_int_equal(s_configure(env, "{\"versions_kept\": 1}"), ORCS_OK);
    assert_int_equal(s_put(env, NULL, "task:t1", "step", 60, NULL), ORCS_OK);
    assert_int_equal(
        orcs_memory_history(env->memory, NULL, "task:t1", "step", &history),
        ORCS_OK);
    assert_int_equal(json_array_size(history), 1);
    json_decref(history);
    // A delete drops the versions; the key starts again at 1.
    assert_int_equal(s_configure(env, "{\"versions_kept\": 3}"), ORCS_OK);
    assert_int_equal(s_put(env, NULL, "task:t1", "step", 70, NULL), ORCS_OK);
    assert_int_equal(orcs_memory_delete(env->memory, NULL, "task:t1", "step"),
                     ORCS_OK);
    assert_int_equal(orcs_memory_delete(env->memory, NULL, "task:t1", "step"),
                     ORCS_ENOTFOUND);
    uint64_t version = 0;
    assert_int_equal(s_put(env, NULL, "task:t1", "step", 80, &version),
                     ORCS_OK);
    assert_int_equal(version, 1);
    assert_int_equal(
        orcs_memory_history(env->memory, NULL, "task:t1", "step", &history),
        ORCS_OK);
    assert_int_equal(json_array_size(history), 1);
    json_decref(history);
}

static void
test_memory_cas_detects_conflicts(void **state)
{
    s_env_t *env = *state;
    json_t *a = json_string("a"), *b = json_string("b");
    uint64_t version = 0;
    assert_int_equal(
        orcs_memory_cas(env->memory, NULL, "global", "lock", a, 0, &version),
        ORCS_OK); // create if absent
    assert_int_equal(version, 1);
    assert_int_equal(
        orcs_memory_cas(env->memory, NULL, "global", "lock", b, 0, &version),
        ORCS_EEXIST); // no longer absent
    assert_int_equal(
        orcs_memory_cas(env->memory, NULL, "global", "lock", b, 1, &version),
        ORCS_OK);
    assert_int_equal(version, 2);
    assert_int_equal(
        orcs_memory_cas(env->memory, NULL, "global", "lock", a, 1, &version),
        ORCS_EEXIST); // stale version
    json_t *value = NULL;
    assert_int_equal(
        orcs_memory_get(env->memory, NULL, "global", "lock", &value, &version),
        ORCS_OK);
    assert_string_equal(json_string_value(value), "b");
    assert_int_equal(version, 2);
    json_decref(value);
    // A prepared cas whose key changed before the write: EEXIST at write.
    orcs_memory_put_opts_t opts = {0, true, 2};
    orcs_batch_t *batch = NULL;
    assert_int_equal(orcs_memory_prepare_put(env->memory, NULL, "global",
                                             "lock", a, &opts, &batch,
                                             &version),
                     ORCS_OK);
    assert_int_equal(version, 3);
    assert_int_equal(s_put(env, NULL, "global", "lock", 9, NULL), ORCS_OK);
    assert_int_equal(orcs_store_write(env->store, &batch), ORCS_EEXIST);
    assert_null(batch);
    json_decref(a);
    json_decref(b);
}

static void
test_memory_list_by_prefix(void **state)
{
    s_env_t *env = *state;
    static const char *const keys[] = {"b1", "a2", "a1", "c", "a10", NULL};
    for (size_t i = 0; keys[i]; i++)
        assert_int_equal(s_put(env, NULL, "workflow:w", keys[i], (int) i, NULL),
                         ORCS_OK);
    assert_int_equal(s_put(env, NULL, "workflow:w2", "a3", 1, NULL), ORCS_OK);
    json_t *list = NULL;
    assert_int_equal(
        orcs_memory_list(env->memory, NULL, "workflow:w", "a", 0, &list),
        ORCS_OK);
    assert_int_equal(json_array_size(list), 3);
    static const char *const want[] = {"a1", "a10", "a2"};
    for (size_t i = 0; i < 3; i++) {
        json_t *entry = json_array_get(list, i);
        assert_string_equal(json_string_value(json_object_get(entry, "key")),
                            want[i]);
        assert_null(json_object_get(entry, "value"));
        assert_int_equal(json_integer_value(json_object_get(entry, "version")),
                         1);
    }
    json_decref(list);
    assert_int_equal(
        orcs_memory_list(env->memory, NULL, "workflow:w", NULL, 2, &list),
        ORCS_OK);
    assert_int_equal(json_array_size(list), 2);
    json_decref(list);
    assert_int_equal(
        orcs_memory_list(env->memory, NULL, "workflow:w", "", 0, &list),
        ORCS_OK);
    assert_int_equal(json_array_size(list), 5);
    json_decref(list);
}

static void
test_memory_ttl_hides_and_sweeps_expired_keys(void **state)
{
    s_env_t *env = *state;
    json_t *v = json_string("soon gone");
    orcs_memory_put_opts_t opts = {.ttl_ms = 1000};
    assert_int_equal(
        orcs_memory_put(env->memory, NULL, "thread:t", "tmp", v, &opts, NULL),
        ORCS_OK);
    assert_int_equal(s_put(env, NULL, "thread:t", "tmp2", 5, NULL), ORCS_OK);
    assert_int_equal(
        orcs_memory_put(env->memory, NULL, "thread:t", "tmp3", v, &opts, NULL),
        ORCS_OK);
    orcs_status rc;
    json_t *entry = NULL;
    assert_int_equal(
        orcs_memory_get_entry(env->memory, NULL, "thread:t", "tmp", 0, &entry),
        ORCS_OK);
    assert_int_equal(json_integer_value(json_object_get(entry, "expires_us")),
                     atomic_load(&env->now_us) + 1000000);
    json_decref(entry);
    atomic_fetch_add(&env->now_us, 999999); // 1 us before expiry
    s_get(env, NULL, "thread:t", "tmp", &rc);
    assert_int_equal(rc, ORCS_OK);
    atomic_fetch_add(&env->now_us, 1); // expired now
    s_get(env, NULL, "thread:t", "tmp", &rc);
    assert_int_equal(rc, ORCS_ENOTFOUND);
    json_t *list = NULL;
    assert_int_equal(
        orcs_memory_list(env->memory, NULL, "thread:t", NULL, 0, &list),
        ORCS_OK);
    assert_int_equal(json_array_size(list), 1); // only tmp2
    json_decref(list);
    assert_int_equal(orcs_memory_delete(env->memory, NULL, "thread:t", "tmp"),
                     ORCS_ENOTFOUND);
    // A put over an expired key starts it again at version 1.
    uint64_t version = 0;
    assert_int_equal(s_put(env, NULL, "thread:t", "tmp", 6, &version), ORCS_OK);
    assert_int_equal(version, 1);
    // The sweep removes what expired (tmp3), and only that.
    size_t removed = 0;
    assert_int_equal(orcs_memory_sweep(env->memory, &removed), ORCS_OK);
    assert_int_equal(removed, 1);
    assert_int_equal(orcs_memory_sweep(env->memory, &removed), ORCS_OK);
    assert_int_equal(removed, 0);
    atomic_fetch_add(&env->now_us, INT64_C(3600) * 1000000);
    assert_int_equal(s_get(env, NULL, "thread:t", "tmp", &rc), 6);
    assert_int_equal(s_get(env, NULL, "thread:t", "tmp2", &rc), 5);
    json_decref(v);
}

static void
test_memory_snapshot_and_restore(void **state)
{
    s_env_t *env = *state;
    assert_int_equal(s_put(env, NULL, "workflow:w", "a", 1, NULL), ORCS_OK);
    assert_int_equal(s_put(env, NULL, "workflow:w", "b", 2, NULL), ORCS_OK);
    assert_int_equal(s_put(env, NULL, "workflow:other", "x", 9, NULL), ORCS_OK);
    size_t count = 0;
    assert_int_equal(
        orcs_memory_snapshot(env->memory, NULL, "workflow:w", "before", &count),
        ORCS_OK);
    assert_int_equal(count, 2);
    assert_int_equal(s_put(env, NULL, "workflow:w", "a", 10, NULL), ORCS_OK);
    assert_int_equal(orcs_memory_delete(env->memory, NULL, "workflow:w", "b"),
                     ORCS_OK);
    assert_int_equal(s_put(env, NULL, "workflow:w", "c", 3, NULL), ORCS_OK);
    assert_int_equal(s_put(env, NULL, "workflow:other", "x", 8, NULL), ORCS_OK);
    assert_int_equal(
        orcs_memory_restore(env->memory, NULL, "workflow:w", "before", &count),
        ORCS_OK);
    assert_int_equal(count, 2);
    orcs_status rc;
    uint64_t version = 0;
    json_t *value = NULL;
    assert_int_equal(
        orcs_memory_get(env->memory, NULL, "workflow:w", "a", &value, &version),
        ORCS_OK);
    assert_int_equal(json_integer_value(value), 1);
    assert_int_equal(version, 3); // versions never go back
    json_decref(value);
    assert_int_equal(s_get(env, NULL, "workflow:w", "b", &rc), 2);
    s_get(env, NULL, "workflow:w", "c", &rc);
    assert_int_equal(rc, ORCS_ENOTFOUND);
    assert_int_equal(s_get(env, NULL, "workflow:other", "x", &rc), 8);
    json_t *history = NULL;
    assert_int_equal(
        orcs_memory_history(env->memory, NULL, "workflow:w", "a", &history),
        ORCS_OK);
    assert_int_equal(json_array_size(history), 3);
    assert_int_equal(json_integer_value(
                         json_object_get(json_array_get(history, 1), "value")),
                     10); // the pre-restore value is kept
    json_decref(history);
    // Listing, replacing and dropping snapshots.
    json_t *snaps = NULL;
    assert_int_equal(
        orcs_memory_snapshots(env->memory, NULL, "workflow:w", &snaps),
        ORCS_OK);
    assert_int_equal(json_array_size(snaps), 1);
    assert_string_equal(
        json_string_value(json_object_get(json_array_get(snaps, 0), "name")),
        "before");
    assert_int_equal(
        json_integer_value(json_object_get(json_array_get(snaps, 0), "keys")),
        2);
    json_decref(snaps);
    assert_int_equal(orcs_memory_delete(env->memory, NULL, "workflow:w", "b"),
                     ORCS_OK);
    assert_int_equal(
        orcs_memory_snapshot(env->memory, NULL, "workflow:w", "before", &count),
        ORCS_OK);
    assert_int_equal(count, 1); // replaced
    assert_int_equal(s_put(env, NULL, "workflow:w", "b", 5, NULL), ORCS_OK);
    assert_int_equal(
        orcs_memory_restore(env->memory, NULL, "workflow:w", "before", &count),
        ORCS_OK);
    s_get(env, NULL, "workflow:w", "b", &rc);
    assert_int_equal(rc, ORCS_ENOTFOUND);
    assert_int_equal(
        orcs_memory_snapshot_drop(env->memory, NULL, "workflow:w", "before"),
        ORCS_OK);
    assert_int_equal(
        orcs_memory_restore(env->memory, NULL, "workflow:w", "before", &count),
        ORCS_ENOTFOUND);
    assert_int_equal(
        orcs_memory_snapshot_drop(env->memory, NULL, "workflow:w", "before"),
        ORCS_ENOTFOUND);
    assert_int_equal(orcs_memory_snapshot(env->memory, NULL, "workflow:w",
                                          "bad name", &count),
                     ORCS_EINVAL);
}

static void
test_memory_restore_skips_keys_expired_since(void **state)
{
    s_env_t *env = *state;
    json_t *v = json_true();
    orcs_memory_put_opts_t opts = {.ttl_ms = 1000};
    assert_int_equal(
        orcs_memory_put(env->memory, NULL, "global", "short", v, &opts, NULL),
        ORCS_OK);
    assert_int_equal(s_put(env, NULL, "global", "long", 1, NULL), ORCS_OK);
    assert_int_equal(
        orcs_memory_snapshot(env->memory, NULL, "global", "s", NULL), ORCS_OK);
    atomic_fetch_add(&env->now_us, 2000000);
    size_t count = 0;
    assert_int_equal(
        orcs_memory_restore(env->memory, NULL, "global", "s", &count), ORCS_OK);
    assert_int_equal(count, 1);
    orcs_status rc;
    s_get(env, NULL, "global", "short", &rc);
    assert_int_equal(rc, ORCS_ENOTFOUND);
    json_decref(v);
}

static void
test_memory_damaged_record_is_refused_then_replaced(void **state)
{
    s_env_t *env = *state;
    assert_int_equal(s_put(env, NULL, "global", "k", 1, NULL), ORCS_OK);
    // 'k' PREFIX("") 0 "global" 0 "k": overwrite it with garbage.
    static const uint8_t key[] = "k\0global\0k";
    orcs_batch_t *batch = orcs_batch_new();
    assert_int_equal(orcs_batch_put(batch, ORCS_DB_MEMORY, key, sizeof key - 1,
                                    "\xc1garbage", 8),
                     ORCS_OK);
    assert_int_equal(orcs_store_write(env->store, &batch), ORCS_OK);
    orcs_status rc;
    s_get(env, NULL, "global", "k", &rc);
    assert_int_equal(rc, ORCS_EPROTO);
    assert_int_equal(
        orcs_memory_cas(env->memory, NULL, "global", "k", json_null(), 1, NULL),
        ORCS_EPROTO);
    json_t *list = NULL;
    assert_int_equal(
        orcs_memory_list(env->memory, NULL, "global", NULL, 0, &list), ORCS_OK);
    assert_int_equal(json_array_size(list), 0); // skipped
    json_decref(list);
    uint64_t version = 0;
    assert_int_equal(s_put(env, NULL, "global", "k", 2, &version), ORCS_OK);
    assert_int_equal(version, 1);
    assert_int_equal(s_get(env, NULL, "global", "k", &rc), 2);
}

static void
test_memory_record_decode_rejects_garbage(void **state)
{
    (void) state;
    json_t *record = json_true();
    assert_int_equal(
        orcs_memory_record_decode((const uint8_t *) "", 0, &record),
        ORCS_EPROTO);
    assert_null(record);
    static const char *const bad[] = {
        "[]",
        "{\"schema\": 1, \"version\": 1, \"updated_us\": 0, \"expires_us\": 0}",
        "{\"schema\": 2, \"version\": 1, \"value\": 1, \"updated_us\": 0, "
        "\"expires_us\": 0}",
        "{\"schema\": 1, \"version\": 0, \"value\": 1, \"updated_us\": 0, "
        "\"expires_us\": 0}",
        "{\"schema\": 1, \"version\": 1, \"value\": 1, \"updated_us\": 0, "
        "\"expires_us\": -1}",
        "{\"schema\": 1, \"version\": 1, \"value\": 1, \"updated_us\": 0, "
        "\"expires_us\": 0, \"writer\": 5}",
        NULL};
    for (size_t i = 0; bad[i]; i++) {
        json_t *doc = json_loads(bad[i], 0, NULL);
        assert_non_null(doc);
        uint8_t *data = NULL;
        size_t size = 0;
        assert_int_equal(orcs_doc_encode(doc, &data, &size), ORCS_OK);
        assert_int_equal(orcs_memory_record_decode(data, size, &record),
                         ORCS_EPROTO);
        assert_null(record);
        free(data);
        json_decref(doc);
    }
}

typedef struct {
    s_env_t *env;   // shared
    int puts;       // each thread's count
    orcs_status rc; // first failure
} s_writer_t;

static void *
s_writer(void *arg)
{
    s_writer_t *w = arg;
    for (int i = 0; i < w->puts && w->rc == ORCS_OK; i++)
        w->rc = s_put(w->env, NULL, "global", "counter", i, NULL);
    return NULL;
}

static void
test_memory_concurrent_puts_lose_no_version(void **state)
{
    s_env_t *env = *state;
    assert_int_equal(s_configure(env, "{\"versions_kept\": 1000}"), ORCS_OK);
    enum { THREADS = 4, PUTS = 40 };
    pthread_t threads[THREADS];
    s_writer_t writers[THREADS];
    for (int i = 0; i < THREADS; i++) {
        writers[i] = (s_writer_t){env, PUTS, ORCS_OK};
        pthread_create(&threads[i], NULL, s_writer, &writers[i]);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(threads[i], NULL);
        assert_int_equal(writers[i].rc, ORCS_OK);
    }
    json_t *history = NULL;
    assert_int_equal(
        orcs_memory_history(env->memory, NULL, "global", "counter", &history),
        ORCS_OK);
    assert_int_equal(json_array_size(history), THREADS * PUTS);
    json_decref(history);
}

typedef struct {
    pthread_mutex_t lock; // guards done and status
    pthread_cond_t cond;  // signalled when done
    bool done;            // the callback ran
    orcs_status status;   // its status
} s_done_t;

static void
s_on_done(orcs_status status, void *arg)
{
    s_done_t *d = arg;
    pthread_mutex_lock(&d->lock);
    d->done = true;
    d->status = status;
    pthread_cond_signal(&d->cond);
    pthread_mutex_unlock(&d->lock);
}

static void
test_memory_prepared_writes_apply_asynchronously(void **state)
{
    s_env_t *env = *state;
    s_done_t d = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false,
                  ORCS_OK};
    json_t *v = json_string("async");
    orcs_batch_t *batch = NULL;
    uint64_t version = 0;
    assert_int_equal(orcs_memory_prepare_put(env->memory, "bot", "agent:bot",
                                             "k", v, NULL, &batch, &version),
                     ORCS_OK);
    assert_int_equal(version, 1);
    assert_int_equal(orcs_store_write_async(env->store, &batch, s_on_done, &d),
                     ORCS_OK);
    assert_null(batch);
    pthread_mutex_lock(&d.lock);
    while (!d.done)
        pthread_cond_wait(&d.cond, &d.lock);
    pthread_mutex_unlock(&d.lock);
    assert_int_equal(d.status, ORCS_OK);
    orcs_status rc;
    json_t *got = NULL;
    rc = orcs_memory_get(env->memory, "bot", "agent:bot", "k", &got, NULL);
    assert_int_equal(rc, ORCS_OK);
    assert_true(json_equal(got, v));
    json_decref(got);
    // A denied prepare: no batch, audit written in the background.
    batch = NULL;
    assert_int_equal(orcs_memory_prepare_put(env->memory, "bot", "global", "k",
                                             v, NULL, &batch, NULL),
                     ORCS_EDENIED);
    assert_null(batch);
    assert_int_equal(orcs_memory_prepare_delete(env->memory, "bot", "agent:bot",
                                                "absent", &batch),
                     ORCS_ENOTFOUND);
    assert_null(batch);
    s_audit_t audit = {0};
    for (int i = 0; i < FIXTURE_WAIT_MS && audit.count == 0; i++) {
        s_read_audit(env, &audit);
        if (audit.count == 0)
            usleep(1000);
    }
    assert_int_equal(audit.count, 1);
    json_decref(v);
}

// ---------------------------------------------------------------------------
// The memory actor

// Starts a node with a `memory` actor named "mem" and the given `memory`
// node config (JSON text).
static void
s_start_node(fixture_t *f, const char *memory)
{
    memset(f, 0, sizeof *f);
    snprintf(f->data, sizeof f->data, "/tmp/orcs-test-XXXXXX");
    assert_non_null(mkdtemp(f->data));
    json_t *config = json_pack(
        "{s:s, s:s, s:o, s:{s:[{s:s, s:s, s:{s:i}}]}}", "node", "test", "data",
        f->data, "memory", json_loads(memory, 0, NULL), "supervisor",
        "children", "name", "mem", "actor", "memory", "config", "sweep_ms", 0);
    assert_non_null(config);
    f->node = orcs_node_new();
    assert_int_equal(orcs_node_configure(f->node, config, NULL), ORCS_OK);
    json_decref(config);
    assert_int_equal(orcs_node_start(f->node), ORCS_OK);
    f->client = orcs_client_new(f->node);
}

// Asks the memory actor; returns the reply body and sets *rc_p.
static json_t *
s_ask(fixture_t *f, const char *type, const char *body, orcs_status *rc_p)
{
    json_t *doc = json_loads(body, 0, NULL);
    assert_non_null(doc);
    return fixture_ask(f, "mem", type, doc, rc_p);
}

static void
test_memory_actor_answers_asks(void **state)
{
    (void) state;
    fixture_t f;
    s_start_node(&f, "{\"rules\": [{\"agent\": \"client.*\", \"read\": "
                     "[\"global\"], \"write\": [\"global\"]}]}");
    orcs_status rc;
    json_t *reply = s_ask(&f, "put",
                          "{\"scope\": \"global\", \"key\": \"k\", "
                          "\"value\": {\"a\": 1}}",
                          &rc);
    assert_int_equal(rc, ORCS_OK);
    assert_int_equal(json_integer_value(json_object_get(reply, "version")), 1);
    json_decref(reply);
    reply = s_ask(&f, "get", "{\"scope\": \"global\", \"key\": \"k\"}", &rc);
    assert_int_equal(rc, ORCS_OK);
    assert_int_equal(json_integer_value(
                         json_object_get(json_object_get(reply, "value"), "a")),
                     1);
    assert_string_equal(json_string_value(json_object_get(reply, "writer")),
                        orcs_client_name(f.client));
    json_decref(reply);
    reply = s_ask(&f, "cas",
                  "{\"scope\": \"global\", \"key\": \"k\", \"value\": 2, "
                  "\"expect_version\": 0}",
                  &rc);
    assert_int_equal(rc, ORCS_EEXIST);
    assert_int_equal(json_integer_value(json_object_get(reply, "version")), 1);
    assert_non_null(json_object_get(reply, "error"));
    json_decref(reply);
    reply = s_ask(&f, "cas",
                  "{\"scope\": \"global\", \"key\": \"k\", \"value\": 2, "
                  "\"expect_version\": 1}",
                  &rc);
    assert_int_equal(rc, ORCS_OK);
    assert_int_equal(json_integer_value(json_object_get(reply, "version")), 2);
    json_decref(reply);
    reply =
        s_ask(&f, "history", "{\"scope\": \"global\", \"key\": \"k\"}", &rc);
    assert_int_equal(rc, ORCS_OK);
    assert_int_equal(json_array_size(json_object_get(reply, "versions")), 2);
    json_decref(reply);
    reply =
        s_ask(&f, "snapshot", "{\"scope\": \"global\", \"name\": \"s\"}", &rc);
    assert_int_equal(rc, ORCS_OK);
    assert_int_equal(json_integer_value(json_object_get(reply, "keys")), 1);
    json_decref(reply);
    reply = s_ask(&f, "delete", "{\"scope\": \"global\", \"key\": \"k\"}", &rc);
    assert_int_equal(rc, ORCS_OK);
    assert_true(json_is_true(json_object_get(reply, "deleted")));
    json_decref(reply);
    reply = s_ask(&f, "list", "{\"scope\": \"global\"}", &rc);
    assert_int_equal(rc, ORCS_OK);
    assert_int_equal(json_array_size(json_object_get(reply, "keys")), 0);
    json_decref(reply);
    reply =
        s_ask(&f, "restore", "{\"scope\": \"global\", \"name\": \"s\"}", &rc);
    assert_int_equal(rc, ORCS_OK);
    json_decref(reply);
    reply =
        s_ask(&f, "list", "{\"scope\": \"global\", \"prefix\": \"k\"}", &rc);
    assert_int_equal(json_array_size(json_object_get(reply, "keys")), 1);
    json_decref(reply);
    reply = s_ask(&f, "snapshots", "{\"scope\": \"global\"}", &rc);
    assert_int_equal(rc, ORCS_OK);
    assert_int_equal(json_array_size(json_object_get(reply, "snapshots")), 1);
    json_decref(reply);
    // Its own scope needs no rule; another agent's is denied and audited.
    char own[128];
    snprintf(own, sizeof own,
             "{\"scope\": \"agent:%s\", \"key\": \"mine\", \"value\": 1}",
             orcs_client_name(f.client));
    reply = s_ask(&f, "put", own, &rc);
    assert_int_equal(rc, ORCS_OK);
    json_decref(reply);
    reply =
        s_ask(&f, "get", "{\"scope\": \"agent:planner\", \"key\": \"x\"}", &rc);
    assert_int_equal(rc, ORCS_EDENIED);
    json_decref(reply);
    reply = s_ask(&f, "put",
                  "{\"scope\": \"agent:planner\", \"key\": \"x\", "
                  "\"value\": 1}",
                  &rc);
    assert_int_equal(rc, ORCS_EDENIED);
    json_decref(reply);
    // Bad requests.
    reply = s_ask(&f, "get", "{\"key\": \"k\"}", &rc);
    assert_int_equal(rc, ORCS_EINVAL);
    json_decref(reply);
    reply = s_ask(&f, "put", "{\"scope\": \"global\", \"key\": \"k\"}", &rc);
    assert_int_equal(rc, ORCS_EINVAL); // no value
    json_decref(reply);
    reply = s_ask(&f, "frobnicate", "{}", &rc);
    assert_int_equal(rc, ORCS_EUNSUPPORTED);
    json_decref(reply);
    // The denials are in the audit log (the put's is written in the
    // background: wait for it).
    s_env_t env = {.store = orcs_node_store(f.node)};
    s_audit_t audit = {0};
    for (int i = 0; i < FIXTURE_WAIT_MS && audit.count < 2; i++) {
        s_read_audit(&env, &audit);
        if (audit.count < 2)
            usleep(1000);
    }
    assert_int_equal(audit.count, 2);
    assert_string_equal(audit.entries[0].actor, orcs_client_name(f.client));
    fixture_stop(&f);
}

// ---------------------------------------------------------------------------
// The `memory` key of the node config

static void
s_config_fails(const char *text, const char *want)
{
    orcs_config_t *config = NULL;
    char err[512] = "";
    assert_int_equal(orcs_config_parse(text, strlen(text), "node.yaml", &config,
                                       err, sizeof err),
                     ORCS_ECONFIG);
    assert_null(config);
    if (!strstr(err, want))
        fail_msg("got '%s', want '%s'", err, want);
}

static void
test_memory_node_config_is_checked(void **state)
{
    (void) state;
    static const char ok[] = "memory:\n"
                             "  rules:\n"
                             "    - agent: planner\n"
                             "      read: [global, 'workflow:*']\n"
                             "      write: ['agent:self', 'thread:self/*']\n";
    orcs_config_t *config = NULL;
    char err[512] = "";
    assert_int_equal(orcs_config_parse(ok, sizeof ok - 1, "node.yaml", &config,
                                       err, sizeof err),
                     ORCS_OK);
    json_t *memory = json_object_get(orcs_config_doc(config), "memory");
    assert_int_equal(
        json_integer_value(json_object_get(memory, "versions_kept")),
        ORCS_MEMORY_VERSIONS); // default filled in
    orcs_memory_t *m = NULL;
    orcs_store_t *store = orcs_store_new(); // never opened: only configured
    m = orcs_memory_new(store);
    assert_int_equal(orcs_memory_configure(m, memory, err, sizeof err),
                     ORCS_OK);
    assert_true(orcs_memory_allowed(m, "planner", "workflow:w", false));
    assert_true(orcs_memory_allowed(m, "planner", "thread:planner/1", true));
    assert_false(orcs_memory_allowed(m, "planner", "workflow:w", true));
    orcs_memory_destroy(&m);
    orcs_store_destroy(&store);
    orcs_config_destroy(&config);
    // Absent: stays absent (the defaults are the memory module's).
    config = orcs_config_new_default();
    assert_null(json_object_get(orcs_config_doc(config), "memory"));
    orcs_config_destroy(&config);
    s_config_fails("memory: 3\n", "node.yaml:1: memory: must be a mapping");
    s_config_fails("memory:\n  versions: 3\n",
                   "node.yaml:2: memory.versions: unknown key");
    s_config_fails("memory:\n  versions_kept: 0\n",
                   "node.yaml:2: memory.versions_kept: must be an integer "
                   "from 1 to 1000");
    s_config_fails("memory:\n  rules:\n    - read: [global]\n",
                   "memory.rules[0]: missing required key 'agent'");
    s_config_fails("memory:\n  rules:\n    - agent: a\n      read: [globl]\n",
                   "node.yaml:4: memory.rules[0].read[0]: must be *, global");
    s_config_fails("memory:\n  rules:\n    - agent: a\n      writ: []\n",
                   "node.yaml:4: memory.rules[0].writ: unknown key");
    s_config_fails("memory:\n  rules:\n    - agent: ''\n",
                   "memory.rules[0].agent: must be an actor name or glob");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, s_setup, s_teardown)
        T(test_memory_destroy_nulls_reference),
        T(test_memory_put_get_round_trip),
        T(test_memory_rejects_bad_scopes_and_keys),
        T(test_memory_configure_rejects_bad_rules),
        T(test_memory_rules_allow_and_deny),
        T(test_memory_denied_access_is_audited),
        T(test_memory_isolation_prefix_separates_tenants),
        T(test_memory_versions_keep_the_last_n),
        T(test_memory_cas_detects_conflicts),
        T(test_memory_list_by_prefix),
        T(test_memory_ttl_hides_and_sweeps_expired_keys),
        T(test_memory_snapshot_and_restore),
        T(test_memory_restore_skips_keys_expired_since),
        T(test_memory_damaged_record_is_refused_then_replaced),
        T(test_memory_record_decode_rejects_garbage),
        T(test_memory_concurrent_puts_lose_no_version),
        T(test_memory_prepared_writes_apply_asynchronously),
#undef T
        cmocka_unit_test(test_memory_actor_answers_asks),
        cmocka_unit_test(test_memory_node_config_is_checked),
    };
    int failed = cmocka_run_group_tests_name("orcs_memory", tests, NULL, NULL);
    orcs_runtime_shutdown();
    return failed;
}
