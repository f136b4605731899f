/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Consumer groups' durable offsets (docs/storage.md, "Consumer offsets").
 *
 * Generation g lives in offsets.<g mod 2>. A store writes the whole set
 * with the next generation to the slot that does not hold the newest one
 * and fdatasyncs it; only then does the new set replace the one in
 * memory. So a crash or an I/O error can only damage the slot of an older
 * set, and a failed store is simply written again, whole, to the same
 * slot. Opening takes the valid slot with the highest generation.
 *
 * Everything a store needs (the two sets with their indexes, the write
 * buffer) is allocated once at open: a store validates the new set into
 * the spare set, encodes it, writes, syncs, and swaps the sets.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "evg_byteorder.h"
#include "evg_evf.h"
#include "evg_evf_sub.h"
#include "evg_sub_offsets.h"

#define OFS_MAGIC 0x314f5645u /* the bytes E V O 1 */
#define OFS_VERSION 1u
#define OFS_HDR_LEN 64u
#define OFS_ENTRY_LEN 64u
#define OFS_BUF_LEN (OFS_HDR_LEN + EVG_SUB_OFFSETS_MAX * OFS_ENTRY_LEN)
#define OFS_INDEX_CAP (2u * EVG_SUB_OFFSETS_MAX) /* a power of two */
#define OFS_WHY_LEN 128u

/* Header fields; the CRC sits at byte 60 as in the journal's files. */
#define H_MAGIC 0
#define H_VERSION 4
#define H_HDR_LEN 6
#define H_COUNT 8
#define H_ENTRY_LEN 12
#define H_GEN 16
#define H_RESERVED 24 /* to H_CRC */
#define H_CRC 60

/* Entry fields. */
#define E_GROUP 0
#define E_STREAM 32
#define E_PARTITION 36
#define E_OFFSET 40
#define E_COMMIT 48
#define E_RESERVED 56

_Static_assert(EVG_SUB_OFFSETS_GROUP_LEN == EVG_EVF_SUB_GROUP_LEN,
	       "a group name is the protocol's");
_Static_assert(E_RESERVED + 8 == OFS_ENTRY_LEN, "entry layout");
_Static_assert(EVG_SUB_OFFSETS_MAX < UINT16_MAX, "index holds place + 1");
_Static_assert((OFS_INDEX_CAP & (OFS_INDEX_CAP - 1)) == 0, "power of two");

static const char *const slot_file[2] = {"offsets.0", "offsets.1"};

/* A set and its open-addressing index of (group, stream): 1 + the
 * entry's place, 0 for a free slot; at most half full. */
struct ofs_set {
	unsigned int n;
	uint16_t index[OFS_INDEX_CAP];
	struct evg_sub_offset e[EVG_SUB_OFFSETS_MAX];
};

struct evg_sub_offsets {
	int fd[2];
	uint64_t gen;
	struct ofs_set *cur;   /* the durable set */
	struct ofs_set *spare; /* the set being loaded or stored */
	struct ofs_set sets[2];
	uint8_t buf[OFS_BUF_LEN];
};

enum slot_state { SLOT_EMPTY, SLOT_VALID, SLOT_BAD };

static int __attribute__((format(printf, 4, 5)))
fail(int rc, char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err != NULL && errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return rc;
}

/* FNV-1a over the name, then the stream folded in by a multiply whose
 * high bits depend on every bit of both. */
static uint32_t
key_slot(const char *group, uint32_t stream_id)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (unsigned int i = 0; i < EVG_SUB_OFFSETS_GROUP_LEN && group[i]; i++)
		h = (h ^ (uint8_t)group[i]) * 0x100000001b3ull;
	h = (h ^ stream_id) * 0x9e3779b97f4a7c15ull;
	return (uint32_t)(h >> 32) & (OFS_INDEX_CAP - 1);
}

/* The index slot of (group, stream): the one that names it, or the free
 * one where it would go. group is NUL-padded to its 32 bytes. */
