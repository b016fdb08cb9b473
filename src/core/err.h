/*
 * err.h - the one error enum of Mimicare.
 *
 * Every function that acts returns 0 (MC_OK) or one of these codes. The codes are
 * never renumbered; mc_err_http() maps each one to an HTTP status and an RFC 9457
 * problem type, so a handler only says *what* went wrong and the HTTP layer says how.
 */
#ifndef MC_CORE_ERR_H
#define MC_CORE_ERR_H

enum mc_err {
    MC_OK = 0,
    MC_ENOMEM = 1,     /* allocation failed */
    MC_EBADREQ = 2,    /* malformed request: bad JSON, bad query, wrong type (400) */
    MC_EINVAL = 3,     /* well-formed but invalid values (422) */
    MC_EUNAUTH = 4,    /* no or invalid credentials (401) */
    MC_EFORBIDDEN = 5, /* authenticated, role not allowed (403) */
    MC_ENOTFOUND = 6,  /* not found, or not yours (404) */
    MC_EMETHOD = 7,    /* method not allowed on this path (405) */
    MC_ECONFLICT = 8,  /* duplicate or taken (409) */
    MC_EPRECOND = 9,   /* If-Match version mismatch (412) */
    MC_ETOOBIG = 10,   /* body or file too large (413) */
    MC_EMEDIA = 11,    /* wrong media type (415) */
    MC_ELOCKED = 12,   /* account locked (423) */
    MC_ERATE = 13,     /* rate limited (429) */
    MC_EINTERNAL = 14, /* bug or unexpected state (500) */
    MC_EUNAVAIL = 15,  /* a dependency is down (503) */
    MC_EBUSY = 16,     /* transient contention: database busy / serialization failure */
    MC_EIO = 17,       /* file system or socket error */
    MC_ECONFIG = 18,   /* configuration problem (start-up) */
    MC_EDB = 19,       /* database error that is not the client's fault */
    MC_ECORRUPT = 20,  /* stored data failed an integrity check */
    MC_ERR_COUNT
};

/* What the HTTP layer needs to render an error. */
struct mc_err_info {
    int http_status;   /* e.g. 404 */
    const char *type;  /* problem type URI, e.g. "/problems/not-found" */
    const char *title; /* short human title, safe to show to clients */
};

/* Returns a short, stable, lower-case name for a code ("not_found"); never NULL. */
const char *mc_strerror(int err);

/* Returns the HTTP rendering of a code; unknown codes map to 500. Never NULL. */
const struct mc_err_info *mc_err_http(int err);

#endif
