/*  node.c — one node per process: config, the directory, actor kinds and
    plug-ins, the event bus, the system and root supervisors, the control
    endpoint (through the status actor) and orderly shutdown.
    SPDX-License-Identifier: MPL-2.0 */
#include "orcs/node.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

#define S_LOG_INTERVAL_US 10000000 // malformed-frame logs per source

struct orcs_node_t {
    json_t *config;                     // node config with defaults (owned)
    char *config_dir;                   // resolves relative plug-in paths
    char name[ORCS_ACTOR_NAME_MAX + 1]; // node name
    char data_dir[PATH_MAX];            // data directory
    char control[PATH_MAX + 64];        // control endpoint
    char bus_in[96];                    // XSUB side of the event bus
    char bus_out[96];                   // XPUB side of the event bus
    char link[96];                      // where child processes send
    char child_program[PATH_MAX];       // program for out-of-process children
    orcs__dir_t *dir;                   // names
    zhashx_t *kinds;                    // kind name -> orcs_actor_def_t
    zlist_t *plugins;                   // dlopen handles
    pthread_mutex_t lock;               // kinds, plugins, error, log limits
    zhashx_t *log_limits;               // source -> last log time (int64 *)
    atomic_uint_fast64_t unique;        // endpoint and client numbers
    atomic_uint_fast64_t malformed;     // every malformed frame in the node
    int send_timeout_ms;                // default wait on a full mailbox
    int spin_us;                        // actors watch for mail after work
    int finished_tasks;                 // kept in memory by the orchestrator
    int max_message_bytes;              // socket size limit for outside peers
    zactor_t *bus;                      // zproxy
    orcs_client_t *inbox;               // top supervisors report here
    zsock_t *system_mailbox;            // mailbox of the system supervisor
    zsock_t *root_mailbox;              // mailbox of the root supervisor
    orcs_actor_t *system;               // system supervisor (status, link)
    orcs_actor_t *root;                 // the user's supervision tree
    int stop_pipe[2];                   // request_stop and signals write here
    int lock_fd;                        // flock on DATA/node.lock
    orcs_store_t *store;                // DATA/store while started
    int64_t started_at;                 // mono us
    bool started;                       // start succeeded
    bool stopped;                       // stop ran
    char error[768];                    // last error text
    zlistx_t *exts;                     // s_ext_t: named extension objects
    zlistx_t *reload_hooks;             // s_hook_t, in registration order
    pthread_rwlock_t subs_lock;         // guards subs
    zhashx_t *subs;                     // prefix -> count (uintptr_t)
    char **sub_list;                    // the prefixes of subs, for lookups
    size_t sub_list_count;
    atomic_int sub_count; // subscriptions in all
};

// An object another layer keeps on the node (the tool registry, hooks).
typedef struct {
    char *name;
    void *object;
    orcs_node_ext_destroy_fn *destroy;
} s_ext_t;

typedef struct {
    char *name;
    orcs_node_reload_fn *fn;
    void *arg;
} s_hook_t;

extern const orcs_actor_def_t orcs__echo_def;
extern const orcs_actor_def_t orcs__flaky_def;
extern const orcs_actor_def_t orcs__memory_def;
extern const orcs_actor_def_t orcs__agent_def;
extern const orcs_actor_def_t orcs__model_def;
extern const orcs_actor_def_t orcs__toolexec_def;
extern const orcs_actor_def_t orcs__orchestrator_def;

static void
s_kind_add(orcs_node_t *self, const orcs_actor_def_t *def)
{
    zhashx_insert(self->kinds, def->kind, (void *) def);
}

orcs_node_t *
orcs_node_new(void)
{
    orcs_node_t *self = orcs_calloc(1, sizeof *self);
    pthread_mutex_init(&self->lock, NULL);
    self->dir = orcs__dir_new();
    self->kinds = zhashx_new();
    self->exts = zlistx_new();
    self->subs = zhashx_new();
    pthread_rwlock_init(&self->subs_lock, NULL);
    self->reload_hooks = zlistx_new();
    self->plugins = zlist_new();
    self->log_limits = zhashx_new();
    zhashx_set_destructor(self->log_limits, (zhashx_destructor_fn *) zstr_free);
    self->stop_pipe[0] = self->stop_pipe[1] = -1;
    self->lock_fd = -1;
    s_kind_add(self, &orcs__supervisor_def);
    s_kind_add(self, &orcs__status_def);
    s_kind_add(self, &orcs__link_def);
    s_kind_add(self, &orcs__echo_def);
    s_kind_add(self, &orcs__flaky_def);
    s_kind_add(self, &orcs__memory_def);
    s_kind_add(self, &orcs__agent_def);
    s_kind_add(self, &orcs__model_def);
    s_kind_add(self, &orcs__toolexec_def);
    s_kind_add(self, &orcs__orchestrator_def);
    orcs_config_t *config = orcs_config_new_default();
    orcs_node_configure(self, orcs_config_doc(config), NULL);
    orcs_config_destroy(&config);
    if (readlink("/proc/self/exe", self->child_program,
                 sizeof self->child_program - 1)
        < 0)
        snprintf(self->child_program, sizeof self->child_program, "orcs");
    return self;
}

