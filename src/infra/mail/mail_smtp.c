/*
 * mail_smtp.c - the "smtp" mail transport: libcurl's SMTP client, one connection per
 * message (mail is sent by job workers, a few messages a minute, so no pooling).
 *
 * SMTP_PORT 465 means implicit TLS (smtps://); any other port speaks plain SMTP and,
 * with SMTP_STARTTLS=true (the default), must upgrade with STARTTLS or the message is
 * not sent (CURLUSESSL_ALL: no silent fall-back to clear text). Certificates are
 * verified and TLS 1.2 is the floor. With SMTP_USER set, libcurl logs in with the best
 * mechanism the server offers. Connecting may take 5 s and the whole exchange 20 s.
 * Every failure is MC_EUNAVAIL for the caller (its job is retried); the log line says
 * what happened (curl's error and the last SMTP reply code).
 */
#include "core/config.h"
#include "core/err.h"
#include "core/log.h"
#include "core/mem.h"
#include "infra/mail/mail_int.h"

#include <curl/curl.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SMTP_CONNECT_TIMEOUT_MS 5000L
#define SMTP_TOTAL_TIMEOUT_MS   20000L
#define SMTPS_PORT              465 /* RFC 8314: implicit TLS for submission */

struct smtp {
    char url[384];  /* smtp[s]://host:port/ehlo-name */
    char *user;     /* owned; NULL = no login */
    char *password; /* owned; wiped on close */
    bool starttls;  /* require STARTTLS on a plain connection */
};

/* Reads the message out of memory for libcurl's upload. */
struct upload {
    const char *data;
    size_t len;
    size_t pos;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc = CURLE_FAILED_INIT;

static void curl_init_once(void)
{
    /* once per process; never cleaned up, since other layers may use libcurl too */
    curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static size_t read_cb(char *out, size_t size, size_t nmemb, void *arg)
{
    struct upload *u = arg;
    size_t n = size * nmemb;
    if (n > u->len - u->pos)
        n = u->len - u->pos;
    memcpy(out, u->data + u->pos, n);
    u->pos += n;
    return n;
}

static CURLcode setup(CURL *h, const struct smtp *s, const char *from, struct curl_slist *rcpts,
                      struct upload *up, char *errbuf)
{
    CURLcode c = curl_easy_setopt(h, CURLOPT_URL, s->url);
    if (c == CURLE_OK)
        c = curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
    if (c == CURLE_OK)
        c = curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L); /* threads: no SIGALRM for DNS */
    if (c == CURLE_OK)
        c = curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    if (c == CURLE_OK)
        c = curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, SMTP_CONNECT_TIMEOUT_MS);
    if (c == CURLE_OK)
        c = curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, SMTP_TOTAL_TIMEOUT_MS);
    if (c == CURLE_OK)
        c = curl_easy_setopt(h, CURLOPT_USE_SSL,
                             (long)(s->starttls ? CURLUSESSL_ALL : CURLUSESSL_NONE));
    if (c == CURLE_OK)
        c = curl_easy_setopt(h, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
    if (c == CURLE_OK && s->user != NULL)
        c = curl_easy_setopt(h, CURLOPT_USERNAME, s->user);
    if (c == CURLE_OK && s->user != NULL)
        c = curl_easy_setopt(h, CURLOPT_PASSWORD, s->password);
    if (c == CURLE_OK)
        c = curl_easy_setopt(h, CURLOPT_MAIL_FROM, from);
    if (c == CURLE_OK)
        c = curl_easy_setopt(h, CURLOPT_MAIL_RCPT, rcpts);
    if (c == CURLE_OK)
        c = curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
    if (c == CURLE_OK)
        c = curl_easy_setopt(h, CURLOPT_READFUNCTION, read_cb);
    if (c == CURLE_OK)
        c = curl_easy_setopt(h, CURLOPT_READDATA, up);
    if (c == CURLE_OK)
        c = curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)up->len);
    return c;
}

