/*  store_crasher.c — the store's crash test. `store_crasher run KILLS`
    starts itself as `store_crasher child DIR GEN` (fork + exec), lets it
    write hard from many threads, kills it with SIGKILL at a random moment,
    and checks the store, KILLS times over the same directory.
    SPDX-License-Identifier: MPL-2.0

    The child's threads each write batches of S_PARTS keys
    gGGGG/tTT/sSSSSSS/kP whose values are derived from their key, plus a
    compare-and-set of gGGGG/tTT/last (the previous seq, then this one). A
    thread prints "GEN THREAD SEQ" on stdout only after orcs_store_write
    (or the async callback) said OK. Half the threads write blocking, half
    async; even generations use sync durability, odd ones relaxed (a process
    crash must lose nothing in either). The map starts at 1 MiB so it grows
    while the child is killed.

    After each kill the parent reopens the store and checks that every key
    has its exact value, every batch has all its parts (none half-written),
    each thread's batches are exactly seq 0..last with no gap, and every
    acknowledged seq is there. Set STORE_CRASH_SEED to replay a run.

    `store_crasher resize` checks that a store keeps working while another
    process grows its map (MDB_MAP_RESIZED). */
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "orcs/orcs.h"

#define S_THREADS 8    // writer threads in the child
#define S_PARTS   4    // keys per batch
#define S_GENS    1000 // most generations (kills) a run may ask for
#define S_KILL_MS 5    // the kill comes S_KILL_MS..S_KILL_MS+S_SPAN_MS
#define S_SPAN_MS 500  // after the child starts
#define S_BIG     6000 // every 64th value is this big (overflow pages)

static int
s_fail(const char *fmt, const char *detail)
{
    fprintf(stderr, "store_crasher: ");
    fprintf(stderr, fmt, detail);
    fprintf(stderr, "\n");
    return 1;
}

// ---- values

static uint64_t
s_hash(const void *data, size_t size)
{
    const uint8_t *b = data;
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < size; i++)
        h = (h ^ b[i]) * 1099511628211ull;
    return h;
}

// The value of a key: its size and bytes follow from the key alone.
static size_t
s_value(const char *key, size_t key_size, uint8_t *buf)
{
    uint64_t seed = s_hash(key, key_size);
    size_t size = seed % 64 == 0 ? S_BIG : 16 + (size_t) (seed % 500);
    for (size_t i = 0; i < size; i++) {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        buf[i] = (uint8_t) (seed >> 56);
    }
    return size;
}

static orcs_store_opts_t
s_opts(int gen)
{
    orcs_store_opts_t opts = {.map_size = 1024 * 1024,
                              .map_max = 8ull << 30,
                              .relaxed = gen % 2 == 1,
                              .sync_ms = 20};
    return opts;
}

// ---- the child

typedef struct {
    orcs_store_t *store;
    int gen;
    int thread;
    sem_t acked; // async: the callback ran
    orcs_status status;
    int seq;
} s_writer_t;

static void
s_ack(int gen, int thread, int seq)
{
    char line[64];
    int n = snprintf(line, sizeof line, "%d %d %d\n", gen, thread, seq);
    if (write(STDOUT_FILENO, line, (size_t) n) != n)
        _exit(3); // the parent is gone
}

static void
s_async_done(orcs_status status, void *arg)
{
    s_writer_t *w = arg;
    w->status = status;
    if (status == ORCS_OK)
        s_ack(w->gen, w->thread, w->seq);
    sem_post(&w->acked);
}

static orcs_batch_t *
s_make_batch(const s_writer_t *w, uint8_t *value)
{
    orcs_batch_t *batch = orcs_batch_new();
    char key[64];
    char last[32];
    char prev[16];
    char next[16];
    int last_size =
        snprintf(last, sizeof last, "g%04d/t%02d/last", w->gen, w->thread);
    snprintf(prev, sizeof prev, "%06d", w->seq - 1);
    snprintf(next, sizeof next, "%06d", w->seq);
    orcs_batch_check(batch, ORCS_DB_MEMORY, last, (size_t) last_size,
                     w->seq ? prev : NULL, w->seq ? strlen(prev) : 0);
    for (int part = 0; part < S_PARTS; part++) {
        int n = snprintf(key, sizeof key, "g%04d/t%02d/s%06d/k%d", w->gen,
                         w->thread, w->seq, part);
        size_t size = s_value(key, (size_t) n, value);
        orcs_batch_put(batch, ORCS_DB_MEMORY, key, (size_t) n, value, size);
    }
    orcs_batch_put(batch, ORCS_DB_MEMORY, last, (size_t) last_size, next,
                   strlen(next));
    return batch;
}

