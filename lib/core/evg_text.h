/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Text forms of events for the command-line readers (evtail, evsub): the
 * same JSON and human-readable values in both. libc only; thread-safe.
 */
#ifndef EVG_TEXT_H
#define EVG_TEXT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Base64 (RFC 4648, padded) of n bytes into out (4 * ((n + 2) / 3) + 1
 * bytes); returns the length written, NUL not counted. */
size_t evg_text_b64_encode(const void *in, size_t n, char *out);
/* The same, written to out in chunks (no size limit). */
void evg_text_b64_write(FILE *out, const void *in, size_t n);
/* A key or value for people: quoted when it is printable UTF-8 ('"' and
 * '\' escaped), else 0x and hex; at most 64 bytes shown, then "...". */
void evg_text_print_bytes(FILE *out, const void *p, size_t n);
/* ns since the epoch as 2026-11-23T10:00:00.000000000Z (UTC); a time
 * gmtime cannot show as "<ns>ns". */
void evg_text_format_time(uint64_t ns, char *buf, size_t len);
/* A time on a command line: ns since the epoch, or
 * YYYY-MM-DDTHH:MM:SS[.fraction]Z. 0, -EINVAL, -ERANGE. */
int evg_text_parse_time(const char *s, uint64_t *ns);

#endif /* EVG_TEXT_H */