static int smtp_send(struct mailer *m, const char *id, const char *rcpt, const char *data,
                     size_t len)
{
    struct smtp *s = m->state;
    int rc = MC_EUNAVAIL;
    char from[MAIL_ADDR_MAX + 3], to[MAIL_ADDR_MAX + 3];
    char errbuf[CURL_ERROR_SIZE] = "";
    struct upload up = {data, len, 0};
    struct curl_slist *rcpts = NULL;
    long reply = 0;
    snprintf(from, sizeof(from), "<%s>", m->from_addr);
    snprintf(to, sizeof(to), "<%s>", rcpt);
    CURL *h = curl_easy_init();
    if (h == NULL || (rcpts = curl_slist_append(NULL, to)) == NULL) {
        log_error("smtp: cannot set up libcurl", LF_S("messageId", id));
        goto out;
    }
    CURLcode c = setup(h, s, from, rcpts, &up, errbuf);
    if (c == CURLE_OK)
        c = curl_easy_perform(h);
    if (c != CURLE_OK) {
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &reply);
        log_warn("smtp: message not sent",
                 LF_S("error", errbuf[0] != '\0' ? errbuf : curl_easy_strerror(c)),
                 LF_I("curlCode", c), LF_I("smtpReply", reply), LF_S("messageId", id));
        goto out;
    }
    rc = 0;
out:
    curl_slist_free_all(rcpts);
    curl_easy_cleanup(h);
    return rc;
}

static void smtp_close(struct mailer *m)
{
    struct smtp *s = m->state;
    if (s == NULL)
        return;
    if (s->password != NULL)
        sodium_memzero(s->password, strlen(s->password));
    free(s->password);
    free(s->user);
    free(s);
    m->state = NULL;
}

static const struct mail_transport smtp_transport = {
    .name = "smtp",
    .send = smtp_send,
    .close = smtp_close,
};

/* A host name or IP literal that can go into a URL as it is; IPv6 gets brackets. */
static bool host_ok(const char *host, bool *ipv6)
{
    size_t n = strlen(host);
    *ipv6 = strchr(host, ':') != NULL;
    if (n == 0 || n > 253)
        return false;
    for (const char *p = host; *p; p++) {
        char c = *p;
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '-' || (*ipv6 && c == ':');
        if (!ok)
            return false;
    }
    return true;
}

int mail_smtp_open(struct mailer *m, const struct config *cfg, char *err, size_t errlen)
{
    const char *host = config_str(cfg, CFG_SMTP_HOST);
    const char *user = config_str(cfg, CFG_SMTP_USER);
    long long port = config_int(cfg, CFG_SMTP_PORT);
    bool starttls = config_bool(cfg, CFG_SMTP_STARTTLS);
    bool ipv6;
    if (!host_ok(host, &ipv6)) {
        snprintf(err, errlen,
                 "SMTP_HOST must be set to a host name or IP address when MAIL_TRANSPORT=smtp");
        return MC_ECONFIG;
    }
    pthread_once(&curl_once, curl_init_once);
    if (curl_init_rc != CURLE_OK) {
        snprintf(err, errlen, "libcurl failed to initialise: %s", curl_easy_strerror(curl_init_rc));
        return MC_ECONFIG;
    }
    struct smtp *s = mc_xcalloc(1, sizeof(*s));
    /* the URL's path is the name we give in EHLO: the sender's domain */
    snprintf(s->url, sizeof(s->url), "%s://%s%s%s:%lld/%s", port == SMTPS_PORT ? "smtps" : "smtp",
             ipv6 ? "[" : "", host, ipv6 ? "]" : "", port, m->from_domain);
    s->starttls = starttls;
    if (user[0] != '\0') {
        s->user = mc_xstrdup(user);
        s->password = mc_xstrdup(config_str(cfg, CFG_SMTP_PASSWORD));
        if (!starttls && port != SMTPS_PORT)
            log_warn("smtp: SMTP_USER is set but SMTP_STARTTLS=false: the password crosses the "
                     "network in clear");
    }
    m->state = s;
    m->t = &smtp_transport;
    return 0;
}