void
orcs_node_destroy(orcs_node_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    orcs_node_t *self = *self_p;
    orcs_node_stop(self);
    orcs_store_destroy(&self->store); // when start failed half-way
    s_hook_t *hook;
    while ((hook = zlistx_detach(self->reload_hooks, NULL))) {
        free(hook->name);
        free(hook);
    }
    zlistx_destroy(&self->reload_hooks);
    s_ext_t *ext; // newest first: later layers may use earlier ones
    while ((ext = zlistx_last(self->exts))) {
        zlistx_detach_cur(self->exts);
        if (ext->destroy)
            ext->destroy(ext->object);
        free(ext->name);
        free(ext);
    }
    zlistx_destroy(&self->exts);
    zhashx_destroy(&self->subs);
    for (size_t i = 0; i < self->sub_list_count; i++)
        free(self->sub_list[i]);
    free(self->sub_list);
    pthread_rwlock_destroy(&self->subs_lock);
    void *handle;
    while ((handle = zlist_pop(self->plugins)))
        dlclose(handle);
    zlist_destroy(&self->plugins);
    zhashx_destroy(&self->kinds);
    zhashx_destroy(&self->log_limits);
    orcs__dir_destroy(&self->dir);
    json_decref(self->config);
    free(self->config_dir);
    pthread_mutex_destroy(&self->lock);
    free(self);
    *self_p = NULL;
}

static int
s_limit(const json_t *config, const char *key, int dflt)
{
    json_t *value = json_object_get(json_object_get(config, "limits"), key);
    return json_is_integer(value) ? (int) json_integer_value(value) : dflt;
}

orcs_status
orcs_node_configure(orcs_node_t *self,
                    const json_t *config,
                    const char *config_dir)
{
    orcs_assert(self && config);
    if (self->started)
        return ORCS_EINVAL;
    if (!json_is_object(config)) {
        orcs__node_set_error(self, "node config is not an object");
        return ORCS_ECONFIG;
    }
    json_t *copy = json_deep_copy(config);
    json_decref(self->config);
    self->config = copy;
    free(self->config_dir);
    self->config_dir = orcs_strdup(config_dir ? config_dir : ".");
    const char *name = json_string_value(json_object_get(copy, "node"));
    snprintf(self->name, sizeof self->name, "%s", name ? name : "local");
    const char *data = json_string_value(json_object_get(copy, "data"));
    snprintf(self->data_dir, sizeof self->data_dir, "%s",
             data ? data : "./orcs-data");
    const char *control = json_string_value(json_object_get(copy, "control"));
    if (control)
        snprintf(self->control, sizeof self->control, "%s", control);
    else
        self->control[0] = 0;
    self->send_timeout_ms = s_limit(copy, "send_timeout_ms", 5000);
    self->spin_us = s_limit(copy, "spin_us", 200);
    self->finished_tasks = s_limit(copy, "finished_tasks", 200000);
    self->max_message_bytes =
        s_limit(copy, "max_message_bytes", 16 * 1024 * 1024);
    orcs__sys_set_max_sockets((size_t) s_limit(copy, "max_sockets", 16384));
    const char *level = json_string_value(json_object_get(copy, "log_level"));
    if (level) {
        static const char *const levels[] = {"error", "warn", "info", "debug"};
        for (int i = 0; i < 4; i++)
            if (strcmp(level, levels[i]) == 0)
                orcs_log_level_set((orcs_log_level) i);
    }
    // inproc endpoints are released asynchronously when their socket
    // closes: every node of a process gets names of its own.
    unsigned id = orcs__sys_next_id();
    snprintf(self->bus_in, sizeof self->bus_in, "inproc://orcs.%u.bus.in", id);
    snprintf(self->bus_out, sizeof self->bus_out, "inproc://orcs.%u.bus.out",
             id);
    snprintf(self->link, sizeof self->link, "ipc://@orcs.%d.%u.link",
             (int) getpid(), id);
    return ORCS_OK;
}

