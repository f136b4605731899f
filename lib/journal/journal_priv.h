/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Journal internals shared by its source files (docs/storage.md has the
 * on-disk format these structures encode).
 *
 *   format.c      batch and record encoding, CRC, index entries, names
 *   scan.c        files through a store or plain POSIX, segment listing,
 *                 the batch cursor, index files (recovery and readers)
 *   segment.c     the writer's segments: create, index, roll, retention
 *   checkpoint.c  producer-state table and checkpoint files
 *   recovery.c    what open does to each partition
 *   writer.c      append, flush, poll: buffers, tickets, faults
 *   reader.c      evg_journal_reader_*
 *   journal.c     open, close, the meta file, counters
 */
#ifndef JOURNAL_PRIV_H
#define JOURNAL_PRIV_H

#include <endian.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include <rte_common.h>

#include "evg_byteorder.h"
#include "evg_journal.h"
#include "evg_store.h"

#define JRN_FORMAT_VERSION 1u
#define JRN_ALIGN EVG_STORE_ALIGN
#define JRN_NBUF 4u		     /* write buffers per partition */
#define JRN_MAX_BATCH (64u << 20)    /* largest batch a file may hold */
#define JRN_CKPT_BYTES (64ull << 20) /* checkpoint at least this often */
#define JRN_IDX_ENTRY 16u	     /* bytes of an .idx / .tix entry */
#define JRN_IDX_PER_BLOCK (JRN_ALIGN / JRN_IDX_ENTRY)
#define JRN_NAUX 16u /* index/checkpoint ops per partition */
#define JRN_RETENTION_PERIOD_NS 1000000000ull /* age check in poll */
#define JRN_RETENTION_MAX 4u		      /* segments removed per check */
#define JRN_RETRY_NS 1000000ull /* a failed write is written again after */
#define JRN_META_NAME "journal.meta"
#define JRN_CKPT_MAGIC 0x31435645u /* "EVC1" little-endian */
#define JRN_CKPT_HDR_LEN 64u
#define JRN_CKPT_ENTRY 24u

/* Batch header offsets (docs/storage.md, "Batch"). */
#define JRN_B_MAGIC 0
#define JRN_B_HDR_LEN 4
#define JRN_B_FLAGS 6
#define JRN_B_LENGTH 8
#define JRN_B_COUNT 12
#define JRN_B_FIRST 16
#define JRN_B_MIN_TS 24
#define JRN_B_MAX_TS 32
#define JRN_B_INGEST 40
#define JRN_B_PARTITION 48
#define JRN_B_CRC 60

static inline uint64_t
jrn_clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static inline uint64_t
jrn_align(uint64_t v)
{
	return (v + JRN_ALIGN - 1) & ~(uint64_t)(JRN_ALIGN - 1);
}

static inline uint64_t
jrn_align8(uint64_t v)
{
	return (v + 7u) & ~(uint64_t)7u;
}

/* ---- format.c ---- */

struct jrn_batch_hdr {
	uint32_t magic;
	uint16_t hdr_len;
	uint16_t flags;
	uint32_t length; /* header + records, a multiple of 8 */
	uint32_t count;
	uint64_t first_offset;
	uint64_t min_ts; /* of the records with ts_ns != 0; 0 if none */
	uint64_t max_ts;
	uint64_t ingest_ns; /* the largest ingest_ns of its records */
	uint32_t partition;
	uint32_t crc32c;
};

void evg_jrn_batch_hdr_encode(const struct jrn_batch_hdr *h, void *buf);
void evg_jrn_batch_hdr_decode(const void *buf, struct jrn_batch_hdr *h);
/* CRC-32C of batch[0, len) with the crc32c field taken as zero. The
 * field is zeroed while computing and restored, hence not const. */
uint32_t evg_jrn_batch_crc(void *batch, uint32_t len);
/* Bytes one record takes in a batch; 0 when key or value is too large.
 * Inline: the write path asks once per record appended. */
