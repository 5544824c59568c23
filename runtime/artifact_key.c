/*  artifact_key.c — the node's Ed25519 key in DATA/node.key: the 64 bytes
    of libsodium's secret key (seed, then public key), mode 0600. Created
    on first use: written to a temporary file, synced, then linked into
    place, so two processes racing to create it agree on one key and no
    reader ever sees half a key.
    SPDX-License-Identifier: MPL-2.0 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "artifact_internal.h"
#include "orcs/log.h"
#include "orcs/sys.h"

#define S_KEY_FILE "node.key"

static orcs_status
s_create(const char *path)
{
    char tmp[PATH_MAX + 64];
    snprintf(tmp, sizeof tmp, "%s.%d.%08x.tmp", path, (int) getpid(),
             randombytes_random());
    uint8_t pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES];
    crypto_sign_keypair(pk, sk);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    orcs_status rc = ORCS_OK;
    if (fd < 0 || write(fd, sk, sizeof sk) != (ssize_t) sizeof sk
        || fsync(fd) != 0)
        rc = ORCS_EIO;
    if (fd >= 0)
        close(fd);
    sodium_memzero(sk, sizeof sk);
    if (rc == ORCS_OK && link(tmp, path) != 0 && errno != EEXIST)
        rc = ORCS_EIO; // EEXIST: another process made it first; use theirs
    if (rc != ORCS_OK)
        orcs_log_debug("artifact", "cannot create %s: %s", path,
                       strerror(errno));
    unlink(tmp);
    return rc;
}

static orcs_status
s_load(const char *path, uint8_t sk[crypto_sign_SECRETKEYBYTES])
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? ORCS_ENOTFOUND : ORCS_EIO;
    struct stat st;
    orcs_status rc = ORCS_OK;
    if (fstat(fd, &st) != 0)
        rc = ORCS_EIO;
    else if (st.st_mode & 077)
        rc = ORCS_EDENIED; // like ssh: a key others can read is not secret
    else if (st.st_size != crypto_sign_SECRETKEYBYTES
             || read(fd, sk, crypto_sign_SECRETKEYBYTES)
                    != crypto_sign_SECRETKEYBYTES)
        rc = ORCS_EPROTO;
    close(fd);
    uint8_t pk[crypto_sign_PUBLICKEYBYTES];
    if (rc == ORCS_OK
        && (crypto_sign_ed25519_sk_to_pk(pk, sk) != 0
            || memcmp(pk, sk + 32, sizeof pk) != 0))
        rc = ORCS_EPROTO; // the seed and public key halves disagree
    if (rc != ORCS_OK) {
        sodium_memzero(sk, crypto_sign_SECRETKEYBYTES);
        orcs_log_debug("artifact", "cannot use %s status=%s", path,
                       orcs_status_name(rc));
    }
    return rc;
}

orcs_status
orcs__artifacts_secret_key(orcs_artifacts_t *self,
                           uint8_t sk[crypto_sign_SECRETKEYBYTES])
{
    if (!self->data_dir)
        return ORCS_EINVAL;
    pthread_mutex_lock(&self->key_lock);
    orcs_status rc = ORCS_OK;
    if (!self->key_loaded) {
        char path[PATH_MAX + 16];
        snprintf(path, sizeof path, "%s/%s", self->data_dir, S_KEY_FILE);
        rc = s_load(path, self->secret_key);
        if (rc == ORCS_ENOTFOUND) {
            rc = s_create(path);
            if (rc == ORCS_OK)
                rc = s_load(path, self->secret_key);
        }
        self->key_loaded = rc == ORCS_OK;
    }
    if (rc == ORCS_OK)
        memcpy(sk, self->secret_key, crypto_sign_SECRETKEYBYTES);
    pthread_mutex_unlock(&self->key_lock);
    return rc;
}

orcs_status
orcs_artifacts_public_key(orcs_artifacts_t *self, char hex[65])
{
    orcs_assert(self && hex);
    hex[0] = '\0';
    uint8_t sk[crypto_sign_SECRETKEYBYTES];
    orcs_status rc = orcs__artifacts_secret_key(self, sk);
    if (rc == ORCS_OK)
        sodium_bin2hex(hex, 65, sk + 32, crypto_sign_PUBLICKEYBYTES);
    sodium_memzero(sk, sizeof sk);
    return rc;
}
