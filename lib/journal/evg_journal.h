/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The journal: evgate's append-only event log (docs/storage.md).
 *
 * A log directory holds `partitions` partitions; stream s lives in
 * partition s % partitions. A partition is an ordered set of segment
 * files, each preallocated and rolled at segment_bytes; a segment holds
 * batches (a 64-byte header with CRC-32C, then records), written in
 * EVG_STORE_ALIGN-aligned chunks through a store backend (evg_store.h).
 * Each segment has a sparse offset index (.idx) and a time index (.tix),
 * both rebuildable from the segment.
 *
 * Writing (one lcore owns a partition's writer; no locks):
 *   evg_journal_append()  copy records into the partition's open batch
 *                         (group commit: records of many producers share a
 *                         batch and a write);
 *   evg_journal_flush()   seal the batch and queue its write (and sync);
 *   evg_journal_poll()    submit, reap completions, roll segments, and
 *                         report how far the partition is durable.
 * Durability is reported as a ticket: append() returns the ticket of the
 * record's batch; once poll() reports durable >= that ticket, the record
 * is written (level written) or on stable storage (level synced).
 *
 * Opening recovers: each partition's last segment is scanned, a torn or
 * corrupt tail is cut (and counted), missing indexes are rebuilt, and the
 * sequencing state of every (producer, stream) is rebuilt (from the
 * checkpoint plus the records after it) so deduplication survives a
 * restart. Errors that recovery cannot repair (a missing or unwritable
 * directory, corruption before the tail, a partition count that differs
 * from the directory's) fail the open with one line in err.
 *
 * Reading (evg_journal_reader_*) needs no EAL and works while evgate
 * writes: it stops at the last complete batch and can wait for more.
 */
#ifndef EVG_JOURNAL_H
#define EVG_JOURNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "evg_store.h"

#define EVG_JOURNAL_BATCH_MAGIC 0x31425645u /* "EVB1" little-endian */
#define EVG_JOURNAL_BATCH_HDR_LEN 64u
#define EVG_JOURNAL_REC_HDR_LEN 64u
#define EVG_JOURNAL_MAX_PARTITIONS 1024u

enum evg_journal_level {
	EVG_JOURNAL_WRITTEN, /* the write completed */
	EVG_JOURNAL_SYNCED,  /* on stable storage */
};

/* How a synced level is reached: an fdatasync after the writes, or each
 * write with RWF_DSYNC (docs/storage.md has the measurements). */
enum evg_journal_sync_mode {
	EVG_JOURNAL_SYNC_FDATASYNC,
	EVG_JOURNAL_SYNC_DSYNC,
};

struct evg_journal_conf {
	const char *dir;
	const struct evg_store_ops *store; /* a backend (drivers/store) */
	uint32_t partitions;		   /* 1 .. EVG_JOURNAL_MAX_PARTITIONS */
	uint64_t segment_bytes;		   /* roll at this size */
	uint32_t batch_bytes;		   /* group-commit buffer per write */
	uint32_t index_interval;	   /* bytes between .idx entries */
	uint64_t retention_bytes;	   /* per partition, 0 = unlimited */
	uint64_t retention_ms;		   /* by age, 0 = unlimited */
	enum evg_journal_level level;
	enum evg_journal_sync_mode sync_mode;
	uint32_t depth;			   /* store queue depth */
	int socket_id;
	/* CPUs for the kernel's io workers of the writing thread (uring
	 * store; evg_store_conf.io_cpus); NULL: the writer's own. Copied. */
	const cpu_set_t *io_cpus;
};

/* One event to append: the header fields of its record, key and value. */
struct evg_journal_rec {
	uint32_t producer_id;
	uint32_t stream_id;
	uint64_t session;
	uint64_t seq;
	uint64_t ts_ns;	    /* producer timestamp */
	uint64_t ingest_ns; /* appliance clock, ns since the Unix epoch */
	const void *key;
	const void *value;
	uint32_t key_size;
	uint32_t value_size;
};

/* A record read back: rec fields plus where it lives. */
struct evg_journal_entry {
	struct evg_journal_rec rec; /* key and value point into the reader */
	uint32_t partition;
	uint64_t offset;
};

/* What opening found and did, per journal (summed over partitions). */
struct evg_journal_recovery {
	uint64_t segments;
	uint64_t batches;      /* scanned */
	uint64_t records;      /* in the log after recovery */
	uint64_t torn_bytes;   /* cut from torn or corrupt tails */
	uint64_t torn_tails;   /* partitions whose tail was cut */
	uint64_t indexes_rebuilt;
	uint64_t producers;    /* (producer, stream) states rebuilt */
	uint64_t from_checkpoint;
	double seconds;
};

/* Counters of the write path, per partition writer. */
#define EVG_JOURNAL_STATS_FOREACH(X)                                           \
	X(records, "records appended")                                         \
	X(batches, "batches sealed")                                           \
	X(bytes, "bytes written (padding included)")                           \
	X(writes, "writes submitted")                                          \
	X(syncs, "fdatasyncs submitted")                                       \
	X(rolls, "segments rolled")                                            \
	X(retention_removed, "segments removed by retention")                  \
	X(write_errors, "writes or syncs that failed (ENOSPC, EIO, ...)")      \
	X(roll_errors, "segment rolls that failed (ENOSPC, EIO, ...)")         \
	X(busy, "appends refused: buffers full or storage failing")

enum evg_journal_stat {
#define EVG_JOURNAL_STAT_ENUM_(name, desc) EVG_JOURNAL_##name,
	EVG_JOURNAL_STATS_FOREACH(EVG_JOURNAL_STAT_ENUM_)
#undef EVG_JOURNAL_STAT_ENUM_
	EVG_JOURNAL_STAT_MAX,
};

struct evg_journal;

/* Open (creating the layout in an empty directory) and recover. */
int evg_journal_open(const struct evg_journal_conf *conf,
		     struct evg_journal **j, struct evg_journal_recovery *rep,
		     char *err, size_t errlen);
/* Flush, wait for every write, checkpoint producer states, close. */
int evg_journal_close(struct evg_journal *j);

/* Partition of a stream. */
uint32_t evg_journal_partition(const struct evg_journal *j, uint32_t stream_id);

/* Walk the rebuilt (producer, stream) -> (session, next seq) states; for
 * the sequencer tables at start. fn returning non-zero stops the walk. */
int evg_journal_producers(const struct evg_journal *j,
			  int (*fn)(void *arg, uint32_t producer_id,
				    uint32_t stream_id, uint64_t session,
				    uint64_t next_seq),
			  void *arg);

/*
 * Append n records to partition p (the stream's). Returns the ticket that
 * covers them (>= 1), -ENOBUFS when the partition's buffers are all in
 * flight (retry after poll), -EIO / -ENOSPC while storage is failing
 * (the caller answers NAK STORAGE; appending resumes once a write
 * succeeds again), -EMSGSIZE for a record larger than a batch (or a
 * key over 65535 bytes).
 * Records of one call stay together, in order, with consecutive offsets.
 */
int64_t evg_journal_append(struct evg_journal *j, uint32_t p,
			   const struct evg_journal_rec *recs, unsigned int n,
			   uint64_t *first_offset);
/* Seal the open batch of p, if any, and queue its write. */
int evg_journal_flush(struct evg_journal *j, uint32_t p);
/* Submit, reap, roll, retain; *durable = highest ticket of p at the
 * configured level. Returns completions handled. */
int evg_journal_poll(struct evg_journal *j, uint32_t p, uint64_t *durable);
/* The offset after the last record of p that is durable at the
 * configured level (everything recovered at open counts as durable).
 * Safe to call from any thread while the writer's lcore appends: other
 * lcores read the log with readers up to it, never further (lib/sub's
 * subscribers). UINT64_MAX for a bad p. */
uint64_t evg_journal_durable_end(const struct evg_journal *j, uint32_t p);
/* Whether storage under p is failing: the error a write or a segment
 * roll last failed with (-EIO, -ENOSPC, ...) while a retry is due, else
 * 0. Unlike append, it tells also a caller with nothing to append (a
 * producer that only retransmits) that the log cannot take events. */
int evg_journal_failing(const struct evg_journal *j, uint32_t p);
/* The store instance partition p writes through (one per partition, so
 * partitions can be polled from different lcores); for tests that inject
 * faults with evg_store_mem_fail(). NULL for a bad p. */
struct evg_store *evg_journal_store(struct evg_journal *j, uint32_t p);
/* Write-path counters of p, EVG_JOURNAL_STAT_MAX values. */
void evg_journal_stats(const struct evg_journal *j, uint32_t p,
		       uint64_t *values);
const char *evg_journal_stat_name(unsigned int i);

/* ---- readers (no EAL; a running evgate may be appending) ---- */

struct evg_journal_reader;

/* Readers use plain POSIX I/O on dir (no store backend). */
int evg_journal_reader_open(const char *dir, uint32_t partition,
			    struct evg_journal_reader **r, char *err,
			    size_t errlen);
void evg_journal_reader_close(struct evg_journal_reader *r);
/* Number of partitions of a log directory, or -errno. */
int evg_journal_partitions(const char *dir);
int evg_journal_reader_seek_offset(struct evg_journal_reader *r, uint64_t off);
int evg_journal_reader_seek_time(struct evg_journal_reader *r, uint64_t ts_ns);
int evg_journal_reader_seek_end(struct evg_journal_reader *r);
/* Next record: 0 with *e filled (valid until the next call), -ENODATA at
 * the current end (call again later to follow), -EBADMSG when the reader
 * cannot go on although a later segment holds data: a corrupt or
 * incomplete batch, or a segment whose end does not meet the next one's
 * first offset (a torn tail of the newest data is the end, not an error).
 * After -EBADMSG, evg_journal_reader_pos() says where and
 * evg_journal_reader_skip_segment() moves on. */
int evg_journal_reader_next(struct evg_journal_reader *r,
			    struct evg_journal_entry *e);

/* What stopped the last evg_journal_reader_next() that returned no
 * record (-ENODATA or -EBADMSG). */
enum evg_journal_reader_stop {
	EVG_JOURNAL_STOP_NONE, /* it returned a record, or has not run */
	EVG_JOURNAL_STOP_END,  /* nothing but zero padding to the file end */
	/* An incomplete batch: one that runs past the end of the file, or
	 * unwritten (zero) blocks before more data. An append in progress
	 * (or a crash during one: recovery cuts it) when it is the newest
	 * data; corruption when a later segment holds data. */
	EVG_JOURNAL_STOP_TORN,
	/* A complete batch that fails its checks (magic, length, CRC-32C,
	 * records, offsets) where the next batch should start. */
	EVG_JOURNAL_STOP_BAD,
	/* The segment ends cleanly, but the next segment holding data does
	 * not start at the offset it reached: records are missing. */
	EVG_JOURNAL_STOP_GAP,
};

/* Where a reader is, and what it has read since it was opened. */
struct evg_journal_reader_pos {
	uint32_t partition;
	bool in_segment;	/* false: the partition had no segment yet */
	uint32_t segment_index; /* of the open segment among the partition's
				 * segments as last listed, 0 = the oldest;
				 * UINT32_MAX once retention removed it */
	uint64_t segment_base;	/* offset of its first record; its name */
	uint64_t byte_pos;	/* in it: the batch the next record is in,
				 * or where the next batch starts */
	uint64_t next_offset;	/* of the next record to read (after a seek:
				 * at least the offset sought) */
	enum evg_journal_reader_stop stop;
	uint64_t stop_pos; /* byte of the segment where stop was found */
	uint64_t segments; /* segments entered (a seek that lands in
			    * another one counts it again) */
	uint64_t batches;  /* valid batches read, CRC checked */
	uint64_t records;  /* records returned by next() */
	uint64_t skipped_segments; /* segments left by skip_segment() */
};

/* Fill *pos. 0, or -EINVAL for a NULL argument. */
int evg_journal_reader_pos(const struct evg_journal_reader *r,
			   struct evg_journal_reader_pos *pos);
/*
 * Leave the rest of the open segment (after -EBADMSG: its records past the
 * bad batch are lost) and go on at the start of the next segment of the
 * partition, listed afresh. A reader without a segment goes to the first.
 * Returns 0, -ENODATA when there is no later segment (the reader stays
 * where it was), -EINVAL for a NULL r, or the -errno of listing or
 * opening the files (-ENOENT, -EACCES, -ENOMEM, ...).
 */
int evg_journal_reader_skip_segment(struct evg_journal_reader *r);

#endif /* EVG_JOURNAL_H */