static void *
s_child_thread(void *arg)
{
    s_writer_t *w = arg;
    uint8_t *value = malloc(S_BIG);
    bool async = w->thread % 2 == 1;
    for (w->seq = 0;; w->seq++) {
        orcs_batch_t *batch = s_make_batch(w, value);
        orcs_status rc;
        if (async) {
            rc = orcs_store_write_async(w->store, &batch, s_async_done, w);
            if (rc == ORCS_OK) {
                sem_wait(&w->acked);
                rc = w->status;
            }
        } else {
            rc = orcs_store_write(w->store, &batch);
            if (rc == ORCS_OK)
                s_ack(w->gen, w->thread, w->seq);
        }
        if (rc != ORCS_OK) {
            fprintf(stderr, "store_crasher: child write failed: %s\n",
                    orcs_status_str(rc));
            _exit(4);
        }
    }
    return NULL;
}

static int
s_child(const char *dir, int gen)
{
    orcs_runtime_init();
    orcs_log_level_set(ORCS_LOG_ERROR);
    orcs_store_t *store = orcs_store_new();
    orcs_store_opts_t opts = s_opts(gen);
    orcs_status rc = orcs_store_open(store, dir, &opts);
    if (rc != ORCS_OK)
        return s_fail("child: open failed: %s", orcs_status_str(rc));
    static s_writer_t writers[S_THREADS];
    pthread_t threads[S_THREADS];
    for (int i = 0; i < S_THREADS; i++) {
        writers[i] = (s_writer_t){.store = store, .gen = gen, .thread = i};
        sem_init(&writers[i].acked, 0, 0);
        pthread_create(&threads[i], NULL, s_child_thread, &writers[i]);
    }
    for (int i = 0; i < S_THREADS; i++)
        pthread_join(threads[i], NULL); // never: the parent kills us
    return 1;
}

// ---- the parent

typedef struct {
    int acked[S_GENS][S_THREADS]; // highest acknowledged seq, or -1
    int last[S_GENS][S_THREADS];  // the store's gGGGG/tTT/last, or -1
    int seen[S_GENS][S_THREADS];  // batches seen in the scan
    int cur_gen, cur_thread, cur_seq, cur_parts; // batch being scanned
    long keys;                                   // keys scanned
    char error[256];                             // first problem found
    uint8_t *value;                              // scratch
} s_check_t;

static bool
s_bad(s_check_t *c, const char *what, const void *key, size_t key_size)
{
    if (!c->error[0])
        snprintf(c->error, sizeof c->error, "%s: key %.*s", what,
                 (int) key_size, (const char *) key);
    return false;
}

// Closes the batch being counted: it must have every part, and be the
// next seq of its thread.
static bool
s_end_batch(s_check_t *c)
{
    if (c->cur_gen < 0)
        return true;
    char key[64];
    snprintf(key, sizeof key, "g%04d/t%02d/s%06d", c->cur_gen, c->cur_thread,
             c->cur_seq);
    if (c->cur_parts != S_PARTS)
        return s_bad(c, "half-written batch", key, strlen(key));
    int *seen = &c->seen[c->cur_gen][c->cur_thread];
    if (c->cur_seq != *seen)
        return s_bad(c, "gap before batch", key, strlen(key));
    (*seen)++;
    c->cur_gen = -1;
    return true;
}

