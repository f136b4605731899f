/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Micro-benchmark: what an append costs through the uring store backend
 * (io_uring, O_DIRECT), one append at a time, for 4 KiB and 64 KiB
 * appends, in three ways:
 *   fdatasync  write, then IORING_OP_FSYNC (datasync, drained after it),
 *              both in one submit: the journal's synced level, mode
 *              fdatasync;
 *   dsync      one write with RWF_DSYNC: synced level, mode dsync;
 *   none       the write only: the written level.
 * Each append is timed from queueing to its last completion, reaping
 * without sleeping as the journal's poll loop does.
 *
 * Usage: bench_store [--dir D] [--seconds S] [--size BYTES]
 * Prints one JSON object. The temporary file is preallocated to --size
 * and started again (truncated, untimed) when the next append would pass
 * it, as a segment roll would; it is removed at the end.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statfs.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "evg_store.h"

#include "../peers/peer_util.h"

enum mode { MODE_FDATASYNC, MODE_DSYNC, MODE_NONE };

static const char *const mode_names[] = {"fdatasync", "dsync", "none"};

struct run {
	const char *dir;
	double seconds;
	uint64_t file_size;
	char name[64];
};

static void
die(const char *what, int err)
{
	fprintf(stderr, "bench_store: %s: %s\n", what, strerror(-err));
	exit(1);
}

/* Start the file over (a segment roll); not timed. */
static int
roll(struct evg_store *st, const struct run *r, int fid)
{
	const struct evg_store_ops *ops = &evg_store_uring_ops;
	int rc;

	if (fid >= 0 && (rc = ops->close(st, fid)) < 0)
		die("close", rc);
	rc = ops->remove(st, r->name);
	if (rc < 0 && rc != -ENOENT)
		die("remove", rc);
	fid = ops->open(st, r->name, true, r->file_size);
	if (fid < 0)
		die(fid == -EINVAL ? "open (O_DIRECT refused?)" : "open", fid);
	return fid;
}

/* One append: queue, submit, spin on reap until every completion. */
static void
append(struct evg_store *st, int fid, const void *buf, uint32_t len,
       uint64_t off, enum mode m)
{
	const struct evg_store_ops *ops = &evg_store_uring_ops;
	struct evg_store_cqe cqe[2];
	int want = m == MODE_FDATASYNC ? 2 : 1, got = 0, rc;

	rc = ops->write(st, fid, buf, len, off, m == MODE_DSYNC, 1);
	if (rc == 0 && m == MODE_FDATASYNC)
		rc = ops->sync(st, fid, 2);
	if (rc == 0)
		rc = ops->submit(st);
	if (rc < 0)
		die("queue", rc);
	while (got < want) {
		rc = ops->reap(st, cqe + got, (unsigned int)(want - got));
		if (rc < 0)
			die("reap", rc);
		got += rc;
	}
	if (cqe[0].res != (int32_t)len)
		die("write", cqe[0].res < 0 ? cqe[0].res : -EIO);
	if (want == 2 && cqe[1].res != 0)
		die("fdatasync", cqe[1].res);
}

static void
run_case(const struct run *r, uint32_t len, enum mode m, int last)
{
	struct evg_store_conf conf = {.dir = r->dir, .depth = 4};
	size_t n = 0, cap = 1 << 16;
	double *lat = malloc(cap * sizeof(*lat)), t_end, total = 0;
	struct evg_store *st;
	uint64_t off = 0;
	void *buf = NULL;
	int fid, rc;

	if (lat == NULL || posix_memalign(&buf, EVG_STORE_ALIGN, len) != 0)
		die("memory", -ENOMEM);
	memset(buf, 0x5a, len);
	rc = evg_store_uring_ops.create(&conf, &st);
	if (rc < 0)
		die("uring store", rc);
	fid = roll(st, r, -1);
	t_end = peer_now_s() + r->seconds;
	while (peer_now_s() < t_end) {
		double t0;

		if (off + len > r->file_size) {
			fid = roll(st, r, fid);
			off = 0;
		}
		if (n == cap) {
			cap *= 2;
			lat = realloc(lat, cap * sizeof(*lat));
			if (lat == NULL)
				die("memory", -ENOMEM);
		}
		t0 = peer_now_s();
		append(st, fid, buf, len, off, m);
		lat[n] = (peer_now_s() - t0) * 1e6;
		total += lat[n++];
		off += len;
	}
	evg_store_uring_ops.close(st, fid);
	evg_store_uring_ops.remove(st, r->name);
	evg_store_uring_ops.destroy(st);
	qsort(lat, n, sizeof(lat[0]), peer_cmp_double);
	printf("    {\"append_bytes\": %u, \"sync\": \"%s\", \"appends\": %zu, "
	       "\"ops_per_s\": %.0f, \"mb_per_s\": %.1f, \"p50_us\": %.1f, "
	       "\"p99_us\": %.1f, \"max_us\": %.1f}%s\n",
	       len, mode_names[m], n, n / (total * 1e-6),
	       n * (double)len / total, lat[n / 2], lat[n * 99 / 100],
	       lat[n - 1], last ? "" : ",");
	fflush(stdout);
	free(lat);
	free(buf);
}

