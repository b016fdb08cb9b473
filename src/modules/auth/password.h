/*
 * password.h - password policy and Argon2id hashing.
 *
 * Hashes are libsodium's encoded Argon2id strings with at least m = 19 MiB, t = 2, p = 1
 * (OWASP's minimum). Hashing is CPU- and memory-heavy, so at most
 * PASSWORD_HASH_CONCURRENCY hashes run at once; a caller that cannot get a slot within
 * two seconds gets MC_EBUSY (503) instead of queueing without bound.
 */
#ifndef MC_AUTH_PASSWORD_H
#define MC_AUTH_PASSWORD_H

#include <sodium.h>
#include <stdbool.h>

#define PW_HASH_LEN  crypto_pwhash_STRBYTES
#define PW_MIN_CHARS 12
#define PW_MAX_CHARS 128

struct verrs;

/* Sets the concurrency cap (0 = CPU cores) and prepares the dummy hash used for unknown
 * accounts. Call once at start. Returns 0 or MC_ENOMEM. */
int pw_init(int concurrency);

/* Checks the policy: 12..128 code points, valid UTF-8 (already guaranteed for JSON
 * input), not in the common/breached list. Records problems under field in v. */
void pw_check_policy(const char *password, const char *field, struct verrs *v);

/* Hashes password into out. 0, MC_EBUSY (no slot) or MC_ENOMEM. */
int pw_hash(const char *password, char out[PW_HASH_LEN]);

/* Verifies password against an encoded hash: 0 on a match, MC_EUNAUTH otherwise,
 * MC_EBUSY when no slot is free. A NULL hash verifies against the dummy hash and always
 * fails, taking the same time as a real check (no account enumeration by timing). */
int pw_verify(const char *hash, const char *password);

/* True if hash was made with weaker parameters than the current ones. */
bool pw_needs_rehash(const char *hash);

#endif
