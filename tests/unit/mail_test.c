/*
 * mail_test.c - unit tests for infra/mail without a network: building the message
 * (headers, CRLF, RFC 2047 subjects, quoted-printable bodies, the date), refusing header
 * injection, bad addresses and bad MAIL_FROM values, the outbox transport (one private
 * .eml per message, written atomically, also from many threads) and the checks
 * mail_open makes (ses refused, smtp needs a host). mail_smtp_test.c covers SMTP.
 *
 * Each test that touches files has its own DATA_DIR (mail_fixture.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/config.h"
#include "core/err.h"
#include "core/mem.h"
#include "core/rand.h"
#include "infra/mail/mail.h"
#include "infra/mail/mail_int.h"
#include "mail_fixture.h"

#include <dirent.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A mailer with only the From parts set, for building messages. */
static void test_mailer(struct mailer *m)
{
    char err[256];
    memset(m, 0, sizeof(*m));
    assert_int_equal(mail_parse_from(m, "Mimicare <no-reply@mimicare.local>", err, sizeof(err)), 0);
}

/* ------------------------------------------------------------ decoders ---- */

/* Decodes a header value made of "=?UTF-8?B?...?=" words separated by CRLF SP. */
static char *ew_decode(const char *v)
{
    struct buf out = BUF_INIT;
    const char *p = v;
    while (*p) {
        assert_true(strncmp(p, "=?UTF-8?B?", 10) == 0);
        const char *end = strstr(p + 10, "?=");
        assert_non_null(end);
        assert_true(end + 2 - p <= 75); /* RFC 2047: an encoded-word is at most 75 chars */
        unsigned char bin[128];
        size_t n = 0;
        assert_int_equal(sodium_base642bin(bin, sizeof(bin), p + 10, (size_t)(end - p - 10), NULL,
                                           &n, NULL, sodium_base64_VARIANT_ORIGINAL),
                         0);
        buf_append(&out, bin, n);
        buf_putc(&out, '\0'); /* each word alone must be whole UTF-8 characters */
        assert_true(mail_utf8_valid(out.data + out.len - 1 - n));
        out.len--;
        p = end + 2;
        if (strncmp(p, "\r\n ", 3) == 0)
            p += 3;
        else
            assert_int_equal(*p, '\0');
    }
    return buf_steal(&out);
}

/* Value of header name in a built message (up to the CRLF that ends it, folding kept). */
static char *header_value(const char *msg, const char *name)
{
    char key[64];
    snprintf(key, sizeof(key), "\r\n%s: ", name);
    const char *p = strncmp(msg, key + 2, strlen(key + 2)) == 0 ? msg + strlen(key + 2) : NULL;
    if (p == NULL) {
        p = strstr(msg, key);
        assert_non_null(p);
        p += strlen(key);
    }
    const char *end = p;
    while (!(end[0] == '\r' && end[1] == '\n' && end[2] != ' '))
        end++;
    char *v = mc_xmalloc((size_t)(end - p) + 1);
    memcpy(v, p, (size_t)(end - p));
    v[end - p] = '\0';
    return v;
}

static void assert_lines_crlf_max(const char *s, size_t max)
{
    size_t col = 0;
    for (const char *p = s; *p; p++) {
        if (*p == '\n') {
            assert_true(p > s && p[-1] == '\r');
            col = 0;
        } else if (*p != '\r') {
            col++;
            if (col > max)
                fail_msg("line longer than %zu: %.40s", max, p - col + 1);
        }
    }
}

/* ------------------------------------------------------------ building ---- */

static void build_headers_and_crlf(void **state)
{
    (void)state;
    struct mailer m;
    test_mailer(&m);
    struct mail_msg msg = {"mother@example.org", "Your appointment", "Hello.\nSee you soon."};
    struct buf b = BUF_INIT;
    const char *id = "0190c5e2-6b1a-7c3d-8e4f-a0b1c2d3e4f5";
    assert_int_equal(mail_build(&m, &msg, id, 1796317676000LL, &b), 0);
    const char *expect = "Date: Thu, 03 Dec 2026 17:07:56 +0000\r\n"
                         "From: Mimicare <no-reply@mimicare.local>\r\n"
                         "To: mother@example.org\r\n"
                         "Subject: Your appointment\r\n"
                         "Message-ID: <0190c5e2-6b1a-7c3d-8e4f-a0b1c2d3e4f5@mimicare.local>\r\n"
                         "MIME-Version: 1.0\r\n"
                         "Content-Type: text/plain; charset=utf-8\r\n"
                         "Content-Transfer-Encoding: quoted-printable\r\n"
                         "Auto-Submitted: auto-generated\r\n"
                         "\r\n"
                         "Hello.\r\n"
                         "See you soon.\r\n";
    assert_string_equal(b.data, expect);
    assert_lines_crlf_max(b.data, 78);
    buf_free(&b);
}

