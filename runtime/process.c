/*  process.c — children in their own processes. The supervisor starts the
    child program (`orcs child ...`), which hosts one actor, binds its
    mailbox on an abstract ipc:// endpoint, and sends everything else to the
    node's link endpoint. A segfault or kill -9 there only ends that
    process; the supervisor sees it through a pidfd and restarts it.
    SPDX-License-Identifier: MPL-2.0 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "internal.h"

extern char **environ;

orcs_status
orcs__proc_spawn(orcs_node_t *node,
                 const char *name,
                 const char *kind,
                 const json_t *config,
                 const char *parent,
                 const char *endpoint,
                 uint32_t incarnation,
                 orcs__proc_t *proc)
{
    char *config_text =
        config ? json_dumps(config, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    char incarnation_text[16];
    snprintf(incarnation_text, sizeof incarnation_text, "%u", incarnation);
    const char *program = orcs__node_child_program(node);
    char *argv[] = {
        (char *) program,
        "child",
        "--name",
        (char *) name,
        "--kind",
        (char *) kind,
        "--config",
        config_text ? config_text : "{}",
        "--endpoint",
        (char *) endpoint,
        "--link",
        (char *) orcs__node_link_endpoint(node),
        "--node",
        (char *) orcs_node_name(node),
        "--supervisor",
        (char *) parent,
        "--incarnation",
        incarnation_text,
        NULL,
    };
    pid_t pid = 0;
    int rc = posix_spawn(&pid, program, NULL, NULL, argv, environ);
    free(config_text);
    if (rc != 0) {
        orcs_log_error("process", "cannot start child program=%s error=%s",
                       program, strerror(rc));
        return ORCS_EIO;
    }
    proc->pid = pid;
    proc->pidfd = (int) syscall(SYS_pidfd_open, pid, 0);
    if (proc->pidfd < 0) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        proc->pid = 0;
        return ORCS_EIO;
    }
    return ORCS_OK;
}

static bool
s_wait_exit(orcs__proc_t *proc, int timeout_ms)
{
    zmq_pollitem_t item = {NULL, proc->pidfd, ZMQ_POLLIN, 0};
    return zmq_poll(&item, 1, timeout_ms) > 0;
}

void
orcs__proc_stop(orcs__proc_t *proc, int timeout_ms)
{
    if (proc->pid <= 0)
        return;
    kill(proc->pid, SIGTERM);
    if (!s_wait_exit(proc, timeout_ms)) {
        orcs_log_warn("process",
                      "child did not stop in time; killing pid=%d "
                      "shutdown_ms=%d",
                      (int) proc->pid, timeout_ms);
        kill(proc->pid, SIGKILL);
    }
    char reason[64];
    orcs__proc_reap(proc, reason, sizeof reason);
}

orcs_status
orcs__proc_reap(orcs__proc_t *proc, char *reason, size_t size)
{
    int status = 0;
    orcs_status rc = ORCS_ECRASHED;
    snprintf(reason, size, "child process vanished");
    if (proc->pid > 0) {
        pid_t got;
        do
            got = waitpid(proc->pid, &status, 0);
        while (got < 0 && errno == EINTR);
        if (got == proc->pid && WIFEXITED(status)) {
            rc = WEXITSTATUS(status) == 0 ? ORCS_OK : ORCS_EFAILED;
            snprintf(reason, size, "child process exited with code %d",
                     WEXITSTATUS(status));
        } else if (got == proc->pid && WIFSIGNALED(status)) {
            snprintf(reason, size, "child process killed by signal %d (%s)",
                     WTERMSIG(status), strsignal(WTERMSIG(status)));
        }
    }
    if (proc->pidfd >= 0)
        close(proc->pidfd);
    proc->pidfd = -1;
    proc->pid = 0;
    return rc;
}

// ---- the child side

static int
s_child_usage(FILE *out, int code)
{
    fprintf(out, "usage: orcs child --name NAME --kind KIND --endpoint EP "
                 "--link EP [--config JSON] [--node NODE] [--supervisor NAME] "
                 "[--incarnation N]\n"
                 "Hosts one actor for a supervisor in another process. Started "
                 "by the node, not by people.\n");
    return code;
}

int
orcs_child_main(int argc, char **argv)
{
    static const struct option options[] = {
        {"name", required_argument, NULL, 'n'},
        {"kind", required_argument, NULL, 'k'},
        {"config", required_argument, NULL, 'c'},
        {"endpoint", required_argument, NULL, 'e'},
        {"link", required_argument, NULL, 'l'},
        {"node", required_argument, NULL, 'N'},
        {"supervisor", required_argument, NULL, 's'},
        {"incarnation", required_argument, NULL, 'i'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *name = NULL, *kind = NULL, *config_text = "{}";
    const char *endpoint = NULL, *link = NULL, *node_name = "local";
    const char *supervisor = "";
    unsigned incarnation = 1;
    int opt;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        switch (opt) {
            case 'n':
                name = optarg;
                break;
            case 'k':
                kind = optarg;
                break;
            case 'c':
                config_text = optarg;
                break;
            case 'e':
                endpoint = optarg;
                break;
            case 'l':
                link = optarg;
                break;
            case 'N':
                node_name = optarg;
                break;
            case 's':
                supervisor = optarg;
                break;
            case 'i':
                incarnation = (unsigned) strtoul(optarg, NULL, 10);
                break;
            case 'h':
                return s_child_usage(stdout, 0);
            default:
                return s_child_usage(stderr, 2);
        }
    }
    if (!name || !kind || !endpoint || !link)
        return s_child_usage(stderr, 2);
    json_error_t jerr;
    json_t *config = json_loads(config_text, 0, &jerr);
    if (!config) {
        fprintf(stderr, "orcs child: --config is not JSON: %s\n", jerr.text);
        return 2;
    }
    // Signals go to this thread only, through sigtimedwait below.
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGTERM);
    sigaddset(&signals, SIGINT);
    pthread_sigmask(SIG_BLOCK, &signals, NULL);
    orcs_runtime_init();
    orcs_node_t *node = orcs_node_new();
    json_t *node_config = json_pack("{s:s}", "node", node_name);
    orcs_node_configure(node, node_config, NULL);
    json_decref(node_config);
    orcs__dir_t *dir = orcs__node_dir(node);
    orcs__dir_set_uplink(dir, link);
    int code = 1;
    const orcs_actor_def_t *def = NULL;
    char err[512] = "";
    orcs_client_t *inbox = orcs_client_new(node);
    orcs__entry_t *entry = orcs__dir_get(dir, name, true);
    snprintf(entry->supervisor, sizeof entry->supervisor, "%s", supervisor);
    zsock_t *mailbox = zsock_new(ZMQ_PULL);
    zsock_set_linger(mailbox, 0);
    zsock_set_maxmsgsize(mailbox, orcs__node_max_message_bytes(node));
    orcs_actor_t *actor = NULL;
    if (orcs__node_kind(node, kind, &def, err, sizeof err) != ORCS_OK) {
        fprintf(stderr, "orcs child %s: %s\n", name, err);
        goto cleanup;
    }
    if (zsock_bind(mailbox, "%s", endpoint) < 0) {
        fprintf(stderr, "orcs child %s: cannot bind %s\n", name, endpoint);
        goto cleanup;
    }
    orcs__dir_set_endpoint(dir, entry, endpoint);
    orcs__spawn_opts_t opts = {
        .def = def,
        .name = name,
        .parent = orcs_client_name(inbox),
        .config = config,
        .entry = entry,
        .mailbox = mailbox,
        .incarnation = incarnation,
    };
    orcs_status rc = orcs__actor_spawn(node, &opts, &actor, err, sizeof err);
    if (rc != ORCS_OK) {
        fprintf(stderr, "orcs child %s: init failed: %s\n", name, err);
        goto cleanup;
    }
    struct timespec tick = {0, 0};
    for (;;) {
        orcs_msg_t *msg = NULL;
        if (orcs_client_recv(inbox, 50, &msg) == ORCS_OK) {
            bool exited = orcs_msg_kind_of(msg) == ORCS_MSG_EXIT;
            orcs_status status = orcs_msg_status(msg);
            orcs_msg_destroy(&msg);
            if (exited) {
                code = status == ORCS_OK ? 0 : 1;
                orcs__actor_halt(&actor, 1000);
                break;
            }
        }
        if (sigtimedwait(&signals, NULL, &tick) > 0) {
            orcs__actor_halt(&actor, 5000);
            code = 0;
            break;
        }
    }
cleanup:
    if (actor)
        orcs__actor_halt(&actor, 5000);
    zsock_destroy(&mailbox);
    orcs_client_destroy(&inbox);
    orcs_node_destroy(&node);
    json_decref(config);
    orcs_runtime_shutdown();
    return code;
}
