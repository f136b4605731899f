/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * "psync" store: POSIX file I/O relative to the log directory, with the
 * data path done synchronously in the caller. It is the fallback for
 * filesystems without O_DIRECT or io_uring: write() runs pwritev2() (with
 * RWF_DSYNC when asked) and sync() runs fdatasync() before they return,
 * so both BLOCK the caller for as long as the device takes. Only their
 * completions are deferred, to submit() and reap(), so that the journal
 * drives every backend the same way.
 *
 * The uring backend reuses this control path (open, read, list, ...)
 * through evg_store_psync_ops and adds O_DIRECT descriptors and a ring.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "evg_store.h"
#include "store_priv.h"

/* Linux moves at most this much per write call (MAX_RW_COUNT); it also
 * keeps a byte count representable in evg_store_cqe.res. */

struct psync_op {
	struct evg_store_cqe cqe;
	int fid;
};

struct psync_file {
	int fd;		  /* -1: a free file id */
	bool dir;	  /* opened read-only, for sync_now() */
	uint32_t pending; /* data-path operations not yet reaped */
};

struct psync_store {
	const struct evg_store_ops *ops; /* first: evg_store_mem_fail() */
	int dirfd;
	struct psync_file *files; /* by file id */
	unsigned int nb_fids;
	struct psync_op *q; /* depth completions, FIFO */
	unsigned int depth;
	unsigned int head;
	unsigned int count; /* queued, not reaped */
	unsigned int ready; /* of count: submitted, so reapable */
};

static inline struct psync_store *
psync_of(struct evg_store *st)
{
	return (struct psync_store *)st;
}

/* "" names the log directory itself, as "." does. */
static const char *
psync_path(const char *name)
{
	return name[0] == '\0' ? "." : name;
}

static int
psync_fd(const struct psync_store *ps, int fid)
{
	if (fid < 0 || (unsigned int)fid >= ps->nb_fids ||
	    ps->files[fid].fd < 0)
		return -EBADF;
	return ps->files[fid].fd;
}

/* A file's descriptor for the data path: not a directory's. */
static int
psync_data_fd(const struct psync_store *ps, int fid)
{
	int fd = psync_fd(ps, fid);

	return fd >= 0 && ps->files[fid].dir ? -EBADF : fd;
}

static void psync_destroy(struct evg_store *st);

