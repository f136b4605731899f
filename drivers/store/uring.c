/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * "uring" store: the data path through one io_uring on O_DIRECT file
 * descriptors; the default backend.
 *
 * The control path (open, read, size, list, ...) is the psync backend's,
 * used through evg_store_psync_ops: open() lets it create the file and
 * preallocate, then opens the same name again with O_DIRECT for the
 * ring. Reads go through psync's buffered descriptor, so they need no
 * alignment; the kernel keeps the page cache coherent with direct writes.
 *
 * Ordering. sync() sets IOSQE_IO_DRAIN on its IORING_OP_FSYNC: the kernel
 * starts it only once every operation submitted before it has completed,
 * and starts nothing submitted after it until it completes. That is what
 * the contract asks (the fdatasync covers the writes queued before it; a
 * fdatasync racing an O_DIRECT write still in flight would not) at the
 * price of a barrier over the whole ring. Linking (IOSQE_IO_LINK) would
 * order the fsync after one write only, chains end at each submit, and
 * linking every write of the file would serialise the writes themselves.
 *
 * io workers. The kernel runs fdatasync, and writes it cannot issue
 * without blocking (into preallocated, unwritten extents), in io worker
 * threads of the submitting thread; those inherit its CPU affinity. A
 * data path that busy-polls its CPU would leave them waiting for its
 * time slice (milliseconds). With conf->io_cpus the store registers
 * that set (IORING_REGISTER_IOWQ_AFF) for each thread that submits,
 * before its first submission: once at create(), which also checks
 * that the kernel takes the set, then in submit() whenever the
 * submitting thread changed (pthread_self(), no system call). The
 * kernel moves no worker that exists already: a thread's first store
 * sets the CPUs, or its workers stay where they started.
 *
 * Completion order. The device may complete writes out of order; reap()
 * hands completions out in the order the operations were queued (a
 * slot ring of depth entries holds early finishers), so the journal can
 * advance its durable point with each one, as with psync and mem.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <liburing.h>

#include "evg_store.h"
#include "store_priv.h"

struct uring_op {
	uint64_t tag;
	int32_t res;
	int fid;
	bool done;
};

struct uring_file {
	int fd;		  /* O_DIRECT; -1: none (a directory, a free id) */
	uint32_t pending; /* data-path operations not yet reaped */
};

struct uring_store {
	const struct evg_store_ops *ops; /* first: evg_store_mem_fail() */
	struct evg_store *ctl;		 /* psync: the control path */
	int dirfd;
	struct uring_file *files; /* by file id, as psync's */
	unsigned int nb_fids;
	struct io_uring ring;
	bool ring_ok;
	struct uring_op *slot; /* depth operations, in queue order */
	unsigned int depth;
	unsigned int head;
	unsigned int count;	  /* queued, not reaped */
	unsigned int unsubmitted; /* queued, not handed to the kernel */
	unsigned int in_kernel;	  /* submitted, no CQE yet */
	cpu_set_t io_cpus;	  /* conf->io_cpus */
	bool has_io_cpus;
	pthread_t io_cpus_thread; /* the last thread they were set for */
};

static inline struct uring_store *
uring_of(struct evg_store *st)
{
	return (struct uring_store *)st;
}

static void uring_destroy(struct evg_store *st);

/*
 * Put the calling thread's io workers on us->io_cpus. The kernel keeps
 * that per thread (its io_uring task context), which a thread gets at
 * its first submission or when it registers the ring's fd: registering
 * it for the call gives one before anything is submitted, so not even
 * the first worker starts on the poller's CPU.
 */
static int
uring_place_workers(struct uring_store *us)
{
	int reg = io_uring_register_ring_fd(&us->ring);
	int rc = io_uring_register_iowq_aff(&us->ring, sizeof(us->io_cpus),
					    &us->io_cpus);

	if (reg > 0)
		io_uring_unregister_ring_fd(&us->ring);
	us->io_cpus_thread = pthread_self();
	return rc;
}