orcs_status
orcs_node_register_kind(orcs_node_t *self, const orcs_actor_def_t *def)
{
    orcs_assert(self && def);
    if (def->abi != ORCS_ACTOR_ABI || !def->receive || !def->kind)
        return ORCS_EINVAL;
    pthread_mutex_lock(&self->lock);
    orcs_status rc = zhashx_insert(self->kinds, def->kind, (void *) def) == 0
                         ? ORCS_OK
                         : ORCS_EEXIST;
    pthread_mutex_unlock(&self->lock);
    return rc;
}

orcs_status
orcs_node_set_child_program(orcs_node_t *self, const char *path)
{
    snprintf(self->child_program, sizeof self->child_program, "%s", path);
    return ORCS_OK;
}

static bool
s_is_path(const char *kind)
{
    size_t n = strlen(kind);
    return strchr(kind, '/') || (n > 3 && strcmp(kind + n - 3, ".so") == 0);
}

// Loads a plug-in once; its def is then cached under its path.
static orcs_status
s_load_plugin(orcs_node_t *self,
              const char *path,
              const orcs_actor_def_t **def_p,
              char *err,
              size_t err_size)
{
    char resolved[PATH_MAX];
    snprintf(resolved, sizeof resolved, "%s", path);
    if (path[0] != '/' && access(path, R_OK) != 0)
        snprintf(resolved, sizeof resolved, "%s/%s", self->config_dir, path);
    char absolute[PATH_MAX];
    if (!realpath(resolved, absolute)) {
        snprintf(err, err_size, "plug-in %s: %s", path, strerror(errno));
        return ORCS_ECONFIG;
    }
    void *handle = dlopen(absolute, RTLD_NOW | RTLD_LOCAL);
    if (!handle) {
        snprintf(err, err_size, "plug-in %s: %s", path, dlerror());
        return ORCS_ECONFIG;
    }
    orcs_actor_plugin_fn *entry = NULL;
    *(void **) &entry = dlsym(handle, ORCS_ACTOR_PLUGIN_SYMBOL);
    const orcs_actor_def_t *def = entry ? entry() : NULL;
    if (!def || def->abi != ORCS_ACTOR_ABI || !def->receive) {
        snprintf(err, err_size, "plug-in %s: no valid %s() (abi %u expected)",
                 path, ORCS_ACTOR_PLUGIN_SYMBOL, ORCS_ACTOR_ABI);
        dlclose(handle);
        return ORCS_ECONFIG;
    }
    zlist_append(self->plugins, handle);
    zhashx_insert(self->kinds, path, (void *) def);
    *def_p = def;
    return ORCS_OK;
}

orcs_status
orcs__node_kind(orcs_node_t *node,
                const char *kind,
                const orcs_actor_def_t **def_p,
                char *err,
                size_t err_size)
{
    *def_p = NULL;
    if (!kind || !kind[0]) {
        snprintf(err, err_size, "no actor kind given");
        return ORCS_ECONFIG;
    }
    pthread_mutex_lock(&node->lock);
    orcs_status rc = ORCS_OK;
    *def_p = zhashx_lookup(node->kinds, kind);
    if (!*def_p && s_is_path(kind))
        rc = s_load_plugin(node, kind, def_p, err, err_size);
    else if (!*def_p) {
        snprintf(err, err_size, "unknown actor kind '%s'", kind);
        rc = ORCS_ECONFIG;
    }
    pthread_mutex_unlock(&node->lock);
    return rc;
}

// ---- accessors for the other modules

orcs__dir_t *
orcs__node_dir(orcs_node_t *node)
{
    return node->dir;
}

const char *
orcs__node_bus_in(orcs_node_t *node)
{
    return node->bus_in;
}

const char *
orcs__node_bus_out(orcs_node_t *node)
{
    return node->bus_out;
}

uint64_t
orcs__node_unique(orcs_node_t *node)
{
    return atomic_fetch_add(&node->unique, 1) + 1;
}

int
orcs__node_send_timeout_ms(orcs_node_t *node)
{
    return node->send_timeout_ms;
}

int
orcs__node_spin_us(orcs_node_t *node)
{
    return node->spin_us;
}

int
orcs__node_finished_tasks(orcs_node_t *node)
{
    return node->finished_tasks;
}

int
orcs__node_max_message_bytes(orcs_node_t *node)
{
    return node->max_message_bytes;
}

const char *
orcs__node_child_program(orcs_node_t *node)
{
    return node->child_program;
}

