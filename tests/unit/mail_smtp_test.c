/*
 * mail_smtp_test.c - unit tests for the SMTP mail transport (infra/mail/mail_smtp.c):
 * against a scripted fake server in a thread (envelope and data, EHLO name, login with
 * AUTH PLAIN, refusals of the connection, the recipient and the login, STARTTLS required
 * but not offered, a closed port) and against the real test server of
 * scripts/services.sh (maildev), reading the message back over its REST API.
 *
 * The maildev tests run when TEST_SMTP_HOST, TEST_SMTP_PORT and TEST_MAILDEV_URL are set
 * (eval "$(scripts/services.sh env)"); otherwise they are skipped, or fail when
 * MC_REQUIRE_SMTP=1 (scripts/test.sh sets it). Each test has its own DATA_DIR.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/config.h"
#include "core/err.h"
#include "core/mem.h"
#include "core/parse.h"
#include "core/rand.h"
#include "core/timeutil.h"
#include "infra/mail/mail.h"
#include "mail_fixture.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* ------------------------------------------------------------ fake server ---- */

/* A one-connection SMTP server in a thread that answers from a script and records the
 * commands and the message it received. */
struct fake_smtp {
    int listen_fd;
    int port;
    const char *greeting; /* e.g. "220 fake ESMTP" or "554 no service" */
    const char *rcpt_reply;
    const char *auth_reply; /* NULL: no AUTH offered; else the answer to AUTH PLAIN */
    char credentials[256];  /* the base64 PLAIN response the client sent */
    struct buf commands;    /* every command line, LF-separated */
    struct buf data;        /* the DATA section with CRLFs, dot-stuffing undone */
    pthread_t thread;
};

static int read_line(int fd, char *line, size_t cap)
{
    size_t n = 0;
    while (n + 1 < cap) {
        char c;
        ssize_t r = recv(fd, &c, 1, 0);
        if (r <= 0)
            return -1;
        line[n++] = c;
        if (c == '\n')
            break;
    }
    line[n] = '\0';
    return (int)n;
}

/* Runs in the server thread: no cmocka assertions here. */
static void say(int fd, const char *s)
{
    if (send(fd, s, strlen(s), MSG_NOSIGNAL) < 0)
        return; /* the client went away; the test's own checks will tell */
}

