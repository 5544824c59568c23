/*  actors/agent/thread.c — conversation threads in the store.
    SPDX-License-Identifier: MPL-2.0

    A thread is an append-only list of chat messages in the `threads`
    sub-database: key = THREAD bytes, '\0', an 8-byte big-endian seq from
    1; value = MessagePack of one message {role, content, tool_calls?,
    tool_call_id?}. The system prompt is not stored (it comes from the
    agent file each time).

    A run that names a thread reads it before its first model turn (a
    short read transaction on the actor's thread). When the run succeeds,
    its new messages are appended with one asynchronous batch that checks
    each new key is absent, so two runs appending to one thread at once
    never overwrite each other: the loser re-reads the tail and tries
    again (twice at most). The reply waits until the batch is durable; the
    store's writer thread reaches the actor through a write queue
    (runtime/write_queue.h). */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "actors/agent/agent_internal.h"
#include "orcs/doc.h"
#include "orcs/log.h"
#include "orcs/store.h"
#include "orcs/sys.h"

typedef orcs__agent_t s_agent_t;
typedef orcs__agent_run_t s_run_t;

// The longest key: thread, NUL, seq.
#define S_KEY_MAX (ORCS__AGENT_THREAD_MAX + 1 + 8)

// The fields of a message that are stored.
static const char *const s_fields[] = {"role",         "content", "tool_calls",
                                       "tool_call_id", "name",    NULL};

bool
orcs__agent_thread_id_is_valid(const char *id)
{
    size_t n = strlen(id);
    if (n == 0 || n > ORCS__AGENT_THREAD_MAX)
        return false;
    for (; *id; id++)
        if (!((*id >= 'a' && *id <= 'z') || (*id >= 'A' && *id <= 'Z')
              || (*id >= '0' && *id <= '9') || *id == '_' || *id == '.'
              || *id == ':' || *id == '-'))
            return false;
    return true;
}

static size_t
s_key(const char *thread, uint64_t seq, uint8_t *key)
{
    size_t n = strlen(thread);
    memcpy(key, thread, n);
    key[n] = 0;
    for (int i = 0; i < 8; i++)
        key[n + 1 + (size_t) i] = (uint8_t) (seq >> (56 - 8 * i));
    return n + 9;
}

static uint64_t
s_seq(const uint8_t *key)
{
    uint64_t seq = 0;
    for (int i = 0; i < 8; i++)
        seq = (seq << 8) | key[i];
    return seq;
}

typedef struct {
    size_t prefix_size;
    json_t *messages; // NULL: only the last seq is wanted
    uint64_t last;
    uint64_t bad; // seq of a damaged entry, or 0
} s_scan_t;

static bool
s_on_entry(const void *key,
           size_t key_size,
           const void *value,
           size_t value_size,
           void *arg)
{
    s_scan_t *scan = arg;
    if (key_size != scan->prefix_size + 8)
        return true; // not one of ours (a longer thread id's prefix)
    uint64_t seq = s_seq((const uint8_t *) key + scan->prefix_size);
    scan->last = seq;
    if (!scan->messages)
        return true;
    json_t *message = NULL;
    if (orcs_doc_decode(value, value_size, NULL, &message) != ORCS_OK
        || !json_is_object(message)
        || !json_is_string(json_object_get(message, "role"))) {
        json_decref(message);
        scan->bad = seq;
        return false;
    }
    json_array_append_new(scan->messages, message);
    return true;
}

// Reads the thread; messages may be NULL (only the last seq).
static orcs_status
s_read(s_agent_t *self,
       const char *thread,
       json_t *messages,
       uint64_t *last_p,
       char *err,
       size_t err_size)
{
    orcs_store_t *store = orcs_node_store(self->node);
    if (!store) {
        snprintf(err, err_size,
                 "thread %s: this agent actor has no store (process: true)",
                 thread);
        return ORCS_ECONFIG;
    }
    orcs_store_txn_t *txn = NULL;
    orcs_status rc = orcs_store_txn_begin(store, &txn);
    if (rc != ORCS_OK) {
        snprintf(err, err_size, "thread %s: cannot read the store: %s", thread,
                 orcs_status_str(rc));
        return rc;
    }
    size_t size = strlen(thread) + 1; // the prefix ends with the NUL
    s_scan_t scan = {size, messages, 0, 0};
    rc = orcs_store_txn_scan(txn, ORCS_DB_THREADS, thread, size, s_on_entry,
                             &scan);
    orcs_store_txn_end(&txn);
    if (rc == ORCS_OK && scan.bad) {
        snprintf(err, err_size, "thread %s: message %" PRIu64 " is damaged",
                 thread, scan.bad);
        rc = ORCS_EPROTO;
    } else if (rc != ORCS_OK)
        snprintf(err, err_size, "thread %s: cannot read the store: %s", thread,
                 orcs_status_str(rc));
    *last_p = scan.last;
    return rc;
}

