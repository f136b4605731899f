/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * evtail internals: the options, the record printers and --verify.
 */
#ifndef EVTAIL_H
#define EVTAIL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "evg_journal.h"

/* Exit codes: 0 clean, 1 corruption or a sequence problem (or a read
 * error at run time), 2 a usage error or an unreadable DIR. */
enum {
	EVTAIL_EXIT_OK = 0,
	EVTAIL_EXIT_BAD = 1,
	EVTAIL_EXIT_USAGE = 2,
};

enum evtail_from {
	EVTAIL_FROM_START,
	EVTAIL_FROM_OFFSET,
	EVTAIL_FROM_TIME,
	EVTAIL_FROM_END,
};

struct evtail_opts {
	const char *dir;
	bool all_partitions;
	uint32_t partition;
	enum evtail_from from;
	uint64_t from_value; /* offset or ns, by from */
	bool follow;
	bool json;
	bool verify;
	bool has_stream;
	uint32_t stream;
	bool has_producer;
	uint32_t producer;
	uint64_t count; /* 0 = no limit */
};

/* format.c */
void evtail_print_json(FILE *out, const struct evg_journal_entry *e);
void evtail_print_text(FILE *out, const struct evg_journal_entry *e);
/* base64 (standard alphabet, padded) of n bytes into out, which holds
 * (n + 2) / 3 * 4 + 1 bytes; returns the length written. */
size_t evtail_b64_encode(const void *in, size_t n, char *out);
/* "2026-11-23T10:00:00.000000000Z" into buf (at least 32 bytes). */
void evtail_format_time(uint64_t ns, char *buf, size_t len);
/* ns since the epoch, or an ISO-8601 UTC time; 0 or -EINVAL / -ERANGE. */
int evtail_parse_time(const char *s, uint64_t *ns);

/* verify.c: the whole of --verify; returns the exit code. */
int evtail_verify(const struct evtail_opts *o, uint32_t partitions);

#endif /* EVTAIL_H */