static void date_format(void **state)
{
    (void)state;
    char d[MAIL_DATE_LEN];
    mail_format_date(0, d);
    assert_string_equal(d, "Thu, 01 Jan 1970 00:00:00 +0000");
    mail_format_date(951782400000LL, d); /* leap day 2000 */
    assert_string_equal(d, "Tue, 29 Feb 2000 00:00:00 +0000");
}

static void subject_encoded_word(void **state)
{
    (void)state;
    struct buf b = BUF_INIT;
    mail_put_header(&b, "Subject", "Grüße 👶");
    assert_string_equal(b.data, "Subject: =?UTF-8?B?R3LDvMOfZSDwn5G2?=\r\n");
    buf_reset(&b);
    /* ASCII that looks like an encoded-word, or is too long for one line, is encoded too */
    mail_put_header(&b, "Subject", "=?UTF-8?B?x?=");
    assert_true(strncmp(b.data, "Subject: =?UTF-8?B?", 19) == 0);
    buf_free(&b);
}

static void subject_long_is_folded_words(void **state)
{
    (void)state;
    struct buf subject = BUF_INIT, b = BUF_INIT;
    for (int i = 0; i < 25; i++)
        buf_puts(&subject, "Grüße 👶 ");
    buf_puts(&subject, "x");
    mail_put_header(&b, "Subject", subject.data);
    assert_lines_crlf_max(b.data, 76); /* RFC 2047 2: lines with encoded-words */
    assert_true(strstr(b.data, "?=\r\n =?UTF-8?B?") != NULL);
    b.data[b.len - 2] = '\0'; /* drop the final CRLF */
    char *decoded = ew_decode(b.data + strlen("Subject: "));
    assert_string_equal(decoded, subject.data);
    free(decoded);
    buf_free(&subject);
    buf_free(&b);
}

static void from_header_forms(void **state)
{
    (void)state;
    struct mailer m;
    char err[256];
    static const char *const ok[][2] = {
        {"Mimicare <no-reply@mimicare.local>", "Mimicare <no-reply@mimicare.local>"},
        {"  no-reply@mimicare.local ", "no-reply@mimicare.local"},
        {"Dr. Smith <a@b.example>", "\"Dr. Smith\" <a@b.example>"},
        {"\"Mimicare Clinic\" <a@b.example>", "Mimicare Clinic <a@b.example>"},
        {"Dr. Müller <a@b.example>", "=?UTF-8?B?RHIuIE3DvGxsZXI=?= <a@b.example>"},
    };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        memset(&m, 0, sizeof(m));
        assert_int_equal(mail_parse_from(&m, ok[i][0], err, sizeof(err)), 0);
        assert_string_equal(m.from_header, ok[i][1]);
    }
    assert_string_equal(m.from_addr, "a@b.example");
    assert_string_equal(m.from_domain, "b.example");
    static const char *const bad[] = {
        "",
        "Mimicare",
        "Mimicare <no-reply>",
        "Mimicare <a@b.c",
        "a@b.c\r\nBcc: x@y.z",
        "Mimi\ncare <a@b.c>",
        "<a@b.c> Mimicare",
        "a@@b.c",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        memset(&m, 0, sizeof(m));
        if (mail_parse_from(&m, bad[i], err, sizeof(err)) != MC_ECONFIG)
            fail_msg("accepted MAIL_FROM '%s'", bad[i]);
        assert_non_null(strstr(err, "MAIL_FROM"));
    }
}

