/*
 * mail.c - the transport-independent half of mail (see mail.h): opening the configured
 * transport, checking input, and building the RFC 5322 / MIME message that every
 * transport carries unchanged.
 *
 * Header injection is impossible by construction: To must pass mail_address_valid, and
 * Subject and the From display name may not hold any control character, so no CR or LF
 * reaches a header; the body is quoted-printable, so it is 7-bit with short lines.
 */
#include "infra/mail/mail_int.h"
#include "core/config.h"
#include "core/err.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/timeutil.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define HEADER_LINE_MAX 78 /* RFC 5322 2.1.1: SHOULD be no more than 78 characters */
#define EW_CHUNK_BYTES  36 /* raw bytes per encoded-word: 48 base64 chars, 60 in all */
#define QP_LINE_MAX     76 /* RFC 2045 6.7 (5) */

/* ------------------------------------------------------------ checks ---- */

bool mail_utf8_valid(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        unsigned c = *p;
        if (c < 0x80) {
            p++;
            continue;
        }
        /* n continuation bytes follow; below min the form is overlong */
        int n = (c & 0xE0) == 0xC0 ? 1 : (c & 0xF0) == 0xE0 ? 2 : (c & 0xF8) == 0xF0 ? 3 : 0;
        if (n == 0)
            return false;
        static const unsigned min_cp[] = {0, 0x80, 0x800, 0x10000};
        unsigned min = min_cp[n];
        unsigned cp = c & (0x3Fu >> n);
        for (int i = 1; i <= n; i++) {
            if ((p[i] & 0xC0) != 0x80)
                return false; /* also stops at the NUL */
            cp = (cp << 6) | (p[i] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        p += n + 1;
    }
    return true;
}

/* No C0 control character (CR, LF, TAB, ESC ...) and no DEL. */
static bool no_controls(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p < 0x20 || *p == 0x7F)
            return false;
    return true;
}

static bool atext_or_dot(unsigned char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return true;
    return c != '\0' && strchr(".!#$%&'*+-/=?^_`{|}~", c) != NULL;
}

static bool domain_valid(const char *d)
{
    size_t label = 0;
    for (const char *p = d;; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == '.' || c == '\0') {
            if (label == 0 || label > 63)
                return false; /* empty label: leading, trailing or double dot */
            if (c == '\0')
                return true;
            label = 0;
        } else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                   c == '-') {
            label++;
        } else {
            return false;
        }
    }
}

bool mail_address_valid(const char *addr)
{
    if (addr == NULL)
        return false;
    size_t len = strlen(addr);
    const char *at = strchr(addr, '@');
    if (len < 3 || len > MAIL_ADDR_MAX || at == NULL || strchr(at + 1, '@') != NULL)
        return false;
    size_t local = (size_t)(at - addr);
    if (local == 0 || local > 64)
        return false;
    for (size_t i = 0; i < local; i++)
        if (!atext_or_dot((unsigned char)addr[i]))
            return false;
    return domain_valid(at + 1);
}

/* ------------------------------------------------------------ header encoding ---- */

static bool header_fits_raw(const char *name, const char *value)
{
    if (strlen(name) + 2 + strlen(value) > HEADER_LINE_MAX || strstr(value, "=?") != NULL)
        return false;
    for (const unsigned char *p = (const unsigned char *)value; *p; p++)
        if (*p < 0x20 || *p > 0x7E)
            return false;
    return true;
}

/* Length of the longest prefix of s (at most max bytes) that ends on a character boundary. */
static size_t utf8_prefix(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n <= max)
        return n;
    n = max;
    while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
        n--; /* s[n] is a continuation byte: the character starting before it does not fit */
    return n > 0 ? n : max; /* only for invalid UTF-8, which callers have refused */
}

static void put_encoded_words(struct buf *b, const char *value)
{
    char b64[sodium_base64_ENCODED_LEN(EW_CHUNK_BYTES, sodium_base64_VARIANT_ORIGINAL)];
    const char *p = value;
    bool first = true;
    do {
        size_t n = utf8_prefix(p, EW_CHUNK_BYTES);
        sodium_bin2base64(b64, sizeof(b64), (const unsigned char *)p, n,
                          sodium_base64_VARIANT_ORIGINAL);
        buf_printf(b, "%s=?UTF-8?B?%s?=", first ? "" : "\r\n ", b64);
        first = false;
        p += n;
    } while (*p);
}

