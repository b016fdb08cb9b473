/*
 * http_client.h - a minimal raw HTTP/1.1 client for http_test.c: opens TCP connections,
 * writes exact bytes, and reads one response at a time (status line, headers and a
 * Content-Length body) with a timeout, keeping any bytes past it for the next response
 * so pipelining and keep-alive can be checked. It deliberately understands only what
 * the tests need; anything unexpected is reported as a negative code, never guessed.
 *
 * Included by http_test.c only (static functions, one translation unit).
 */
#ifndef MC_TESTS_HTTP_CLIENT_H
#define MC_TESTS_HTTP_CLIENT_H

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

/* One client connection and the bytes received on it but not yet consumed. */
struct conn {
    int fd;
    size_t len;        /* bytes buffered in buf */
    char buf[1 << 18]; /* received, not yet consumed */
};

/* One parsed response; resp_free releases the body. */
struct resp {
    int status;
    char head[8192]; /* status line and headers, NUL-terminated */
    char *body;      /* NUL-terminated copy of the body (malloc) */
    size_t body_len;
};

/* Connects to 127.0.0.1:p; the test fails if it cannot. Free with conn_close. */
static struct conn *conn_open_port(int p)
{
    struct conn *c = calloc(1, sizeof(*c));
    assert_non_null(c);
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(c->fd >= 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)p)};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    assert_int_equal(connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    return c;
}

static void conn_close(struct conn *c)
{
    close(c->fd);
    free(c);
}

/* Sends everything; returns false if the peer closed or reset meanwhile. */
static bool send_bytes(struct conn *c, const void *data, size_t len)
{
    const char *p = data;
    while (len > 0) {
        ssize_t n = send(c->fd, p, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        p += n;
        len -= (size_t)n;
    }
    return true;
}

static bool send_str(struct conn *c, const char *s)
{
    return send_bytes(c, s, strlen(s));
}

/* Reads more bytes: > 0 got some, 0 orderly EOF, -1 reset/error, -2 timeout. */
static int read_more(struct conn *c, int timeout_ms)
{
    struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
    int pr = poll(&pfd, 1, timeout_ms);
    if (pr == 0)
        return -2;
    if (pr < 0)
        return -1;
    if (c->len >= sizeof(c->buf))
        return -1;
    ssize_t n = recv(c->fd, c->buf + c->len, sizeof(c->buf) - c->len, 0);
    if (n < 0)
        return -1;
    c->len += (size_t)n;
    return (int)n;
}

static const char *find_crlf2(const char *p, size_t len)
{
    for (size_t i = 0; i + 3 < len; i++)
        if (memcmp(p + i, "\r\n\r\n", 4) == 0)
            return p + i;
    return NULL;
}

/* Value of a response header (case-insensitive name), or NULL. Static storage. */
static const char *hdr(const struct resp *r, const char *name)
{
    static char value[1024];
    size_t nl = strlen(name);
    const char *p = strstr(r->head, "\r\n");
    while (p != NULL && p[2] != '\0') {
        const char *line = p + 2;
        const char *end = strstr(line, "\r\n");
        if (end == NULL)
            end = line + strlen(line);
        if (strncasecmp(line, name, nl) == 0 && line[nl] == ':') {
            const char *v = line + nl + 1;
            while (*v == ' ')
                v++;
            snprintf(value, sizeof(value), "%.*s", (int)(end - v), v);
            return value;
        }
        p = *end ? end : NULL;
    }
    return NULL;
}

/* Reads one response. Returns 0, or the read_more code that stopped it. */
static int read_resp(struct conn *c, struct resp *r, bool head_request)
{
    memset(r, 0, sizeof(*r));
    const char *end;
    while ((end = find_crlf2(c->buf, c->len)) == NULL) {
        int n = read_more(c, 3000);
        if (n <= 0)
            return n == 0 ? -3 : n;
    }
    size_t hlen = (size_t)(end - c->buf);
    if (hlen >= sizeof(r->head))
        return -4;
    memcpy(r->head, c->buf, hlen);
    r->head[hlen] = '\0';
    if (strncmp(r->head, "HTTP/1.", 7) != 0 || hlen < 12)
        return -5;
    r->status = (int)strtol(r->head + 9, NULL, 10);
    size_t need = 0;
    const char *cl = hdr(r, "Content-Length");
    if (cl != NULL)
        need = (size_t)strtoul(cl, NULL, 10);
    if (head_request || r->status == 204 || r->status == 304)
        need = 0;
    size_t total = hlen + 4 + need;
    while (c->len < total) {
        int n = read_more(c, 3000);
        if (n <= 0)
            return n == 0 ? -3 : n;
    }
    r->body = malloc(need + 1);
    memcpy(r->body, c->buf + hlen + 4, need);
    r->body[need] = '\0';
    r->body_len = need;
    memmove(c->buf, c->buf + total, c->len - total);
    c->len -= total;
    return 0;
}

static void resp_free(struct resp *r)
{
    free(r->body);
    r->body = NULL;
}

/* True if the server closes the connection (EOF or reset) within timeout_ms, with no
 * further bytes. */
static bool closed_by_peer(struct conn *c, int timeout_ms)
{
    size_t before = c->len;
    for (;;) {
        int n = read_more(c, timeout_ms);
        if (n == 0 || n == -1)
            return c->len == before;
        if (n == -2)
            return false;
    }
}

#endif