static uint32_t
set_lookup(const struct ofs_set *s, const char *group, uint32_t stream_id)
{
	uint32_t i = key_slot(group, stream_id);

	while (s->index[i] != 0) {
		const struct evg_sub_offset *e = &s->e[s->index[i] - 1];

		if (e->stream_id == stream_id &&
		    memcmp(e->group, group, EVG_SUB_OFFSETS_GROUP_LEN) == 0)
			break;
		i = (i + 1) & (OFS_INDEX_CAP - 1);
	}
	return i;
}

static void
set_reset(struct ofs_set *s)
{
	s->n = 0;
	memset(s->index, 0, sizeof(s->index));
}

/* Name bytes as stored: the name, then zeros. -EINVAL unless src is 1..31
 * valid characters. The caller's 32 bytes need not hold a NUL: the name
 * is only read as a string once one is known to be there. */
static int
group_copy(char *dst, const char *src)
{
	size_t len = strnlen(src, EVG_SUB_OFFSETS_GROUP_LEN);

	if (len == EVG_SUB_OFFSETS_GROUP_LEN || !evg_evf_sub_group_valid(src))
		return -EINVAL;
	memset(dst, 0, EVG_SUB_OFFSETS_GROUP_LEN);
	memcpy(dst, src, len);
	return 0;
}

/* Append a copy of *in to s: -EINVAL (bad name), -EEXIST (its (group,
 * stream) is in s already), -ENOSPC (s is full). */
static int
set_add(struct ofs_set *s, const struct evg_sub_offset *in)
{
	struct evg_sub_offset *e;
	uint32_t i;

	if (s->n == EVG_SUB_OFFSETS_MAX)
		return -ENOSPC;
	e = &s->e[s->n];
	if (group_copy(e->group, in->group) < 0)
		return -EINVAL;
	i = set_lookup(s, e->group, in->stream_id);
	if (s->index[i] != 0)
		return -EEXIST;
	e->stream_id = in->stream_id;
	e->partition = in->partition;
	e->offset = in->offset;
	e->commit_ns = in->commit_ns;
	s->index[i] = (uint16_t)(++s->n);
	return 0;
}

/* The slot file image of s with generation gen; its length. */
static size_t
set_encode(const struct ofs_set *s, uint64_t gen, uint8_t *b)
{
	size_t len = OFS_HDR_LEN + (size_t)s->n * OFS_ENTRY_LEN;

	memset(b, 0, len);
	evg_st32(b + H_MAGIC, OFS_MAGIC);
	evg_st16(b + H_VERSION, OFS_VERSION);
	evg_st16(b + H_HDR_LEN, OFS_HDR_LEN);
	evg_st32(b + H_COUNT, s->n);
	evg_st32(b + H_ENTRY_LEN, OFS_ENTRY_LEN);
	evg_st64(b + H_GEN, gen);
	for (unsigned int i = 0; i < s->n; i++) {
		uint8_t *p = b + OFS_HDR_LEN + (size_t)i * OFS_ENTRY_LEN;

		memcpy(p + E_GROUP, s->e[i].group, EVG_SUB_OFFSETS_GROUP_LEN);
		evg_st32(p + E_STREAM, s->e[i].stream_id);
		evg_st32(p + E_PARTITION, s->e[i].partition);
		evg_st64(p + E_OFFSET, s->e[i].offset);
		evg_st64(p + E_COMMIT, s->e[i].commit_ns);
	}
	evg_st32(b + H_CRC, evg_evf_crc32c(b, len));
	return len;
}

static bool
all_zero(const uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (p[i] != 0)
			return false;
	return true;
}

/* Add the entry at p to s: 0, or set_add()'s error, or -EPROTO (bytes
 * after the name or reserved bytes not zero). */
