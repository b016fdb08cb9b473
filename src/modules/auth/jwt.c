/*
 * jwt.c - HS256 access tokens (see jwt.h). HMAC-SHA256 comes from libsodium; the
 * comparison is constant-time (crypto_auth_hmacsha256_verify).
 */
#include "modules/auth/jwt.h"
#include "core/err.h"
#include "core/json.h"
#include "core/mem.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

static const char header_json[] = "{\"alg\":\"HS256\",\"typ\":\"at+jwt\"}";

static void mac(const struct jwt_keys *k, const char *data, size_t len,
                unsigned char out[crypto_auth_hmacsha256_BYTES])
{
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, k->key, k->keylen);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)data, len);
    crypto_auth_hmacsha256_final(&st, out);
}

int jwt_sign(const struct jwt_keys *k, const struct jwt_claims *c, char *out, size_t cap)
{
    json_t *p = json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:I}", "iss", k->iss, "aud", k->aud,
                          "sub", c->sub, "sid", c->sid, "jti", c->jti, "iat", (json_int_t)c->iat,
                          "exp", (json_int_t)c->exp);
    char *payload = p ? json_dumps(p, JSON_COMPACT) : NULL;
    json_decref(p);
    if (payload == NULL)
        return MC_ENOMEM;
    size_t hl = strlen(header_json), pl = strlen(payload);
    size_t need = b64url_encoded_len(hl) + 1 + b64url_encoded_len(pl) + 1 +
                  b64url_encoded_len(crypto_auth_hmacsha256_BYTES) + 1;
    int rc = MC_ETOOBIG;
    if (need > cap)
        goto out;
    b64url_encode(header_json, hl, out);
    size_t n = strlen(out);
    out[n++] = '.';
    b64url_encode(payload, pl, out + n);
    n += strlen(out + n);
    unsigned char sig[crypto_auth_hmacsha256_BYTES];
    mac(k, out, n, sig);
    out[n++] = '.';
    b64url_encode(sig, sizeof(sig), out + n);
    rc = 0;
out:
    free(payload);
    return rc;
}

/* Decodes one base64url part into a NUL-terminated heap buffer. NULL on error. */
static char *decode_part(const char *s, size_t len, size_t *out_len)
{
    char *buf = mc_xmalloc(len + 1);
    size_t n = 0;
    if (b64url_decode(s, len, (unsigned char *)buf, len, &n) != 0) {
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    *out_len = n;
    return buf;
}

static bool copy_uuid(json_t *obj, const char *key, char out[UUID_STR_LEN])
{
    const char *v = json_string_value(json_object_get(obj, key));
    if (v == NULL || !uuid_valid(v))
        return false;
    memcpy(out, v, UUID_STR_LEN);
    return true;
}

static const char *check_header(const char *h, size_t hlen)
{
    json_t *hdr = NULL;
    char err[64];
    const char *why = NULL;
    if (json_parse_strict(h, hlen, &hdr, err, sizeof(err)) != 0 || !json_is_object(hdr))
        why = "header is not JSON";
    else if (json_object_size(hdr) != 2)
        why = "unexpected header fields";
    else if (!json_is_string(json_object_get(hdr, "alg")) ||
             strcmp(json_string_value(json_object_get(hdr, "alg")), "HS256") != 0)
        why = "algorithm not allowed";
    else if (!json_is_string(json_object_get(hdr, "typ")) ||
             strcmp(json_string_value(json_object_get(hdr, "typ")), "at+jwt") != 0)
        why = "not an access token";
    json_decref(hdr);
    return why;
}

static const char *check_payload(const struct jwt_keys *k, json_t *p, int64_t now_s,
                                 struct jwt_claims *out)
{
    json_t *exp = json_object_get(p, "exp"), *iat = json_object_get(p, "iat");
    json_t *nbf = json_object_get(p, "nbf");
    const char *iss = json_string_value(json_object_get(p, "iss"));
    const char *aud = json_string_value(json_object_get(p, "aud"));
    if (!json_is_integer(exp) || !json_is_integer(iat))
        return "exp or iat missing";
    if (json_integer_value(exp) <= now_s)
        return "expired";
    if (json_integer_value(iat) > now_s + 60)
        return "issued in the future";
    if (nbf != NULL && (!json_is_integer(nbf) || json_integer_value(nbf) > now_s))
        return "not yet valid";
    if (iss == NULL || strcmp(iss, k->iss) != 0)
        return "wrong issuer";
    if (aud == NULL || strcmp(aud, k->aud) != 0)
        return "wrong audience";
    if (!copy_uuid(p, "sub", out->sub) || !copy_uuid(p, "sid", out->sid) ||
        !copy_uuid(p, "jti", out->jti))
        return "sub, sid or jti missing";
    out->iat = json_integer_value(iat);
    out->exp = json_integer_value(exp);
    return NULL;
}

int jwt_verify(const struct jwt_keys *k, const char *token, int64_t now_s, struct jwt_claims *out,
               const char **why)
{
    const char *reason = "malformed";
    char *header = NULL, *payload = NULL;
    json_t *p = NULL;
    size_t len = token ? strnlen(token, JWT_MAX_LEN + 1) : 0;
    if (len == 0 || len > JWT_MAX_LEN)
        goto out;
    const char *dot1 = memchr(token, '.', len);
    const char *dot2 = dot1 ? memchr(dot1 + 1, '.', len - (size_t)(dot1 + 1 - token)) : NULL;
    if (dot2 == NULL || memchr(dot2 + 1, '.', len - (size_t)(dot2 + 1 - token)) != NULL)
        goto out;
    /* signature first: nothing of an unauthenticated token is interpreted beyond this */
    unsigned char sig[crypto_auth_hmacsha256_BYTES + 3];
    size_t siglen = 0;
    if (b64url_decode(dot2 + 1, len - (size_t)(dot2 + 1 - token), sig, sizeof(sig), &siglen) != 0 ||
        siglen != crypto_auth_hmacsha256_BYTES)
        goto out;
    unsigned char want[crypto_auth_hmacsha256_BYTES];
    mac(k, token, (size_t)(dot2 - token), want);
    if (sodium_memcmp(sig, want, sizeof(want)) != 0) {
        reason = "bad signature";
        goto out;
    }
    size_t hlen = 0, plen = 0;
    header = decode_part(token, (size_t)(dot1 - token), &hlen);
    payload = decode_part(dot1 + 1, (size_t)(dot2 - dot1 - 1), &plen);
    if (header == NULL || payload == NULL)
        goto out;
    if ((reason = check_header(header, hlen)) != NULL)
        goto out;
    char err[64];
    reason = "payload is not JSON";
    if (json_parse_strict(payload, plen, &p, err, sizeof(err)) != 0 || !json_is_object(p))
        goto out;
    reason = check_payload(k, p, now_s, out);
out:
    json_decref(p);
    free(header);
    free(payload);
    if (why != NULL)
        *why = reason;
    return reason == NULL ? 0 : MC_EUNAUTH;
}