static const char *
fs_name(long type)
{
	switch (type) {
	case 0xEF53:
		return "ext2/3/4";
	case 0x58465342:
		return "xfs";
	case 0x9123683E:
		return "btrfs";
	case 0x01021994:
		return "tmpfs";
	default:
		return "other";
	}
}

static void
usage(FILE *f)
{
	fprintf(f, "Usage: bench_store [--dir D] [--seconds S] [--size BYTES]\n"
		   "  --dir D       directory of the temporary file, default "
		   "/var/tmp\n"
		   "  --seconds S   time per case, default 3\n"
		   "  --size BYTES  file preallocated to this size and started "
		   "over when full,\n"
		   "                a multiple of 65536, default 268435456\n");
}

static int
parse(int argc, char **argv, struct run *r)
{
	static const struct option opts[] = {
		{"dir", required_argument, NULL, 'd'},
		{"seconds", required_argument, NULL, 's'},
		{"size", required_argument, NULL, 'z'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int c;

	while ((c = getopt_long(argc, argv, "d:s:z:h", opts, NULL)) != -1) {
		switch (c) {
		case 'd':
			r->dir = optarg;
			break;
		case 's':
			r->seconds = atof(optarg);
			break;
		case 'z':
			r->file_size = strtoull(optarg, NULL, 0);
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return -1;
		}
	}
	if (r->seconds <= 0 || r->seconds > 600 || r->file_size == 0 ||
	    r->file_size % 65536 != 0) {
		fprintf(stderr, "bench_store: --seconds must be in (0, 600] "
				"and --size a non-zero multiple of 65536\n");
		return -1;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	static const uint32_t sizes[] = {4096, 65536};
	struct run r = {
		.dir = "/var/tmp", .seconds = 3, .file_size = 256u << 20};
	char host[256] = "unknown";
	struct utsname un;
	struct statfs sfs;

	if (parse(argc, argv, &r) < 0)
		return 2;
	if (statfs(r.dir, &sfs) != 0) {
		fprintf(stderr, "bench_store: --dir %s: %s\n", r.dir,
			strerror(errno));
		return 2;
	}
	snprintf(r.name, sizeof(r.name), "bench_store.%ld.tmp", (long)getpid());
	uname(&un);
	gethostname(host, sizeof(host) - 1);
	printf("{\n  \"bench\": \"store_append_uring\",\n"
	       "  \"host\": \"%s\", \"kernel\": \"%s\", \"cpus_online\": %ld,\n"
	       "  \"dir\": \"%s\", \"fs\": \"%s\", \"file_bytes\": %llu, "
	       "\"seconds_per_case\": %.1f,\n  \"results\": [\n",
	       host, un.release, sysconf(_SC_NPROCESSORS_ONLN), r.dir,
	       fs_name((long)sfs.f_type), (unsigned long long)r.file_size,
	       r.seconds);
	for (size_t i = 0; i < 2; i++)
		for (int m = MODE_FDATASYNC; m <= MODE_NONE; m++)
			run_case(&r, sizes[i], (enum mode)m,
				 i == 1 && m == MODE_NONE);
	printf("  ]\n}\n");
	return 0;
}
