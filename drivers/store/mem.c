/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * "mem" store: files in memory, for tests. A file is a growable buffer
 * keyed by its name; directories are names that mkdir() recorded, and a
 * file "d/x" needs directory "d" as on a filesystem. Names are taken
 * literally ("" and "." are the log directory; no "..", no "//").
 *
 * The data path behaves like a device that is slow to answer: write()
 * and sync() only queue, and the bytes land (and the buffer is read) when
 * reap() completes the operation, so a caller that reuses a buffer before
 * its completion corrupts what is stored, as it would with O_DIRECT.
 * evg_store_mem_fail() and conf->mem_capacity make writes fail with
 * ENOSPC or EIO, to test the journal's error paths; evg_store_mem_fail()
 * also makes the creation of a preallocated file (a segment) fail.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "evg_store.h"
#include "store_priv.h"

struct mem_file {
	char name[EVG_STORE_NAME_MAX];
	uint8_t *data;
	uint64_t size;
	uint64_t cap;
	unsigned int refs; /* open file ids, + 1 while it has a name */
	bool dir;
};

struct mem_op {
	uint64_t tag;
	const void *buf; /* NULL: a sync */
	uint64_t off;
	uint32_t len;
	int fid;
	int32_t err; /* injected when queued */
};

struct mem_store {
	const struct evg_store_ops *ops; /* first: evg_store_mem_fail() */
	struct mem_file **names;	 /* [0] is the log directory, "" */
	unsigned int nb_names;
	unsigned int names_cap;
	struct mem_file **fids; /* by file id; NULL = free slot */
	uint32_t *pending;	/* by file id: data-path ops not yet reaped */
	unsigned int nb_fids;
	struct mem_op *q; /* depth operations, FIFO */
	unsigned int depth;
	unsigned int head;
	unsigned int count; /* queued, not reaped */
	unsigned int ready; /* of count: submitted, so reapable */
	uint64_t capacity;  /* 0 = unlimited */
	uint64_t stored;    /* sum of the sizes of all files */
	int fail;	    /* error for the next data-path operations */
};

static inline struct mem_store *
mem_of(struct evg_store *st)
{
	return (struct mem_store *)st;
}

static const char *
mem_norm(const char *name)
{
	return strcmp(name, ".") == 0 ? "" : name;
}

static struct mem_file *
mem_lookup(const struct mem_store *ms, const char *name)
{
	for (unsigned int i = 0; i < ms->nb_names; i++)
		if (strcmp(ms->names[i]->name, name) == 0)
			return ms->names[i];
	return NULL;
}

/* Whether entry is directly in directory dir ("" = the log directory);
 * *base is then its last component. */
static bool
mem_in_dir(const char *entry, const char *dir, const char **base)
{
	const char *slash = strrchr(entry, '/');
	size_t dlen = strlen(dir);

	if (entry[0] == '\0')
		return false;
	if (slash == NULL) {
		*base = entry;
		return dlen == 0;
	}
	*base = slash + 1;
	return (size_t)(slash - entry) == dlen &&
	       strncmp(entry, dir, dlen) == 0;
}

/* The directory a new entry goes in must exist: -ENOENT, -ENOTDIR. */
static int
mem_check_parent(const struct mem_store *ms, const char *name)
{
	const char *slash = strrchr(name, '/');
	char parent[EVG_STORE_NAME_MAX] = "";
	const struct mem_file *p;

	if (slash != NULL)
		memcpy(parent, name, (size_t)(slash - name));
	p = mem_lookup(ms, parent);
	if (p == NULL)
		return -ENOENT;
	return p->dir ? 0 : -ENOTDIR;
}

static void
mem_unref(struct mem_store *ms, struct mem_file *f)
{
	if (--f->refs > 0)
		return;
	ms->stored -= f->size;
	free(f->data);
	free(f);
}

static int
mem_link(struct mem_store *ms, const char *name, bool dir,
	 struct mem_file **out)
{
	struct mem_file *f;