static void body_quoted_printable(void **state)
{
    (void)state;
    struct buf text = BUF_INIT, b = BUF_INIT, expect = BUF_INIT;
    for (int i = 0; i < 300; i++)
        buf_putc(&text, (char)('a' + i % 26));
    buf_puts(&text, "\nGrüße 👶 = équation, ünïcödé all along the line: "
                    "ääääääääääääääääääääääääääääääääääääääää\r\n"
                    "trailing spaces   \n"
                    ".leading dot\n"
                    "From here on\n"
                    "tab\tinside and at end\t\r"
                    "last line without newline");
    mail_put_qp(&b, text.data);
    assert_lines_crlf_max(b.data, 76);
    for (const unsigned char *p = (const unsigned char *)b.data; *p; p++)
        assert_true((*p >= 0x20 && *p < 0x7F) || *p == '\t' || *p == '\r' || *p == '\n');
    assert_non_null(strstr(b.data, " =3D "));
    assert_non_null(strstr(b.data, "\r\n=2Eleading dot\r\n"));
    assert_non_null(strstr(b.data, "\r\n=46rom here on\r\n"));
    assert_non_null(strstr(b.data, "trailing spaces  =20\r\n"));
    assert_non_null(strstr(b.data, "tab\tinside and at end=09\r\n"));
    assert_true(b.len >= 2 && strcmp(b.data + b.len - 2, "\r\n") == 0);
    /* decoding gives back the text with LF line ends and a final newline */
    for (const char *p = text.data; *p; p++) {
        if (*p == '\r' && p[1] == '\n')
            continue;
        buf_putc(&expect, *p == '\r' ? '\n' : *p);
    }
    buf_putc(&expect, '\n');
    char *decoded = qp_decode(b.data);
    assert_string_equal(decoded, expect.data);
    free(decoded);
    buf_free(&text);
    buf_free(&b);
    buf_free(&expect);
}

static void utf8_validation(void **state)
{
    (void)state;
    static const char *const good[] = {"", "ascii", "Grüße", "€", "👶", "\xf4\x8f\xbf\xbf"};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        assert_true(mail_utf8_valid(good[i]));
    static const char *const bad[] = {
        "\xff",
        "\x80",
        "\xc0\xaf",
        "\xe0\x80\xaf",
        "\xf0\x80\x80\xaf", /* stray, overlong */
        "\xed\xa0\x80",     /* UTF-16 surrogate */
        "\xf4\x90\x80\x80", /* past U+10FFFF */
        "\xe2\x82",
        "x\xf0\x9f\x91",        /* cut short */
        "\xf8\x88\x80\x80\x80", /* 5-byte form */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (mail_utf8_valid(bad[i]))
            fail_msg("accepted invalid UTF-8 #%zu", i);
}

static void address_validation(void **state)
{
    (void)state;
    static const char *const good[] = {
        "a@b.c",       "mother@example.org", "first.last+tag@sub.example.co.uk",
        "x@localhost", "o'brien@example.ie", "user_1-2=3@example-clinic.org",
    };
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        if (!mail_address_valid(good[i]))
            fail_msg("refused '%s'", good[i]);
    char long_local[80], long_addr[300];
    memset(long_local, 'a', 65);
    snprintf(long_local + 65, sizeof(long_local) - 65, "@b.c");
    memset(long_addr, 'a', 60);
    long_addr[60] = '@';
    for (int i = 61; i < 255; i += 2) {
        long_addr[i] = 'b';
        long_addr[i + 1] = '.';
    }
    snprintf(long_addr + 255, sizeof(long_addr) - 255, "c"); /* 256 characters */
    const char *bad[] = {
        NULL,
        "",
        "a@",
        "@b.c",
        "ab.c",
        "a@@b.c",
        "a@b@c.d",
        "a b@c.d",
        "a@b c.d",
        "a@b.c\r\nBcc: x@y.z",
        "a@b.c\n",
        "<a@b.c>",
        "a@b.c> NOTIFY=NEVER",
        "a,b@c.d",
        "a@b..c",
        "a@.b.c",
        "a@b.c.",
        "\"a\"@b.c",
        "a;b@c.d",
        "a\\b@c.d",
        "a@b_c.d",
        "müller@example.de",
        "a@bücher.de",
        long_local,
        long_addr,
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (mail_address_valid(bad[i]))
            fail_msg("accepted '%s'", bad[i]);
}

/* ------------------------------------------------------------ outbox ---- */

/* Counts directory entries ending in .eml and in anything else. */
static void count_outbox(size_t *eml, size_t *other, char *first_eml, size_t first_len)
{
    char path[128];
    snprintf(path, sizeof(path), "%s/outbox", data_dir);
    DIR *d = opendir(path);
    assert_non_null(d);
    *eml = *other = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        size_t n = strlen(e->d_name);
        if (n > 4 && strcmp(e->d_name + n - 4, ".eml") == 0) {
            if (*eml == 0 && first_eml != NULL)
                snprintf(first_eml, first_len, "%s", e->d_name);
            (*eml)++;
        } else {
            (*other)++;
        }
    }
    closedir(d);
}

static char *read_file(const char *path, struct stat *st)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    assert_int_equal(fstat(fileno(f), st), 0);
    char *data = mc_xmalloc((size_t)st->st_size + 1);
    assert_int_equal(fread(data, 1, (size_t)st->st_size, f), (size_t)st->st_size);
    data[st->st_size] = '\0';
    fclose(f);
    return data;
}

