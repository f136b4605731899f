/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Reading a log: files through the writer's store (recovery) or plain
 * POSIX calls (readers, which must work beside a running writer), the
 * segments of a partition, the batch cursor, and index files.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "journal_priv.h"

int
evg_jrn_file_open(const struct jrn_fs *fs, const char *name, struct jrn_file *f)
{
	int h;

	f->fs = fs;
	f->h = -1;
	f->ra_end = 0;
	if (fs->ops != NULL)
		h = fs->ops->open(fs->st, name, false, 0);
	else
		h = openat(fs->dirfd, name, O_RDONLY | O_CLOEXEC);
	if (h < 0)
		return fs->ops != NULL ? h : -errno;
	f->h = h;
	return 0;
}

void
evg_jrn_file_close(struct jrn_file *f)
{
	if (f->h < 0)
		return;
	if (f->fs->ops != NULL)
		f->fs->ops->close(f->fs->st, f->h);
	else
		close(f->h);
	f->h = -1;
}

int64_t
evg_jrn_file_size(const struct jrn_file *f)
{
	struct stat sb;

	if (f->fs->ops != NULL)
		return f->fs->ops->size(f->fs->st, f->h);
	return fstat(f->h, &sb) == 0 ? (int64_t)sb.st_size : -errno;
}

int64_t
evg_jrn_file_read(struct jrn_file *f, void *buf, uint64_t len, uint64_t off)
{
	uint64_t done = 0;

	if (f->fs->ops != NULL)
		return f->fs->ops->read(f->fs->st, f->h, buf, len, off);
	/* Reads walk a segment forwards, and what the writer put there with
	 * O_DIRECT is not in the page cache: ask for the next window ahead
	 * (the kernel reads it while the reader works), so that a reader on
	 * a busy-polling lcore does not wait for the disk at every batch. */
	if (off + len + JRN_READAHEAD / 2 > f->ra_end) {
		uint64_t from = off > f->ra_end ? off : f->ra_end;

		(void)posix_fadvise(f->h, (off_t)from, JRN_READAHEAD,
				    POSIX_FADV_WILLNEED);
		f->ra_end = from + JRN_READAHEAD;
	}
	while (done < len) {
		ssize_t n = pread(f->h, (uint8_t *)buf + done, len - done,
				  (off_t)(off + done));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		done += (uint64_t)n;
	}
	return (int64_t)done;
}

