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
/* Times, base64 and printable values: lib/core/evg_text.h. */

/* verify.c: the whole of --verify; returns the exit code. */
int evtail_verify(const struct evtail_opts *o, uint32_t partitions);

#endif /* EVTAIL_H */