const char *
orcs__node_link_endpoint(orcs_node_t *node)
{
    return node->link;
}

const char *
orcs__node_config_dir(orcs_node_t *node)
{
    return node->config_dir ? node->config_dir : ".";
}

const json_t *
orcs__node_config(orcs_node_t *node)
{
    return node->config;
}

void
orcs__node_set_error(orcs_node_t *node, const char *fmt, ...)
{
    pthread_mutex_lock(&node->lock);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(node->error, sizeof node->error, fmt, ap);
    va_end(ap);
    pthread_mutex_unlock(&node->lock);
}

const char *
orcs_node_error(orcs_node_t *self, char *buf, size_t size)
{
    pthread_mutex_lock(&self->lock);
    snprintf(buf, size, "%s", self->error);
    pthread_mutex_unlock(&self->lock);
    return buf;
}

const char *
orcs_node_name(const orcs_node_t *self)
{
    return self->name;
}

const char *
orcs_node_data_dir(const orcs_node_t *self)
{
    return self->data_dir;
}

orcs_store_t *
orcs_node_store(orcs_node_t *self)
{
    return self->store;
}

const char *
orcs_node_control_endpoint(const orcs_node_t *self)
{
    return self->control;
}

void
orcs__malformed(orcs_node_t *node,
                orcs__entry_t *entry,
                const char *where,
                orcs_status status)
{
    if (entry)
        atomic_fetch_add(&entry->malformed, 1);
    uint64_t total = atomic_fetch_add(&node->malformed, 1) + 1;
    int64_t now = orcs_clock_mono_us();
    bool log = false;
    pthread_mutex_lock(&node->lock);
    char *last = zhashx_lookup(node->log_limits, where);
    if (!last || now - strtoll(last, NULL, 10) >= S_LOG_INTERVAL_US) {
        char stamp[32];
        snprintf(stamp, sizeof stamp, "%lld", (long long) now);
        zhashx_update(node->log_limits, where, strdup(stamp));
        log = true;
    }
    pthread_mutex_unlock(&node->lock);
    if (log)
        orcs_log_warn("node",
                      "malformed frame dropped at=%s status=%s total=%llu "
                      "(logged at most every 10 s per source)",
                      where, orcs_status_name(status),
                      (unsigned long long) total);
}

// ---- start and stop

static orcs_status
s_mkdirs(const char *path)
{
    char buf[PATH_MAX];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = 0;
        if (mkdir(buf, 0700) != 0 && errno != EEXIST)
            return ORCS_EIO;
        *p = '/';
    }
    if (mkdir(buf, 0700) != 0 && errno != EEXIST)
        return ORCS_EIO;
    return ORCS_OK;
}