static inline uint64_t
evg_jrn_rec_len(uint64_t key_size, uint64_t value_size)
{
	if (key_size > UINT16_MAX || value_size > UINT32_MAX ||
	    key_size + value_size > UINT32_MAX)
		return 0;
	return EVG_JOURNAL_REC_HDR_LEN + jrn_align8(key_size + value_size);
}
/* Write record r with offset off at buf (padding zeroed); returns its
 * length, evg_jrn_rec_len(). */
uint64_t evg_jrn_rec_encode(void *buf, const struct evg_journal_rec *r,
			    uint64_t off);
/* Decode the record at buf, at most avail bytes; its length, or -EBADMSG.
 * key and value point into buf. */
int64_t evg_jrn_rec_decode(const void *buf, uint64_t avail,
			   struct evg_journal_rec *r, uint64_t *off);
/*
 * Check a whole batch of len bytes already decoded into h: header length,
 * partition, CRC, and records that fill it exactly with consecutive
 * offsets from first_offset. 0 or -EBADMSG.
 */
int evg_jrn_batch_verify(void *batch, const struct jrn_batch_hdr *h,
			 uint32_t partition);
/* Whether a decoded header's length can be a batch's. */
bool evg_jrn_batch_len_ok(const struct jrn_batch_hdr *h);

/* An .idx ({offset, position}) or .tix ({max ts, offset}) entry. */
static inline void
jrn_ient_put(uint8_t *p, uint64_t a, uint64_t b)
{
	evg_st64(p, a);
	evg_st64(p + 8, b);
}

/* File names, relative to the log directory; snprintf semantics. */
int evg_jrn_part_name(char *buf, size_t len, uint32_t p);
int evg_jrn_file_name(char *buf, size_t len, uint32_t p, uint64_t base,
		      const char *ext);
/* Base offset of a segment-family entry "<20 digits><ext>"; -EINVAL. */
int evg_jrn_parse_name(const char *entry, const char *ext, uint64_t *base);

/* ---- scan.c: files through a store (ops != NULL) or POSIX (dirfd) ---- */

struct jrn_fs {
	const struct evg_store_ops *ops;
	struct evg_store *st;
	int dirfd;
};

#define JRN_READAHEAD (8ull << 20) /* bytes a reader asks to read ahead */

struct jrn_file {
	const struct jrn_fs *fs;
	int h; /* store file id or fd; -1 closed */
	/* Plain files: how far the kernel was asked to read ahead. */
	uint64_t ra_end;
};

int evg_jrn_file_open(const struct jrn_fs *fs, const char *name,
		      struct jrn_file *f);
void evg_jrn_file_close(struct jrn_file *f);
int64_t evg_jrn_file_size(const struct jrn_file *f);
int64_t evg_jrn_file_read(struct jrn_file *f, void *buf, uint64_t len,
			  uint64_t off);
int evg_jrn_fs_list(const struct jrn_fs *fs, const char *dir,
		    void (*fn)(void *arg, const char *entry), void *arg);

/* Sorted base offsets of the segments of a partition. */
struct jrn_seglist {
	uint64_t *base;
	uint32_t n;
	uint32_t cap;
	int err;
};

int evg_jrn_seglist_load(const struct jrn_fs *fs, uint32_t p,
			 struct jrn_seglist *sl);
void evg_jrn_seglist_free(struct jrn_seglist *sl);

/* A growable read buffer (8-byte aligned). */
struct jrn_scanbuf {
	uint8_t *p;
	uint64_t cap;
};

void evg_jrn_scanbuf_free(struct jrn_scanbuf *sb);

enum jrn_scan {
	JRN_SCAN_END,	/* no more batches: end of file or unwritten block */
	JRN_SCAN_BATCH, /* a valid batch */
	JRN_SCAN_TORN,	/* a batch that does not fit in the file (yet) */
	JRN_SCAN_BAD,	/* a complete batch that is not valid */
};

/* Walks the batches of one segment file, checking each (CRC, structure,
 * offsets following on from next_offset). */
struct jrn_cursor {
	struct jrn_file *f;
	struct jrn_scanbuf *sb;
	uint64_t size;	      /* file size the walk trusts */
	uint64_t pos;	      /* of the next batch */
	uint64_t next_offset; /* expected first offset of the next batch */
	uint64_t stop;	      /* where the last call stopped, unless BATCH */
	uint32_t partition;
	struct jrn_batch_hdr h; /* of the last batch returned; in sb->p */
};