static void outbox_writes_private_eml(void **state)
{
    (void)state;
    struct config *cfg = make_cfg("outbox");
    struct mailer *m = NULL;
    char err[256] = "";
    assert_int_equal(mail_open(cfg, &m, err, sizeof(err)), 0);
    assert_string_equal(mail_transport_name(m), "outbox");
    struct mail_msg msg = {"mother@example.org", "Grüße 👶", "Line one\nZeile zwei: Grüße\n"};
    assert_int_equal(mail_send(m, &msg), 0);

    size_t eml, other;
    char name[128], path[256];
    count_outbox(&eml, &other, name, sizeof(name));
    assert_int_equal(eml, 1);
    assert_int_equal(other, 0); /* no .tmp left behind */
    assert_int_equal(strlen(name), 36 + 4);
    name[36] = '\0';
    assert_true(uuid_valid(name));
    name[36] = '.';

    struct stat st;
    snprintf(path, sizeof(path), "%s/outbox", data_dir);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);
    snprintf(path, sizeof(path), "%s/outbox/%s", data_dir, name);
    char *eml_text = read_file(path, &st);
    assert_int_equal(st.st_mode & 0777, 0600);

    /* parseable: header lines, a blank line, the body; CRLF everywhere */
    assert_lines_crlf_max(eml_text, 78);
    char *sep = strstr(eml_text, "\r\n\r\n");
    assert_non_null(sep);
    char *to = header_value(eml_text, "To");
    char *subject = header_value(eml_text, "Subject");
    char *msgid = header_value(eml_text, "Message-ID");
    assert_string_equal(to, "mother@example.org");
    char *decoded_subject = ew_decode(subject);
    assert_string_equal(decoded_subject, "Grüße 👶");
    name[36] = '\0';
    assert_true(strncmp(msgid + 1, name, 36) == 0); /* file name = Message-ID's left side */
    char *body = qp_decode(sep + 4);
    assert_string_equal(body, "Line one\nZeile zwei: Grüße\n");
    free(body);
    free(decoded_subject);
    free(msgid);
    free(subject);
    free(to);
    free(eml_text);
    mail_close(m);
    config_free(cfg);
}

static void injection_and_bad_input_refused(void **state)
{
    (void)state;
    struct config *cfg = make_cfg("outbox");
    struct mailer *m = NULL;
    char err[256];
    assert_int_equal(mail_open(cfg, &m, err, sizeof(err)), 0);
    char *big = mc_xmalloc(MAIL_TEXT_MAX + 2);
    memset(big, 'a', MAIL_TEXT_MAX + 1);
    big[MAIL_TEXT_MAX + 1] = '\0';
    const struct mail_msg bad[] = {
        {"mother@example.org\r\nBcc: spy@evil.example", "Hi", "x"},
        {"mother@example.org\nBcc: spy@evil.example", "Hi", "x"},
        {"mother@example.org\r", "Hi", "x"},
        {"Mother <mother@example.org>", "Hi", "x"},
        {"mother@example.org", "Hi\r\nBcc: spy@evil.example", "x"},
        {"mother@example.org", "Hi\nthere", "x"},
        {"mother@example.org", "Hi\rthere", "x"},
        {"mother@example.org", "Hi\tthere", "x"},
        {"mother@example.org", "bad \xff utf-8", "x"},
        {"mother@example.org", "Hi", "overlong \xc0\xaf slash"},
        {"mother@example.org", "Hi", big},
        {NULL, "Hi", "x"},
        {"mother@example.org", NULL, "x"},
        {"mother@example.org", "Hi", NULL},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (mail_send(m, &bad[i]) != MC_EINVAL)
            fail_msg("message %zu not refused", i);
    assert_int_equal(mail_send(m, NULL), MC_EINVAL);
    size_t eml, other;
    count_outbox(&eml, &other, NULL, 0);
    assert_int_equal(eml + other, 0); /* nothing was written */
    big[MAIL_TEXT_MAX] = '\0';        /* exactly at the cap is fine */
    assert_int_equal(mail_send(m, &(struct mail_msg){"a@b.c", "big", big}), 0);
    free(big);
    mail_close(m);
    config_free(cfg);
}

struct sender_arg {
    struct mailer *m;
    int n;
    int failures;
};

static void *sender(void *p)
{
    struct sender_arg *a = p;
    for (int i = 0; i < a->n; i++) {
        struct mail_msg msg = {"parent@example.org", "Reminder", "Vaccination tomorrow."};
        if (mail_send(a->m, &msg) != 0)
            a->failures++;
    }
    return NULL;
}

static void outbox_concurrent_sends(void **state)
{
    (void)state;
    struct config *cfg = make_cfg("outbox");
    struct mailer *m = NULL;
    char err[256];
    assert_int_equal(mail_open(cfg, &m, err, sizeof(err)), 0);
    enum { THREADS = 8, EACH = 25 };
    pthread_t th[THREADS];
    struct sender_arg args[THREADS];
    for (int i = 0; i < THREADS; i++) {
        args[i] = (struct sender_arg){m, EACH, 0};
        assert_int_equal(pthread_create(&th[i], NULL, sender, &args[i]), 0);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(args[i].failures, 0);
    }
    size_t eml, other;
    count_outbox(&eml, &other, NULL, 0);
    assert_int_equal(eml, THREADS * EACH);
    assert_int_equal(other, 0);
    mail_close(m);
    config_free(cfg);
}

static void outbox_dir_is_made_private(void **state)
{
    (void)state;
    char path[128];
    snprintf(path, sizeof(path), "%s/outbox", data_dir);
    assert_int_equal(mkdir(path, 0755), 0);
    assert_int_equal(chmod(path, 0755), 0);
    struct config *cfg = make_cfg("outbox");
    struct mailer *m = NULL;
    char err[256];
    assert_int_equal(mail_open(cfg, &m, err, sizeof(err)), 0);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);
    mail_close(m);
    /* a file where the directory should be is an error, not a crash */
    assert_int_equal(rmdir(path), 0);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fclose(f);
    assert_int_equal(mail_open(cfg, &m, err, sizeof(err)), MC_EIO);
    assert_null(m);
    assert_non_null(strstr(err, "outbox"));
    config_free(cfg);
}