static int
entry_decode(const uint8_t *p, struct ofs_set *s)
{
	size_t len = strnlen((const char *)p, EVG_SUB_OFFSETS_GROUP_LEN);
	struct evg_sub_offset e;
	int rc;

	memcpy(e.group, p + E_GROUP, EVG_SUB_OFFSETS_GROUP_LEN);
	e.stream_id = evg_ld32(p + E_STREAM);
	e.partition = evg_ld32(p + E_PARTITION);
	e.offset = evg_ld64(p + E_OFFSET);
	e.commit_ns = evg_ld64(p + E_COMMIT);
	rc = set_add(s, &e);
	if (rc < 0)
		return rc;
	if (!all_zero(p + len, EVG_SUB_OFFSETS_GROUP_LEN - len) ||
	    evg_ld64(p + E_RESERVED) != 0)
		return -EPROTO;
	return 0;
}

/* Decode the count entries after the header into s; NULL, or what is
 * wrong with them. */
static const char *
entries_decode(const uint8_t *b, uint32_t count, struct ofs_set *s, char *why,
	       size_t whylen)
{
	set_reset(s);
	for (uint32_t i = 0; i < count; i++) {
		int rc = entry_decode(
			b + OFS_HDR_LEN + (size_t)i * OFS_ENTRY_LEN, s);

		if (rc == 0)
			continue;
		snprintf(why, whylen, "entry %" PRIu32 ": %s", i,
			 rc == -EEXIST	 ? "(group, stream) twice"
			 : rc == -EPROTO ? "non-zero padding or reserved bytes"
					 : "bad group name");
		return why;
	}
	return NULL;
}

/* Check the image of slot (a file of size bytes; b holds its first
 * min(size, OFS_BUF_LEN) bytes, its CRC field is zeroed) and decode it
 * into s; NULL, or what is wrong with it. */
static const char *
slot_decode(uint8_t *b, uint64_t size, unsigned int slot, struct ofs_set *s,
	    uint64_t *gen, char *why, size_t whylen)
{
	uint32_t count, crc;
	size_t len;

	if (size < OFS_HDR_LEN)
		return "shorter than its header";
	count = evg_ld32(b + H_COUNT);
	if (evg_ld32(b + H_MAGIC) != OFS_MAGIC)
		return "bad magic";
	if (evg_ld16(b + H_VERSION) != OFS_VERSION)
		return "unknown format version";
	if (evg_ld16(b + H_HDR_LEN) != OFS_HDR_LEN ||
	    evg_ld32(b + H_ENTRY_LEN) != OFS_ENTRY_LEN ||
	    !all_zero(b + H_RESERVED, H_CRC - H_RESERVED))
		return "bad header";
	if (count > EVG_SUB_OFFSETS_MAX)
		return "more entries than a set holds";
	len = OFS_HDR_LEN + (size_t)count * OFS_ENTRY_LEN;
	if (size < len) {
		snprintf(why, whylen,
			 "%" PRIu64 " bytes, too short for %" PRIu32 " entries",
			 size, count);
		return why;
	}
	crc = evg_ld32(b + H_CRC);
	evg_st32(b + H_CRC, 0);
	if (crc != evg_evf_crc32c(b, len))
		return "CRC mismatch";
	*gen = evg_ld64(b + H_GEN);
	if (*gen == 0 || (*gen & 1) != slot)
		return "generation does not belong in this slot";
	return entries_decode(b, count, s, why, whylen);
}

/* ---- files ---- */

/* Up to len bytes from the start; how many (fewer at the end of the
 * file), or -errno. */
static int64_t
read_full(int fd, uint8_t *b, size_t len)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = pread(fd, b + done, len - done, (off_t)done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		done += (size_t)n;
	}
	return (int64_t)done;
}

static int
write_full(int fd, const uint8_t *b, size_t len)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = pwrite(fd, b + done, len - done, (off_t)done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO;
		done += (size_t)n;
	}
	return 0;
}

static int
sync_data(int fd)
{
	while (fdatasync(fd) < 0)
		if (errno != EINTR)
			return -errno;
	return 0;
}