/* Next batch; c->pos and c->next_offset move past it only on BATCH, and
 * c->stop says where anything else was found. < 0: I/O error. */
int evg_jrn_cursor_next(struct jrn_cursor *c);

/* Entries of an index file read into memory: a[i] and b[i]. */
struct jrn_ilist {
	uint64_t *a;
	uint64_t *b;
	uint32_t n;
};

/* Read the valid prefix of an .idx (tix = false) or .tix file of the
 * segment at base; a missing file gives n = 0. */
int evg_jrn_ilist_load(const struct jrn_fs *fs, uint32_t p, uint64_t base,
		       bool tix, struct jrn_ilist *il);
void evg_jrn_ilist_free(struct jrn_ilist *il);

/* ---- checkpoint.c: producer states ---- */

struct jrn_pstate {
	uint64_t key; /* producer_id << 32 | stream_id */
	uint64_t session;
	uint64_t next_seq;
	uint64_t used;
};

struct jrn_ptable {
	struct jrn_pstate *t;
	uint32_t cap; /* a power of two */
	uint32_t n;
};

int evg_jrn_ptable_init(struct jrn_ptable *pt);
void evg_jrn_ptable_free(struct jrn_ptable *pt);
/* Make room for `more` new keys without allocating in update. */
int evg_jrn_ptable_reserve(struct jrn_ptable *pt, uint32_t more);
/* Fold one record into the table (highest session, then highest seq). */
void evg_jrn_ptable_update(struct jrn_ptable *pt, uint32_t producer,
			   uint32_t stream, uint64_t session, uint64_t seq);
/* Set a state as a checkpoint holds it. */
void evg_jrn_ptable_set(struct jrn_ptable *pt, uint32_t producer,
			uint32_t stream, uint64_t session, uint64_t next_seq);

/* Where a checkpoint stands: its states cover offsets < next_offset. */
struct jrn_ckpt_pos {
	uint64_t gen;
	uint64_t seg_base;
	uint64_t seg_pos;
	uint64_t next_offset;
};

/* Serialise pt into buf (evg_jrn_ckpt_len bytes, padded to JRN_ALIGN
 * with zeros); returns the unpadded length. */
uint64_t evg_jrn_ckpt_len(const struct jrn_ptable *pt);
uint64_t evg_jrn_ckpt_encode(const struct jrn_ptable *pt, uint32_t p,
			     const struct jrn_ckpt_pos *pos, void *buf);
/*
 * Load the newest valid checkpoint of partition p whose next_offset <=
 * end into pt. 1 when one was loaded (*pos filled), 0 when none is
 * usable, < 0 on I/O or memory errors. Bit s of *stale is set when slot
 * s holds a valid checkpoint past end.
 */
int evg_jrn_ckpt_load(const struct jrn_fs *fs, uint32_t p, uint64_t end,
		      struct jrn_ptable *pt, struct jrn_ckpt_pos *pos,
		      unsigned int *stale);
int evg_jrn_ckpt_name(char *buf, size_t len, uint32_t p, unsigned int slot);

/* ---- writer state ---- */

/* Buffers come from rte_malloc with an EAL, else hugepages, else the
 * heap; kind says which, for the free. */
struct jrn_mem {
	void *p;
	size_t len;
	int kind;
};

int evg_jrn_mem_alloc(struct jrn_mem *m, size_t len, int socket_id);
void evg_jrn_mem_free(struct jrn_mem *m);

/* A segment the writer has open (the active one, or the previous one
 * while its last writes finish). Its .idx and .tix are kept in memory
 * (zero past n entries) and written a block at a time once every batch
 * a block names is durable, so an index on disk never points at a batch
 * that may not be there. */