void mail_put_header(struct buf *b, const char *name, const char *value)
{
    buf_printf(b, "%s: ", name);
    if (header_fits_raw(name, value))
        buf_puts(b, value);
    else
        put_encoded_words(b, value);
    buf_puts(b, "\r\n");
}

/* ------------------------------------------------------------ quoted-printable ---- */

/* Writes the token for byte i of a line into tok; returns its length (1 or 3). */
static size_t qp_token(const char *s, size_t i, size_t col, char tok[4])
{
    static const char hex[] = "0123456789ABCDEF";
    unsigned char c = (unsigned char)s[i];
    bool eol = s[i + 1] == '\0' || s[i + 1] == '\r' || s[i + 1] == '\n';
    bool literal = (c >= 33 && c <= 126 && c != '=') || ((c == ' ' || c == '\t') && !eol);
    /* a line that starts with '.' could end an SMTP DATA section; "From " gets mangled by
     * mbox tools: encoding their first byte keeps the decoded text the same */
    if (col == 0 && (c == '.' || strncmp(s + i, "From ", 5) == 0))
        literal = false;
    if (literal) {
        tok[0] = (char)c;
        return 1;
    }
    tok[0] = '=';
    tok[1] = hex[c >> 4];
    tok[2] = hex[c & 0x0F];
    return 3;
}

void mail_put_qp(struct buf *b, const char *text)
{
    size_t col = 0;
    char tok[4];
    for (size_t i = 0; text[i] != '\0'; i++) {
        if (text[i] == '\r' || text[i] == '\n') {
            if (text[i] == '\r' && text[i + 1] == '\n')
                i++;
            buf_puts(b, "\r\n");
            col = 0;
            continue;
        }
        size_t n = qp_token(text, i, col, tok);
        /* a soft break "=" takes the 76th column, so a line holds at most 75 */
        if (col + n > QP_LINE_MAX - 1) {
            buf_puts(b, "=\r\n");
            col = 0;
            n = qp_token(text, i, col, tok);
        }
        buf_append(b, tok, n);
        col += n;
    }
    if (col > 0)
        buf_puts(b, "\r\n");
}

/* ------------------------------------------------------------ message ---- */

void mail_format_date(int64_t ms, char out[MAIL_DATE_LEN])
{
    static const char *const days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                         "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    if (gmtime_r(&t, &tm) == NULL || tm.tm_year + 1900 > 9999 || tm.tm_year + 1900 < 0) {
        t = 0;
        gmtime_r(&t, &tm);
    }
    snprintf(out, MAIL_DATE_LEN, "%s, %02d %s %04d %02d:%02d:%02d +0000", days[tm.tm_wday],
             tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

static int check_msg(const struct mail_msg *msg)
{
    if (msg == NULL || msg->subject == NULL || msg->text == NULL || !mail_address_valid(msg->to))
        return MC_EINVAL;
    if (strlen(msg->subject) > MAIL_SUBJECT_MAX || !no_controls(msg->subject) ||
        !mail_utf8_valid(msg->subject))
        return MC_EINVAL;
    if (strlen(msg->text) > MAIL_TEXT_MAX || !mail_utf8_valid(msg->text))
        return MC_EINVAL;
    return 0;
}

int mail_build(const struct mailer *m, const struct mail_msg *msg, const char *id, int64_t now_ms,
               struct buf *out)
{
    int rc = check_msg(msg);
    if (rc != 0)
        return rc;
    char date[MAIL_DATE_LEN];
    mail_format_date(now_ms, date);
    buf_printf(out, "Date: %s\r\n", date);
    buf_printf(out, "From: %s\r\n", m->from_header);
    buf_printf(out, "To: %s\r\n", msg->to);
    mail_put_header(out, "Subject", msg->subject);
    buf_printf(out, "Message-ID: <%s@%s>\r\n", id, m->from_domain);
    buf_puts(out, "MIME-Version: 1.0\r\n"
                  "Content-Type: text/plain; charset=utf-8\r\n"
                  "Content-Transfer-Encoding: quoted-printable\r\n"
                  "Auto-Submitted: auto-generated\r\n" /* RFC 3834: no auto-replies */
                  "\r\n");
    mail_put_qp(out, msg->text);
    return 0;
}

/* ------------------------------------------------------------ From ---- */

/* RFC 5322 atext plus space: a display name made of these needs no quoting. */
static bool phrase_plain(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p != ' ' && (*p == '.' || !atext_or_dot(*p)))
            return false;
    return true;
}

static bool is_ascii(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p >= 0x80)
            return false;
    return true;
}