static orcs_status
s_lock_data(orcs_node_t *self)
{
    if (s_mkdirs(self->data_dir) != ORCS_OK) {
        orcs__node_set_error(self, "cannot create data directory %s: %s",
                             self->data_dir, strerror(errno));
        return ORCS_EIO;
    }
    char path[PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/node.lock", self->data_dir);
    self->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (self->lock_fd < 0 || flock(self->lock_fd, LOCK_EX | LOCK_NB) != 0) {
        orcs__node_set_error(self,
                             "another node is running on data directory %s",
                             self->data_dir);
        if (self->lock_fd >= 0)
            close(self->lock_fd);
        self->lock_fd = -1;
        return ORCS_EIO;
    }
    char pid[32];
    int n = snprintf(pid, sizeof pid, "%d\n", (int) getpid());
    if (ftruncate(self->lock_fd, 0) != 0 || write(self->lock_fd, pid, n) != n)
        orcs_log_warn("node", "cannot write pid to %s", path);
    if (!self->control[0]) {
        char absolute[PATH_MAX];
        if (!realpath(self->data_dir, absolute))
            snprintf(absolute, sizeof absolute, "%s", self->data_dir);
        snprintf(self->control, sizeof self->control, "ipc://%s/control.sock",
                 absolute);
        if (strlen(self->control) - 6 >= 108) {
            orcs__node_set_error(self,
                                 "data directory path too long for an ipc "
                                 "socket (max 107 bytes): %s",
                                 absolute);
            return ORCS_EIO;
        }
    }
    return ORCS_OK;
}

// An integer of the config's `store` mapping (config.c filled defaults).
static json_int_t
s_store_int(const json_t *config, const char *key, json_int_t dflt)
{
    json_t *value = json_object_get(json_object_get(config, "store"), key);
    return json_is_integer(value) ? json_integer_value(value) : dflt;
}

static orcs_status
s_open_store(orcs_node_t *self)
{
    const char *durability = json_string_value(
        json_object_get(json_object_get(self->config, "store"), "durability"));
    orcs_store_opts_t opts = {
        .map_size = (size_t) s_store_int(self->config, "map_size_mb", 64) << 20,
        .map_max = (size_t) s_store_int(self->config, "map_max_mb", 65536)
                   << 20,
        .relaxed = durability && strcmp(durability, "relaxed") == 0,
        .sync_ms = (int) s_store_int(self->config, "sync_ms", 100),
        .spin_us = self->spin_us,
    };
    char path[PATH_MAX + 8];
    snprintf(path, sizeof path, "%s/store", self->data_dir);
    self->store = orcs_store_new();
    orcs_status rc = orcs_store_open(self->store, path, &opts);
    if (rc != ORCS_OK) {
        orcs__node_set_error(self, "cannot open the store in %s: %s", path,
                             orcs_status_str(rc));
        orcs_store_destroy(&self->store);
    }
    return rc;
}

static orcs_status
s_start_top(orcs_node_t *self,
            const char *name,
            const json_t *spec,
            zsock_t **mailbox_p,
            orcs_actor_t **actor_p)
{
    orcs__entry_t *entry = orcs__dir_get(self->dir, name, true);
    entry->is_supervisor = true;
    snprintf(entry->kind, sizeof entry->kind, "supervisor");
    char endpoint[160];
    orcs_status rc = orcs__mailbox_new(self, name, 10000, false, mailbox_p,
                                       endpoint, sizeof endpoint);
    if (rc != ORCS_OK)
        return rc;
    orcs__dir_set_endpoint(self->dir, entry, endpoint);
    orcs__spawn_opts_t opts = {
        .def = &orcs__supervisor_def,
        .name = name,
        .parent = ORCS__NODE_INBOX,
        .config = spec,
        .entry = entry,
        .mailbox = *mailbox_p,
        .incarnation = 1,
    };
    char err[512] = "";
    rc = orcs__actor_spawn(self, &opts, actor_p, err, sizeof err);
    if (rc != ORCS_OK) {
        char known[768];
        orcs_node_error(self, known, sizeof known);
        if (!known[0])
            orcs__node_set_error(self, "%s supervisor: %s", name, err);
    }
    return rc;
}

orcs_status
orcs_node_start(orcs_node_t *self)
{
    orcs_assert(self && !self->started);
    orcs__node_set_error(self, "%s", "");
    // As servers do: every model request and tool call in flight holds a
    // socket or a pipe, so take all the open files the hard limit allows.
    struct rlimit files;
    if (getrlimit(RLIMIT_NOFILE, &files) == 0
        && files.rlim_cur < files.rlim_max) {
        files.rlim_cur = files.rlim_max;
        setrlimit(RLIMIT_NOFILE, &files);
    }
    orcs_status rc = s_lock_data(self);
    if (rc == ORCS_OK)
        rc = s_open_store(self);
    if (rc != ORCS_OK) {
        if (self->lock_fd >= 0)
            close(self->lock_fd);
        self->lock_fd = -1;
        return rc;
    }
    if (pipe2(self->stop_pipe, O_CLOEXEC | O_NONBLOCK) != 0)
        return ORCS_EIO;
    self->started_at = orcs_clock_mono_us();
    self->bus = zactor_new(zproxy, NULL);
    zstr_sendx(self->bus, "FRONTEND", "XSUB", self->bus_in, NULL);
    zsock_wait(self->bus);
    zstr_sendx(self->bus, "BACKEND", "XPUB", self->bus_out, NULL);
    zsock_wait(self->bus);
    self->inbox = orcs__client_new_named(self, ORCS__NODE_INBOX);
    self->started = true;
    // The system actors: the control endpoint, links to child processes,
    // the LLM gateway, the tool runner, an agent actor serving any agent
    // file (docs/agents.md) and the workflow engine (docs/workflows.md).
    json_t *system = json_pack(
        "{s:s, s:i, s:i, s:[{s:s, s:s}, {s:s, s:s}, {s:s, s:s, s:i}, "
        "{s:s, s:s, s:i}, {s:s, s:s, s:i}, {s:s, s:s, s:i}]}",
        "strategy", "one_for_one", "intensity", 10, "period_s", 10, "children",
        "name", "status", "actor", "status", "name", "link", "actor", "link",
        "name", "model", "actor", "model", "mailbox", 100000, "name",
        "toolexec", "actor", "toolexec", "mailbox", 100000, "name", "agents",
        "actor", "agent", "mailbox", 100000, "name", "orchestrator", "actor",
        "orchestrator", "mailbox", 100000);
    rc = s_start_top(self, "system", system, &self->system_mailbox,
                     &self->system);
    json_decref(system);
    if (rc == ORCS_OK)
        rc = s_start_top(self, "root",
                         json_object_get(self->config, "supervisor"),
                         &self->root_mailbox, &self->root);
    if (rc != ORCS_OK) {
        orcs_node_stop(self);
        return rc == ORCS_ECONFIG ? ORCS_ECONFIG : rc;
    }
    orcs_log_info("node", "started node=%s data=%s control=%s", self->name,
                  self->data_dir, self->control);
    return ORCS_OK;
}

void
orcs_node_request_stop(orcs_node_t *self)
{
    if (self->stop_pipe[1] >= 0) {
        char byte = 0;
        ssize_t n = write(self->stop_pipe[1], &byte, 1);
        (void) n;
    }
}

orcs_status
orcs_node_run(orcs_node_t *self)
{
    orcs_assert(self && self->started);
    orcs__sys_catch_signals(self->stop_pipe[1]);
    orcs_status result = ORCS_OK;
    void *inbox = self->inbox->actor.mailbox_raw;
    for (;;) {
        zmq_pollitem_t items[2] = {{inbox, 0, ZMQ_POLLIN, 0},
                                   {NULL, self->stop_pipe[0], ZMQ_POLLIN, 0}};
        if (zmq_poll(items, 2, -1) < 0 && zmq_errno() != EINTR)
            break;
        if (items[1].revents & ZMQ_POLLIN) {
            char byte = 0;
            if (read(self->stop_pipe[0], &byte, 1) == 1 && byte == 'H') {
                json_decref(orcs_node_reload(self)); // SIGHUP
                continue;
            }
            orcs_log_info("node", "stop requested node=%s", self->name);
            break;
        }
        orcs_msg_t *msg = NULL;
        if (orcs_client_recv(self->inbox, 0, &msg) != ORCS_OK)
            continue;
        if (orcs_msg_kind_of(msg) == ORCS_MSG_EXIT) {
            const json_t *body = NULL;
            const char *reason = NULL;
            if (orcs_msg_body(msg, &body) == ORCS_OK)
                reason = json_string_value(json_object_get(body, "reason"));
            result = orcs_msg_status(msg) != ORCS_OK ? orcs_msg_status(msg)
                                                     : ORCS_EFAILED;
            orcs__node_set_error(self, "%s supervisor failed: %s",
                                 orcs_msg_from(msg), reason ? reason : "");
            orcs_log_error("node", "%s supervisor failed: %s; stopping node",
                           orcs_msg_from(msg), reason ? reason : "");
            orcs_msg_destroy(&msg);
            break;
        }
        orcs_msg_destroy(&msg);
    }
    orcs__sys_release_signals();
    orcs_node_stop(self);
    return result;
}

orcs_status
orcs_node_stop(orcs_node_t *self)
{
    if (!self->started || self->stopped)
        return ORCS_OK;
    self->stopped = true;
    // The root supervisor stops its children in reverse start order, each
    // within its shutdown_ms; then the system actors go.
    orcs__actor_halt(&self->root, 600000);
    zsock_destroy(&self->root_mailbox);
    orcs__actor_halt(&self->system, 60000);
    zsock_destroy(&self->system_mailbox);
    orcs_client_destroy(&self->inbox);
    // Give hung threads that were abandoned a chance to return and close
    // their sockets before the bus and context go.
    for (int i = 0; i < 1000 && orcs__sys_abandoned() > 0; i++)
        zclock_sleep(10);
    orcs_store_destroy(&self->store); // after every actor that may write
    zactor_destroy(&self->bus);
    if (self->stop_pipe[0] >= 0) {
        close(self->stop_pipe[0]);
        close(self->stop_pipe[1]);
        self->stop_pipe[0] = self->stop_pipe[1] = -1;
    }
    if (self->lock_fd >= 0) {
        close(self->lock_fd);
        self->lock_fd = -1;
    }
    orcs_log_info("node", "stopped node=%s", self->name);
    return ORCS_OK;
}

json_t *
orcs_node_status(orcs_node_t *self)
{
    int64_t up = self->started ? orcs_clock_mono_us() - self->started_at : 0;
    return json_pack("{s:s, s:i, s:s, s:s, s:f, s:I, s:o}", "node", self->name,
                     "pid", (int) getpid(), "data", self->data_dir, "control",
                     self->control, "uptime_s", up / 1e6, "malformed",
                     (json_int_t) atomic_load(&self->malformed), "actors",
                     orcs__dir_status(self->dir));
}

static orcs_status
s_supervisor_ask(orcs_node_t *self,
                 const char *supervisor,
                 const char *type,
                 json_t *body)
{
    orcs__entry_t *entry = orcs__dir_get(self->dir, supervisor, false);
    if (!entry || !entry->is_supervisor || entry->removed) {
        json_decref(body);
        return ORCS_ENOTFOUND;
    }
    orcs_client_t *client = orcs_client_new(self);
    orcs_msg_t *msg = orcs_msg_new(type);
    orcs_msg_set_body(msg, &body);
    orcs_msg_t *reply = NULL;
    orcs_status rc = orcs_client_ask(client, supervisor, &msg, 30000, &reply);
    if (rc == ORCS_OK) {
        rc = orcs_msg_status(reply);
        const json_t *detail = NULL;
        if (rc != ORCS_OK && orcs_msg_body(reply, &detail) == ORCS_OK
            && json_object_get(detail, "error"))
            orcs__node_set_error(
                self, "%s",
                json_string_value(json_object_get(detail, "error")));
    }
    orcs_msg_destroy(&msg);
    orcs_msg_destroy(&reply);
    orcs_client_destroy(&client);
    return rc;
}

orcs_status
orcs_node_start_child(orcs_node_t *self,
                      const char *supervisor,
                      const char *name,
                      const json_t *config)
{
    json_t *body = json_pack("{s:s, s:O?}", "name", name, "config", config);
    return s_supervisor_ask(self, supervisor, "$start_child", body);
}

orcs_status
orcs_node_stop_child(orcs_node_t *self,
                     const char *supervisor,
                     const char *name)
{
    json_t *body = json_pack("{s:s}", "name", name);
    return s_supervisor_ask(self, supervisor, "$stop_child", body);
}

orcs_status
orcs_control_request(const char *endpoint,
                     const char *type,
                     const json_t *body,
                     int timeout_ms,
                     json_t **reply_p)
{
    *reply_p = NULL;
    zsock_t *sock = zsock_new(ZMQ_DEALER);
    zsock_set_linger(sock, 0);
    zsock_set_maxmsgsize(sock, 256 * 1024 * 1024);
    if (zsock_connect(sock, "%s", endpoint) < 0) {
        zsock_destroy(&sock);
        return ORCS_EINVAL;
    }
    orcs_msg_t *msg = orcs_msg_new_json(type, body);
    msg->env.kind = ORCS_MSG_ASK;
    msg->env.correlation_id = 1;
    orcs_status rc = orcs__msg_send(msg, zsock_resolve(sock), 0);
    orcs_msg_destroy(&msg);
    if (rc == ORCS_OK) {
        zmq_pollitem_t item = {zsock_resolve(sock), 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&item, 1, timeout_ms) <= 0)
            rc = ORCS_ETIMEDOUT;
        else
            rc = orcs__msg_recv(zsock_resolve(sock), 0, &msg);
    }
    if (rc == ORCS_OK) {
        rc = orcs_msg_status(msg);
        json_t *doc = NULL;
        orcs_status body_rc = orcs_msg_take_body(msg, &doc);
        if (body_rc != ORCS_OK && rc == ORCS_OK)
            rc = body_rc;
        *reply_p = doc;
    }
    orcs_msg_destroy(&msg);
    zsock_destroy(&sock);
    return rc;
}