struct jrn_seg {
	uint64_t base;
	uint64_t pos;	   /* where the next batch goes */
	uint64_t next_idx; /* a batch at or past this gets index entries */
	uint64_t max_ts;   /* of the records so far */
	uint64_t max_ingest;
	uint32_t ops;	    /* store operations queued on its files */
	uint32_t n;	    /* index entries */
	uint32_t cap;	    /* entries the memory holds */
	uint32_t durable_n; /* entries whose batches are durable */
	uint32_t blocks;    /* index blocks queued for writing */
	int fid, idx_fid, tix_fid;
	bool live; /* the active one, or the previous one until closed */
	struct jrn_mem idx, tix;
};

/* Closed and active segments, for retention. */
struct jrn_seginfo {
	uint64_t base;
	uint64_t bytes;
	uint64_t max_ingest;
};

enum jrn_bstate {
	JB_FREE,
	JB_OPEN,    /* taking appends */
	JB_SEALED,  /* to be written */
	JB_WRITING, /* write queued */
	JB_WRITTEN, /* waits for a sync */
	JB_SYNCING,
	JB_DONE,   /* durable; freed once every earlier ticket is */
	JB_FAILED, /* write or sync failed: written again next poll */
};

struct jrn_buf {
	struct jrn_mem mem;
	uint8_t *p;
	uint32_t len;  /* batch bytes so far */
	uint32_t wlen; /* write length, len padded to JRN_ALIGN */
	uint32_t count;
	uint32_t idx_n; /* its segment's index entries once it is sealed */
	uint64_t first_offset;
	uint64_t min_ts, max_ts, ingest;
	uint64_t ticket;
	uint64_t pos;
	uint8_t seg; /* slot in jrn_part.seg */
	bool failed; /* a write or sync of it failed; being retried */
	enum jrn_bstate state;
};

enum jrn_aux_what { JA_FREE, JA_IDX, JA_CKPT };

/* An index or checkpoint write (or sync) off the durability path. */
struct jrn_aux {
	enum jrn_aux_what what;
	bool queued; /* handed to the store; else waiting for room */
	bool sync;
	uint8_t seg; /* JA_IDX: slot whose ops it counts */
	int fid;
	const void *buf;
	uint32_t len;
	uint64_t off;
};

enum jrn_ckpt_state { CK_IDLE, CK_READY, CK_WRITING };

struct jrn_ckpt {
	struct jrn_mem mem;
	uint64_t len;	 /* padded bytes to write */
	uint64_t ticket; /* written once durable >= ticket */
	uint64_t gen;
	uint64_t bytes_since;
	uint32_t ops; /* queued */
	bool failed;
	enum jrn_ckpt_state state;
	int fid[2];
};

struct jrn_part {
	struct evg_journal *j;
	uint32_t id;
	int dirfid;	   /* the partition directory, to sync new entries */
	int failing;	   /* -errno while a write is failing */
	uint32_t nfailed;  /* buffers with failed set */
	uint64_t retry_at; /* CLOCK_MONOTONIC ns of the next rewrite */
	int roll_err;	   /* -errno of the last failed segment roll, or 0 */
	uint64_t roll_at;  /* CLOCK_MONOTONIC ns of the next roll attempt */
	bool syncing;	   /* an fdatasync is in flight ... */
	uint8_t sync_seg;  /* ... on this slot's segment */
	struct evg_store *st;
	struct jrn_buf buf[JRN_NBUF];
	int open;	      /* buffer taking appends, or -1 */
	uint64_t last_ticket; /* highest given out */
	uint64_t durable;
	uint64_t next_offset;
	/* Offset after the last record durable at the level: written here
	 * (release), read by other threads (evg_journal_durable_end()). */
	uint64_t durable_end;
	uint8_t cur; /* active slot of seg */
	struct jrn_seg seg[2];
	struct jrn_seginfo *segs; /* oldest first; the active one last */
	uint32_t nsegs;
	uint32_t segs_cap;
	uint64_t retention_next; /* CLOCK_MONOTONIC ns of the next check */
	struct jrn_ptable states;
	struct jrn_ckpt ckpt;
	struct jrn_aux aux[JRN_NAUX];
	uint64_t stats[EVG_JOURNAL_STAT_MAX];
} __attribute__((aligned(64)));