int
evg_jrn_fs_list(const struct jrn_fs *fs, const char *dir,
		void (*fn)(void *arg, const char *entry), void *arg)
{
	struct dirent *de;
	DIR *d;
	int fd;

	if (fs->ops != NULL)
		return fs->ops->list(fs->st, dir, fn, arg);
	fd = openat(fs->dirfd, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	d = fdopendir(fd);
	if (d == NULL) {
		close(fd);
		return -ENOMEM;
	}
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			fn(arg, de->d_name);
	closedir(d);
	return 0;
}

static void
seglist_add(void *arg, const char *entry)
{
	struct jrn_seglist *sl = arg;
	uint64_t base;

	if (sl->err != 0 || evg_jrn_parse_name(entry, ".seg", &base) < 0)
		return;
	if (sl->n == sl->cap) {
		uint32_t cap = sl->cap ? sl->cap * 2 : 16;
		uint64_t *b = realloc(sl->base, cap * sizeof(*b));

		if (b == NULL) {
			sl->err = -ENOMEM;
			return;
		}
		sl->base = b;
		sl->cap = cap;
	}
	sl->base[sl->n++] = base;
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

int
evg_jrn_seglist_load(const struct jrn_fs *fs, uint32_t p,
		     struct jrn_seglist *sl)
{
	char dir[16];
	int rc;

	sl->n = 0;
	sl->err = 0;
	evg_jrn_part_name(dir, sizeof(dir), p);
	rc = evg_jrn_fs_list(fs, dir, seglist_add, sl);
	if (rc < 0)
		return rc;
	if (sl->err < 0)
		return sl->err;
	if (sl->n > 1)
		qsort(sl->base, sl->n, sizeof(*sl->base), cmp_u64);
	return 0;
}

void
evg_jrn_seglist_free(struct jrn_seglist *sl)
{
	free(sl->base);
	sl->base = NULL;
	sl->n = sl->cap = 0;
}

static int
scanbuf_reserve(struct jrn_scanbuf *sb, uint64_t len)
{
	void *p;

	if (len <= sb->cap)
		return 0;
	len = len < 65536 ? 65536 : len;
	if (posix_memalign(&p, 64, len) != 0)
		return -ENOMEM;
	free(sb->p);
	sb->p = p;
	sb->cap = len;
	return 0;
}

void
evg_jrn_scanbuf_free(struct jrn_scanbuf *sb)
{
	free(sb->p);
	sb->p = NULL;
	sb->cap = 0;
}

/* Read exactly len bytes at off into sb; 1 when the file is too short.
 * The size is checked first: a corrupt batch length must not make the
 * buffer grow (to as much as the largest batch) for bytes not there. */
static int
cursor_read(struct jrn_cursor *c, uint64_t off, uint64_t len)
{
	int64_t n;
	int rc;

	if (off + len > c->size)
		return 1;
	rc = scanbuf_reserve(c->sb, len);
	if (rc < 0)
		return rc;
	n = evg_jrn_file_read(c->f, c->sb->p, len, off);
	if (n < 0)
		return (int)n;
	return (uint64_t)n < len ? 1 : 0;
}

/* A zero magic is padding up to the next block. A block that was never
 * written reads as zeros too: what follows it cannot continue the
 * offsets, so it is found bad, never taken for the next batch. */
int
evg_jrn_cursor_next(struct jrn_cursor *c)
{
	struct jrn_batch_hdr *h = &c->h;
	uint64_t pos = c->pos;
	int rc;

	for (;;) {
		c->stop = pos;
		if (pos >= c->size)
			return JRN_SCAN_END;
		rc = cursor_read(c, pos, EVG_JOURNAL_BATCH_HDR_LEN);
		if (rc != 0)
			return rc < 0 ? rc : JRN_SCAN_TORN;
		evg_jrn_batch_hdr_decode(c->sb->p, h);
		if (h->magic != 0)
			break;
		pos = jrn_align(pos + 1);
	}
	if (h->magic != EVG_JOURNAL_BATCH_MAGIC || !evg_jrn_batch_len_ok(h))
		return JRN_SCAN_BAD;
	rc = cursor_read(c, pos, h->length);
	if (rc != 0)
		return rc < 0 ? rc : JRN_SCAN_TORN;
	if (evg_jrn_batch_verify(c->sb->p, h, c->partition) < 0 ||
	    h->first_offset != c->next_offset)
		return JRN_SCAN_BAD;
	c->pos = pos + h->length;
	c->next_offset += h->count;
	return JRN_SCAN_BATCH;
}

void
evg_jrn_ilist_free(struct jrn_ilist *il)
{
	free(il->a);
	free(il->b);
	il->a = il->b = NULL;
	il->n = 0;
}

/* Entries are valid while the offset (.idx: a, .tix: b) and, in .idx,
 * the position strictly increase; zero padding ends the list. */
static uint32_t
ilist_valid(const uint8_t *p, uint32_t n, bool tix, uint64_t base,
	    struct jrn_ilist *il)
{
	uint32_t i;

	for (i = 0; i < n; i++) {
		uint64_t a = evg_ld64(p + i * JRN_IDX_ENTRY);
		uint64_t b = evg_ld64(p + i * JRN_IDX_ENTRY + 8);
		uint64_t off = tix ? b : a;

		if (i == 0 && (off != base || (!tix && b != 0)))
			break;
		if (i > 0 && (off <= (tix ? il->b : il->a)[i - 1] ||
			      (tix ? a < il->a[i - 1] : b <= il->b[i - 1])))
			break;
		il->a[i] = a;
		il->b[i] = b;
	}
	return i;
}

int
evg_jrn_ilist_load(const struct jrn_fs *fs, uint32_t p, uint64_t base, bool tix,
		   struct jrn_ilist *il)
{
	struct jrn_file f;
	char name[64];
	uint8_t *raw = NULL;
	int64_t size, n;
	int rc;

	il->a = il->b = NULL;
	il->n = 0;
	evg_jrn_file_name(name, sizeof(name), p, base, tix ? ".tix" : ".idx");
	rc = evg_jrn_file_open(fs, name, &f);
	if (rc == -ENOENT)
		return 0;
	if (rc < 0)
		return rc;
	size = evg_jrn_file_size(&f);
	rc = size < 0 ? (int)size : 0;
	size = size < 0 ? 0 : size / JRN_IDX_ENTRY * JRN_IDX_ENTRY;
	if (rc == 0 && size > 0) {
		raw = malloc((size_t)size);
		il->a = malloc((size_t)size / 2);
		il->b = malloc((size_t)size / 2);
		rc = raw && il->a && il->b ? 0 : -ENOMEM;
	}
	if (rc == 0 && size > 0) {
		n = evg_jrn_file_read(&f, raw, (uint64_t)size, 0);
		rc = n < 0 ? (int)n : 0;
		if (n > 0)
			il->n = ilist_valid(raw, (uint32_t)(n / JRN_IDX_ENTRY),
					    tix, base, il);
	}
	free(raw);
	evg_jrn_file_close(&f);
	if (rc < 0)
		evg_jrn_ilist_free(il);
	return rc;
}
