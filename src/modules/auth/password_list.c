/*
 * password_list.c - the embedded common/breached password list (see password_list.h).
 *
 * The index is an array of pointers to the start of each line inside the embedded files
 * (no copies), sorted in byte order and deduplicated; a line ends at '\n' or at the NUL
 * that follows every embedded file. The files are checked while they are indexed, so a
 * broken build input stops start-up instead of silently weakening the check.
 */
#include "modules/auth/password_list.h"
#include "core/embed.h"
#include "core/err.h"
#include "core/log.h"
#include "core/mem.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define PWLIST_MAIN_FILE "common-passwords.txt"

static const char **entries; /* owned array of line starts, sorted, distinct */
static size_t nentries;      /* entries in use */
static int load_rc = MC_EINTERNAL;
static pthread_once_t load_once = PTHREAD_ONCE_INIT;

static bool line_end(char c)
{
    return c == '\n' || c == '\0';
}

static int ascii_lower(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') ? c + ('a' - 'A') : c;
}

/* Byte-wise comparison of two lines (as LC_ALL=C sort orders them). */
static int line_cmp(const char *a, const char *b)
{
    size_t i = 0;
    while (!line_end(a[i]) && a[i] == b[i])
        i++;
    int ca = line_end(a[i]) ? -1 : (unsigned char)a[i];
    int cb = line_end(b[i]) ? -1 : (unsigned char)b[i];
    return (ca > cb) - (ca < cb);
}

static int entry_qsort_cmp(const void *a, const void *b)
{
    return line_cmp(*(const char *const *)a, *(const char *const *)b);
}

/* Compares the first n bytes of key, lower-cased, with a line. */
static int key_cmp(const char *key, size_t n, const char *line)
{
    for (size_t i = 0;; i++) {
        int kc = i < n ? ascii_lower((unsigned char)key[i]) : -1;
        int lc = line_end(line[i]) ? -1 : (unsigned char)line[i];
        if (kc != lc)
            return kc < lc ? -1 : 1;
        if (kc == -1)
            return 0;
    }
}

/* Checks one embedded file and counts its lines; appends them to out when out != NULL. */
static int scan_file(const struct embed_file *f, const char **out, size_t *count)
{
    const char *p = (const char *)f->data;
    const char *end = p + f->len;
    size_t line_no = 0;
    while (p < end) {
        const char *start = p;
        line_no++;
        while (p < end && *p != '\n') {
            unsigned char c = (unsigned char)*p;
            if (c == '\r' || c == '\0' || (c >= 'A' && c <= 'Z')) {
                log_error("password list: upper-case letter, CR or NUL", LF_S("file", f->name),
                          LF_I("line", line_no));
                return MC_ECORRUPT;
            }
            p++;
        }
        if (p == start) {
            log_error("password list: empty line", LF_S("file", f->name), LF_I("line", line_no));
            return MC_ECORRUPT;
        }
        if (out != NULL)
            out[*count] = start;
        (*count)++;
        p++; /* the '\n' (or one past a last line without one) */
    }
    return 0;
}

static void load(void)
{
    int rc = MC_ECORRUPT;
    size_t total = 0;
    const char **list = NULL;
    if (embed_find(embed_passwords, PWLIST_MAIN_FILE) == NULL) {
        log_error("password list: embedded file missing", LF_S("file", PWLIST_MAIN_FILE));
        goto out;
    }
    for (const struct embed_file *f = embed_passwords; f->name != NULL; f++)
        if (scan_file(f, NULL, &total) != 0)
            goto out;
    list = mc_xcalloc(total, sizeof(*list));
    size_t filled = 0;
    for (const struct embed_file *f = embed_passwords; f->name != NULL; f++)
        scan_file(f, list, &filled);
    qsort(list, total, sizeof(*list), entry_qsort_cmp);
    size_t distinct = 0;
    for (size_t i = 0; i < total; i++)
        if (distinct == 0 || line_cmp(list[distinct - 1], list[i]) != 0)
            list[distinct++] = list[i];
    entries = list;
    nentries = distinct;
    list = NULL;
    rc = 0;
    log_debug("password list loaded", LF_I("entries", (long long)nentries));
out:
    free(list);
    load_rc = rc;
}

int pwlist_init(void)
{
    pthread_once(&load_once, load);
    return load_rc;
}

size_t pwlist_size(void)
{
    return load_rc == 0 ? nentries : 0;
}

static bool find(const char *key, size_t n)
{
    size_t lo = 0, hi = nentries;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = key_cmp(key, n, entries[mid]);
        if (c == 0)
            return true;
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return false;
}

/* ASCII digits, punctuation and space: what people append to a word to pass a policy. */
static bool is_suffix_char(unsigned char c)
{
    bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    return c >= 0x20 && c < 0x7f && !alpha;
}

bool pwlist_contains(const char *password)
{
    if (pwlist_init() != 0)
        return true; /* fail closed; start-up has already refused to run */
    size_t n = strlen(password);
    if (find(password, n))
        return true;
    /* every entry is ASCII, so a stem that matches has as many characters as bytes */
    for (size_t stem = n; stem > PWLIST_MIN_STEM; stem--) {
        if (!is_suffix_char((unsigned char)password[stem - 1]))
            break;
        if (find(password, stem - 1))
            return true;
    }
    return false;
}
