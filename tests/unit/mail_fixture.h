/*
 * mail_fixture.h - what mail_test.c and mail_smtp_test.c share: a clean environment and
 * a private DATA_DIR per test, a configuration for a given transport, and a
 * quoted-printable decoder to read bodies back.
 *
 * Static functions, included (after <cmocka.h>) by exactly those two test programs, each
 * a translation unit of its own.
 */
#ifndef MC_TESTS_MAIL_FIXTURE_H
#define MC_TESTS_MAIL_FIXTURE_H

#include "core/config.h"
#include "core/mem.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char *const mail_vars[] = {
    "APP_ENV",   "NODE_ENV",  "DATA_DIR",      "MAIL_TRANSPORT", "MAIL_FROM",         "SMTP_HOST",
    "SMTP_PORT", "SMTP_USER", "SMTP_PASSWORD", "SMTP_STARTTLS",  "MIMICARE_ENV_FILE",
};

static char data_dir[64];

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int setup(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(mail_vars) / sizeof(mail_vars[0]); i++)
        unsetenv(mail_vars[i]);
    snprintf(data_dir, sizeof(data_dir), "/tmp/mc_mail_test_XXXXXX");
    return mkdtemp(data_dir) == NULL ? -1 : 0;
}

static int teardown(void **state)
{
    (void)state;
    nftw(data_dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    return 0;
}

/* A configuration for transport with this test's DATA_DIR; free with config_free. */
static struct config *make_cfg(const char *transport)
{
    struct config *c = NULL;
    assert_int_equal(config_load(NULL, CONFIG_NO_DOTENV, &c), 0);
    assert_int_equal(config_set(c, CFG_DATA_DIR, data_dir), 0);
    assert_int_equal(config_set(c, CFG_MAIL_TRANSPORT, transport), 0);
    return c;
}

/* A mailer with only the From parts set, for building messages. */

/* Decodes quoted-printable with CRLF line ends into LF text (owned by the caller). */
static char *qp_decode(const char *s)
{
    struct buf out = BUF_INIT;
    for (size_t i = 0; s[i] != '\0'; i++) {
        if (s[i] == '=' && s[i + 1] == '\r' && s[i + 2] == '\n') {
            i += 2;
        } else if (s[i] == '=') {
            unsigned v = 0;
            for (int k = 1; k <= 2; k++) {
                char c = s[i + k];
                assert_true((c >= '0' && c <= '9') || (c >= 'A' && c <= 'F'));
                v = v * 16 + (unsigned)(c <= '9' ? c - '0' : c - 'A' + 10);
            }
            buf_putc(&out, (char)v);
            i += 2;
        } else if (s[i] == '\r' && s[i + 1] == '\n') {
            buf_putc(&out, '\n');
            i++;
        } else {
            assert_true(s[i] != '\r' && s[i] != '\n'); /* no bare CR or LF */
            buf_putc(&out, s[i]);
        }
    }
    return buf_steal(&out);
}

/* Decodes a header value made of "=?UTF-8?B?...?=" words separated by CRLF SP. */

#endif
