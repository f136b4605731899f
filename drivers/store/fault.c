/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * "fault-uring", "fault-psync", "fault-mem": a real backend wrapped so
 * that, while armed, its data path fails the way a failing disk does.
 * For testing only (evgate's [log] fault_injection, docs/store.md).
 *
 * Armed (evg_store_fault_set()) with -EIO or -ENOSPC, for the next N
 * operations or until disarmed, the wrapper fails
 *   - write() and sync(): accepted (0), and completed with res = err in
 *     their turn, as io_uring or pwritev2 report EIO or ENOSPC;
 *   - open() of a new preallocated file (a segment): err at once, as
 *     fallocate on a full disk does.
 * A failed operation is not carried out: the wrapped store gets an
 * fdatasync of the same file in its place, so that validation (-EBADF),
 * back-pressure (-EBUSY), the per-file count that close() checks and,
 * above all, the order of completions stay the wrapped store's own; only
 * its result is replaced in reap(). The control path (read, list,
 * sync_now, ...) is never failed.
 *
 * Threads. The arm word is written by the control thread (set) and by
 * the data path (counting down), both with atomics and no lock; the rest
 * is the data path's. Disarmed, write(), sync() and open() cost one
 * relaxed load and a branch, and reap() one branch, over the wrapped
 * store's; with [log] fault_injection off the wrapper is not used at all.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>

#include "evg_store.h"
#include "store_priv.h"

#define FAULT_ERR_MAX 4095 /* errno values fit in 12 bits */

/* An operation failed in its place in the completion order: the
 * at-th completion since the doomed list was last empty. */
struct fault_doom {
	uint64_t at;
	int32_t err;
};

struct fault_store {
	const struct evg_store_ops *ops; /* first: evg_store_fault_set() */
	const struct evg_store_ops *in;	 /* the wrapped backend */
	struct evg_store *st;
	/* (-err) << 32 | operations left, 0 left = until disarmed;
	 * 0 = disarmed. */
	_Atomic uint64_t arm;
	_Atomic uint64_t injected; /* written by the data path only */
	unsigned int depth;
	struct fault_doom *doom; /* depth entries, in queue order */
	unsigned int dhead;
	unsigned int dcount;
	uint64_t reaped; /* completions handed out while dcount > 0 */
};

static inline struct fault_store *
fault_of(struct evg_store *st)
{
	return (struct fault_store *)st;
}

static inline bool
fault_armed(struct fault_store *fs)
{
	return atomic_load_explicit(&fs->arm, memory_order_relaxed) != 0;
}

/* One operation's worth of the armed fault: its -errno, or 0 when it
 * was disarmed meanwhile. */
static int
fault_take(struct fault_store *fs)
{
	uint64_t w = atomic_load_explicit(&fs->arm, memory_order_relaxed);
	uint64_t nw;

	do {
		uint32_t left = (uint32_t)w;

		if (w == 0)
			return 0;
		nw = left == 0 ? w : left == 1 ? 0 : w - 1;
	} while (!atomic_compare_exchange_weak_explicit(
		&fs->arm, &w, nw, memory_order_relaxed, memory_order_relaxed));
	atomic_store_explicit(
		&fs->injected,
		atomic_load_explicit(&fs->injected, memory_order_relaxed) + 1,
		memory_order_relaxed);
	return -(int)(w >> 32);
}

static int
fault_create(const struct evg_store_conf *conf, struct evg_store **st,
	     const struct evg_store_ops *in, const struct evg_store_ops *self)
{
	struct fault_store *fs;
	int rc;

	if (conf == NULL || conf->depth == 0 || st == NULL)
		return -EINVAL;
	fs = calloc(1, sizeof(*fs));
	if (fs == NULL)
		return -ENOMEM;
	fs->doom = calloc(conf->depth, sizeof(*fs->doom));
	if (fs->doom == NULL) {
		free(fs);
		return -ENOMEM;
	}
	rc = in->create(conf, &fs->st);
	if (rc < 0) {
		free(fs->doom);
		free(fs);
		return rc;
	}
	fs->ops = self;
	fs->in = in;
	fs->depth = conf->depth;
	atomic_init(&fs->arm, 0);
	atomic_init(&fs->injected, 0);
	*st = (struct evg_store *)fs;
	return 0;
}

static void
fault_destroy(struct evg_store *st)
{
	struct fault_store *fs = fault_of(st);

	if (fs == NULL)
		return;
	fs->in->destroy(fs->st);
	free(fs->doom);
	free(fs);
}

static int
fault_mkdir(struct evg_store *st, const char *name)
{
	return fault_of(st)->in->mkdir(fault_of(st)->st, name);
}

static int
fault_open(struct evg_store *st, const char *name, bool create,
	   uint64_t prealloc)
{
	struct fault_store *fs = fault_of(st);

	if (create && prealloc > 0 && fault_armed(fs)) {
		int err = fault_take(fs);

		if (err < 0)
			return err;
	}
	return fs->in->open(fs->st, name, create, prealloc);
}

static int
fault_close(struct evg_store *st, int fid)
{
	return fault_of(st)->in->close(fault_of(st)->st, fid);
}

static int64_t
fault_size(struct evg_store *st, int fid)
{
	return fault_of(st)->in->size(fault_of(st)->st, fid);
}

static int
fault_truncate(struct evg_store *st, int fid, uint64_t len)
{
	return fault_of(st)->in->truncate(fault_of(st)->st, fid, len);
}

static int64_t
fault_read(struct evg_store *st, int fid, void *buf, uint64_t len, uint64_t off)
{
	return fault_of(st)->in->read(fault_of(st)->st, fid, buf, len, off);
}

static int
fault_remove(struct evg_store *st, const char *name)
{
	return fault_of(st)->in->remove(fault_of(st)->st, name);
}

static int
fault_list(struct evg_store *st, const char *name,
	   void (*fn)(void *arg, const char *entry), void *arg)
{
	return fault_of(st)->in->list(fault_of(st)->st, name, fn, arg);
}

static int
fault_sync_now(struct evg_store *st, int fid)
{
	return fault_of(st)->in->sync_now(fault_of(st)->st, fid);
}

/*
 * Queue a doomed operation: an fdatasync of fid stands in for it, and
 * its completion will carry the fault. 1: disarmed meanwhile, the caller
 * carries out the real operation. -EBUSY is checked before a count is
 * taken; -EBADF (a caller's bug) takes one.
 */
static int
fault_doom(struct fault_store *fs, int fid, uint64_t tag)
{
	unsigned int ahead = fs->in->inflight(fs->st);
	struct fault_doom *d;
	int err, rc;

	if (ahead >= fs->depth)
		return -EBUSY;
	err = fault_take(fs);
	if (err == 0)
		return 1;
	rc = fs->in->sync(fs->st, fid, tag);
	if (rc < 0)
		return rc;
	if (fs->dcount == 0)
		fs->reaped = 0;
	d = &fs->doom[(fs->dhead + fs->dcount) % fs->depth];
	d->at = fs->reaped + ahead;
	d->err = err;
	fs->dcount++;
	return 0;
}

static int
fault_write(struct evg_store *st, int fid, const void *buf, uint32_t len,
	    uint64_t off, bool dsync, uint64_t tag)
{
	struct fault_store *fs = fault_of(st);
	int rc;

	if (fault_armed(fs)) {
		if (!store_write_ok(buf, len, off))
			return -EINVAL;
		rc = fault_doom(fs, fid, tag);
		if (rc <= 0)
			return rc;
	}
	return fs->in->write(fs->st, fid, buf, len, off, dsync, tag);
}

static int
fault_sync(struct evg_store *st, int fid, uint64_t tag)
{
	struct fault_store *fs = fault_of(st);
	int rc;

	if (fault_armed(fs)) {
		rc = fault_doom(fs, fid, tag);
		if (rc <= 0)
			return rc;
	}
	return fs->in->sync(fs->st, fid, tag);
}

static int
fault_submit(struct evg_store *st)
{
	return fault_of(st)->in->submit(fault_of(st)->st);
}

/* The wrapped store hands completions out in queue order, so the at-th
 * one since the doomed list was last empty is the doomed operation's. */
static int
fault_reap(struct evg_store *st, struct evg_store_cqe *cqe, unsigned int max)
{
	struct fault_store *fs = fault_of(st);
	int n = fs->in->reap(fs->st, cqe, max);

	if (fs->dcount == 0 || n <= 0)
		return n;
	for (int i = 0; i < n && fs->dcount > 0; i++) {
		const struct fault_doom *d = &fs->doom[fs->dhead];

		if (fs->reaped + (uint64_t)i != d->at)
			continue;
		cqe[i].res = d->err;
		fs->dhead = (fs->dhead + 1) % fs->depth;
		fs->dcount--;
	}
	fs->reaped += (uint64_t)n;
	return n;
}

static unsigned int
fault_inflight(const struct evg_store *st)
{
	const struct fault_store *fs = (const struct fault_store *)st;

	return fs->in->inflight(fs->st);
}

#define FAULT_OPS(var, nm, create_fn)                                      \
	const struct evg_store_ops var = {                                 \
		.name = nm,                                                \
		.create = create_fn,                                       \
		.destroy = fault_destroy,                                  \
		.mkdir = fault_mkdir,                                      \
		.open = fault_open,                                        \
		.close = fault_close,                                      \
		.size = fault_size,                                        \
		.truncate = fault_truncate,                                \
		.read = fault_read,                                        \
		.remove = fault_remove,                                    \
		.list = fault_list,                                        \
		.sync_now = fault_sync_now,                                \
		.write = fault_write,                                      \
		.sync = fault_sync,                                        \
		.submit = fault_submit,                                    \
		.reap = fault_reap,                                        \
		.inflight = fault_inflight,                                \
	}

static int
fault_create_uring(const struct evg_store_conf *conf, struct evg_store **st)
{
	return fault_create(conf, st, &evg_store_uring_ops,
			    &evg_store_fault_uring_ops);
}

static int
fault_create_psync(const struct evg_store_conf *conf, struct evg_store **st)
{
	return fault_create(conf, st, &evg_store_psync_ops,
			    &evg_store_fault_psync_ops);
}

static int
fault_create_mem(const struct evg_store_conf *conf, struct evg_store **st)
{
	return fault_create(conf, st, &evg_store_mem_ops,
			    &evg_store_fault_mem_ops);
}

FAULT_OPS(evg_store_fault_uring_ops, "fault-uring", fault_create_uring);
FAULT_OPS(evg_store_fault_psync_ops, "fault-psync", fault_create_psync);
FAULT_OPS(evg_store_fault_mem_ops, "fault-mem", fault_create_mem);

static struct fault_store *
fault_find(const struct evg_store *st)
{
	/* Every backend's state starts with its ops pointer. */
	const struct evg_store_ops *ops =
		st == NULL ? NULL : *(const struct evg_store_ops *const *)st;

	if (ops != &evg_store_fault_uring_ops &&
	    ops != &evg_store_fault_psync_ops &&
	    ops != &evg_store_fault_mem_ops)
		return NULL;
	return (struct fault_store *)(uintptr_t)st;
}

int
evg_store_fault_set(struct evg_store *st, int err, uint32_t count)
{
	struct fault_store *fs = fault_find(st);

	if (fs == NULL || err > 0 || err < -FAULT_ERR_MAX)
		return -EINVAL;
	atomic_store_explicit(&fs->arm,
			      err == 0 ? 0
				       : (uint64_t)(uint32_t)-err << 32 | count,
			      memory_order_relaxed);
	return 0;
}

int
evg_store_fault_get(const struct evg_store *st,
		    struct evg_store_fault_state *out)
{
	struct fault_store *fs = fault_find(st);
	uint64_t w;

	if (fs == NULL || out == NULL)
		return -EINVAL;
	w = atomic_load_explicit(&fs->arm, memory_order_relaxed);
	out->err = -(int)(w >> 32);
	out->left = (uint32_t)w;
	out->injected =
		atomic_load_explicit(&fs->injected, memory_order_relaxed);
	return 0;
}