static bool
s_check_entry(const void *key,
              size_t key_size,
              const void *value,
              size_t value_size,
              void *arg)
{
    s_check_t *c = arg;
    char k[128];
    if (key_size >= sizeof k)
        return s_bad(c, "unexpected key", key, key_size);
    memcpy(k, key, key_size);
    k[key_size] = 0;
    c->keys++;
    int gen, thread, seq, part;
    int end = -1; // where the pattern matched up to, -1 if it did not
    if (sscanf(k, "g%4d/t%2d/last%n", &gen, &thread, &end) == 2
        && end == (int) key_size && gen >= 0 && gen < S_GENS && thread >= 0
        && thread < S_THREADS) {
        if (!s_end_batch(c))
            return false;
        char digits[8] = "";
        if (value_size != 6)
            return s_bad(c, "bad last value", key, key_size);
        memcpy(digits, value, 6);
        c->last[gen][thread] = atoi(digits);
        return true;
    }
    end = -1;
    if (sscanf(k, "g%4d/t%2d/s%6d/k%d%n", &gen, &thread, &seq, &part, &end) != 4
        || end != (int) key_size || gen < 0 || gen >= S_GENS || thread < 0
        || thread >= S_THREADS || part < 0 || part >= S_PARTS)
        return s_bad(c, "unexpected key", key, key_size);
    size_t size = s_value(key, key_size, c->value);
    if (size != value_size || memcmp(value, c->value, size) != 0)
        return s_bad(c, "wrong value", key, key_size);
    if (gen != c->cur_gen || thread != c->cur_thread || seq != c->cur_seq) {
        if (!s_end_batch(c))
            return false;
        c->cur_gen = gen;
        c->cur_thread = thread;
        c->cur_seq = seq;
        c->cur_parts = 0;
    }
    if (part != c->cur_parts)
        return s_bad(c, "parts out of order", key, key_size);
    c->cur_parts++;
    return true;
}

// Reopens the store and checks everything written up to generation gens.
static int
s_verify(const char *dir, s_check_t *c, int gens, long *batches_p)
{
    orcs_store_t *store = orcs_store_new();
    orcs_store_opts_t opts = s_opts(gens);
    orcs_status rc = orcs_store_open(store, dir, &opts);
    if (rc != ORCS_OK) {
        orcs_store_destroy(&store);
        return s_fail("reopen failed: %s", orcs_status_str(rc));
    }
    for (int g = 0; g < gens; g++) {
        for (int t = 0; t < S_THREADS; t++) {
            c->last[g][t] = -1;
            c->seen[g][t] = 0;
        }
    }
    c->cur_gen = -1;
    c->keys = 0;
    orcs_store_txn_t *txn = NULL;
    rc = orcs_store_txn_begin(store, &txn);
    if (rc == ORCS_OK)
        rc =
            orcs_store_txn_scan(txn, ORCS_DB_MEMORY, NULL, 0, s_check_entry, c);
    orcs_store_txn_end(&txn);
    orcs_store_destroy(&store);
    if (rc != ORCS_OK)
        return s_fail("scan failed: %s", orcs_status_str(rc));
    if (!c->error[0])
        s_end_batch(c);
    if (c->error[0])
        return s_fail("%s", c->error);
    long batches = 0;
    for (int g = 0; g < gens; g++) {
        for (int t = 0; t < S_THREADS; t++) {
            char where[64];
            snprintf(where, sizeof where, "g%04d/t%02d", g, t);
            if (c->seen[g][t] != c->last[g][t] + 1)
                return s_fail("batches and last disagree at %s", where);
            if (c->acked[g][t] > c->last[g][t])
                return s_fail("acknowledged batch lost at %s", where);
            batches += c->seen[g][t];
        }
    }
    *batches_p = batches;
    return 0;
}

