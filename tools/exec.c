/*  tools/exec.c — the sandboxed process runner (see exec.h).
    SPDX-License-Identifier: MPL-2.0

    Everything the child needs (argv with a resolved path, the
    environment, the BPF program) is prepared before fork: between fork
    and exec the child calls only async-signal-safe functions and raw
    system calls, since the parent has other threads whose locks (malloc's
    among them) may be held at the moment of the fork. */
#include "tools/exec.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <seccomp.h>
#include <zmq.h>

#include "orcs/log.h"
#include "orcs/sys.h"

#define S_PATH        "/usr/local/bin:/usr/bin:/bin" // the children's PATH
#define S_READS       16                             // reads per readiness
#define S_CHUNK       16384                          // bytes per read
#define S_DRAIN_READS 256  // reads after the exit: more than a full pipe
#define S_FILTER_MAX  4096 // BPF instructions

struct orcs__exec_filter_t {
    struct sock_filter *insns; // the program
    unsigned short count;      // its instructions
};

struct orcs__exec_t {
    orcs_actor_t *actor; // whose loop watches the descriptors
    pid_t pid;           // the child (leader of its process group)
    int pidfd;           // pollable exit, or -1
    int in_fd;           // write end of the child's stdin, or -1
    int out_fd;          // read end of its stdout, or -1
    int err_fd;          // read end of its stderr, or -1
    uint8_t *in_data;    // stdin bytes still to write
    size_t in_size;      // bytes of in_data
    size_t in_done;      // bytes written
    char *out;           // stdout, NUL-terminated
    size_t out_size;     // bytes in out
    size_t out_max;      // cap
    size_t out_alloc;    // bytes allocated for out
    char err[2 * ORCS_EXEC_STDERR_TAIL + 1]; // stderr tail, NUL-terminated
    size_t err_size;                         // bytes in err
    bool over;                               // stdout passed the cap
    bool reaped;                             // the child was waited for
    int wait_status;                         // waitpid's status
    char dir[PATH_MAX];                      // working directory ("" = none)
    orcs__exec_done_fn *done;                // told once when finished
    void *arg;                               // its argument
};

// ---------------------------------------------------------------------------
// The network filter

orcs_status
orcs__exec_filter_new(orcs__exec_filter_t **filter_p)
{
    *filter_p = NULL;
    scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
    if (!ctx)
        return ORCS_EUNSUPPORTED;
    static const int families[] = {AF_INET, AF_INET6, AF_PACKET};
    int rc = 0;
    for (size_t i = 0; i < sizeof families / sizeof *families && rc == 0; i++) {
        // SCMP_A0() leaves datum_b out, which clang warns about.
        struct scmp_arg_cmp family = {.arg = 0,
                                      .op = SCMP_CMP_EQ,
                                      .datum_a = (scmp_datum_t) families[i],
                                      .datum_b = 0};
        rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EACCES), SCMP_SYS(socket), 1,
                              family);
    }
    if (rc == 0)
        rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS),
                              SCMP_SYS(io_uring_setup), 0);
    int fds[2] = {-1, -1};
    if (rc == 0 && pipe2(fds, O_CLOEXEC) != 0)
        rc = -errno;
    if (rc == 0)
        rc = seccomp_export_bpf(ctx, fds[1]);
    seccomp_release(ctx);
    if (fds[1] >= 0)
        close(fds[1]);
    uint8_t *bytes = NULL;
    size_t size = 0;
    size_t max = S_FILTER_MAX * sizeof(struct sock_filter);
    if (rc == 0) {
        bytes = orcs_malloc(max);
        ssize_t n;
        while (size < max
               && ((n = read(fds[0], bytes + size, max - size)) > 0
                   || (n < 0 && errno == EINTR)))
            if (n > 0)
                size += (size_t) n;
    }
    if (fds[0] >= 0)
        close(fds[0]);
    if (rc != 0 || size == 0 || size % sizeof(struct sock_filter) != 0
        || size >= max) {
        orcs_log_debug("exec", "cannot build the seccomp filter rc=%d", rc);
        free(bytes);
        return rc == 0 ? ORCS_EIO : ORCS_EUNSUPPORTED;
    }
    orcs__exec_filter_t *filter = orcs_calloc(1, sizeof *filter);
    filter->insns = (struct sock_filter *) bytes;
    filter->count = (unsigned short) (size / sizeof(struct sock_filter));
    *filter_p = filter;
    return ORCS_OK;
}

