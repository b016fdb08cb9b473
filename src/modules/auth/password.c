/*
 * password.c - password policy, Argon2id hashing and the hashing concurrency cap
 * (see password.h).
 */
#include "modules/auth/password.h"
#include "core/err.h"
#include "core/json.h"
#include "core/rand.h"
#include "modules/auth/password_list.h"

#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* OWASP Password Storage Cheat Sheet minimum for Argon2id: m = 19 MiB, t = 2, p = 1 */
#define PW_OPSLIMIT 2ULL
#define PW_MEMLIMIT (19ULL * 1024 * 1024)

static sem_t slots;
static char dummy_hash[PW_HASH_LEN];
static pthread_once_t dummy_once = PTHREAD_ONCE_INIT;

/* The hash unknown accounts are checked against. Made on first use, not at start-up,
 * where its 20-odd milliseconds would delay readiness. */
static void make_dummy(void)
{
    char random_pw[33];
    unsigned char raw[24];
    mc_random_bytes(raw, sizeof(raw));
    b64url_encode(raw, sizeof(raw), random_pw);
    if (crypto_pwhash_str_alg(dummy_hash, random_pw, strlen(random_pw), PW_OPSLIMIT, PW_MEMLIMIT,
                              crypto_pwhash_ALG_ARGON2ID13) != 0)
        dummy_hash[0] = '\0'; /* verify then fails fast; logged by the caller's outcome */
}

int pw_init(int concurrency)
{
    if (concurrency <= 0) {
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        concurrency = cores > 0 ? (int)cores : 2;
    }
    if (sem_init(&slots, 0, (unsigned)concurrency) != 0)
        return MC_ENOMEM;
    char random_pw[33];
    unsigned char raw[24];
    mc_random_bytes(raw, sizeof(raw));
    b64url_encode(raw, sizeof(raw), random_pw);
    if (crypto_pwhash_str_alg(dummy_hash, random_pw, strlen(random_pw), PW_OPSLIMIT, PW_MEMLIMIT,
                              crypto_pwhash_ALG_ARGON2ID13) != 0)
        return MC_ENOMEM;
    return pwlist_init();
}

void pw_check_policy(const char *password, const char *field, struct verrs *v)
{
    size_t n = utf8_length(password);
    if (n < PW_MIN_CHARS || n > PW_MAX_CHARS) {
        verrs_add(v, MC_EBADREQ, field, "must be %d to %d characters long", PW_MIN_CHARS,
                  PW_MAX_CHARS);
        return;
    }
    if (pwlist_contains(password))
        verrs_add(v, MC_EBADREQ, field,
                  "is too common or known from breaches (breached); choose another");
}

static int take_slot(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += 2;
    while (sem_timedwait(&slots, &ts) != 0) {
        if (errno != EINTR)
            return MC_EBUSY;
    }
    return 0;
}

int pw_hash(const char *password, char out[PW_HASH_LEN])
{
    int rc = take_slot();
    if (rc != 0)
        return rc;
    if (crypto_pwhash_str_alg(out, password, strlen(password), PW_OPSLIMIT, PW_MEMLIMIT,
                              crypto_pwhash_ALG_ARGON2ID13) != 0)
        rc = MC_ENOMEM;
    sem_post(&slots);
    return rc;
}

int pw_verify(const char *hash, const char *password)
{
    int rc = take_slot();
    if (rc != 0)
        return rc;
    bool real = hash != NULL && strncmp(hash, "$argon2id$", 10) == 0;
    if (!real)
        pthread_once(&dummy_once, make_dummy);
    int ok = crypto_pwhash_str_verify(real ? hash : dummy_hash, password, strlen(password));
    sem_post(&slots);
    return (real && ok == 0) ? 0 : MC_EUNAUTH;
}

bool pw_needs_rehash(const char *hash)
{
    return crypto_pwhash_str_needs_rehash(hash, PW_OPSLIMIT, PW_MEMLIMIT) != 0;
}