// Reads the child's acknowledgements ("GEN THREAD SEQ" lines) until the
// kill time, kills it, reads the rest. Returns 0, or 1 when the child
// ended by itself.
static int
s_watch(pid_t pid, int fd, int64_t kill_at_us, s_check_t *c, long *acks_p)
{
    char buf[8192];
    size_t used = 0;
    bool killed = false;
    for (;;) {
        int64_t left_ms = (kill_at_us - orcs_clock_mono_us()) / 1000;
        if (!killed && left_ms <= 0) {
            kill(pid, SIGKILL);
            killed = true;
        }
        struct pollfd item = {fd, POLLIN, 0};
        if (poll(&item, 1, killed ? -1 : (int) left_ms) == 0)
            continue;
        ssize_t n = read(fd, buf + used, sizeof buf - used);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break; // every copy of the write end is closed: the child died
        used += (size_t) n;
        char *line = buf;
        char *end;
        while ((end = memchr(line, '\n', used - (size_t) (line - buf)))) {
            int gen, thread, seq;
            *end = 0;
            if (sscanf(line, "%d %d %d", &gen, &thread, &seq) == 3 && gen >= 0
                && gen < S_GENS && thread >= 0 && thread < S_THREADS) {
                if (seq > c->acked[gen][thread])
                    c->acked[gen][thread] = seq;
                (*acks_p)++;
            }
            line = end + 1;
        }
        used -= (size_t) (line - buf);
        memmove(buf, line, used);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    if (!killed || !WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL) {
        fprintf(stderr,
                "store_crasher: child ended by itself (wait status %d)\n",
                status);
        return 1;
    }
    return 0;
}

static pid_t
s_spawn(const char *dir, int gen, int *fd_p)
{
    int fds[2];
    if (pipe(fds) != 0)
        return -1;
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0)
        return -1;
    self[n] = 0;
    char gen_text[16];
    snprintf(gen_text, sizeof gen_text, "%d", gen);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fds[1], STDOUT_FILENO);
        close(fds[0]);
        close(fds[1]);
        execl(self, self, "child", dir, gen_text, (char *) NULL);
        fprintf(stderr, "store_crasher: exec %s: %s\n", self, strerror(errno));
        _exit(127);
    }
    close(fds[1]);
    *fd_p = fds[0];
    return pid;
}

static int
s_rm(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void) st;
    (void) flag;
    (void) ftw;
    return remove(path);
}

static int
s_run(int kills)
{
    if (kills < 1 || kills > S_GENS)
        return s_fail("KILLS must be 1..%s", "1000");
    const char *seed_text = getenv("STORE_CRASH_SEED");
    unsigned seed = seed_text ? (unsigned) strtoul(seed_text, NULL, 10)
                              : (unsigned) time(NULL) ^ (unsigned) getpid();
    srand(seed);
    orcs_runtime_init();
    orcs_log_level_set(ORCS_LOG_ERROR);
    char dir[] = "/tmp/orcs-crash-XXXXXX";
    if (!mkdtemp(dir))
        return s_fail("mkdtemp: %s", strerror(errno));
    s_check_t *c = calloc(1, sizeof *c);
    c->value = malloc(S_BIG);
    for (int g = 0; g < S_GENS; g++)
        for (int t = 0; t < S_THREADS; t++)
            c->acked[g][t] = -1;
    int rc = 0;
    long acks = 0;
    long batches = 0;
    for (int gen = 0; gen < kills && rc == 0; gen++) {
        int fd = -1;
        pid_t pid = s_spawn(dir, gen, &fd);
        if (pid < 0) {
            rc = s_fail("cannot start the child: %s", strerror(errno));
            break;
        }
        int64_t kill_at =
            orcs_clock_mono_us() + (S_KILL_MS + rand() % S_SPAN_MS) * 1000LL;
        rc = s_watch(pid, fd, kill_at, c, &acks);
        close(fd);
        if (rc == 0)
            rc = s_verify(dir, c, gen + 1, &batches);
    }
    if (rc == 0 && acks < 100)
        rc = s_fail("too few acknowledged writes to mean anything (%s)",
                    "< 100");
    printf("store_crasher: seed=%u kills=%d acknowledged=%ld batches=%ld "
           "%s\n",
           seed, kills, acks, batches, rc == 0 ? "ok" : "FAILED");
    if (rc != 0)
        fprintf(stderr, "store_crasher: the store is kept in %s\n", dir);
    else
        nftw(dir, s_rm, 16, FTW_DEPTH | FTW_PHYS);
    free(c->value);
    free(c);
    orcs_runtime_shutdown();
    return rc;
}

// ---- another process grows the map