	if (ms->nb_names == ms->names_cap) {
		unsigned int n = ms->names_cap ? ms->names_cap * 2 : 16;
		struct mem_file **names =
			realloc(ms->names, n * sizeof(*names));

		if (names == NULL)
			return -ENOMEM;
		ms->names = names;
		ms->names_cap = n;
	}
	f = calloc(1, sizeof(*f));
	if (f == NULL)
		return -ENOMEM;
	strcpy(f->name, name);
	f->dir = dir;
	f->refs = 1;
	ms->names[ms->nb_names++] = f;
	*out = f;
	return 0;
}

static void mem_destroy(struct evg_store *st);

static int
mem_create(const struct evg_store_conf *conf, struct evg_store **st)
{
	struct mem_file *root;
	struct mem_store *ms;

	if (conf == NULL || conf->depth == 0 || st == NULL)
		return -EINVAL;
	ms = calloc(1, sizeof(*ms));
	if (ms == NULL)
		return -ENOMEM;
	ms->ops = &evg_store_mem_ops;
	ms->depth = conf->depth;
	ms->capacity = conf->mem_capacity;
	ms->q = calloc(conf->depth, sizeof(*ms->q));
	if (ms->q == NULL || mem_link(ms, "", true, &root) < 0) {
		mem_destroy((struct evg_store *)ms);
		return -ENOMEM;
	}
	*st = (struct evg_store *)ms;
	return 0;
}

static void
mem_destroy(struct evg_store *st)
{
	struct mem_store *ms = mem_of(st);

	if (ms == NULL)
		return;
	for (unsigned int i = 0; i < ms->nb_fids; i++)
		if (ms->fids[i] != NULL)
			mem_unref(ms, ms->fids[i]);
	for (unsigned int i = 0; i < ms->nb_names; i++)
		mem_unref(ms, ms->names[i]);
	free(ms->names);
	free(ms->fids);
	free(ms->pending);
	free(ms->q);
	free(ms);
}

static int
mem_fid_alloc(struct mem_store *ms)
{
	unsigned int old = ms->nb_fids, n = old ? old * 2 : 16;
	struct mem_file **fids;
	uint32_t *pending;

	for (unsigned int i = 0; i < old; i++)
		if (ms->fids[i] == NULL)
			return (int)i;
	if (n > INT32_MAX)
		return -EMFILE;
	fids = realloc(ms->fids, n * sizeof(*fids));
	if (fids == NULL)
		return -ENOMEM;
	ms->fids = fids;
	pending = realloc(ms->pending, n * sizeof(*pending));
	if (pending == NULL)
		return -ENOMEM;
	ms->pending = pending;
	for (unsigned int i = old; i < n; i++) {
		fids[i] = NULL;
		pending[i] = 0;
	}
	ms->nb_fids = n;
	return (int)old;
}

static struct mem_file *
mem_file(const struct mem_store *ms, int fid)
{
	if (fid < 0 || (unsigned int)fid >= ms->nb_fids)
		return NULL;
	return ms->fids[fid];
}

static int
mem_mkdir(struct evg_store *st, const char *name)
{
	struct mem_store *ms = mem_of(st);
	struct mem_file *f;
	int rc = store_check_name(name);

	if (rc < 0)
		return rc;
	name = mem_norm(name);
	if (mem_lookup(ms, name) != NULL)
		return -EEXIST;
	rc = mem_check_parent(ms, name);
	return rc < 0 ? rc : mem_link(ms, name, true, &f);
}

/* prealloc only checks its argument: size is unchanged and no memory is
 * reserved (a test journal may ask for segments of gigabytes). */
static int
mem_open(struct evg_store *st, const char *name, bool create, uint64_t prealloc)
{
	struct mem_store *ms = mem_of(st);
	struct mem_file *f;
	int fid, rc = store_check_name(name);

	if (rc < 0)
		return rc;
	if (prealloc > INT64_MAX)
		return -EINVAL;
	name = mem_norm(name);
	f = mem_lookup(ms, name);
	if (f == NULL && !create)
		return -ENOENT;
	if (f == NULL) {
		rc = mem_check_parent(ms, name);
		if (rc < 0)
			return rc;
		/* A failing store cannot preallocate, as fallocate on a
		 * full disk cannot. */
		if (prealloc > 0 && ms->fail < 0)
			return ms->fail;
	}
	fid = mem_fid_alloc(ms);
	if (fid < 0)
		return fid;
	if (f == NULL) {
		rc = mem_link(ms, name, false, &f);
		if (rc < 0)
			return rc;
	}
	f->refs++;
	ms->fids[fid] = f;
	return fid;
}

