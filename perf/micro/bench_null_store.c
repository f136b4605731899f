/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The "null" store of bench_journal: the mem store (drivers/store) for
 * the control path, and data-path writes and syncs that complete at the
 * next reap without copying anything. With it an append benchmark
 * measures the journal's own work (records, batch header, CRC-32C,
 * index, tickets) and no I/O, and runs for any time in bounded memory.
 * Only through the public store interface (evg_store.h).
 */
#include <errno.h>
#include <stdlib.h>

#include "bench_null_store.h"

#define NULL_DEPTH_MAX 4096u

struct null_op {
	uint64_t tag;
	int32_t res;
};

struct null_store {
	struct evg_store *mem; /* the control path */
	uint32_t depth;
	uint32_t head;      /* next op to reap */
	uint32_t submitted; /* ops handed to "the kernel" */
	uint32_t count;     /* queued or in flight */
	struct null_op ops[];
};

static const struct evg_store_ops *const mem_ops = &evg_store_mem_ops;

static struct null_store *
ns_of(struct evg_store *st)
{
	return (struct null_store *)st;
}

static int
ns_create(const struct evg_store_conf *conf, struct evg_store **st)
{
	struct null_store *ns;
	int rc;

	if (conf->depth == 0 || conf->depth > NULL_DEPTH_MAX)
		return -EINVAL;
	ns = calloc(1, sizeof(*ns) + conf->depth * sizeof(ns->ops[0]));
	if (ns == NULL)
		return -ENOMEM;
	ns->depth = conf->depth;
	rc = mem_ops->create(conf, &ns->mem);
	if (rc < 0) {
		free(ns);
		return rc;
	}
	*st = (struct evg_store *)ns;
	return 0;
}

static void
ns_destroy(struct evg_store *st)
{
	if (st == NULL)
		return;
	mem_ops->destroy(ns_of(st)->mem);
	free(st);
}

static int
ns_mkdir(struct evg_store *st, const char *name)
{
	return mem_ops->mkdir(ns_of(st)->mem, name);
}

static int
ns_open(struct evg_store *st, const char *name, bool create, uint64_t prealloc)
{
	(void)prealloc; /* nothing is stored: reserve nothing */
	return mem_ops->open(ns_of(st)->mem, name, create, 0);
}

static int
ns_close(struct evg_store *st, int fid)
{
	return mem_ops->close(ns_of(st)->mem, fid);
}

static int64_t
ns_size(struct evg_store *st, int fid)
{
	return mem_ops->size(ns_of(st)->mem, fid);
}

static int
ns_truncate(struct evg_store *st, int fid, uint64_t len)
{
	return mem_ops->truncate(ns_of(st)->mem, fid, len);
}

static int64_t
ns_read(struct evg_store *st, int fid, void *buf, uint64_t len, uint64_t off)
{
	return mem_ops->read(ns_of(st)->mem, fid, buf, len, off);
}

static int
ns_remove(struct evg_store *st, const char *name)
{
	return mem_ops->remove(ns_of(st)->mem, name);
}

static int
ns_list(struct evg_store *st, const char *name,
	void (*fn)(void *arg, const char *entry), void *arg)
{
	return mem_ops->list(ns_of(st)->mem, name, fn, arg);
}

static int
ns_sync_now(struct evg_store *st, int fid)
{
	return mem_ops->sync_now(ns_of(st)->mem, fid);
}

static int
ns_queue(struct evg_store *st, uint64_t tag, int32_t res)
{
	struct null_store *ns = ns_of(st);
	struct null_op *op;

	if (ns->count >= ns->depth)
		return -EBUSY;
	op = &ns->ops[(ns->head + ns->count) % ns->depth];
	op->tag = tag;
	op->res = res;
	ns->count++;
	return 0;
}

static int
ns_write(struct evg_store *st, int fid, const void *buf, uint32_t len,
	 uint64_t off, bool dsync, uint64_t tag)
{
	(void)fid;
	(void)dsync;
	if (buf == NULL || len == 0 || len % EVG_STORE_ALIGN != 0 ||
	    off % EVG_STORE_ALIGN != 0)
		return -EINVAL;
	return ns_queue(st, tag, (int32_t)len);
}

static int
ns_sync(struct evg_store *st, int fid, uint64_t tag)
{
	(void)fid;
	return ns_queue(st, tag, 0);
}

static int
ns_submit(struct evg_store *st)
{
	struct null_store *ns = ns_of(st);
	int n = (int)(ns->count - ns->submitted);

	ns->submitted = ns->count;
	return n;
}

static int
ns_reap(struct evg_store *st, struct evg_store_cqe *cqe, unsigned int max)
{
	struct null_store *ns = ns_of(st);
	unsigned int n = 0;

	while (n < max && ns->submitted > 0) {
		const struct null_op *op = &ns->ops[ns->head];

		cqe[n].tag = op->tag;
		cqe[n].res = op->res;
		n++;
		ns->head = (ns->head + 1) % ns->depth;
		ns->submitted--;
		ns->count--;
	}
	return (int)n;
}

static unsigned int
ns_inflight(const struct evg_store *st)
{
	return ((const struct null_store *)st)->count;
}

const struct evg_store_ops bench_null_store_ops = {
	.name = "null",
	.create = ns_create,
	.destroy = ns_destroy,
	.mkdir = ns_mkdir,
	.open = ns_open,
	.close = ns_close,
	.size = ns_size,
	.truncate = ns_truncate,
	.read = ns_read,
	.remove = ns_remove,
	.list = ns_list,
	.sync_now = ns_sync_now,
	.write = ns_write,
	.sync = ns_sync,
	.submit = ns_submit,
	.reap = ns_reap,
	.inflight = ns_inflight,
};