/* Writes the From header value for display name and address into m->from_header. */
static int format_from(struct mailer *m, const char *name)
{
    struct buf b = BUF_INIT;
    if (name[0] == '\0') {
        buf_puts(&b, m->from_addr);
    } else if (phrase_plain(name)) {
        buf_printf(&b, "%s <%s>", name, m->from_addr);
    } else if (is_ascii(name)) {
        buf_putc(&b, '"');
        for (const char *p = name; *p; p++) {
            if (*p == '"' || *p == '\\')
                buf_putc(&b, '\\');
            buf_putc(&b, *p);
        }
        buf_printf(&b, "\" <%s>", m->from_addr);
    } else {
        put_encoded_words(&b, name);
        buf_printf(&b, " <%s>", m->from_addr);
    }
    int rc = b.len < sizeof(m->from_header) ? 0 : MC_ECONFIG;
    if (rc == 0)
        memcpy(m->from_header, b.data, b.len + 1);
    buf_free(&b);
    return rc;
}

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        s[--n] = '\0';
    return s;
}

int mail_parse_from(struct mailer *m, const char *from, char *err, size_t errlen)
{
    int rc = MC_ECONFIG;
    char *copy = mc_xstrdup(from);
    char *s = trim(copy);
    char *name = s + strlen(s); /* "" */
    char *addr = s;
    char *lt = strrchr(s, '<');
    size_t n = strlen(s);
    if (!no_controls(s) || !mail_utf8_valid(s))
        goto out;
    if (lt != NULL && n > 0 && s[n - 1] == '>') {
        s[n - 1] = '\0';
        *lt = '\0';
        addr = lt + 1;
        name = trim(s);
        size_t nl = strlen(name);
        if (nl >= 2 && name[0] == '"' && name[nl - 1] == '"') {
            name[nl - 1] = '\0'; /* quoted display name: keep the text, drop the quotes */
            name++;
        }
    }
    if (!mail_address_valid(addr) || strlen(name) > 128)
        goto out;
    memcpy(m->from_addr, addr, strlen(addr) + 1);
    m->from_domain = strchr(m->from_addr, '@') + 1;
    rc = format_from(m, name);
out:
    if (rc != 0)
        snprintf(err, errlen,
                 "MAIL_FROM must be an address or \"Name <address>\" (one '@', no spaces or "
                 "control characters, at most %d characters)",
                 MAIL_ADDR_MAX);
    free(copy);
    return rc;
}

/* ------------------------------------------------------------ API ---- */

int mail_open(const struct config *cfg, struct mailer **out, char *err, size_t errlen)
{
    struct mailer *m = mc_xcalloc(1, sizeof(*m));
    const char *transport = config_str(cfg, CFG_MAIL_TRANSPORT);
    int rc = mail_parse_from(m, config_str(cfg, CFG_MAIL_FROM), err, errlen);
    *out = NULL;
    if (rc != 0)
        goto out_free;
    if (strcmp(transport, "outbox") == 0) {
        rc = mail_outbox_open(m, config_str(cfg, CFG_DATA_DIR), err, errlen);
    } else if (strcmp(transport, "smtp") == 0) {
        rc = mail_smtp_open(m, cfg, err, errlen);
    } else {
        snprintf(err, errlen,
                 "MAIL_TRANSPORT=%s is not implemented yet; use outbox or smtp (an SMTP relay "
                 "such as the SES SMTP endpoint works with smtp)",
                 transport);
        rc = MC_ECONFIG;
    }
    if (rc != 0)
        goto out_free;
    log_info("mail transport ready", LF_S("transport", m->t->name), LF_S("from", m->from_addr));
    *out = m;
    return 0;
out_free:
    free(m);
    return rc;
}

void mail_close(struct mailer *m)
{
    if (m == NULL)
        return;
    if (m->t != NULL && m->t->close != NULL)
        m->t->close(m);
    free(m);
}

const char *mail_transport_name(const struct mailer *m)
{
    return m->t->name;
}

int mail_send(struct mailer *m, const struct mail_msg *msg)
{
    char id[UUID_STR_LEN];
    struct buf data = BUF_INIT;
    uuid_v7(id);
    int rc = mail_build(m, msg, id, mc_now_ms(), &data);
    if (rc != 0) {
        log_warn("mail refused: bad address, subject or body", LF_S("transport", m->t->name));
        goto out;
    }
    rc = m->t->send(m, id, msg->to, data.data, data.len);
    if (rc == 0)
        log_info("mail sent", LF_S("transport", m->t->name), LF_S("messageId", id));
out:
    buf_free(&data);
    return rc;
}