orcs_status
orcs_node_ext_set(orcs_node_t *self,
                  const char *name,
                  void *object,
                  orcs_node_ext_destroy_fn *destroy)
{
    orcs_assert(self && name && object);
    pthread_mutex_lock(&self->lock);
    for (s_ext_t *ext = zlistx_first(self->exts); ext;
         ext = zlistx_next(self->exts))
        if (strcmp(ext->name, name) == 0) {
            pthread_mutex_unlock(&self->lock);
            return ORCS_EEXIST;
        }
    s_ext_t *ext = orcs_calloc(1, sizeof *ext);
    ext->name = orcs_strdup(name);
    ext->object = object;
    ext->destroy = destroy;
    zlistx_add_end(self->exts, ext);
    pthread_mutex_unlock(&self->lock);
    return ORCS_OK;
}

void *
orcs_node_ext(orcs_node_t *self, const char *name)
{
    orcs_assert(self && name);
    void *object = NULL;
    pthread_mutex_lock(&self->lock);
    for (s_ext_t *ext = zlistx_first(self->exts); ext && !object;
         ext = zlistx_next(self->exts))
        if (strcmp(ext->name, name) == 0)
            object = ext->object;
    pthread_mutex_unlock(&self->lock);
    return object;
}

orcs_status
orcs_node_on_reload(orcs_node_t *self,
                    const char *name,
                    orcs_node_reload_fn *fn,
                    void *arg)
{
    orcs_assert(self && name && fn);
    pthread_mutex_lock(&self->lock);
    for (s_hook_t *hook = zlistx_first(self->reload_hooks); hook;
         hook = zlistx_next(self->reload_hooks))
        if (strcmp(hook->name, name) == 0) {
            pthread_mutex_unlock(&self->lock);
            return ORCS_EEXIST;
        }
    s_hook_t *hook = orcs_calloc(1, sizeof *hook);
    hook->name = orcs_strdup(name);
    hook->fn = fn;
    hook->arg = arg;
    zlistx_add_end(self->reload_hooks, hook);
    pthread_mutex_unlock(&self->lock);
    return ORCS_OK;
}

