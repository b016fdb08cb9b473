/*
 * mail_int.h - internals of the mail layer shared by mail.c, the transports and the unit
 * tests: the mailer itself, the transport table, message building and encoders.
 */
#ifndef MC_INFRA_MAIL_INT_H
#define MC_INFRA_MAIL_INT_H

#include "core/rand.h"
#include "infra/mail/mail.h"

#include <stdint.h>

struct buf;
struct config;

/* What a transport provides. */
struct mail_transport {
    const char *name; /* "outbox", "smtp" */
    /* Delivers one built message (whole RFC 5322 text, CRLF line ends). id is the message's
     * UUIDv7 (also in its Message-ID); rcpt a validated bare address. Returns 0,
     * MC_EUNAVAIL or MC_EIO; logs the reason. Must be thread-safe. */
    int (*send)(struct mailer *m, const char *id, const char *rcpt, const char *data, size_t len);
    /* Frees m->state. */
    void (*close)(struct mailer *m);
};

struct mailer {
    const struct mail_transport *t;    /* how messages leave */
    char from_header[512];             /* From: value, display name already encoded */
    char from_addr[MAIL_ADDR_MAX + 1]; /* envelope sender and Message-ID domain source */
    const char *from_domain;           /* points into from_addr, after the '@' */
    void *state;                       /* the transport's own data, owned */
};

/* Parses MAIL_FROM ("Name <addr>", "\"Name\" <addr>" or "addr") into m->from_header and
 * m->from_addr. Returns 0 or MC_ECONFIG with err set. */
int mail_parse_from(struct mailer *m, const char *from, char *err, size_t errlen);

/* Builds the whole message for msg into out (appended): headers with Date (now_ms), a
 * Message-ID of <id@from-domain>, then the quoted-printable body. Returns 0 or MC_EINVAL
 * (bad address, control character, invalid UTF-8, over a cap). */
int mail_build(const struct mailer *m, const struct mail_msg *msg, const char *id, int64_t now_ms,
               struct buf *out);

/* Appends "Name: value\r\n": value as is when it is printable ASCII that fits a 78-column
 * line and holds no "=?", else as RFC 2047 B encoded-words of whole UTF-8 characters,
 * folded one per line. value must be valid UTF-8 without control characters. */
void mail_put_header(struct buf *b, const char *name, const char *value);

/* Appends text as a quoted-printable body (RFC 2045 6.7) with CRLF line ends: lines of at
 * most 76 characters, '=' soft breaks, trailing blanks, '.' and "From " at the start of a
 * line encoded. Every kind of line end in text becomes a CRLF. Ends with a CRLF unless
 * text is empty. */
void mail_put_qp(struct buf *b, const char *text);

/* True if s is well-formed UTF-8 (no overlong forms, surrogates or code points past
 * U+10FFFF). */
bool mail_utf8_valid(const char *s);

/* Formats an RFC 5322 date in UTC: "Thu, 03 Dec 2026 17:07:56 +0000" (31 characters). */
#define MAIL_DATE_LEN 64 /* room the compiler can prove */
void mail_format_date(int64_t ms, char out[MAIL_DATE_LEN]);

int mail_outbox_open(struct mailer *m, const char *data_dir, char *err, size_t errlen);
int mail_smtp_open(struct mailer *m, const struct config *cfg, char *err, size_t errlen);

#endif