void
orcs__exec_filter_destroy(orcs__exec_filter_t **filter_p)
{
    orcs__exec_filter_t *filter = *filter_p;
    if (!filter)
        return;
    *filter_p = NULL;
    free(filter->insns);
    free(filter);
}

// In the child: no new privileges, then the filter. 0 or -1.
static int
s_child_filter(const orcs__exec_filter_t *filter)
{
    struct sock_fprog prog = {filter->count, filter->insns};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
        return -1;
    return (int) syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog);
}

// ---------------------------------------------------------------------------
// Preparing the child

// A pipe whose both ends are above stderr, close-on-exec. 0 or -1.
static int
s_pipe(int fds[2])
{
    if (pipe2(fds, O_CLOEXEC) != 0)
        return -1;
    for (int i = 0; i < 2; i++) {
        if (fds[i] > 2)
            continue;
        int moved = fcntl(fds[i], F_DUPFD_CLOEXEC, 3);
        close(fds[i]);
        fds[i] = moved;
    }
    if (fds[0] < 0 || fds[1] < 0) {
        if (fds[0] >= 0)
            close(fds[0]);
        if (fds[1] >= 0)
            close(fds[1]);
        return -1;
    }
    return 0;
}

// Finds name in path (a PATH value) and writes the executable's path.
static bool
s_which(const char *name, const char *path, char *out, size_t size)
{
    if (strchr(name, '/')) {
        snprintf(out, size, "%s", name);
        return access(out, X_OK) == 0;
    }
    while (*path) {
        size_t n = strcspn(path, ":");
        int len = snprintf(out, size, "%.*s/%s", (int) n, path, name);
        if (n > 0 && len > 0 && (size_t) len < size && access(out, X_OK) == 0)
            return true;
        path += n;
        if (*path == ':')
            path++;
    }
    return false;
}

// The environment: defaults, overridden by extra entries of the same name.
// Caller frees the array and its strings.
static char **
s_environment(const orcs__exec_opts_t *opts, const char *dir)
{
    size_t extra = 0;
    while (opts->env && opts->env[extra])
        extra++;
    char **env = orcs_calloc(extra + 5, sizeof *env);
    size_t n = 0;
    char buf[PATH_MAX + 16];
    const char *defaults[4] = {"PATH=" S_PATH, NULL, NULL, "LANG=C"};
    snprintf(buf, sizeof buf, "HOME=%s", dir);
    defaults[1] = orcs_strdup(buf);
    snprintf(buf, sizeof buf, "TMPDIR=%s", dir);
    defaults[2] = orcs_strdup(buf);
    for (size_t i = 0; i < 4; i++) {
        size_t name = strcspn(defaults[i], "=");
        bool overridden = false;
        for (size_t j = 0; j < extra && !overridden; j++)
            overridden = strncmp(opts->env[j], defaults[i], name + 1) == 0;
        if (!overridden)
            env[n++] = orcs_strdup(defaults[i]);
    }
    free((char *) defaults[1]);
    free((char *) defaults[2]);
    for (size_t j = 0; j < extra; j++)
        env[n++] = orcs_strdup(opts->env[j]);
    return env;
}

static void
s_strv_free(char **strv)
{
    for (size_t i = 0; strv && strv[i]; i++)
        free(strv[i]);
    free(strv);
}

static void
s_limit(int resource, rlim_t value)
{
    struct rlimit limit = {value, value};
    if (resource == RLIMIT_CPU)
        limit.rlim_max = value + 1; // SIGXCPU first, SIGKILL a second later
    setrlimit(resource, &limit);
}

// Writes a fixed message to stderr and exits (in the child).
static void
s_child_die(const char *message, int code)
{
    ssize_t n = write(2, message, strlen(message));
    (void) n;
    _exit(code);
}