json_t *
orcs_node_reload(orcs_node_t *self)
{
    orcs_assert(self);
    json_t *report = json_object();
    // Hooks run under the lock, one reload at a time; they must not call
    // back into the node's extension or hook functions.
    pthread_mutex_lock(&self->lock);
    for (s_hook_t *hook = zlistx_first(self->reload_hooks); hook;
         hook = zlistx_next(self->reload_hooks)) {
        json_t *part = hook->fn(self, hook->arg);
        json_object_set_new(report, hook->name, part ? part : json_null());
    }
    pthread_mutex_unlock(&self->lock);
    orcs_log_info("node", "reloaded node=%s", self->name);
    return report;
}

// Rebuilds the list of subscribed prefixes (the write lock is held).
static void
s_sub_list_rebuild(orcs_node_t *node)
{
    for (size_t i = 0; i < node->sub_list_count; i++)
        free(node->sub_list[i]);
    free(node->sub_list);
    node->sub_list_count = 0;
    node->sub_list =
        orcs_malloc((zhashx_size(node->subs) + 1) * sizeof *node->sub_list);
    for (void *item = zhashx_first(node->subs); item;
         item = zhashx_next(node->subs))
        node->sub_list[node->sub_list_count++] =
            orcs_strdup(zhashx_cursor(node->subs));
}

