/* SPDX-License-Identifier: BSD-3-Clause */
/* Helpers shared by the journal's unit tests (no EAL). */
#ifndef JOURNAL_TESTUTIL_H
#define JOURNAL_TESTUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "evg_journal.h"
#include "evg_store.h"

/* A fresh directory under $TMPDIR or /tmp; tu_rmrf() removes it. */
void tu_mkdtemp(char *buf, size_t len);
void tu_rmrf(const char *dir);
/* Copy the regular files of a log directory tree (one level of
 * partition directories) from src to a new dst. */
void tu_copy_log(const char *src, const char *dst);
/* Path of a file in a log: dir/pNNNN/<20-digit base><ext>. */
void tu_seg_path(char *buf, size_t len, const char *dir, uint32_t p,
		 uint64_t base, const char *ext);
int64_t tu_file_size(const char *path);

/* A small configuration: 1 partition, 8 KiB batches, 64 KiB segments,
 * index every 4 KiB, level written, depth 16. */
void tu_conf(struct evg_journal_conf *c, const char *dir,
	     const struct evg_store_ops *ops);

/* Deterministic record i of (producer, stream): key "k<seq>", a value of
 * value_size bytes derived from (producer, stream, seq), ts and ingest
 * from seq. Storage for key and value lives in *buf (>= 64 + value_size
 * bytes). */
struct evg_journal_rec tu_rec(uint32_t producer, uint32_t stream,
			      uint64_t session, uint64_t seq,
			      uint32_t value_size, uint8_t *buf);
/* Assert that e holds tu_rec(producer, stream, session, seq, size). */
void tu_expect_rec(const struct evg_journal_entry *e, uint32_t producer,
		   uint32_t stream, uint64_t session, uint64_t seq,
		   uint32_t value_size);

/* Open or fail the test with the error line. */
struct evg_journal *tu_open(const struct evg_journal_conf *c,
			    struct evg_journal_recovery *rep);
/* Append n records of (producer, stream, session) from seq, one call. */
int64_t tu_append(struct evg_journal *j, uint32_t p, uint32_t producer,
		  uint32_t stream, uint64_t session, uint64_t seq,
		  unsigned int n, uint32_t value_size, uint64_t *first);
/* Poll until durable >= ticket (asserting it gets there). */
void tu_wait_durable(struct evg_journal *j, uint32_t p, uint64_t ticket);
/* Read everything up to the current end (asserting it ends with
 * -ENODATA); returns how many. Each entry owns a copy of its key and
 * value until tu_entries_free(). */
unsigned int tu_read_all(struct evg_journal_reader *r,
			 struct evg_journal_entry *out, unsigned int max);
void tu_entries_free(struct evg_journal_entry *e, unsigned int n);

/* A store that wraps mem and holds completions back until released, to
 * complete writes out of order. */
extern const struct evg_store_ops tu_hold_ops;
void tu_hold_set(struct evg_store *st, bool hold);
/* Release the held completion with this tag; false when none. */
bool tu_hold_release(struct evg_store *st, uint64_t tag);
unsigned int tu_hold_count(const struct evg_store *st);
/* The wrapped mem store (for evg_store_mem_fail). */
struct evg_store *tu_hold_inner(struct evg_store *st);

#endif