static int
uring_create(const struct evg_store_conf *conf, struct evg_store **st)
{
	struct evg_store_conf ctl_conf;
	struct uring_store *us;
	int rc;

	if (conf == NULL || conf->dir == NULL || conf->depth == 0 ||
	    st == NULL ||
	    (conf->io_cpus != NULL && CPU_COUNT(conf->io_cpus) == 0))
		return -EINVAL;
	us = calloc(1, sizeof(*us));
	if (us == NULL)
		return -ENOMEM;
	us->ops = &evg_store_uring_ops;
	us->depth = conf->depth;
	us->dirfd = -1;
	ctl_conf = *conf;
	ctl_conf.depth = 1; /* psync's data path is not used */
	rc = evg_store_psync_ops.create(&ctl_conf, &us->ctl);
	if (rc < 0)
		goto fail;
	us->slot = calloc(conf->depth, sizeof(*us->slot));
	us->dirfd = open(conf->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (us->slot == NULL || us->dirfd < 0) {
		rc = us->slot == NULL ? -ENOMEM : -errno;
		goto fail;
	}
	rc = io_uring_queue_init(conf->depth, &us->ring, 0);
	if (rc < 0)
		goto fail;
	us->ring_ok = true;
	if (conf->io_cpus != NULL) {
		us->io_cpus = *conf->io_cpus;
		us->has_io_cpus = true;
		rc = uring_place_workers(us);
		if (rc < 0)
			goto fail;
	}
	*st = (struct evg_store *)us;
	return 0;
fail:
	uring_destroy((struct evg_store *)us);
	return rc;
}

/* Waits for what the kernel still has: it may be writing from buffers
 * the caller frees next. Operations never submitted are dropped. */
static void
uring_destroy(struct evg_store *st)
{
	struct uring_store *us = uring_of(st);
	struct io_uring_cqe *cqe;

	if (us == NULL)
		return;
	if (us->ring_ok) {
		while (us->in_kernel > 0 &&
		       io_uring_wait_cqe(&us->ring, &cqe) == 0) {
			io_uring_cqe_seen(&us->ring, cqe);
			us->in_kernel--;
		}
		io_uring_queue_exit(&us->ring);
	}
	for (unsigned int i = 0; i < us->nb_fids; i++)
		if (us->files[i].fd >= 0)
			close(us->files[i].fd);
	if (us->dirfd >= 0)
		close(us->dirfd);
	if (us->ctl != NULL)
		evg_store_psync_ops.destroy(us->ctl);
	free(us->files);
	free(us->slot);
	free(us);
}

/* Make room for file id fid in the tables. */
static int
uring_fid_room(struct uring_store *us, int fid)
{
	unsigned int old = us->nb_fids, n = old ? old : 16;
	struct uring_file *files;

	if ((unsigned int)fid < old)
		return 0;
	while (n <= (unsigned int)fid)
		n *= 2;
	files = realloc(us->files, n * sizeof(*files));
	if (files == NULL)
		return -ENOMEM;
	for (unsigned int i = old; i < n; i++)
		files[i] = (struct uring_file){.fd = -1};
	us->files = files;
	us->nb_fids = n;
	return 0;
}

/* A directory gets a file id for sync_now() but no O_DIRECT descriptor:
 * the data path refuses it with -EBADF. -EINVAL from the second open is
 * a filesystem that refuses O_DIRECT: the caller may pick psync. */
static int
uring_open(struct evg_store *st, const char *name, bool create,
	   uint64_t prealloc)
{
	struct uring_store *us = uring_of(st);
	int fid, fd, rc;

	fid = evg_store_psync_ops.open(us->ctl, name, create, prealloc);
	if (fid < 0)
		return fid;
	rc = uring_fid_room(us, fid);
	if (rc < 0)
		goto fail;
	fd = openat(us->dirfd, name[0] == '\0' ? "." : name,
		    O_RDWR | O_DIRECT | O_CLOEXEC);
	if (fd < 0 && errno != EISDIR) {
		rc = -errno;
		goto fail;
	}
	us->files[fid].fd = fd;
	return fid;
fail:
	evg_store_psync_ops.close(us->ctl, fid);
	return rc;
}

static int
uring_close(struct evg_store *st, int fid)
{
	struct uring_store *us = uring_of(st);

	if (fid >= 0 && (unsigned int)fid < us->nb_fids) {
		if (us->files[fid].pending > 0)
			return -EBUSY;
		if (us->files[fid].fd >= 0)
			close(us->files[fid].fd);
		us->files[fid].fd = -1;
	}
	return evg_store_psync_ops.close(us->ctl, fid);
}

static int64_t
uring_size(struct evg_store *st, int fid)
{
	return evg_store_psync_ops.size(uring_of(st)->ctl, fid);
}

static int
uring_truncate(struct evg_store *st, int fid, uint64_t len)
{
	return evg_store_psync_ops.truncate(uring_of(st)->ctl, fid, len);
}

static int64_t
uring_read(struct evg_store *st, int fid, void *buf, uint64_t len, uint64_t off)
{
	return evg_store_psync_ops.read(uring_of(st)->ctl, fid, buf, len, off);
}

static int
uring_mkdir(struct evg_store *st, const char *name)
{
	return evg_store_psync_ops.mkdir(uring_of(st)->ctl, name);
}

static int
uring_remove(struct evg_store *st, const char *name)
{
	return evg_store_psync_ops.remove(uring_of(st)->ctl, name);
}

static int
uring_list(struct evg_store *st, const char *name,
	   void (*fn)(void *arg, const char *entry), void *arg)
{
	return evg_store_psync_ops.list(uring_of(st)->ctl, name, fn, arg);
}

static int
uring_sync_now(struct evg_store *st, int fid)
{
	return evg_store_psync_ops.sync_now(uring_of(st)->ctl, fid);
}

/* An SQE for the next operation on fid, and fid's O_DIRECT descriptor
 * in *fd (-errno when there is no SQE). Nothing is queued yet. */
static struct io_uring_sqe *
uring_get(struct uring_store *us, int fid, int *fd)
{
	struct io_uring_sqe *sqe;

	if (fid < 0 || (unsigned int)fid >= us->nb_fids ||
	    us->files[fid].fd < 0) {
		*fd = -EBADF;
		return NULL;
	}
	/* The SQ and CQ rings hold depth entries at least, so neither can
	 * overflow while count stays below depth. */
	sqe = us->count < us->depth ? io_uring_get_sqe(&us->ring) : NULL;
	*fd = sqe == NULL ? -EBUSY : us->files[fid].fd;
	return sqe;
}

/* Queue the prepared sqe: its slot carries tag until reap(). */
static void
uring_commit(struct uring_store *us, struct io_uring_sqe *sqe, int fid,
	     uint64_t tag)
{
	unsigned int s = (us->head + us->count) % us->depth;

	us->slot[s] = (struct uring_op){.tag = tag, .fid = fid};
	io_uring_sqe_set_data64(sqe, s);
	us->count++;
	us->unsubmitted++;
	us->files[fid].pending++;
}

static int
uring_write(struct evg_store *st, int fid, const void *buf, uint32_t len,
	    uint64_t off, bool dsync, uint64_t tag)
{
	struct uring_store *us = uring_of(st);
	struct io_uring_sqe *sqe;
	int fd;

	if (!store_write_ok(buf, len, off))
		return -EINVAL;
	sqe = uring_get(us, fid, &fd);
	if (sqe == NULL)
		return fd;
	io_uring_prep_write(sqe, fd, buf, len, off);
	if (dsync)
		sqe->rw_flags = RWF_DSYNC;
	uring_commit(us, sqe, fid, tag);
	return 0;
}

static int
uring_sync(struct evg_store *st, int fid, uint64_t tag)
{
	struct uring_store *us = uring_of(st);
	struct io_uring_sqe *sqe;
	int fd;

	sqe = uring_get(us, fid, &fd);
	if (sqe == NULL)
		return fd;
	io_uring_prep_fsync(sqe, fd, IORING_FSYNC_DATASYNC);
	io_uring_sqe_set_flags(sqe, IOSQE_IO_DRAIN);
	uring_commit(us, sqe, fid, tag);
	return 0;
}

/* io_uring_enter without waiting for completions: it returns once the
 * kernel has taken the SQEs (issued, or punted to its workers). */
static int
uring_submit(struct evg_store *st)
{
	struct uring_store *us = uring_of(st);
	int n;

	if (us->unsubmitted == 0)
		return 0;
	/* The kernel took this set at create(): a failure here is not
	 * expected, and would only cost latency, not correctness. */
	if (us->has_io_cpus &&
	    !pthread_equal(us->io_cpus_thread, pthread_self()))
		(void)uring_place_workers(us);
	n = io_uring_submit(&us->ring);
	if (n < 0)
		return n;
	us->unsubmitted -= (unsigned int)n;
	us->in_kernel += (unsigned int)n;
	return n;
}

static int
uring_reap(struct evg_store *st, struct evg_store_cqe *cqe, unsigned int max)
{
	struct uring_store *us = uring_of(st);
	struct io_uring_cqe *c;
	unsigned int n = 0;

	while (io_uring_peek_cqe(&us->ring, &c) == 0) {
		struct uring_op *op = &us->slot[io_uring_cqe_get_data64(c)];

		op->res = c->res;
		op->done = true;
		io_uring_cqe_seen(&us->ring, c);
		us->in_kernel--;
	}
	while (n < max && us->count > 0 && us->slot[us->head].done) {
		const struct uring_op *op = &us->slot[us->head];

		cqe[n].tag = op->tag;
		cqe[n].res = op->res;
		n++;
		us->files[op->fid].pending--;
		us->head = (us->head + 1) % us->depth;
		us->count--;
	}
	return (int)n;
}

static unsigned int
uring_inflight(const struct evg_store *st)
{
	return ((const struct uring_store *)st)->count;
}

const struct evg_store_ops evg_store_uring_ops = {
	.name = "uring",
	.create = uring_create,
	.destroy = uring_destroy,
	.mkdir = uring_mkdir,
	.open = uring_open,
	.close = uring_close,
	.size = uring_size,
	.truncate = uring_truncate,
	.read = uring_read,
	.remove = uring_remove,
	.list = uring_list,
	.sync_now = uring_sync_now,
	.write = uring_write,
	.sync = uring_sync,
	.submit = uring_submit,
	.reap = uring_reap,
	.inflight = uring_inflight,
};