static int
mem_close(struct evg_store *st, int fid)
{
	struct mem_store *ms = mem_of(st);
	struct mem_file *f = mem_file(ms, fid);

	if (f == NULL)
		return -EBADF;
	if (ms->pending[fid] > 0)
		return -EBUSY;
	ms->fids[fid] = NULL;
	mem_unref(ms, f);
	return 0;
}

static int64_t
mem_size(struct evg_store *st, int fid)
{
	const struct mem_file *f = mem_file(mem_of(st), fid);

	return f == NULL ? -EBADF : (int64_t)f->size;
}

static int
mem_reserve(struct mem_file *f, uint64_t need)
{
	uint64_t cap = f->cap ? f->cap : EVG_STORE_ALIGN;
	uint8_t *data;

	if (need <= f->cap)
		return 0;
	while (cap < need && cap <= UINT64_MAX / 2)
		cap *= 2;
	if (cap < need)
		cap = need;
	if (cap > SIZE_MAX)
		return -ENOMEM;
	data = realloc(f->data, (size_t)cap);
	if (data == NULL)
		return -ENOMEM;
	f->data = data;
	f->cap = cap;
	return 0;
}

/* Resize f to len bytes, zero-filling what grows. */
static int
mem_resize(struct mem_store *ms, struct mem_file *f, uint64_t len)
{
	int rc = mem_reserve(f, len);

	if (rc < 0)
		return rc;
	if (len > f->size)
		memset(f->data + f->size, 0, (size_t)(len - f->size));
	ms->stored = ms->stored - f->size + len;
	f->size = len;
	return 0;
}

static int
mem_truncate(struct evg_store *st, int fid, uint64_t len)
{
	struct mem_file *f = mem_file(mem_of(st), fid);

	if (f == NULL)
		return -EBADF;
	if (f->dir)
		return -EISDIR;
	if (len > INT64_MAX)
		return -EINVAL;
	return mem_resize(mem_of(st), f, len);
}

static int64_t
mem_read(struct evg_store *st, int fid, void *buf, uint64_t len, uint64_t off)
{
	const struct mem_file *f = mem_file(mem_of(st), fid);

	if (f == NULL)
		return -EBADF;
	if (f->dir)
		return -EISDIR;
	if (len > INT64_MAX || off > (uint64_t)INT64_MAX - len)
		return -EINVAL;
	if (off >= f->size)
		return 0;
	if (len > f->size - off)
		len = f->size - off;
	memcpy(buf, f->data + off, (size_t)len);
	return (int64_t)len;
}

static int
mem_remove(struct evg_store *st, const char *name)
{
	struct mem_store *ms = mem_of(st);
	const char *base;
	struct mem_file *f;
	int rc = store_check_name(name);
	unsigned int i;

	if (rc < 0)
		return rc;
	name = mem_norm(name);
	if (name[0] == '\0')
		return -EBUSY; /* the log directory itself */
	for (i = 1; i < ms->nb_names; i++)
		if (strcmp(ms->names[i]->name, name) == 0)
			break;
	if (i == ms->nb_names)
		return -ENOENT;
	f = ms->names[i];
	for (unsigned int j = 1; f->dir && j < ms->nb_names; j++)
		if (mem_in_dir(ms->names[j]->name, name, &base))
			return -ENOTEMPTY;
	ms->names[i] = ms->names[--ms->nb_names];
	mem_unref(ms, f);
	return 0;
}

static int
mem_list(struct evg_store *st, const char *name,
	 void (*fn)(void *arg, const char *entry), void *arg)
{
	struct mem_store *ms = mem_of(st);
	const struct mem_file *d;
	const char *base;
	int rc = store_check_name(name);

	if (rc < 0)
		return rc;
	if (fn == NULL)
		return -EINVAL;
	name = mem_norm(name);
	d = mem_lookup(ms, name);
	if (d == NULL)
		return -ENOENT;
	if (!d->dir)
		return -ENOTDIR;
	for (unsigned int i = 1; i < ms->nb_names; i++)
		if (mem_in_dir(ms->names[i]->name, name, &base))
			fn(arg, base);
	return 0;
}

