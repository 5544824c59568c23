/*  embed.c — a program that embeds the orcs runtime and links the greeter
    actor statically: it starts a node on a temporary data directory,
    supervises one greeter, asks it to greet, crashes it once to show the
    restart, greets again and stops.
    Usage: embed [NAME]
    SPDX-License-Identifier: MPL-2.0 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <orcs/orcs.h>

const orcs_actor_def_t *orcs_actor_plugin(void); // greeter.c, linked in

static int
s_greet(orcs_client_t *client, const char *name)
{
    orcs_msg_t *msg = orcs_msg_new("greet");
    json_t *body = json_pack("{s:s}", "name", name);
    orcs_msg_set_body(msg, &body);
    orcs_msg_t *reply = NULL;
    orcs_status rc = orcs_client_ask(client, "greeter", &msg, 5000, &reply);
    const json_t *answer = NULL;
    if (rc == ORCS_OK)
        rc = orcs_msg_status(reply);
    if (rc == ORCS_OK)
        rc = orcs_msg_body(reply, &answer);
    if (rc == ORCS_OK)
        printf(
            "%s (greeting #%lld of this incarnation)\n",
            json_string_value(json_object_get(answer, "text")),
            (long long) json_integer_value(json_object_get(answer, "count")));
    else
        fprintf(stderr, "embed: greet failed: %s\n", orcs_status_str(rc));
    orcs_msg_destroy(&msg);
    orcs_msg_destroy(&reply);
    return rc == ORCS_OK ? 0 : 1;
}

int
main(int argc, char **argv)
{
    if (argc > 1 && argv[1][0] == '-') {
        printf("usage: embed [NAME]\nRuns a node with a statically linked "
               "greeter actor, greets NAME, crashes the greeter once and "
               "greets again.\n");
        return 0;
    }
    const char *name = argc > 1 ? argv[1] : "world";
    char data[] = "/tmp/orcs-embed-XXXXXX";
    if (!mkdtemp(data))
        return 1;
    orcs_runtime_init();
    orcs_node_t *node = orcs_node_new();
    orcs_node_register_kind(node, orcs_actor_plugin());
    json_t *config = json_pack(
        "{s:s, s:s, s:{s:s, s:i, s:i, s:[{s:s, s:s, s:{s:s}}]}}", "node",
        "embedded", "data", data, "supervisor", "strategy", "one_for_one",
        "intensity", 3, "period_s", 5, "children", "name", "greeter", "actor",
        "greeter", "config", "greeting", "hello");
    orcs_status rc = orcs_node_configure(node, config, NULL);
    json_decref(config);
    if (rc == ORCS_OK)
        rc = orcs_node_start(node);
    int code = 1;
    if (rc == ORCS_OK) {
        orcs_client_t *client = orcs_client_new(node);
        code = s_greet(client, name);
        orcs_msg_t *boom = orcs_msg_new("boom");
        orcs_msg_t *reply = NULL;
        orcs_client_ask(client, "greeter", &boom, 200, &reply); // no reply
        orcs_msg_destroy(&boom);
        orcs_msg_destroy(&reply);
        code |= s_greet(client, name); // the restarted incarnation answers
        orcs_client_destroy(&client);
    } else {
        char err[512];
        fprintf(stderr, "embed: %s\n", orcs_node_error(node, err, sizeof err));
    }
    orcs_node_destroy(&node);
    orcs_runtime_shutdown();
    char lock[64];
    snprintf(lock, sizeof lock, "%s/node.lock", data);
    unlink(lock);
    rmdir(data);
    return code;
}