/* A removed slot file (or the directory with it) still takes writes and
 * syncs without an error, but nothing of it would survive a restart. */
static int
still_named(int fd)
{
	struct stat sb;

	if (fstat(fd, &sb) < 0)
		return -errno;
	return sb.st_nlink == 0 ? -ENOENT : 0;
}

/* Open both slot files, creating the missing ones empty; a directory
 * that got a new name is synced so that the name survives a crash. */
static int
slots_open(struct evg_sub_offsets *o, const char *dir, char *err, size_t errlen)
{
	bool created = false;
	int dirfd, rc = 0;

	dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0)
		return fail(-errno, err, errlen, "offsets: cannot open %s: %s",
			    dir, strerror(errno));
	for (unsigned int s = 0; rc == 0 && s < 2; s++) {
		o->fd[s] = openat(dirfd, slot_file[s],
				  O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
		if (o->fd[s] >= 0)
			created = true;
		else if (errno == EEXIST)
			o->fd[s] =
				openat(dirfd, slot_file[s], O_RDWR | O_CLOEXEC);
		if (o->fd[s] < 0)
			rc = fail(-errno, err, errlen,
				  "offsets: cannot open %s/%s: %s", dir,
				  slot_file[s], strerror(errno));
	}
	if (rc == 0 && created && fsync(dirfd) < 0)
		rc = fail(-errno, err, errlen,
			  "offsets: cannot sync directory %s: %s", dir,
			  strerror(errno));
	close(dirfd);
	return rc;
}

/* Read slot into the spare set: SLOT_EMPTY, SLOT_VALID (and *gen),
 * SLOT_BAD (and why), or -errno. */
static int
slot_load(struct evg_sub_offsets *o, unsigned int slot, uint64_t *gen,
	  char *why, size_t whylen)
{
	const char *bad;
	struct stat sb;
	int64_t got;

	if (fstat(o->fd[slot], &sb) < 0)
		return -errno;
	if (sb.st_size == 0)
		return SLOT_EMPTY;
	got = read_full(o->fd[slot], o->buf,
			(uint64_t)sb.st_size < OFS_BUF_LEN ? (size_t)sb.st_size
							   : OFS_BUF_LEN);
	if (got < 0)
		return (int)got;
	bad = slot_decode(o->buf, (uint64_t)got, slot, o->spare, gen, why,
			  whylen);
	if (bad == NULL)
		return SLOT_VALID;
	if (bad != why)
		snprintf(why, whylen, "%s", bad);
	return SLOT_BAD;
}

static void
swap_sets(struct evg_sub_offsets *o)
{
	struct ofs_set *s = o->cur;

	o->cur = o->spare;
	o->spare = s;
}

/* Load both slots and keep the valid one with the highest generation. */
static int
slots_load(struct evg_sub_offsets *o, const char *dir,
	   struct evg_sub_offsets_info *info, char *err, size_t errlen)
{
	char why[2][OFS_WHY_LEN];

	for (unsigned int s = 0; s < 2; s++) {
		uint64_t gen = 0;
		int st = slot_load(o, s, &gen, why[s], sizeof(why[s]));

		if (st < 0)
			return fail(st, err, errlen,
				    "offsets: cannot read %s/%s: %s", dir,
				    slot_file[s], strerror(-st));
		info->slot_bad[s] = st == SLOT_BAD;
		/* Valid slots differ in parity, so never in generation. */
		if (st == SLOT_VALID && gen > o->gen) {
			swap_sets(o);
			o->gen = gen;
			info->slot = (int)s;
		}
	}
	if (info->slot_bad[0] && info->slot_bad[1])
		return fail(-EBADMSG, err, errlen,
			    "offsets: neither %s/%s (%s) nor %s/%s (%s) is a "
			    "valid set of consumer offsets: move both away "
			    "to start every group over",
			    dir, slot_file[0], why[0], dir, slot_file[1],
			    why[1]);
	info->gen = o->gen;
	info->count = o->cur->n;
	for (unsigned int s = 0; s < 2; s++)
		if (info->slot_bad[s])
			fail(0, err, errlen,
			     "offsets: %s/%s is not a valid set (%s); using "
			     "generation %" PRIu64 "%s%s",
			     dir, slot_file[s], why[s], o->gen,
			     info->slot >= 0 ? " from " : " (none)",
			     info->slot >= 0 ? slot_file[info->slot] : "");
	return 0;
}