static int
mem_sync_now(struct evg_store *st, int fid)
{
	return mem_file(mem_of(st), fid) == NULL ? -EBADF : 0;
}

static int
mem_queue(struct mem_store *ms, int fid, const void *buf, uint32_t len,
	  uint64_t off, uint64_t tag)
{
	const struct mem_file *f = mem_file(ms, fid);
	struct mem_op *op;

	if (f == NULL || f->dir)
		return -EBADF;
	if (ms->count >= ms->depth)
		return -EBUSY;
	op = &ms->q[(ms->head + ms->count) % ms->depth];
	*op = (struct mem_op){.tag = tag,
			      .buf = buf,
			      .off = off,
			      .len = len,
			      .fid = fid,
			      .err = ms->fail};
	ms->count++;
	ms->pending[fid]++;
	return 0;
}

/* dsync changes nothing: memory is as durable as it gets. */
static int
mem_write(struct evg_store *st, int fid, const void *buf, uint32_t len,
	  uint64_t off, bool dsync, uint64_t tag)
{
	(void)dsync;
	if (!store_write_ok(buf, len, off))
		return -EINVAL;
	return mem_queue(mem_of(st), fid, buf, len, off, tag);
}

static int
mem_sync(struct evg_store *st, int fid, uint64_t tag)
{
	return mem_queue(mem_of(st), fid, NULL, 0, 0, tag);
}

static int
mem_submit(struct evg_store *st)
{
	struct mem_store *ms = mem_of(st);
	int n = (int)(ms->count - ms->ready);

	ms->ready = ms->count;
	return n;
}

/* Carry out a queued operation now; its result. */
static int32_t
mem_execute(struct mem_store *ms, const struct mem_op *op)
{
	struct mem_file *f = ms->fids[op->fid];
	uint64_t end = op->off + op->len;
	int rc;

	if (op->err != 0 || op->buf == NULL)
		return op->err;
	if (ms->capacity > 0 && end > f->size &&
	    ms->stored + (end - f->size) > ms->capacity)
		return -ENOSPC;
	if (end > f->size) {
		rc = mem_resize(ms, f, end);
		if (rc < 0)
			return rc;
	}
	memcpy(f->data + op->off, op->buf, op->len);
	return (int32_t)op->len;
}

static int
mem_reap(struct evg_store *st, struct evg_store_cqe *cqe, unsigned int max)
{
	struct mem_store *ms = mem_of(st);
	unsigned int n = 0;

	while (n < max && ms->ready > 0) {
		const struct mem_op *op = &ms->q[ms->head];

		cqe[n].tag = op->tag;
		cqe[n].res = mem_execute(ms, op);
		n++;
		ms->pending[op->fid]--;
		ms->head = (ms->head + 1) % ms->depth;
		ms->count--;
		ms->ready--;
	}
	return (int)n;
}

static unsigned int
mem_inflight(const struct evg_store *st)
{
	return ((const struct mem_store *)st)->count;
}

int
evg_store_mem_fail(struct evg_store *st, int err)
{
	/* Every backend's state starts with its ops pointer. */
	if (st == NULL ||
	    *(const struct evg_store_ops *const *)st != &evg_store_mem_ops ||
	    err > 0)
		return -EINVAL;
	mem_of(st)->fail = err;
	return 0;
}

const struct evg_store_ops evg_store_mem_ops = {
	.name = "mem",
	.create = mem_create,
	.destroy = mem_destroy,
	.mkdir = mem_mkdir,
	.open = mem_open,
	.close = mem_close,
	.size = mem_size,
	.truncate = mem_truncate,
	.read = mem_read,
	.remove = mem_remove,
	.list = mem_list,
	.sync_now = mem_sync_now,
	.write = mem_write,
	.sync = mem_sync,
	.submit = mem_submit,
	.reap = mem_reap,
	.inflight = mem_inflight,
};
