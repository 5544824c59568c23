/*  toolexec_internal.h — what the files of the toolexec actor share: its
    config, its state, one call in flight, and the result cache.
    SPDX-License-Identifier: MPL-2.0

    Files: toolexec.c (the actor: requests, the queue, stats, reload),
    call.c (one call: attempts, retries, timeouts, offload, the reply),
    config.c (the `toolexec` config), cache.c (the result cache). */
#ifndef ORCS_TOOLEXEC_INTERNAL_H_INCLUDED
#define ORCS_TOOLEXEC_INTERNAL_H_INCLUDED

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <czmq.h>
#include <jansson.h>

#include "orcs/actor.h"
#include "orcs/artifact.h"
#include "orcs/memory.h"
#include "orcs/store.h"
#include "orcs/tools.h"
#include "tools/exec.h"
#include "tools/http.h"

// The actor kind "toolexec" (docs/agents.md).
extern const orcs_actor_def_t orcs__toolexec_def;

#define ORCS_TOOLEXEC_QUEUE_MAX   100000u // calls waiting for a slot
#define ORCS_TOOLEXEC_BACKOFF_MS  100     // first retry delay; doubles
#define ORCS_TOOLEXEC_BACKOFF_MAX 10000   // longest retry delay
#define ORCS_TOOLEXEC_CACHE_KEY   (ORCS_TOOL_NAME_MAX + 1 + 32) // name 0 hash

// ---- config.c

typedef struct {
    int concurrency;           // calls running at once
    size_t offload_bytes;      // results larger go to artifacts
    size_t preview_bytes;      // preview of an offloaded result
    json_t *allow_hosts;       // http: host names or IPs, "*" = any (owned)
    size_t max_response_bytes; // http: response body cap
    int http_timeout_ms;       // http: ceiling of a request's timeout
    int cpu_s;                 // exec: RLIMIT_CPU seconds
    int memory_mb;             // exec: RLIMIT_AS MiB
    int processes;             // exec: RLIMIT_NPROC (per user!)
    int files;                 // exec: RLIMIT_NOFILE
    size_t max_output_bytes;   // exec: stdout cap
    int exec_timeout_ms;       // exec: ceiling of an attempt's timeout
    bool network;              // exec: no network filter
} orcs__toolexec_config_t;

// Reads the toolexec config (doc may be NULL: all defaults) into *config
// (clear it with orcs__toolexec_config_clear). Unknown keys and bad values
// are refused. Returns ORCS_OK or ORCS_ECONFIG with "toolexec.KEY: what"
// in err (*config then holds nothing to clear).
orcs_status orcs__toolexec_config_parse(const json_t *doc,
                                        orcs__toolexec_config_t *config,
                                        char *err,
                                        size_t err_size);

// Releases what a parsed config holds.
void orcs__toolexec_config_clear(orcs__toolexec_config_t *config);

// ---- the actor's state (toolexec.c)

typedef struct orcs__call_t orcs__call_t;

typedef struct {
    uint64_t calls;      // tool.call asks accepted
    uint64_t ok;         // answered ok (cached ones included)
    uint64_t validation; // arguments did not match the schema
    uint64_t unknown;    // no such tool
    uint64_t timeouts;   // last attempt timed out
    uint64_t failures;   // failed otherwise
    uint64_t denied;     // refused (allow-list, memory rules)
    uint64_t approval;   // needed an approval
    uint64_t retries;    // attempts after the first
    uint64_t hits;       // answered from the cache
    uint64_t misses;     // cacheable, not in the cache
} orcs__toolexec_stats_t;

typedef struct {
    orcs_actor_t *actor;            // this actor
    orcs_tools_t *tools;            // the node's registry (borrowed)
    orcs_store_t *store;            // the node's store (borrowed)
    orcs_memory_t *memory;          // for the memory built-ins
    orcs_artifacts_t *artifacts;    // for offloaded results
    orcs__http_t *http;             // curl multi engine
    orcs__exec_filter_t *filter;    // network filter; NULL when network
    orcs__toolexec_config_t config; // parsed config
    orcs__toolexec_stats_t stats;   // counters for toolexec.stats
    orcs__call_t *running;          // calls holding a slot (list)
    orcs__call_t *queue_head;       // calls waiting, oldest first
    orcs__call_t *queue_tail;       // newest waiting
    size_t running_count;           // entries of running
    size_t queued_count;            // entries of the queue
    bool pumping;                   // orcs__toolexec_pump is on the stack
    zhashx_t *pending_writes;       // hex cache key -> orcs__cache_write_t
} orcs__toolexec_t;