int
evg_sub_offsets_open(const char *dir, struct evg_sub_offsets **out,
		     struct evg_sub_offsets_info *info, char *err,
		     size_t errlen)
{
	struct evg_sub_offsets_info local;
	struct evg_sub_offsets *o;
	int rc;

	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (dir == NULL || out == NULL)
		return fail(-EINVAL, err, errlen, "offsets: no directory");
	info = info != NULL ? info : &local;
	memset(info, 0, sizeof(*info));
	info->slot = -1;
	o = malloc(sizeof(*o));
	if (o == NULL)
		return fail(-ENOMEM, err, errlen, "offsets: out of memory");
	o->fd[0] = o->fd[1] = -1;
	o->gen = 0;
	o->cur = &o->sets[0];
	o->spare = &o->sets[1];
	set_reset(o->cur);
	rc = slots_open(o, dir, err, errlen);
	if (rc == 0)
		rc = slots_load(o, dir, info, err, errlen);
	if (rc < 0) {
		evg_sub_offsets_close(o);
		return rc;
	}
	*out = o;
	return 0;
}

void
evg_sub_offsets_close(struct evg_sub_offsets *o)
{
	if (o == NULL)
		return;
	for (unsigned int s = 0; s < 2; s++)
		if (o->fd[s] >= 0)
			close(o->fd[s]);
	free(o);
}

unsigned int
evg_sub_offsets_count(const struct evg_sub_offsets *o)
{
	return o != NULL ? o->cur->n : 0;
}

const struct evg_sub_offset *
evg_sub_offsets_entry(const struct evg_sub_offsets *o, unsigned int i)
{
	return o != NULL && i < o->cur->n ? &o->cur->e[i] : NULL;
}

int
evg_sub_offsets_find(const struct evg_sub_offsets *o, const char *group,
		     uint32_t stream_id, struct evg_sub_offset *e)
{
	char key[EVG_SUB_OFFSETS_GROUP_LEN];
	uint32_t i;

	if (o == NULL || group == NULL)
		return -EINVAL;
	if (group_copy(key, group) < 0)
		return -ENOENT; /* a name no set can hold */
	i = set_lookup(o->cur, key, stream_id);
	if (o->cur->index[i] == 0)
		return -ENOENT;
	if (e != NULL)
		*e = o->cur->e[o->cur->index[i] - 1];
	return 0;
}

uint64_t
evg_sub_offsets_gen(const struct evg_sub_offsets *o)
{
	return o != NULL ? o->gen : 0;
}

int
evg_sub_offsets_store(struct evg_sub_offsets *o, const struct evg_sub_offset *e,
		      unsigned int n)
{
	struct ofs_set *s;
	uint64_t gen;
	size_t len;
	int fd, rc;

	if (o == NULL || (e == NULL && n > 0) || n > EVG_SUB_OFFSETS_MAX)
		return -EINVAL;
	if (o->gen == UINT64_MAX)
		return -EOVERFLOW;
	s = o->spare;
	set_reset(s);
	for (unsigned int i = 0; i < n; i++)
		if (set_add(s, &e[i]) < 0)
			return -EINVAL;
	gen = o->gen + 1;
	len = set_encode(s, gen, o->buf);
	fd = o->fd[gen & 1];
	rc = write_full(fd, o->buf, len);
	if (rc == 0)
		rc = sync_data(fd);
	if (rc == 0)
		rc = still_named(fd);
	if (rc < 0)
		return rc;
	swap_sets(o);
	o->gen = gen;
	return 0;
}