orcs_status
orcs__agent_thread_load(s_agent_t *self,
                        s_run_t *run,
                        char *err,
                        size_t err_size)
{
    json_t *messages = json_array();
    orcs_status rc =
        s_read(self, run->thread, messages, &run->thread_seq, err, err_size);
    if (rc == ORCS_OK)
        json_array_extend(run->history, messages);
    json_decref(messages);
    return rc;
}

static void
s_on_written(void *state, uint64_t id, orcs_status status)
{
    s_agent_t *self = state;
    void *key = (void *) (uintptr_t) id;
    s_run_t *run = zhashx_lookup(self->writes, key);
    if (!run)
        return;
    zhashx_delete(self->writes, key);
    run->write_id = 0;
    run->asks--;
    if (run->finished) { // cancelled while the write ran
        if (run->asks == 0)
            orcs__agent_run_free(self, run);
        return;
    }
    if (status == ORCS_EEXIST && run->write_tries < 3) {
        // Another run appended to the thread first: go after it.
        char err[ORCS__AGENT_ERROR_MAX];
        uint64_t last = 0;
        status = s_read(self, run->thread, NULL, &last, err, sizeof err);
        if (status == ORCS_OK) {
            orcs_log_debug("agent",
                           "thread %s: appended by another run, "
                           "retrying after %" PRIu64,
                           run->thread, last);
            run->thread_seq = last;
            status = orcs__agent_thread_append(self, run);
            if (status == ORCS_OK)
                return;
        }
    }
    orcs__agent_run_written(self, run, status);
}

// The stored form of one message: only the chat fields.
static orcs_status
s_encode(const json_t *message, uint8_t **data_p, size_t *size_p)
{
    json_t *stored = json_object();
    for (size_t i = 0; s_fields[i]; i++) {
        json_t *value = json_object_get(message, s_fields[i]);
        if (value)
            json_object_set(stored, s_fields[i], value);
    }
    orcs_status rc = orcs_doc_encode(stored, data_p, size_p);
    json_decref(stored);
    return rc;
}

orcs_status
orcs__agent_thread_append(s_agent_t *self, s_run_t *run)
{
    orcs_store_t *store = orcs_node_store(self->node);
    if (!store)
        return ORCS_ECONFIG;
    if (!self->wq) {
        self->wq = orcs__wq_new(self->actor, s_on_written, self);
        if (!self->wq)
            return ORCS_EIO;
    }
    orcs_batch_t *batch = orcs_batch_new();
    orcs_status rc = ORCS_OK;
    uint64_t seq = run->thread_seq;
    for (size_t i = run->thread_base;
         rc == ORCS_OK && i < json_array_size(run->history); i++) {
        uint8_t key[S_KEY_MAX];
        size_t key_size = s_key(run->thread, ++seq, key);
        uint8_t *data = NULL;
        size_t size = 0;
        rc = s_encode(json_array_get(run->history, i), &data, &size);
        if (rc == ORCS_OK)
            rc = orcs_batch_check(batch, ORCS_DB_THREADS, key, key_size, NULL,
                                  0);
        if (rc == ORCS_OK)
            rc = orcs_batch_put(batch, ORCS_DB_THREADS, key, key_size, data,
                                size);
        free(data);
    }
    uint64_t id = ++self->next_write;
    if (rc == ORCS_OK)
        rc = orcs__wq_write(self->wq, store, &batch, id);
    orcs_batch_destroy(&batch);
    if (rc != ORCS_OK)
        return rc;
    run->write_tries++;
    run->write_id = id;
    run->asks++; // released in s_on_written
    zhashx_insert(self->writes, (void *) (uintptr_t) id, run);
    return ORCS_OK;
}