// Queues a call for a slot and starts what the slots allow. Takes
// ownership of the call. A full queue answers the call with an error.
void orcs__toolexec_enqueue(orcs__toolexec_t *self, orcs__call_t *call);

// Gives the call's slot back (if it holds one) and unlinks it; queued
// calls then start as slots allow (not from inside a start).
void orcs__toolexec_release(orcs__toolexec_t *self, orcs__call_t *call);

// Publishes a run event "run.<run>.<name>" (nothing outside a run).
void orcs__toolexec_event(orcs__toolexec_t *self,
                          const char *run,
                          const char *name,
                          json_t *body);

// ---- call.c

struct orcs__call_t {
    orcs__toolexec_t *owner; // the actor's state
    orcs_msg_t *request;     // the ask (owned)
    json_t *args;            // arguments (owned reference)
    char *tool_name;         // as asked (owned)
    char *run;               // run id, "" outside a run (owned)
    char *call_id;           // the call's id in its step (owned)
    char *caller;            // identity for memory rules (owned)
    char *key;               // idempotency key run/step/call (owned)
    json_int_t step;         // step number
    orcs_toolset_t *set;     // held for the call's life
    const orcs_tool_t *tool; // in set
    int64_t received_us;     // monotonic time of the ask
    int attempts;            // attempts started
    int timeout_ms;          // per attempt
    uint64_t timer_id;       // attempt timeout or retry backoff, or 0
    bool in_backoff;         // the timer is a retry's
    bool timed_out;          // the attempt's timer fired
    bool approved;           // a human approved it (the orchestrator says)
    orcs__exec_t *exec;      // running child, or NULL
    orcs__http_req_t *http;  // running request, or NULL
    bool has_slot;           // in the running list
    bool queued;             // in the queue
    uint8_t cache_key[ORCS_TOOLEXEC_CACHE_KEY]; // tool name 0 hash
    size_t cache_key_size;                      // 0 = not cacheable
    orcs__call_t *prev;                         // list links (running or queue)
    orcs__call_t *next;
};

// Creates a call for a valid request, taking *request_p (set to NULL) and
// a reference to args. The tool is looked up later. Caller owns it until
// orcs__call_begin.
orcs__call_t *orcs__call_new(orcs__toolexec_t *owner,
                             orcs_msg_t **request_p,
                             json_t *args,
                             const char *tool,
                             const char *run,
                             json_int_t step,
                             const char *call_id,
                             const char *caller);

// Looks the tool up, validates, checks approval and the cache, and either
// answers at once (freeing the call) or queues it for a slot. Takes
// ownership of the call.
void orcs__call_begin(orcs__call_t *call);

// Answers the call with {"ok": false, "error", "reason"}, counts it, and
// frees it (giving back its slot).
void orcs__call_fail(orcs__call_t *call, const char *reason, const char *error);

// Starts the first attempt of a call that got a slot (the owner put it in
// the running list). May finish (and free) the call before returning.
void orcs__call_start(orcs__call_t *call);

// Routes an actor timer to its call: the attempt's timeout or the end of a
// retry's backoff.
void orcs__call_on_timer(orcs__call_t *call, uint64_t timer_id);

// Drops a call without replying (the actor stops): kills its child,
// aborts its request, cancels its timer, frees it.
void orcs__call_destroy(orcs__call_t **call_p);

// ---- cache.c

// A cache write in flight: kept so lookups see it before it is durable.
// Shared with the store's writer thread, which only sets done and drops
// its reference.
typedef struct {
    atomic_bool done; // the write committed (or failed)
    atomic_int refs;  // the pending map + the writer
    uint8_t *value;   // encoded {result, expires_us}
    size_t size;      // bytes of value
} orcs__cache_write_t;

// Computes the cache key of a call (tool name, 0, BLAKE2b-256 of the
// canonical JSON of args) into call->cache_key. Returns ORCS_OK or
// ORCS_EINVAL when args cannot be serialised.
orcs_status orcs__cache_key(orcs__call_t *call);

// Looks the call's key up: a write in flight first, then the store. Sets
// *result_p (caller owns) on a live hit. Returns ORCS_OK (hit) or
// ORCS_ENOTFOUND (absent, expired or unreadable).
orcs_status orcs__cache_get(orcs__toolexec_t *self,
                            const orcs__call_t *call,
                            json_t **result_p);

// Stores result under the call's key for ttl_s seconds, without waiting
// for the write. Failures are logged at DEBUG and otherwise ignored.
void orcs__cache_put(orcs__toolexec_t *self,
                     const orcs__call_t *call,
                     const json_t *result,
                     int64_t ttl_s);

// Drops every write in flight (the actor stops).
void orcs__cache_clear(orcs__toolexec_t *self);

#endif
