/*
 * err.c - names and HTTP mapping of the error enum (see err.h).
 * One table so that the mapping lives in exactly one place.
 */
#include "core/err.h"

#include <stddef.h>

struct err_row {
    const char *name;
    struct mc_err_info http;
};

static const struct err_row err_table[MC_ERR_COUNT] = {
    [MC_OK] = {"ok", {200, "about:blank", "OK"}},
    [MC_ENOMEM] = {"no_memory", {503, "/problems/unavailable", "Service unavailable"}},
    [MC_EBADREQ] = {"bad_request", {400, "/problems/bad-request", "Bad request"}},
    [MC_EINVAL] = {"invalid", {422, "/problems/validation", "Invalid request"}},
    [MC_EUNAUTH] = {"unauthorized", {401, "/problems/unauthorized", "Authentication required"}},
    [MC_EFORBIDDEN] = {"forbidden", {403, "/problems/forbidden", "Forbidden"}},
    [MC_ENOTFOUND] = {"not_found", {404, "/problems/not-found", "Not found"}},
    [MC_EMETHOD] = {"method_not_allowed",
                    {405, "/problems/method-not-allowed", "Method not allowed"}},
    [MC_ECONFLICT] = {"conflict", {409, "/problems/conflict", "Conflict"}},
    [MC_EPRECOND] = {"precondition_failed",
                     {412, "/problems/precondition-failed", "Precondition failed"}},
    [MC_ETOOBIG] = {"too_large", {413, "/problems/too-large", "Payload too large"}},
    [MC_EMEDIA] = {"unsupported_media_type",
                   {415, "/problems/unsupported-media-type", "Unsupported media type"}},
    [MC_ELOCKED] = {"locked", {423, "/problems/locked", "Account locked"}},
    [MC_ERATE] = {"rate_limited", {429, "/problems/rate-limited", "Too many requests"}},
    [MC_EINTERNAL] = {"internal", {500, "/problems/internal", "Internal error"}},
    [MC_EUNAVAIL] = {"unavailable", {503, "/problems/unavailable", "Service unavailable"}},
    [MC_EBUSY] = {"busy", {503, "/problems/unavailable", "Service busy, retry"}},
    [MC_EIO] = {"io_error", {500, "/problems/internal", "Internal error"}},
    [MC_ECONFIG] = {"config", {500, "/problems/internal", "Internal error"}},
    [MC_EDB] = {"database", {500, "/problems/internal", "Internal error"}},
    [MC_ECORRUPT] = {"corrupt", {500, "/problems/internal", "Internal error"}},
};

const char *mc_strerror(int err)
{
    if (err < 0 || err >= MC_ERR_COUNT || err_table[err].name == NULL)
        return "unknown";
    return err_table[err].name;
}

const struct mc_err_info *mc_err_http(int err)
{
    if (err < 0 || err >= MC_ERR_COUNT || err_table[err].name == NULL)
        return &err_table[MC_EINTERNAL].http;
    return &err_table[err].http;
}
