/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Consumer groups' committed offsets, durable beside the log
 * (docs/storage.md, "Consumer offsets"): two slot files in the log
 * directory, offsets.0 and offsets.1, each holding a whole set of commit
 * points (group, stream) -> offset with a generation and a CRC-32C. A
 * store writes the slot that does not hold the newest generation and
 * fdatasyncs it, so a crash at any moment leaves the set before or the set
 * after, never a mix; opening takes the valid slot with the highest
 * generation.
 *
 * Plain POSIX I/O, no EAL; one thread at a time per handle (evgate's
 * offsets writer thread). Errors are negative errno values.
 */
#ifndef EVG_SUB_OFFSETS_H
#define EVG_SUB_OFFSETS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define EVG_SUB_OFFSETS_MAX 4096u     /* entries in a set */
#define EVG_SUB_OFFSETS_GROUP_LEN 32u /* name bytes with the NUL */

/* One commit point. */
struct evg_sub_offset {
	char group[EVG_SUB_OFFSETS_GROUP_LEN]; /* 1..31 chars, NUL-padded */
	uint32_t stream_id;
	uint32_t partition;
	uint64_t offset;    /* every event of the stream below it processed */
	uint64_t commit_ns; /* CLOCK_REALTIME when it was committed */
};

/* What opening found. */
struct evg_sub_offsets_info {
	uint64_t gen;	/* of the set loaded; 0: none (new directory) */
	uint32_t count; /* entries loaded */
	int slot;	/* 0 or 1, -1 when neither was valid */
	/* A slot file that exists but is not a valid set (torn write,
	 * corruption); the other one is used. */
	bool slot_bad[2];
};

struct evg_sub_offsets;

/*
 * Open the slots in dir (the log directory, which must exist), creating
 * missing ones empty, and load the newest valid set. A directory where
 * both slots exist and neither is valid fails with -EBADMSG and one line
 * in err (it cannot be told from a lost set); otherwise 0 and *out.
 * Other errors: -errno of open/read, -ENOMEM.
 */
int evg_sub_offsets_open(const char *dir, struct evg_sub_offsets **out,
			 struct evg_sub_offsets_info *info, char *err,
			 size_t errlen);
void evg_sub_offsets_close(struct evg_sub_offsets *o);

/* The set loaded or last stored. */
unsigned int evg_sub_offsets_count(const struct evg_sub_offsets *o);
const struct evg_sub_offset *
evg_sub_offsets_entry(const struct evg_sub_offsets *o, unsigned int i);
/* The commit point of (group, stream): 0 and *e, or -ENOENT. */
int evg_sub_offsets_find(const struct evg_sub_offsets *o, const char *group,
			 uint32_t stream_id, struct evg_sub_offset *e);
/* Generation of the set loaded or last stored (0: none yet). */
uint64_t evg_sub_offsets_gen(const struct evg_sub_offsets *o);

/*
 * Make e[0..n) the durable set (n <= EVG_SUB_OFFSETS_MAX; group names
 * valid, no (group, stream) twice): write it with the next generation to
 * the other slot, fdatasync, and only then count it as the newest. 0, or
 * -EINVAL (bad entries), or the -errno of the write or sync: the set
 * before stays the durable one, and the next store writes the same slot
 * again.
 */
int evg_sub_offsets_store(struct evg_sub_offsets *o,
			  const struct evg_sub_offset *e, unsigned int n);

#endif /* EVG_SUB_OFFSETS_H */