/* ------------------------------------------------------------ configuration ---- */

static void ses_is_refused_at_open(void **state)
{
    (void)state;
    struct config *cfg = make_cfg("ses");
    struct mailer *m = (struct mailer *)1;
    char err[256] = "";
    assert_int_equal(mail_open(cfg, &m, err, sizeof(err)), MC_ECONFIG);
    assert_null(m);
    assert_non_null(strstr(err, "MAIL_TRANSPORT=ses"));
    assert_non_null(strstr(err, "not implemented yet"));
    config_free(cfg);
}

static void smtp_needs_a_host(void **state)
{
    (void)state;
    struct config *cfg = make_cfg("smtp");
    struct mailer *m = NULL;
    char err[256] = "";
    assert_int_equal(mail_open(cfg, &m, err, sizeof(err)), MC_ECONFIG);
    assert_non_null(strstr(err, "SMTP_HOST"));
    assert_int_equal(config_set(cfg, CFG_SMTP_HOST, "smtp.example.org/x?y"), 0);
    assert_int_equal(mail_open(cfg, &m, err, sizeof(err)), MC_ECONFIG);
    assert_int_equal(config_set(cfg, CFG_SMTP_HOST, "smtp.example.org"), 0);
    assert_int_equal(config_set(cfg, CFG_MAIL_FROM, "not an address"), 0);
    assert_int_equal(mail_open(cfg, &m, err, sizeof(err)), MC_ECONFIG);
    assert_non_null(strstr(err, "MAIL_FROM"));
    assert_int_equal(config_set(cfg, CFG_MAIL_FROM, "Mimicare <no-reply@mimicare.local>"), 0);
    assert_int_equal(mail_open(cfg, &m, err, sizeof(err)), 0); /* no connection at open */
    assert_string_equal(mail_transport_name(m), "smtp");
    mail_close(m);
    config_free(cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(build_headers_and_crlf),
        cmocka_unit_test(date_format),
        cmocka_unit_test(subject_encoded_word),
        cmocka_unit_test(subject_long_is_folded_words),
        cmocka_unit_test(from_header_forms),
        cmocka_unit_test(body_quoted_printable),
        cmocka_unit_test(utf8_validation),
        cmocka_unit_test(address_validation),
        cmocka_unit_test_setup_teardown(outbox_writes_private_eml, setup, teardown),
        cmocka_unit_test_setup_teardown(injection_and_bad_input_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(outbox_concurrent_sends, setup, teardown),
        cmocka_unit_test_setup_teardown(outbox_dir_is_made_private, setup, teardown),
        cmocka_unit_test_setup_teardown(ses_is_refused_at_open, setup, teardown),
        cmocka_unit_test_setup_teardown(smtp_needs_a_host, setup, teardown),
    };
    return cmocka_run_group_tests_name("mail", tests, NULL, NULL);
}