static int
psync_create(const struct evg_store_conf *conf, struct evg_store **st)
{
	struct psync_store *ps;

	if (conf == NULL || conf->dir == NULL || conf->depth == 0 || st == NULL)
		return -EINVAL;
	ps = calloc(1, sizeof(*ps));
	if (ps == NULL)
		return -ENOMEM;
	ps->ops = &evg_store_psync_ops;
	ps->depth = conf->depth;
	ps->q = calloc(conf->depth, sizeof(*ps->q));
	ps->dirfd = open(conf->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (ps->q == NULL || ps->dirfd < 0) {
		int err = ps->q == NULL ? -ENOMEM : -errno;

		psync_destroy((struct evg_store *)ps);
		return err;
	}
	*st = (struct evg_store *)ps;
	return 0;
}

static void
psync_destroy(struct evg_store *st)
{
	struct psync_store *ps = psync_of(st);

	if (ps == NULL)
		return;
	for (unsigned int i = 0; i < ps->nb_fids; i++)
		if (ps->files[i].fd >= 0)
			close(ps->files[i].fd);
	if (ps->dirfd >= 0)
		close(ps->dirfd);
	free(ps->files);
	free(ps->q);
	free(ps);
}

/* A free file id, growing the table when all are taken. */
static int
psync_fid_alloc(struct psync_store *ps)
{
	unsigned int old = ps->nb_fids, n = old ? old * 2 : 16;
	struct psync_file *files;

	for (unsigned int i = 0; i < old; i++)
		if (ps->files[i].fd < 0)
			return (int)i;
	if (n > INT32_MAX)
		return -EMFILE;
	files = realloc(ps->files, n * sizeof(*files));
	if (files == NULL)
		return -ENOMEM;
	for (unsigned int i = old; i < n; i++)
		files[i] = (struct psync_file){.fd = -1};
	ps->files = files;
	ps->nb_fids = n;
	return (int)old;
}

static int
psync_mkdir(struct evg_store *st, const char *name)
{
	int rc = store_check_name(name);

	if (rc < 0)
		return rc;
	return mkdirat(psync_of(st)->dirfd, name, 0755) == 0 ? 0 : -errno;
}

/* Opens a regular file read-write, or a directory read-only (a file id
 * for sync_now(), to make its entries durable). */
static int
psync_open(struct evg_store *st, const char *name, bool create,
	   uint64_t prealloc)
{
	struct psync_store *ps = psync_of(st);
	int fid, fd, rc = store_check_name(name);

	if (rc < 0)
		return rc;
	if (prealloc > INT64_MAX)
		return -EINVAL;
	fid = psync_fid_alloc(ps);
	if (fid < 0)
		return fid;
	fd = openat(ps->dirfd, psync_path(name),
		    O_RDWR | O_CLOEXEC | (create ? O_CREAT : 0), 0644);
	if (fd < 0 && errno == EISDIR) {
		fd = openat(ps->dirfd, psync_path(name),
			    O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0)
			return -errno;
		ps->files[fid] = (struct psync_file){.fd = fd, .dir = true};
		return fid;
	}
	if (fd < 0)
		return -errno;
	/* Reserving is an optimisation: a filesystem without fallocate
	 * still takes the writes. */
	if (prealloc > 0 &&
	    fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, (off_t)prealloc) != 0 &&
	    errno != EOPNOTSUPP) {
		rc = -errno;
		close(fd);
		return rc;
	}
	ps->files[fid] = (struct psync_file){.fd = fd};
	return fid;
}

static int
psync_close(struct evg_store *st, int fid)
{
	struct psync_store *ps = psync_of(st);
	int fd = psync_fd(ps, fid);

	if (fd < 0)
		return fd;
	if (ps->files[fid].pending > 0)
		return -EBUSY;
	ps->files[fid].fd = -1;
	return close(fd) == 0 ? 0 : -errno;
}

static int64_t
psync_size(struct evg_store *st, int fid)
{
	int fd = psync_fd(psync_of(st), fid);
	struct stat sb;

	if (fd < 0)
		return fd;
	return fstat(fd, &sb) == 0 ? (int64_t)sb.st_size : -errno;
}

static int
psync_truncate(struct evg_store *st, int fid, uint64_t len)
{
	int fd = psync_fd(psync_of(st), fid);

	if (fd < 0)
		return fd;
	if (len > INT64_MAX)
		return -EINVAL;
	return ftruncate(fd, (off_t)len) == 0 ? 0 : -errno;
}

