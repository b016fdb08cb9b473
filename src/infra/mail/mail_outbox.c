/*
 * mail_outbox.c - the "outbox" mail transport: each message becomes one file,
 * DATA_DIR/outbox/<uuidv7>.eml, for development and tests (open it in any mail client)
 * or for a relay that sends and removes the files.
 *
 * A reader never sees half a message: the text goes to <uuidv7>.tmp in the same
 * directory, is fsync'd, then renamed to .eml, and the directory is fsync'd so the rename
 * survives a crash. The directory is 0700 and the files 0600: messages may carry
 * personal data. Names are unique, so concurrent sends need no lock.
 */
#include "core/err.h"
#include "core/log.h"
#include "core/mem.h"
#include "infra/mail/mail_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct outbox {
    int dir_fd; /* the open outbox directory: every file operation is relative to it */
};

static void log_errno(const char *msg, const char *path, int e)
{
    char eb[128];
    log_error(msg, LF_S("path", path), LF_S("error", strerror_r(e, eb, sizeof(eb))));
}

static int write_all(int fd, const char *p, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static int outbox_send(struct mailer *m, const char *id, const char *rcpt, const char *data,
                       size_t len)
{
    (void)rcpt; /* the To header carries it */
    struct outbox *o = m->state;
    char tmp[UUID_STR_LEN + 8], name[UUID_STR_LEN + 8];
    snprintf(tmp, sizeof(tmp), "%s.tmp", id);
    snprintf(name, sizeof(name), "%s.eml", id);
    int rc = MC_EIO;
    int fd = openat(o->dir_fd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        log_errno("outbox: cannot create file", tmp, errno);
        goto out;
    }
    /* fchmod: the mode must not depend on the process umask */
    if (fchmod(fd, 0600) != 0 || write_all(fd, data, len) != 0 || fsync(fd) != 0) {
        log_errno("outbox: cannot write file", tmp, errno);
        goto out_unlink;
    }
    int e = close(fd) == 0 ? 0 : errno;
    fd = -1;
    if (e != 0) {
        log_errno("outbox: cannot close file", tmp, e);
        goto out_unlink;
    }
    if (renameat(o->dir_fd, tmp, o->dir_fd, name) != 0) {
        log_errno("outbox: cannot rename file", name, errno);
        goto out_unlink;
    }
    if (fsync(o->dir_fd) != 0) /* the file is complete; only its durability is in doubt */
        log_errno("outbox: cannot fsync directory", name, errno);
    rc = 0;
    goto out;
out_unlink:
    if (fd >= 0)
        close(fd);
    unlinkat(o->dir_fd, tmp, 0);
out:
    return rc;
}

static void outbox_close(struct mailer *m)
{
    struct outbox *o = m->state;
    if (o != NULL)
        close(o->dir_fd);
    free(o);
    m->state = NULL;
}

static const struct mail_transport outbox_transport = {
    .name = "outbox",
    .send = outbox_send,
    .close = outbox_close,
};

int mail_outbox_open(struct mailer *m, const char *data_dir, char *err, size_t errlen)
{
    int rc = MC_EIO;
    int fd = -1;
    char path[4096], eb[128];
    int n = snprintf(path, sizeof(path), "%s/outbox", data_dir);
    if (data_dir[0] == '\0' || n < 0 || (size_t)n >= sizeof(path)) {
        snprintf(err, errlen, "DATA_DIR is empty or too long for the mail outbox");
        return MC_ECONFIG;
    }
    /* DATA_DIR may not exist yet on a first start; its parent must */
    if ((mkdir(data_dir, 0700) != 0 && errno != EEXIST) ||
        (mkdir(path, 0700) != 0 && errno != EEXIST)) {
        snprintf(err, errlen, "cannot create mail outbox %s: %s", path,
                 strerror_r(errno, eb, sizeof(eb)));
        goto out;
    }
    fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0 || fchmod(fd, 0700) != 0) { /* a directory made by hand may be wider */
        snprintf(err, errlen, "cannot open mail outbox %s as a private directory: %s", path,
                 strerror_r(errno, eb, sizeof(eb)));
        goto out;
    }
    struct outbox *o = mc_xcalloc(1, sizeof(*o));
    o->dir_fd = fd;
    fd = -1;
    m->state = o;
    m->t = &outbox_transport;
    rc = 0;
out:
    if (fd >= 0)
        close(fd);
    return rc;
}