struct evg_journal {
	struct evg_journal_conf conf; /* dir, io_cpus point below */
	char dir[4096];
	cpu_set_t io_cpus;
	uint32_t bufcap; /* batch_bytes */
	struct jrn_part *parts;
};

/* Tags of store operations: kind in the top byte. */
#define JRN_TAG_WRITE 1ull
#define JRN_TAG_SYNC 2ull
#define JRN_TAG_AUX 3ull
#define JRN_TAG(kind, v) (((kind) << 56) | (v))
#define JRN_TAG_KIND(t) ((t) >> 56)
#define JRN_TAG_VAL(t) ((t) & ((1ull << 56) - 1))

/* ---- segment.c ---- */

/* Open (creating them if missing) the files of the segment at base into
 * slot s, its index empty. */
int evg_jrn_seg_open(struct jrn_part *pt, uint8_t s, uint64_t base);
/* Queue index blocks of slot s that may be written; all = the segment
 * is final (write the partial block too). */
void evg_jrn_seg_index_flush(struct jrn_part *pt, uint8_t s, bool all);
/* Record the index entries of a batch about to be sealed at seg pos. */
void evg_jrn_seg_index_add(struct jrn_part *pt, struct jrn_buf *b);
/* Close the previous segment once its writes are done. */
void evg_jrn_seg_reap_old(struct jrn_part *pt);
/* Start a new active segment at next_offset. -ENOBUFS while the previous
 * one is still closing. */
int evg_jrn_seg_roll(struct jrn_part *pt);
void evg_jrn_seg_release(struct jrn_part *pt, uint8_t s);
int evg_jrn_seginfo_push(struct jrn_part *pt, uint64_t base, uint64_t bytes,
			 uint64_t max_ingest);
/* Remove old segments past retention_bytes / retention_ms. */
void evg_jrn_retention(struct jrn_part *pt, bool force);
/* Queue an aux operation; -ENOBUFS when all aux slots are taken. */
int evg_jrn_aux_add(struct jrn_part *pt, enum jrn_aux_what what, uint8_t s,
		    int fid, const void *buf, uint32_t len, uint64_t off,
		    bool sync);
/* Hand waiting aux operations to the store. */
void evg_jrn_aux_queue(struct jrn_part *pt);
void evg_jrn_aux_complete(struct jrn_part *pt, unsigned int i, int32_t res);
/* Write len bytes synchronously through the data path (control path
 * only: nothing else may be in flight on st). */
int evg_jrn_write_wait(struct evg_store *st, const struct evg_store_ops *ops,
		       int fid, const void *buf, uint32_t len, uint64_t off);

/* ---- checkpoint.c (writer side) ---- */

/* Take a snapshot covering everything sealed so far (ticket t). */
void evg_jrn_ckpt_snapshot(struct jrn_part *pt, uint64_t t);
/* Queue the snapshot's write once it is durable. */
void evg_jrn_ckpt_poll(struct jrn_part *pt);
void evg_jrn_ckpt_done(struct jrn_part *pt, int32_t res);
/* Write a checkpoint now (close). */
int evg_jrn_ckpt_write_now(struct jrn_part *pt);

/* ---- recovery.c ---- */

int evg_jrn_recover_part(struct jrn_part *pt, struct evg_journal_recovery *rep,
			 char *err, size_t errlen);

/* ---- writer.c ---- */

int evg_jrn_part_init(struct jrn_part *pt, struct evg_journal *j, uint32_t id);
void evg_jrn_part_fini(struct jrn_part *pt);
/* Flush and poll until nothing is in flight; -errno if storage fails. */
int evg_jrn_part_drain(struct jrn_part *pt);

/* ---- journal.c ---- */

/* The partition count of a journal.meta text; -EBADMSG, -EPROTO. */
int evg_jrn_meta_parse(const char *text, uint32_t *partitions);

/* ---- reader.c ---- */

/* A reader over a journal's own store (tests of the mem backend): reads
 * partition p through the store of the partition's writer. */
int evg_jrn_reader_open_store(struct evg_journal *j, uint32_t p,
			      struct evg_journal_reader **r);

#endif /* JOURNAL_PRIV_H */
