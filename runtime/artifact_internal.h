/*  artifact_internal.h — what artifact.c (records, put/get, lineage) and
    artifact_key.c (the node key file) share.
    SPDX-License-Identifier: MPL-2.0 */
#ifndef ORCS_ARTIFACT_INTERNAL_H_INCLUDED
#define ORCS_ARTIFACT_INTERNAL_H_INCLUDED

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <sodium.h>

#include "orcs/artifact.h"

struct orcs_artifacts_t {
    orcs_store_t *store;      // borrowed
    char *data_dir;           // where node.key lives, or NULL
    pthread_mutex_t key_lock; // guards the two fields below
    bool key_loaded;          // secret_key holds the node key
    uint8_t secret_key[crypto_sign_SECRETKEYBYTES]; // seed || public key
};

// Copies the node's secret key into sk, loading DATA/node.key or creating
// it (mode 0600) on first use. Returns ORCS_OK; ORCS_EINVAL without a data
// directory; ORCS_EDENIED when the file is readable by others; ORCS_EPROTO
// when it is not a key; ORCS_EIO.
orcs_status orcs__artifacts_secret_key(orcs_artifacts_t *self,
                                       uint8_t sk[crypto_sign_SECRETKEYBYTES]);

#endif
