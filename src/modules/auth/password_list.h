/*
 * password_list.h - the list of common and breached passwords (security.md A2).
 *
 * The list is the .txt files of data/passwords (see data/passwords/SOURCE.md: the 10,000 most
 * common passwords of zxcvbn's ranking plus John the Ripper's password.lst, and a few
 * extras), compiled into the binary by cmake/embed.cmake as the table embed_passwords.
 * pwlist_init indexes it once: an array of pointers to the lines, sorted, so a lookup is
 * a binary search with no allocation and no network call.
 *
 * The rule pwlist_contains applies:
 *   1. the whole password, ASCII letters folded to lower case, is an entry; or
 *   2. removing one or more trailing ASCII digits, punctuation characters or spaces
 *      leaves an entry of at least 8 characters ("Password1234!" -> "password",
 *      "trustno1!!!!" -> "trustno1").
 * The 8-character floor keeps rule 2 from rejecting a long password because it starts
 * with a short common word ("kitten123456" passes although "kitten" is listed).
 * Non-ASCII bytes are compared as they are (every entry is ASCII).
 */
#ifndef MC_AUTH_PASSWORD_LIST_H
#define MC_AUTH_PASSWORD_LIST_H

#include <stdbool.h>
#include <stddef.h>

/* Shortest stem that rule 2 above looks up. */
#define PWLIST_MIN_STEM 8

/* Indexes the embedded list. Safe to call more than once and from several threads (the
 * work happens once). Returns 0, or MC_ECORRUPT when the embedded files are missing or
 * malformed (an upper-case letter, a CR, an empty line): start-up must stop then. */
int pwlist_init(void);

/* True if password (NUL-terminated UTF-8) is common or breached by the rule above.
 * Calls pwlist_init if needed; if the list could not be loaded, every password counts as
 * breached (fail closed). Thread-safe, allocation-free. */
bool pwlist_contains(const char *password);

/* Number of distinct entries indexed (0 before pwlist_init). */
size_t pwlist_size(void);

#endif