static void *fake_smtp_run(void *p)
{
    struct fake_smtp *f = p;
    int fd = accept(f->listen_fd, NULL, NULL);
    if (fd < 0)
        return NULL;
    struct timeval tv = {10, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    char line[2048];
    snprintf(line, sizeof(line), "%s\r\n", f->greeting);
    say(fd, line);
    while (read_line(fd, line, sizeof(line)) > 0) {
        buf_append(&f->commands, line, strcspn(line, "\r\n"));
        buf_putc(&f->commands, '\n');
        if (strncmp(line, "EHLO", 4) == 0) {
            say(fd, f->auth_reply ? "250-fake.test\r\n250-AUTH PLAIN\r\n250 8BITMIME\r\n"
                                  : "250-fake.test\r\n250 8BITMIME\r\n");
        } else if (strncmp(line, "AUTH PLAIN", 10) == 0 && f->auth_reply != NULL) {
            if (line[10] != ' ') { /* no initial response: ask for it */
                say(fd, "334 \r\n");
                if (read_line(fd, line + 11, sizeof(line) - 11) <= 0)
                    break;
            }
            snprintf(f->credentials, sizeof(f->credentials), "%.*s",
                     (int)strcspn(line + 11, "\r\n"), line + 11);
            snprintf(line, sizeof(line), "%s\r\n", f->auth_reply);
            say(fd, line);
        } else if (strncmp(line, "MAIL FROM:", 10) == 0 || strncmp(line, "RSET", 4) == 0) {
            say(fd, "250 ok\r\n");
        } else if (strncmp(line, "RCPT TO:", 8) == 0) {
            snprintf(line, sizeof(line), "%s\r\n", f->rcpt_reply);
            say(fd, line);
        } else if (strncmp(line, "DATA", 4) == 0) {
            say(fd, "354 go ahead\r\n");
            while (read_line(fd, line, sizeof(line)) > 0 && strcmp(line, ".\r\n") != 0)
                buf_puts(&f->data, line[0] == '.' ? line + 1 : line);
            say(fd, "250 queued\r\n");
        } else if (strncmp(line, "QUIT", 4) == 0) {
            say(fd, "221 bye\r\n");
            break;
        } else {
            say(fd, "502 not implemented\r\n");
        }
    }
    close(fd);
    return NULL;
}

static void fake_smtp_start_auth(struct fake_smtp *f, const char *greeting, const char *rcpt_reply,
                                 const char *auth_reply)
{
    memset(f, 0, sizeof(*f));
    f->greeting = greeting;
    f->rcpt_reply = rcpt_reply;
    f->auth_reply = auth_reply;
    f->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(f->listen_fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    assert_int_equal(bind(f->listen_fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(f->listen_fd, 4), 0);
    assert_int_equal(getsockname(f->listen_fd, (struct sockaddr *)&a, &len), 0);
    f->port = ntohs(a.sin_port);
    assert_int_equal(pthread_create(&f->thread, NULL, fake_smtp_run, f), 0);
}

static void fake_smtp_start(struct fake_smtp *f, const char *greeting, const char *rcpt_reply)
{
    fake_smtp_start_auth(f, greeting, rcpt_reply, NULL);
}

/* Waits for the server thread (it ends when the client disconnects) and closes it;
 * f->commands and f->data stay readable until fake_smtp_free. */
static void fake_smtp_stop(struct fake_smtp *f)
{
    shutdown(f->listen_fd, SHUT_RDWR); /* wakes accept() if no client came */
    pthread_join(f->thread, NULL);
    close(f->listen_fd);
}

static void fake_smtp_free(struct fake_smtp *f)
{
    buf_free(&f->commands);
    buf_free(&f->data);
}

static struct mailer *open_smtp(struct config *cfg, const char *host, int port, bool starttls)
{
    char port_s[16], err[256] = "";
    struct mailer *m = NULL;
    snprintf(port_s, sizeof(port_s), "%d", port);
    assert_int_equal(config_set(cfg, CFG_SMTP_HOST, host), 0);
    assert_int_equal(config_set(cfg, CFG_SMTP_PORT, port_s), 0);
    assert_int_equal(config_set(cfg, CFG_SMTP_STARTTLS, starttls ? "true" : "false"), 0);
    if (mail_open(cfg, &m, err, sizeof(err)) != 0)
        fail_msg("mail_open: %s", err);
    return m;
}

static void smtp_envelope_and_data(void **state)
{
    (void)state;
    struct fake_smtp f;
    fake_smtp_start(&f, "220 fake.test ESMTP", "250 ok");
    struct config *cfg = make_cfg("smtp");
    struct mailer *m = open_smtp(cfg, "127.0.0.1", f.port, false);
    struct mail_msg msg = {"mother@example.org", "Grüße 👶", "Hello\n.\n..two dots\n"};
    assert_int_equal(mail_send(m, &msg), 0);
    mail_close(m);
    config_free(cfg);
    fake_smtp_stop(&f);
    assert_non_null(strstr(f.commands.data, "EHLO mimicare.local\n"));
    assert_non_null(strstr(f.commands.data, "\nMAIL FROM:<no-reply@mimicare.local>"));
    assert_non_null(strstr(f.commands.data, "\nRCPT TO:<mother@example.org>\n"));
    assert_null(strstr(f.commands.data, "AUTH")); /* no SMTP_USER, no login */
    assert_non_null(strstr(f.data.data, "To: mother@example.org\r\n"));
    assert_non_null(strstr(f.data.data, "Subject: =?UTF-8?B?R3LDvMOfZSDwn5G2?=\r\n"));
    char *sep = strstr(f.data.data, "\r\n\r\n");
    assert_non_null(sep);
    char *body = qp_decode(sep + 4);
    assert_string_equal(body, "Hello\n.\n..two dots\n");
    free(body);
    fake_smtp_free(&f);
}

static void smtp_refusals_are_unavailable(void **state)
{
    (void)state;
    static const char *const script[][2] = {
        {"554 5.3.2 no service here", "250 ok"},           /* refuses the connection */
        {"220 fake.test ESMTP", "550 5.1.1 no such user"}, /* refuses the recipient */
    };
    for (size_t i = 0; i < sizeof(script) / sizeof(script[0]); i++) {
        struct fake_smtp f;
        fake_smtp_start(&f, script[i][0], script[i][1]);
        struct config *cfg = make_cfg("smtp");
        struct mailer *m = open_smtp(cfg, "127.0.0.1", f.port, false);
        struct mail_msg msg = {"mother@example.org", "Hi", "x"};
        assert_int_equal(mail_send(m, &msg), MC_EUNAVAIL);
        mail_close(m);
        config_free(cfg);
        fake_smtp_stop(&f);
        fake_smtp_free(&f);
    }
}

static void smtp_starttls_is_required(void **state)
{
    (void)state;
    /* the fake server offers no STARTTLS: with SMTP_STARTTLS=true nothing is sent */
    struct fake_smtp f;
    fake_smtp_start(&f, "220 fake.test ESMTP", "250 ok");
    struct config *cfg = make_cfg("smtp");
    struct mailer *m = open_smtp(cfg, "127.0.0.1", f.port, true);
    struct mail_msg msg = {"mother@example.org", "Hi", "secret"};
    assert_int_equal(mail_send(m, &msg), MC_EUNAVAIL);
    mail_close(m);
    config_free(cfg);
    fake_smtp_stop(&f);
    assert_null(strstr(f.commands.data ? f.commands.data : "", "MAIL FROM"));
    fake_smtp_free(&f);
}

static void smtp_logs_in_when_user_set(void **state)
{
    (void)state;
    static const char *const replies[] = {"235 2.7.0 accepted", "535 5.7.8 bad credentials"};
    for (size_t i = 0; i < 2; i++) {
        struct fake_smtp f;
        fake_smtp_start_auth(&f, "220 fake.test ESMTP", "250 ok", replies[i]);
        struct config *cfg = make_cfg("smtp");
        assert_int_equal(config_set(cfg, CFG_SMTP_USER, "clinic"), 0);
        assert_int_equal(config_set(cfg, CFG_SMTP_PASSWORD, "s3cret pw"), 0);
        struct mailer *m = open_smtp(cfg, "127.0.0.1", f.port, false);
        struct mail_msg msg = {"mother@example.org", "Hi", "x"};
        assert_int_equal(mail_send(m, &msg), i == 0 ? 0 : MC_EUNAVAIL);
        mail_close(m);
        config_free(cfg);
        fake_smtp_stop(&f);
        unsigned char plain[128];
        size_t n = 0;
        assert_int_equal(sodium_base642bin(plain, sizeof(plain), f.credentials,
                                           strlen(f.credentials), NULL, &n, NULL,
                                           sodium_base64_VARIANT_ORIGINAL),
                         0);
        assert_int_equal(n, 17);
        assert_memory_equal(plain, "\0clinic\0s3cret pw", 17); /* RFC 4616: authzid, user, pw */
        bool sent = strstr(f.commands.data, "MAIL FROM") != NULL;
        assert_true(sent == (i == 0)); /* refused login: nothing after it */
        fake_smtp_free(&f);
    }
}

static void smtp_closed_port_is_unavailable(void **state)
{
    (void)state;
    /* a bound socket that does not listen: connections to its port are refused */
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    struct config *cfg = make_cfg("smtp");
    struct mailer *m = open_smtp(cfg, "127.0.0.1", ntohs(a.sin_port), false);
    struct mail_msg msg = {"mother@example.org", "Hi", "x"};
    int64_t t0 = mc_mono_ns();
    assert_int_equal(mail_send(m, &msg), MC_EUNAVAIL);
    int64_t ms = (mc_mono_ns() - t0) / 1000000;
    print_message("smtp: closed port refused in %lld ms\n", (long long)ms);
    assert_true(ms < 5000);
    mail_close(m);
    config_free(cfg);
    close(fd);
}

/* ------------------------------------------------------------ SMTP: maildev ---- */

static bool have_maildev(void)
{
    if (getenv("TEST_SMTP_HOST") && getenv("TEST_SMTP_PORT") && getenv("TEST_MAILDEV_URL"))
        return true;
    const char *require = getenv("MC_REQUIRE_SMTP");
    if (require != NULL && strcmp(require, "1") == 0)
        fail_msg("MC_REQUIRE_SMTP=1 but TEST_SMTP_HOST/TEST_SMTP_PORT/TEST_MAILDEV_URL are unset");
    return false;
}

static int env_port(const char *name)
{
    long long v = 0;
    const char *s = getenv(name);
    assert_non_null(s);
    assert_int_equal(parse_int_range(s, 1, 65535, &v), 0);
    return (int)v;
}

static size_t collect(char *p, size_t size, size_t n, void *arg)
{
    return buf_append(arg, p, size * n) == 0 ? size * n : 0;
}

/* GET TEST_MAILDEV_URL/email: every message maildev holds, as a JSON array. */
static json_t *maildev_messages(void)
{
    char url[512];
    struct buf body = BUF_INIT;
    snprintf(url, sizeof(url), "%s/email", getenv("TEST_MAILDEV_URL"));
    CURL *h = curl_easy_init();
    assert_non_null(h);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 5000L);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &body);
    assert_int_equal(curl_easy_perform(h), CURLE_OK);
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    assert_int_equal(status, 200);
    curl_easy_cleanup(h);
    json_t *all = json_loadb(body.data, body.len, 0, NULL);
    assert_non_null(all);
    assert_true(json_is_array(all));
    buf_free(&body);
    return all;
}

/* The message with this subject, or NULL; a new reference. */
static json_t *maildev_find(const char *subject)
{
    json_t *all = maildev_messages(), *found = NULL, *e;
    size_t i;
    json_array_foreach(all, i, e)
    {
        const char *s = json_string_value(json_object_get(e, "subject"));
        if (s != NULL && strcmp(s, subject) == 0)
            found = json_incref(e);
    }
    json_decref(all);
    return found;
}

static void smtp_to_maildev(void **state)
{
    (void)state;
    if (!have_maildev())
        skip();
    char id[UUID_STR_LEN], subject[128];
    uuid_v7(id);
    snprintf(subject, sizeof(subject), "Grüße 👶 %s", id);
    struct buf text = BUF_INIT;
    buf_puts(&text, "Dear parent,\n\nyour appointment is confirmed. Grüße from the clinic 👶\n");
    for (int i = 0; i < 40; i++)
        buf_puts(&text, "long line ");
    buf_puts(&text, "end\n.\nBye = ciao\n");

    struct config *cfg = make_cfg("smtp");
    struct mailer *m = open_smtp(cfg, getenv("TEST_SMTP_HOST"), env_port("TEST_SMTP_PORT"), false);
    struct mail_msg msg = {"parent@example.org", subject, text.data};
    assert_int_equal(mail_send(m, &msg), 0);
    mail_close(m);
    config_free(cfg);

    json_t *e = maildev_find(subject);
    if (e == NULL)
        fail_msg("maildev has no message with subject '%s'", subject);
    json_t *to = json_array_get(json_object_get(e, "to"), 0);
    assert_string_equal(json_string_value(json_object_get(to, "address")), "parent@example.org");
    json_t *from = json_array_get(json_object_get(e, "from"), 0);
    assert_string_equal(json_string_value(json_object_get(from, "address")),
                        "no-reply@mimicare.local");
    const char *got = json_string_value(json_object_get(e, "text"));
    assert_non_null(got);
    assert_string_equal(got, text.data);
    json_t *headers = json_object_get(e, "headers");
    assert_string_equal(json_string_value(json_object_get(headers, "content-transfer-encoding")),
                        "quoted-printable");
    const char *msgid = json_string_value(json_object_get(headers, "message-id"));
    assert_non_null(msgid);
    assert_non_null(strstr(msgid, "@mimicare.local>"));
    json_decref(e);
    buf_free(&text);
}

static void smtp_starttls_refused_by_maildev(void **state)
{
    (void)state;
    if (!have_maildev())
        skip();
    char id[UUID_STR_LEN], subject[64];
    uuid_v7(id);
    snprintf(subject, sizeof(subject), "plain %s", id);
    struct config *cfg = make_cfg("smtp");
    struct mailer *m = open_smtp(cfg, getenv("TEST_SMTP_HOST"), env_port("TEST_SMTP_PORT"), true);
    struct mail_msg msg = {"parent@example.org", subject, "must not travel in clear"};
    assert_int_equal(mail_send(m, &msg), MC_EUNAVAIL); /* maildev offers no STARTTLS */
    mail_close(m);
    config_free(cfg);
    json_t *e = maildev_find(subject);
    assert_null(e);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(smtp_envelope_and_data, setup, teardown),
        cmocka_unit_test_setup_teardown(smtp_refusals_are_unavailable, setup, teardown),
        cmocka_unit_test_setup_teardown(smtp_starttls_is_required, setup, teardown),
        cmocka_unit_test_setup_teardown(smtp_logs_in_when_user_set, setup, teardown),
        cmocka_unit_test_setup_teardown(smtp_closed_port_is_unavailable, setup, teardown),
        cmocka_unit_test_setup_teardown(smtp_to_maildev, setup, teardown),
        cmocka_unit_test_setup_teardown(smtp_starttls_refused_by_maildev, setup, teardown),
    };
    int rc = cmocka_run_group_tests_name("mail_smtp", tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