// The child, between fork and exec: async-signal-safe calls only.
static void
s_child(const orcs__exec_opts_t *opts,
        const int in[2],
        const int out[2],
        const int err[2],
        const char *path,
        char *const *argv,
        char *const *env,
        const char *dir,
        long max_fd)
{
    setpgid(0, 0);
    if (dup2(in[0], 0) < 0 || dup2(out[1], 1) < 0 || dup2(err[1], 2) < 0)
        _exit(127);
#ifdef SYS_close_range
    if (syscall(SYS_close_range, 3u, ~0u, 0u) != 0)
#endif
        for (long fd = 3; fd < max_fd; fd++)
            close((int) fd);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; sig++)
        if (sig != SIGKILL && sig != SIGSTOP)
            sigaction(sig, &dfl, NULL);
    if (chdir(opts->cwd ? opts->cwd : dir) != 0)
        s_child_die("orcs: cannot enter the working directory\n", 127);
    if (opts->cpu_s > 0)
        s_limit(RLIMIT_CPU, (rlim_t) opts->cpu_s);
    if (opts->memory_mb > 0)
        s_limit(RLIMIT_AS, (rlim_t) opts->memory_mb << 20);
    if (opts->processes > 0)
        s_limit(RLIMIT_NPROC, (rlim_t) opts->processes);
    if (opts->files > 0)
        s_limit(RLIMIT_NOFILE, (rlim_t) opts->files);
    s_limit(RLIMIT_FSIZE, ORCS_EXEC_FSIZE_MAX);
    if (opts->filter && s_child_filter(opts->filter) != 0)
        s_child_die("orcs: cannot install the network filter (seccomp); set "
                    "toolexec.exec.network: true to run without it\n",
                    126);
    execve(path, argv, env);
    s_child_die("orcs: exec failed\n", 127);
}

// ---------------------------------------------------------------------------
// The parent: pipes and exit

static void
s_close(orcs__exec_t *self, int *fd_p)
{
    if (*fd_p < 0)
        return;
    orcs_actor_unwatch(self->actor, *fd_p);
    close(*fd_p);
    *fd_p = -1;
}

static void
s_take_stdout(orcs__exec_t *self, const char *data, size_t n)
{
    if (self->over)
        return;
    size_t room = self->out_max - self->out_size;
    if (n > room) {
        n = room;
        self->over = true;
        orcs__exec_kill(self);
    }
    if (self->out_size + n + 1 > self->out_alloc) { // grow: most are small
        size_t want = self->out_alloc * 2;
        while (want < self->out_size + n + 1)
            want *= 2;
        if (want > self->out_max + 1)
            want = self->out_max + 1;
        self->out = orcs_realloc(self->out, want);
        self->out_alloc = want;
    }
    memcpy(self->out + self->out_size, data, n);
    self->out_size += n;
    self->out[self->out_size] = 0;
}

static void
s_take_stderr(orcs__exec_t *self, const char *data, size_t n)
{
    const size_t tail = ORCS_EXEC_STDERR_TAIL;
    if (n >= tail) {
        memcpy(self->err, data + n - tail, tail);
        self->err_size = tail;
    } else {
        if (self->err_size + n > 2 * tail) { // keep the last `tail` bytes
            memmove(self->err, self->err + self->err_size - tail, tail);
            self->err_size = tail;
        }
        memcpy(self->err + self->err_size, data, n);
        self->err_size += n;
    }
    self->err[self->err_size] = 0;
}