static int64_t
psync_read(struct evg_store *st, int fid, void *buf, uint64_t len, uint64_t off)
{
	int fd = psync_fd(psync_of(st), fid);
	uint64_t done = 0;

	if (fd < 0)
		return fd;
	if (len > INT64_MAX || off > (uint64_t)INT64_MAX - len)
		return -EINVAL;
	while (done < len) {
		ssize_t n = pread(fd, (char *)buf + done, len - done,
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

/* A file, or an empty directory. */
static int
psync_remove(struct evg_store *st, const char *name)
{
	struct psync_store *ps = psync_of(st);
	int rc = store_check_name(name);

	if (rc < 0)
		return rc;
	if (unlinkat(ps->dirfd, name, 0) == 0)
		return 0;
	if (errno != EISDIR)
		return -errno;
	return unlinkat(ps->dirfd, name, AT_REMOVEDIR) == 0 ? 0 : -errno;
}

static int
psync_list(struct evg_store *st, const char *name,
	   void (*fn)(void *arg, const char *entry), void *arg)
{
	int fd, rc = store_check_name(name);
	struct dirent *de;
	DIR *d;

	if (rc < 0)
		return rc;
	if (fn == NULL)
		return -EINVAL;
	fd = openat(psync_of(st)->dirfd, psync_path(name),
		    O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	d = fdopendir(fd);
	if (d == NULL) {
		rc = -errno;
		close(fd);
		return rc;
	}
	errno = 0;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") != 0 &&
		    strcmp(de->d_name, "..") != 0)
			fn(arg, de->d_name);
		errno = 0;
	}
	rc = -errno;
	closedir(d);
	return rc;
}

static int
psync_sync_now(struct evg_store *st, int fid)
{
	int fd = psync_fd(psync_of(st), fid);

	if (fd < 0)
		return fd;
	return fdatasync(fd) == 0 ? 0 : -errno;
}

static void
psync_complete(struct psync_store *ps, int fid, uint64_t tag, int32_t res)
{
	struct psync_op *op = &ps->q[(ps->head + ps->count) % ps->depth];

	op->cqe.tag = tag;
	op->cqe.res = res;
	op->fid = fid;
	ps->count++;
	ps->files[fid].pending++;
}

static int
psync_write(struct evg_store *st, int fid, const void *buf, uint32_t len,
	    uint64_t off, bool dsync, uint64_t tag)
{
	struct psync_store *ps = psync_of(st);
	struct iovec iov = {.iov_base = (void *)(uintptr_t)buf, .iov_len = len};
	int fd = psync_data_fd(ps, fid);
	ssize_t n;

	if (!store_write_ok(buf, len, off))
		return -EINVAL;
	if (fd < 0)
		return fd;
	if (ps->count >= ps->depth)
		return -EBUSY;
	do {
		n = pwritev2(fd, &iov, 1, (off_t)off, dsync ? RWF_DSYNC : 0);
	} while (n < 0 && errno == EINTR);
	/* A short count is reported as such: the journal treats it as an
	 * error (it is ENOSPC or EIO part way). */
	psync_complete(ps, fid, tag, n < 0 ? -errno : (int32_t)n);
	return 0;
}

static int
psync_sync(struct evg_store *st, int fid, uint64_t tag)
{
	struct psync_store *ps = psync_of(st);
	int fd = psync_data_fd(ps, fid);

	if (fd < 0)
		return fd;
	if (ps->count >= ps->depth)
		return -EBUSY;
	psync_complete(ps, fid, tag, fdatasync(fd) == 0 ? 0 : -errno);
	return 0;
}

static int
psync_submit(struct evg_store *st)
{
	struct psync_store *ps = psync_of(st);
	int n = (int)(ps->count - ps->ready);

	ps->ready = ps->count;
	return n;
}

static int
psync_reap(struct evg_store *st, struct evg_store_cqe *cqe, unsigned int max)
{
	struct psync_store *ps = psync_of(st);
	unsigned int n = 0;

	while (n < max && ps->ready > 0) {
		const struct psync_op *op = &ps->q[ps->head];

		cqe[n++] = op->cqe;
		ps->files[op->fid].pending--;
		ps->head = (ps->head + 1) % ps->depth;
		ps->count--;
		ps->ready--;
	}
	return (int)n;
}

static unsigned int
psync_inflight(const struct evg_store *st)
{
	return ((const struct psync_store *)st)->count;
}

const struct evg_store_ops evg_store_psync_ops = {
	.name = "psync",
	.create = psync_create,
	.destroy = psync_destroy,
	.mkdir = psync_mkdir,
	.open = psync_open,
	.close = psync_close,
	.size = psync_size,
	.truncate = psync_truncate,
	.read = psync_read,
	.remove = psync_remove,
	.list = psync_list,
	.sync_now = psync_sync_now,
	.write = psync_write,
	.sync = psync_sync,
	.submit = psync_submit,
	.reap = psync_reap,
	.inflight = psync_inflight,
};
