/*  store_artifact.c — `orcs store artifacts` and `orcs store lineage`.
    SPDX-License-Identifier: MPL-2.0 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"

const char orcs__cli_artifacts_usage[] =
    "usage: orcs store artifacts [--limit N] [--json]\n"
    "       orcs store artifacts ID [--output FILE] [--json]\n"
    "       orcs store artifacts --add FILE [--type MEDIA_TYPE] [--input "
    "ID]...\n"
    "                            [--run RUN] [--actor ACTOR] [--sign]\n"
    "\n"
    "Lists the newest artifacts; or shows one after verifying it (its bytes\n"
    "against its id, its signature against its metadata: exit 1 when it\n"
    "was tampered with); or stores a file as an artifact and prints its id.\n"
    "\n"
    "  --limit N      list at most N (default 1000)\n"
    "  --output FILE  write the bytes to FILE ('-': standard output)\n"
    "  --add FILE     store FILE ('-': standard input)\n"
    "  --type T       its media type (default application/octet-stream)\n"
    "  --input ID     an artifact it was made from (repeatable)\n"
    "  --run RUN      the run that produced it\n"
    "  --actor ACTOR  the actor that produced it\n"
    "  --sign         sign it with the node key (DIR/node.key)\n";

const char orcs__cli_lineage_usage[] =
    "usage: orcs store lineage ID [--direction inputs|outputs|both]\n"
    "                             [--depth N] [--json]\n"
    "\n"
    "Walks what artifact ID was made from (inputs, depth < 0) and what was\n"
    "made from it (outputs, depth > 0).\n"
    "\n"
    "  --direction D  inputs, outputs or both (default both)\n"
    "  --depth N      at most N steps each way (default: no limit)\n";

// ---------------------------------------------------------------------------
// Artifact commands

// Reads a whole file ("-" = stdin) up to ORCS_ARTIFACT_SIZE_MAX.
static orcs_status
s_read_file(const char *path, uint8_t **data_p, size_t *size_p)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (!f)
        return ORCS_ENOTFOUND;
    size_t cap = 65536, size = 0;
    uint8_t *data = orcs_malloc(cap);
    orcs_status rc = ORCS_OK;
    size_t n;
    while ((n = fread(data + size, 1, cap - size, f)) > 0) {
        size += n;
        if (size > ORCS_ARTIFACT_SIZE_MAX) {
            rc = ORCS_ETOOBIG;
            break;
        }
        if (size == cap) {
            cap *= 2;
            data = orcs_realloc(data, cap);
        }
    }
    if (rc == ORCS_OK && ferror(f))
        rc = ORCS_EIO;
    if (f != stdin)
        fclose(f);
    if (rc != ORCS_OK) {
        free(data);
        return rc;
    }
    *data_p = data;
    *size_p = size;
    return ORCS_OK;
}

static int
s_artifact_add(orcs__cli_store_t *c)
{
    orcs__cli_opts_t *o = c->opts;
    uint8_t *data = NULL;
    size_t size = 0;
    orcs_status rc = s_read_file(o->add, &data, &size);
    if (rc != ORCS_OK) {
        fprintf(stderr, "orcs store artifacts: cannot read %s: %s\n", o->add,
                orcs_status_str(rc));
        return ORCS__CLI_EXIT_FAIL;
    }
    orcs_artifact_opts_t opts = {o->type,   o->run,         NULL,   o->actor,
                                 o->inputs, o->input_count, o->sign};
    char id[ORCS_ARTIFACT_ID_SIZE];
    rc = orcs_artifacts_put(c->artifacts, data, size, &opts, id);
    free(data);
    if (rc != ORCS_OK)
        return orcs__cli_fail("artifacts --add", rc);
    if (o->json)
        printf("{\"id\": \"%s\"}\n", id);
    else
        puts(id);
    return 0;
}

static void
s_print_artifact(const json_t *meta)
{
    char when[32];
    const json_t *producer = json_object_get(meta, "producer");
    printf(
        "%s  %10" JSON_INTEGER_FORMAT "  %-24s %s  %s%s\n",
        json_string_value(json_object_get(meta, "id")),
        json_integer_value(json_object_get(meta, "size")),
        json_string_value(json_object_get(meta, "media_type")),
        orcs__cli_time(json_integer_value(json_object_get(meta, "created_us")),
                       when, sizeof when),
        json_string_value(json_object_get(producer, "actor")),
        json_object_get(meta, "signature") ? "  signed" : "");
}

static int
s_artifact_show(orcs__cli_store_t *c, const char *id)
{
    orcs__cli_opts_t *o = c->opts;
    void *data = NULL;
    size_t size = 0;
    json_t *meta = NULL;
    orcs_status rc = orcs_artifacts_get(c->artifacts, id, &data, &size, &meta);
    if (rc == ORCS_EPROTO) {
        fprintf(stderr,
                "orcs store artifacts: %s was tampered with or is damaged: "
                "refused\n",
                id);
        return ORCS__CLI_EXIT_FAIL;
    }
    if (rc != ORCS_OK)
        return orcs__cli_fail("artifacts", rc);
    int code = 0;
    if (o->output) {
        FILE *f = strcmp(o->output, "-") == 0 ? stdout : fopen(o->output, "wb");
        if (!f || fwrite(data, 1, size, f) != size) {
            fprintf(stderr, "orcs store artifacts: cannot write %s: %s\n",
                    o->output, strerror(errno));
            code = ORCS__CLI_EXIT_FAIL;
        }
        if (f && f != stdout)
            fclose(f);
    } else if (o->json) {
        json_object_set_new(meta, "verified", json_true());
        orcs__cli_print_json(meta);
    } else {
        s_print_artifact(meta);
        const json_t *signature = json_object_get(meta, "signature");
        size_t i;
        json_t *input;
        json_array_foreach(json_object_get(meta, "inputs"), i, input)
        {
            printf("  input %s\n", json_string_value(input));
        }
        if (signature)
            printf("  signature verified, key %s\n",
                   json_string_value(json_object_get(signature, "public_key")));
        else
            printf("  bytes verified, not signed\n");
    }
    free(data);
    json_decref(meta);
    return code;
}

int
orcs__cli_artifacts(orcs__cli_store_t *c)
{
    orcs__cli_opts_t *o = c->opts;
    if (o->add) {
        if (o->arg_count != 0)
            return orcs__cli_usage_error(orcs__cli_artifacts_usage, "%s",
                                         "--add takes no other argument");
        return s_artifact_add(c);
    }
    if (o->arg_count > 1)
        return orcs__cli_usage_error(orcs__cli_artifacts_usage, "%s",
                                     "artifacts takes at most one ID");
    if (o->arg_count == 1) {
        if (!orcs_artifacts_id_is_valid(o->args[0]))
            return orcs__cli_usage_error(
                orcs__cli_artifacts_usage,
                "bad id '%s' (64 lowercase hex digits)", o->args[0]);
        return s_artifact_show(c, o->args[0]);
    }
    json_t *list = NULL;
    orcs_status rc =
        orcs_artifacts_list(c->artifacts, (size_t) o->limit, &list);
    if (rc != ORCS_OK)
        return orcs__cli_fail("artifacts", rc);
    if (o->json)
        orcs__cli_print_json(list);
    size_t i;
    json_t *meta;
    json_array_foreach(list, i, meta)
    {
        if (!o->json)
            s_print_artifact(meta);
    }
    json_decref(list);
    return 0;
}

int
orcs__cli_lineage(orcs__cli_store_t *c)
{
    orcs__cli_opts_t *o = c->opts;
    if (o->arg_count != 1)
        return orcs__cli_usage_error(orcs__cli_lineage_usage, "%s",
                                     "lineage needs one ID");
    if (!orcs_artifacts_id_is_valid(o->args[0]))
        return orcs__cli_usage_error(orcs__cli_lineage_usage,
                                     "bad id '%s' (64 lowercase hex digits)",
                                     o->args[0]);
    orcs_lineage_dir dir = ORCS_LINEAGE_BOTH;
    const char *d = o->direction ? o->direction : "both";
    if (strcmp(d, "inputs") == 0)
        dir = ORCS_LINEAGE_INPUTS;
    else if (strcmp(d, "outputs") == 0)
        dir = ORCS_LINEAGE_OUTPUTS;
    else if (strcmp(d, "both") != 0)
        return orcs__cli_usage_error(
            orcs__cli_lineage_usage,
            "--direction must be inputs, outputs or both, "
            "not '%s'",
            d);
    json_t *graph = NULL;
    orcs_status rc = orcs_artifacts_lineage(c->artifacts, o->args[0], dir,
                                            (unsigned) o->depth, &graph);
    if (rc != ORCS_OK)
        return orcs__cli_fail("lineage", rc);
    if (o->json) {
        orcs__cli_print_json(graph);
    } else {
        size_t i;
        json_t *entry;
        json_array_foreach(json_object_get(graph, "artifacts"), i, entry)
        {
            const char *error =
                json_string_value(json_object_get(entry, "error"));
            printf("%+4" JSON_INTEGER_FORMAT "  %s  %s\n",
                   json_integer_value(json_object_get(entry, "depth")),
                   json_string_value(json_object_get(entry, "id")),
                   error ? error
                         : json_string_value(
                             json_object_get(entry, "media_type")));
        }
        json_array_foreach(json_object_get(graph, "edges"), i, entry)
        {
            printf("edge %.12s -> %.12s\n",
                   json_string_value(json_object_get(entry, "from")),
                   json_string_value(json_object_get(entry, "to")));
        }
    }
    json_decref(graph);
    return 0;
}