void
orcs__node_sub_add(orcs_node_t *node, const char *prefix)
{
    pthread_rwlock_wrlock(&node->subs_lock);
    uintptr_t count = (uintptr_t) zhashx_lookup(node->subs, prefix);
    zhashx_update(node->subs, prefix, (void *) (count + 1));
    if (count == 0)
        s_sub_list_rebuild(node);
    atomic_fetch_add(&node->sub_count, 1);
    pthread_rwlock_unlock(&node->subs_lock);
}

void
orcs__node_sub_remove(orcs_node_t *node, const char *prefix)
{
    pthread_rwlock_wrlock(&node->subs_lock);
    uintptr_t count = (uintptr_t) zhashx_lookup(node->subs, prefix);
    if (count > 1)
        zhashx_update(node->subs, prefix, (void *) (count - 1));
    else if (count == 1) {
        zhashx_delete(node->subs, prefix);
        s_sub_list_rebuild(node);
    }
    if (count > 0)
        atomic_fetch_sub(&node->sub_count, 1);
    pthread_rwlock_unlock(&node->subs_lock);
}

bool
orcs__node_has_subscriber(orcs_node_t *node, const char *topic)
{
    if (atomic_load(&node->sub_count) == 0)
        return false;
    bool found = false;
    char prefix[ORCS_MSG_TOPIC_MAX + 1];
    size_t len = strlen(topic);
    if (len > ORCS_MSG_TOPIC_MAX)
        len = ORCS_MSG_TOPIC_MAX;
    pthread_rwlock_rdlock(&node->subs_lock);
    if (node->sub_list_count <= len + 1) {
        // Few subscriptions (the usual case): is one a prefix of the topic?
        for (size_t i = 0; i < node->sub_list_count && !found; i++) {
            size_t n = strlen(node->sub_list[i]);
            found = n <= len && memcmp(node->sub_list[i], topic, n) == 0;
        }
    } else {
        // Every prefix of the topic, the empty one (all events) included.
        for (size_t n = 0; n <= len && !found; n++) {
            memcpy(prefix, topic, n);
            prefix[n] = 0;
            found = zhashx_lookup(node->subs, prefix) != NULL;
        }
    }
    pthread_rwlock_unlock(&node->subs_lock);
    return found;
}