// `grow DIR`: writes 4 MiB into a store opened with a 1 MiB map, so its
// map grows past what the other process has mapped.
static int
s_grow(const char *dir)
{
    orcs_runtime_init();
    orcs_log_level_set(ORCS_LOG_ERROR);
    orcs_store_t *store = orcs_store_new();
    orcs_store_opts_t opts = s_opts(0);
    orcs_status rc = orcs_store_open(store, dir, &opts);
    uint8_t *value = calloc(1, 100 * 1024);
    for (int i = 0; i < 40 && rc == ORCS_OK; i++) {
        char key[32];
        int n = snprintf(key, sizeof key, "grow/%02d", i);
        orcs_batch_t *batch = orcs_batch_new();
        orcs_batch_put(batch, ORCS_DB_ARTIFACTS, key, (size_t) n, value,
                       100 * 1024);
        rc = orcs_store_write(store, &batch);
    }
    free(value);
    orcs_store_destroy(&store);
    orcs_runtime_shutdown();
    return rc == ORCS_OK ? 0 : s_fail("grow: %s", orcs_status_str(rc));
}

// `resize`: a store stays open here while another process grows its map;
// reads and writes here must go on (LMDB says MDB_MAP_RESIZED; the store
// adopts the new size).
static int
s_resize(void)
{
    orcs_runtime_init();
    orcs_log_level_set(ORCS_LOG_ERROR);
    char dir[] = "/tmp/orcs-resize-XXXXXX";
    if (!mkdtemp(dir))
        return s_fail("mkdtemp: %s", strerror(errno));
    orcs_store_t *store = orcs_store_new();
    orcs_store_opts_t opts = s_opts(0);
    orcs_status rc = orcs_store_open(store, dir, &opts);
    if (rc == ORCS_OK) {
        orcs_batch_t *batch = orcs_batch_new();
        orcs_batch_put(batch, ORCS_DB_MEMORY, "mine", 4, "1", 1);
        rc = orcs_store_write(store, &batch);
    }
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    self[n > 0 ? n : 0] = 0;
    pid_t pid = rc == ORCS_OK ? fork() : -1;
    if (pid == 0) {
        execl(self, self, "grow", dir, (char *) NULL);
        _exit(127);
    }
    int status = -1;
    if (pid > 0)
        waitpid(pid, &status, 0);
    int failed = 0;
    if (rc != ORCS_OK || status != 0)
        failed = s_fail("setting up failed: %s", orcs_status_str(rc));
    void *value = NULL;
    size_t size = 0;
    if (!failed) {
        rc = orcs_store_get(store, ORCS_DB_ARTIFACTS, "grow/39", 7, &value,
                            &size);
        free(value);
        if (rc != ORCS_OK || size != 100 * 1024)
            failed =
                s_fail("reading after the resize: %s", orcs_status_str(rc));
    }
    if (!failed) {
        orcs_batch_t *batch = orcs_batch_new();
        orcs_batch_put(batch, ORCS_DB_MEMORY, "after", 5, "2", 1);
        rc = orcs_store_write(store, &batch);
        if (rc != ORCS_OK)
            failed =
                s_fail("writing after the resize: %s", orcs_status_str(rc));
    }
    json_t *stats = orcs_store_stats(store);
    json_int_t map_size =
        json_integer_value(json_object_get(stats, "map_size"));
    json_decref(stats);
    if (!failed && map_size < 4 * 1024 * 1024)
        failed = s_fail("map size not adopted (%s)", "< 4 MiB");
    orcs_store_destroy(&store);
    nftw(dir, s_rm, 16, FTW_DEPTH | FTW_PHYS);
    orcs_runtime_shutdown();
    if (!failed)
        printf("store_crasher: resize ok map_size=%lld\n",
               (long long) map_size);
    return failed;
}

int
main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "resize") == 0)
        return s_resize();
    if (argc == 3 && strcmp(argv[1], "grow") == 0)
        return s_grow(argv[2]);
    if (argc == 3 && strcmp(argv[1], "run") == 0)
        return s_run(atoi(argv[2]));
    if (argc == 4 && strcmp(argv[1], "child") == 0)
        return s_child(argv[2], atoi(argv[3]));
    fprintf(stderr, "usage: store_crasher run KILLS | resize\n"
                    "       store_crasher child DIR GEN | grow DIR\n");
    return 2;
}