// Reads what is there (at most `reads` reads); closes the pipe at EOF.
static void
s_drain(orcs__exec_t *self, int *fd_p, bool is_stdout, int reads)
{
    char buf[S_CHUNK];
    for (int i = 0; i < reads && *fd_p >= 0; i++) {
        ssize_t n = read(*fd_p, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            return;
        if (n <= 0) {
            s_close(self, fd_p);
            return;
        }
        if (is_stdout)
            s_take_stdout(self, buf, (size_t) n);
        else
            s_take_stderr(self, buf, (size_t) n);
    }
}

static orcs_status
s_on_output(orcs_actor_t *actor, void *state, int fd, short events, void *arg)
{
    (void) actor;
    (void) state;
    (void) events;
    orcs__exec_t *self = arg;
    if (fd == self->out_fd)
        s_drain(self, &self->out_fd, true, S_READS);
    else if (fd == self->err_fd)
        s_drain(self, &self->err_fd, false, S_READS);
    return ORCS_OK;
}

static orcs_status
s_on_stdin(orcs_actor_t *actor, void *state, int fd, short events, void *arg)
{
    (void) actor;
    (void) state;
    (void) events;
    orcs__exec_t *self = arg;
    if (fd != self->in_fd)
        return ORCS_OK;
    while (self->in_done < self->in_size) {
        ssize_t n = write(self->in_fd, self->in_data + self->in_done,
                          self->in_size - self->in_done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            return ORCS_OK;
        if (n < 0) // EPIPE: the child does not read its stdin
            break;
        self->in_done += (size_t) n;
    }
    s_close(self, &self->in_fd);
    return ORCS_OK;
}

static orcs_status
s_on_exit(orcs_actor_t *actor, void *state, int fd, short events, void *arg)
{
    (void) actor;
    (void) state;
    (void) events;
    orcs__exec_t *self = arg;
    if (fd != self->pidfd || self->reaped)
        return ORCS_OK;
    // The leader is a zombie until reaped, so its process group id cannot
    // be reused yet: kill what is left of the group first.
    kill(-self->pid, SIGKILL);
    pid_t got;
    do
        got = waitpid(self->pid, &self->wait_status, WNOHANG);
    while (got < 0 && errno == EINTR);
    if (got == 0)
        return ORCS_OK; // not yet: the pidfd will say again
    self->reaped = true;
    // Everything the child wrote is in the pipes now.
    s_drain(self, &self->out_fd, true, S_DRAIN_READS);
    s_drain(self, &self->err_fd, false, S_DRAIN_READS);
    s_close(self, &self->out_fd);
    s_close(self, &self->err_fd);
    s_close(self, &self->in_fd);
    s_close(self, &self->pidfd);
    self->done(self, self->arg); // may destroy self
    return ORCS_OK;
}

// ---------------------------------------------------------------------------
// Start and stop

static int
s_rm(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void) st;
    (void) flag;
    (void) ftw;
    remove(path);
    return 0;
}

static orcs_status
s_fail(char *err, size_t err_size, orcs_status rc, const char *what)
{
    snprintf(err, err_size, "%s: %s", what, strerror(errno));
    return rc;
}

// Watches the parent's ends. ORCS_OK or the first error.
static orcs_status
s_watch(orcs__exec_t *self)
{
    orcs_status rc =
        orcs_actor_watch(self->actor, self->pidfd, ZMQ_POLLIN, s_on_exit, self);
    if (rc == ORCS_OK)
        rc = orcs_actor_watch(self->actor, self->out_fd, ZMQ_POLLIN,
                              s_on_output, self);
    if (rc == ORCS_OK)
        rc = orcs_actor_watch(self->actor, self->err_fd, ZMQ_POLLIN,
                              s_on_output, self);
    if (rc == ORCS_OK && self->in_size > 0)
        rc = orcs_actor_watch(self->actor, self->in_fd, ZMQ_POLLOUT, s_on_stdin,
                              self);
    else if (rc == ORCS_OK) {
        close(self->in_fd); // no input: the child sees EOF
        self->in_fd = -1;
    }
    return rc;
}

// Forks and runs the child; the parent closes the child's ends.
static orcs_status
s_spawn(orcs__exec_t *self,
        const orcs__exec_opts_t *opts,
        const char *path,
        char *err,
        size_t err_size)
{
    int in[2] = {-1, -1}, out[2] = {-1, -1}, errp[2] = {-1, -1};
    char **env = s_environment(opts, self->dir);
    long max_fd = sysconf(_SC_OPEN_MAX);
    if (max_fd < 0 || max_fd > 65536)
        max_fd = 65536;
    orcs_status rc = ORCS_OK;
    if (s_pipe(in) != 0 || s_pipe(out) != 0 || s_pipe(errp) != 0)
        rc = s_fail(err, err_size, ORCS_EIO, "cannot make pipes");
    if (rc == ORCS_OK) {
        self->pid = fork();
        if (self->pid == 0)
            s_child(opts, in, out, errp, path, (char *const *) opts->argv, env,
                    self->dir, max_fd);
        if (self->pid < 0)
            rc = s_fail(err, err_size, ORCS_EIO, "cannot fork");
    }
    if (rc == ORCS_OK) {
        // Also set by the child; setting it here too closes the race with
        // a kill before the child ran.
        setpgid(self->pid, self->pid);
        self->pidfd = (int) syscall(SYS_pidfd_open, self->pid, 0);
        if (self->pidfd < 0)
            rc = s_fail(err, err_size, ORCS_EIO, "cannot open a pidfd");
        self->in_fd = in[1];
        self->out_fd = out[0];
        self->err_fd = errp[0];
        in[1] = out[0] = errp[0] = -1;
        fcntl(self->in_fd, F_SETFL, O_NONBLOCK);
        fcntl(self->out_fd, F_SETFL, O_NONBLOCK);
        fcntl(self->err_fd, F_SETFL, O_NONBLOCK);
    }
    int *all[] = {&in[0], &in[1], &out[0], &out[1], &errp[0], &errp[1]};
    for (size_t i = 0; i < 6; i++)
        if (*all[i] >= 0)
            close(*all[i]);
    s_strv_free(env);
    return rc;
}

orcs_status
orcs__exec_start(orcs_actor_t *actor,
                 const orcs__exec_opts_t *opts,
                 orcs__exec_done_fn *done,
                 void *arg,
                 orcs__exec_t **exec_p,
                 char *err,
                 size_t err_size)
{
    *exec_p = NULL;
    size_t argc = 0, envc = 0;
    while (opts->argv && opts->argv[argc])
        argc++;
    while (opts->env && opts->env[envc])
        envc++;
    if (argc == 0 || argc > ORCS_EXEC_ARGS_MAX || envc > ORCS_EXEC_ENV_MAX) {
        snprintf(err, err_size, "command needs 1 to %u arguments",
                 ORCS_EXEC_ARGS_MAX);
        return ORCS_EINVAL;
    }
    const char *search = S_PATH;
    for (size_t i = 0; i < envc; i++)
        if (strncmp(opts->env[i], "PATH=", 5) == 0)
            search = opts->env[i] + 5;
    char path[PATH_MAX];
    if (!s_which(opts->argv[0], search, path, sizeof path)) {
        snprintf(err, err_size, "command not found: %s", opts->argv[0]);
        return ORCS_ENOTFOUND;
    }
    orcs__exec_t *self = orcs_calloc(1, sizeof *self);
    self->actor = actor;
    self->pidfd = self->in_fd = self->out_fd = self->err_fd = -1;
    self->out_max = opts->max_output_bytes;
    self->out_alloc = self->out_max + 1 < 4096 ? self->out_max + 1 : 4096;
    self->out = orcs_malloc(self->out_alloc);
    self->out[0] = 0;
    self->done = done;
    self->arg = arg;
    if (opts->stdin_size > 0) {
        self->in_data = orcs_malloc(opts->stdin_size);
        memcpy(self->in_data, opts->stdin_data, opts->stdin_size);
        self->in_size = opts->stdin_size;
    }
    const char *tmp = getenv("TMPDIR");
    snprintf(self->dir, sizeof self->dir, "%s/orcs-exec-XXXXXX",
             tmp && *tmp ? tmp : "/tmp");
    orcs_status rc = ORCS_OK;
    if (!mkdtemp(self->dir)) {
        rc = s_fail(err, err_size, ORCS_EIO, "cannot make a directory");
        self->dir[0] = 0;
    }
    if (rc == ORCS_OK)
        rc = s_spawn(self, opts, path, err, err_size);
    if (rc == ORCS_OK && (rc = s_watch(self)) != ORCS_OK)
        snprintf(err, err_size, "cannot watch the child: %s",
                 orcs_status_str(rc));
    if (rc != ORCS_OK) {
        orcs__exec_destroy(&self);
        return rc;
    }
    *exec_p = self;
    return ORCS_OK;
}

void
orcs__exec_kill(orcs__exec_t *self)
{
    if (self->pid > 0 && !self->reaped)
        kill(-self->pid, SIGKILL);
}

void
orcs__exec_destroy(orcs__exec_t **self_p)
{
    orcs__exec_t *self = *self_p;
    if (!self)
        return;
    *self_p = NULL;
    s_close(self, &self->in_fd);
    s_close(self, &self->out_fd);
    s_close(self, &self->err_fd);
    s_close(self, &self->pidfd);
    if (self->pid > 0 && !self->reaped) {
        kill(-self->pid, SIGKILL);
        kill(self->pid, SIGKILL);
        while (waitpid(self->pid, &self->wait_status, 0) < 0 && errno == EINTR)
            ;
    }
    if (self->dir[0])
        nftw(self->dir, s_rm, 16, FTW_DEPTH | FTW_PHYS);
    free(self->in_data);
    free(self->out);
    free(self);
}

bool
orcs__exec_exited(const orcs__exec_t *self, int *code_p)
{
    if (!self->reaped || !WIFEXITED(self->wait_status))
        return false;
    *code_p = WEXITSTATUS(self->wait_status);
    return true;
}

int
orcs__exec_signal(const orcs__exec_t *self)
{
    return self->reaped && WIFSIGNALED(self->wait_status)
               ? WTERMSIG(self->wait_status)
               : 0;
}

bool
orcs__exec_output_over(const orcs__exec_t *self)
{
    return self->over;
}

const char *
orcs__exec_stdout(const orcs__exec_t *self, size_t *size_p)
{
    *size_p = self->out_size;
    return self->out;
}

const char *
orcs__exec_stderr(const orcs__exec_t *self, size_t *size_p)
{
    *size_p = self->err_size;
    return self->err;
}
