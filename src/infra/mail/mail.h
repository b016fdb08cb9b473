/*
 * mail.h - outgoing e-mail: one plain-text message to one recipient at a time.
 *
 * A struct mailer is chosen from configuration at start (MAIL_TRANSPORT):
 *   outbox  every message becomes DATA_DIR/outbox/<uuidv7>.eml (written atomically, mode
 *           0600), for development and for a relay that picks the files up;
 *   smtp    libcurl to SMTP_HOST:SMTP_PORT (smtps:// on port 465, else smtp:// with
 *           STARTTLS required when SMTP_STARTTLS=true), logging in when SMTP_USER is set;
 *   ses     not implemented yet: mail_open refuses it.
 * The message itself is built here for every transport (RFC 5322 + MIME: UTF-8 text in
 * quoted-printable, RFC 2047 encoded-word subjects, CRLF line ends), so an .eml in the
 * outbox is byte for byte what SMTP would have carried.
 *
 * Sending runs in job workers, never in a request: an SMTP exchange may take up to
 * 20 seconds (5 to connect).
 */
#ifndef MC_INFRA_MAIL_H
#define MC_INFRA_MAIL_H

#include <stdbool.h>
#include <stddef.h>

struct config;
struct mailer;

#define MAIL_ADDR_MAX    254     /* RFC 5321 path limit less the angle brackets */
#define MAIL_SUBJECT_MAX 500     /* bytes of UTF-8 */
#define MAIL_TEXT_MAX    1048576 /* bytes of UTF-8 body */

/* One message. Every string is NUL-terminated UTF-8, borrowed for the call. */
struct mail_msg {
    const char *to;      /* one bare address, "name@example.org" (no display name) */
    const char *subject; /* one line: CR, LF and other control characters are refused */
    const char *text;    /* plain-text body; line ends may be LF, CRLF or CR */
};

/* Opens the transport named by MAIL_TRANSPORT, checking MAIL_FROM and the transport's own
 * settings (no connection is made: the SMTP server may come up later). cfg is only read
 * during the call. On success *out is the mailer (free with mail_close); on failure *out
 * is NULL and err says what to fix. Returns 0, MC_ECONFIG (bad or unsupported setting,
 * MAIL_TRANSPORT=ses) or MC_EIO (the outbox directory cannot be created or opened). */
int mail_open(const struct config *cfg, struct mailer **out, char *err, size_t errlen);

/* Frees the mailer (NULL is fine). No send may be running. */
void mail_close(struct mailer *m);

/* "outbox" or "smtp"; never NULL. */
const char *mail_transport_name(const struct mailer *m);

/* Builds and delivers msg. Thread-safe: any number of threads may send at once.
 * Returns 0 once the outbox file is durable or the SMTP server accepted the message;
 * MC_EINVAL for a bad address, a control character in the subject, invalid UTF-8 or a
 * part over its size cap (nothing is sent); MC_EUNAVAIL when the SMTP server cannot be
 * reached, times out, refuses TLS/login/sender/recipient/data; MC_EIO when the outbox
 * cannot be written. The reason is logged; neither recipient nor content is. */
int mail_send(struct mailer *m, const struct mail_msg *msg);

/* Rough address check used by mail_send: ASCII, 3..254 characters, exactly one '@' with a
 * 1..64 character local part and a domain of dot-separated labels, no spaces, control
 * characters, quotes, brackets, commas, semicolons or backslashes (so an address can
 * never smuggle a second recipient or an SMTP parameter). */
bool mail_address_valid(const char *addr);

#endif
