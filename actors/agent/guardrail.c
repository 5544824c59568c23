/*  actors/agent/guardrail.c — guardrails kept on the node.
    SPDX-License-Identifier: MPL-2.0 */
#include <pthread.h>
#include <string.h>

#include "actors/agent/agent_internal.h"
#include "orcs/sys.h"

#define S_EXT "guardrails"

typedef struct s_guard_t {
    char *name;
    orcs_guardrail_fn *fn;
    void *arg;
    struct s_guard_t *next;
} s_guard_t;

typedef struct {
    pthread_mutex_t lock;
    s_guard_t *head;
} s_guards_t;

static pthread_mutex_t s_create_lock = PTHREAD_MUTEX_INITIALIZER;

static void
s_destroy(void *object)
{
    s_guards_t *guards = object;
    while (guards->head) {
        s_guard_t *next = guards->head->next;
        free(guards->head->name);
        free(guards->head);
        guards->head = next;
    }
    pthread_mutex_destroy(&guards->lock);
    free(guards);
}

static s_guards_t *
s_guards(orcs_node_t *node, bool create)
{
    s_guards_t *guards = orcs_node_ext(node, S_EXT);
    if (guards || !create)
        return guards;
    pthread_mutex_lock(&s_create_lock);
    guards = orcs_node_ext(node, S_EXT);
    if (!guards) {
        guards = orcs_calloc(1, sizeof *guards);
        pthread_mutex_init(&guards->lock, NULL);
        orcs_node_ext_set(node, S_EXT, guards, s_destroy);
    }
    pthread_mutex_unlock(&s_create_lock);
    return guards;
}

orcs_status
orcs_agent_guardrail_add(orcs_node_t *node,
                         const char *name,
                         orcs_guardrail_fn *fn,
                         void *arg)
{
    orcs_assert(node && name && fn);
    s_guards_t *guards = s_guards(node, true);
    pthread_mutex_lock(&guards->lock);
    s_guard_t **at = &guards->head;
    for (; *at; at = &(*at)->next)
        if (strcmp((*at)->name, name) == 0) {
            pthread_mutex_unlock(&guards->lock);
            return ORCS_EEXIST;
        }
    s_guard_t *guard = orcs_calloc(1, sizeof *guard);
    guard->name = orcs_strdup(name);
    guard->fn = fn;
    guard->arg = arg;
    *at = guard;
    pthread_mutex_unlock(&guards->lock);
    return ORCS_OK;
}

bool
orcs__agent_guarded(orcs_node_t *node)
{
    s_guards_t *guards = s_guards(node, false);
    if (!guards)
        return false;
    pthread_mutex_lock(&guards->lock);
    bool any = guards->head != NULL;
    pthread_mutex_unlock(&guards->lock);
    return any;
}

bool
orcs__agent_guard(orcs_node_t *node,
                  const orcs_guard_ctx_t *ctx,
                  char *reason,
                  size_t reason_size)
{
    s_guards_t *guards = s_guards(node, false);
    if (!guards)
        return true;
    bool pass = true;
    pthread_mutex_lock(&guards->lock);
    for (s_guard_t *guard = guards->head; guard && pass; guard = guard->next) {
        reason[0] = 0;
        pass = guard->fn(ctx, guard->arg, reason, reason_size);
        if (!pass && !reason[0])
            snprintf(reason, reason_size, "blocked by guardrail %s",
                     guard->name);
    }
    pthread_mutex_unlock(&guards->lock);
    return pass;
}
