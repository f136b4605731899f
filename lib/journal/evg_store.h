/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Store backends for the journal (drivers/store/): where segment bytes go.
 *
 * The journal names files relative to the log directory ("p0003/
 * 00000000000000004096.seg") and does everything else itself: layout,
 * batching, recovery. A backend gives it
 *   - synchronous file operations for the control path (start-up,
 *     recovery, segment roll, retention, readers): open, close, size,
 *     truncate, read, remove, list, mkdir;
 *   - asynchronous writes and syncs for the data path: queue, submit
 *     once per poll, reap completions in the poll loop; never blocking.
 *
 * Backends: "uring" (io_uring, O_DIRECT, the default), "psync"
 * (pwrite/fdatasync in the caller, for filesystems without O_DIRECT or
 * io_uring; completes at once), "mem" (files in memory, for tests; can
 * inject ENOSPC and EIO), and "fault-uring", "fault-psync", "fault-mem":
 * that backend with faults injected on demand (evg_store_fault_set(),
 * for tests; evgate's [log] fault_injection).
 *
 * Every function returns 0 (or a count / file id >= 0) or a negative
 * errno. A store instance is used by one thread at a time.
 */
#ifndef EVG_STORE_H
#define EVG_STORE_H

#include <sched.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define EVG_STORE_ALIGN 4096u /* data-path writes: buffer, offset, length */
#define EVG_STORE_NAME_MAX 256u

struct evg_store;

/* A completed asynchronous operation. */
struct evg_store_cqe {
	uint64_t tag; /* as given to write() / sync() */
	int32_t res;  /* bytes written, 0 for a sync, or -errno */
};

struct evg_store_conf {
	const char *dir;    /* the log directory; must exist */
	uint32_t depth;	    /* operations in flight at most (queue depth) */
	int socket_id;	    /* for buffers the backend allocates */
	/* mem backend only: fail data-path writes once this many bytes are
	 * stored in all (ENOSPC), 0 = no limit; see also fail_io. */
	uint64_t mem_capacity;
	/* uring backend only: the CPUs the kernel's io workers of each
	 * thread that submits run on (IORING_REGISTER_IOWQ_AFF); NULL: the
	 * submitting thread's own CPUs. fdatasync, and writes the kernel
	 * cannot issue without blocking, run in those workers: keep them
	 * off a busy-polling CPU, or they wait for the poller's time
	 * slice (docs/storage.md). Copied; create() fails with -EINVAL
	 * when it is empty, or with the kernel's error when it refuses it. */
	const cpu_set_t *io_cpus;
};

struct evg_store_ops {
	const char *name;
	int (*create)(const struct evg_store_conf *conf, struct evg_store **st);
	void (*destroy)(struct evg_store *st);

	/* ---- control path, synchronous ---- */
	int (*mkdir)(struct evg_store *st, const char *name);
	/* Open (create: make it if missing) a file; returns a file id >= 0.
	 * prealloc > 0: reserve that many bytes (fallocate, KEEP_SIZE). */
	int (*open)(struct evg_store *st, const char *name, bool create,
		    uint64_t prealloc);
	int (*close)(struct evg_store *st, int fid);
	int64_t (*size)(struct evg_store *st, int fid);
	int (*truncate)(struct evg_store *st, int fid, uint64_t len);
	/* Read up to len bytes at off; returns bytes read (0 at the end). */
	int64_t (*read)(struct evg_store *st, int fid, void *buf, uint64_t len,
			uint64_t off);
	int (*remove)(struct evg_store *st, const char *name);
	/* Call fn for each entry of directory name (not "." or ".."). */
	int (*list)(struct evg_store *st, const char *name,
		    void (*fn)(void *arg, const char *entry), void *arg);
	/* Make everything written so far durable, synchronously
	 * (checkpoints, directory entries). */
	int (*sync_now)(struct evg_store *st, int fid);

	/* ---- data path, asynchronous ---- */
	/* Queue a write of len bytes from buf at off (all multiples of
	 * EVG_STORE_ALIGN; buf stays untouched until its completion).
	 * dsync: durable when it completes (RWF_DSYNC). -EBUSY when depth
	 * operations are already queued or in flight. */
	int (*write)(struct evg_store *st, int fid, const void *buf,
		     uint32_t len, uint64_t off, bool dsync, uint64_t tag);
	/* Queue an fdatasync of fid, ordered after the writes queued before
	 * it on that file. -EBUSY as for write(). */
	int (*sync)(struct evg_store *st, int fid, uint64_t tag);
	/* Hand queued operations to the kernel; returns how many. */
	int (*submit)(struct evg_store *st);
	/* Collect up to max completions without waiting; returns how many. */
	int (*reap)(struct evg_store *st, struct evg_store_cqe *cqe,
		    unsigned int max);
	/* Operations queued or in flight. */
	unsigned int (*inflight)(const struct evg_store *st);
};

/* The backends (drivers/store/); NULL when not built. */
extern const struct evg_store_ops evg_store_uring_ops;
extern const struct evg_store_ops evg_store_psync_ops;
extern const struct evg_store_ops evg_store_mem_ops;
extern const struct evg_store_ops evg_store_fault_uring_ops;
extern const struct evg_store_ops evg_store_fault_psync_ops;
extern const struct evg_store_ops evg_store_fault_mem_ops;

/* A backend by name ("uring", "psync", "mem", "fault-uring", ...); NULL
 * when unknown. */
const struct evg_store_ops *evg_store_find(const char *name);

/* mem backend, for tests: make the next data-path writes fail with err
 * (-ENOSPC, -EIO; 0 = stop failing). -EINVAL for another backend. */
int evg_store_mem_fail(struct evg_store *st, int err);

/* fault-* backends: from any thread (an atomic word, no lock), make the
 * next count data-path operations (write, sync, creation of a
 * preallocated file) fail with err (-EIO, -ENOSPC, ...); count 0: until
 * disarmed; err 0: disarm. Writes and syncs complete with res = err in
 * their turn, opens return it. -EINVAL for another backend or err > 0. */
int evg_store_fault_set(struct evg_store *st, int err, uint32_t count);

struct evg_store_fault_state {
	int err;	   /* armed with this -errno; 0: disarmed */
	uint32_t left;	   /* operations it still fails; 0: until disarmed */
	uint64_t injected; /* operations failed since creation */
};

/* fault-* backends: the state, from any thread. -EINVAL otherwise. */
int evg_store_fault_get(const struct evg_store *st,
			struct evg_store_fault_state *out);

#endif /* EVG_STORE_H */
