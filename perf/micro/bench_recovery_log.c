/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * bench_recovery, the log side: build the log through lib/journal and the
 * uring store and leave it as a crashed process would, keep what was
 * written in the sidecar, and change the log between cases (torn tails,
 * no checkpoints, a cold page cache). See bench_recovery.c.
 */
#include <dirent.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "evg_journal.h"
#include "evg_store.h"

#include "bench_recovery.h"

void
br_conf_init(const struct bench *b, struct evg_journal_conf *c)
{
	*c = (struct evg_journal_conf){
		.dir = b->log,
		.store = &evg_store_uring_ops,
		.partitions = PARTITIONS,
		.segment_bytes = SEGMENT_BYTES,
		.batch_bytes = BATCH_BYTES,
		.index_interval = INDEX_INTERVAL,
		.level = EVG_JOURNAL_WRITTEN,
		.sync_mode = EVG_JOURNAL_SYNC_DSYNC,
		.depth = DEPTH,
	};
}

bool
br_past_deadline(const struct bench *b)
{
	return *b->stop != 0 || peer_now_s() > b->deadline;
}

static uint64_t
bytes_written(struct evg_journal *j)
{
	uint64_t v[EVG_JOURNAL_STAT_MAX], sum = 0;

	for (uint32_t p = 0; p < PARTITIONS; p++) {
		evg_journal_stats(j, p, v);
		sum += v[EVG_JOURNAL_bytes];
	}
	return sum;
}

/* APPEND_N events of stream s, producers from *cur on. */
static int
append_round(struct bench *b, struct evg_journal *j, uint32_t s, uint32_t *cur,
	     const void *value)
{
	struct evg_journal_rec recs[APPEND_N];
	uint64_t ts = (uint64_t)time(NULL) * 1000000000ull;
	uint32_t p = evg_journal_partition(j, s);
	uint64_t durable;
	int64_t t;

	for (unsigned int i = 0; i < APPEND_N; i++) {
		uint32_t prod = (*cur + i) % b->o.producers;
		struct pstate *e = &b->exp[(uint64_t)prod * b->o.streams + s];

		if (e->restart != 0) {
			e->session++;
			e->next_seq = 0;
			e->restart = 0;
		}
		recs[i] = (struct evg_journal_rec){
			.producer_id = prod + 1,
			.stream_id = s,
			.session = e->session,
			.seq = e->next_seq++,
			.ts_ns = ts,
			.ingest_ns = ts,
			.value = value,
			.value_size = b->o.event_size,
		};
	}
	*cur = (*cur + APPEND_N) % b->o.producers;
	while ((t = evg_journal_append(j, p, recs, APPEND_N, NULL)) ==
	       -ENOBUFS) {
		int rc = evg_journal_poll(j, p, &durable);

		if (rc < 0)
			return rc;
		if (br_past_deadline(b))
			return -ETIMEDOUT;
	}
	if (t < 0)
		return (int)t;
	b->sc.records += APPEND_N;
	b->ticket[p] = (uint64_t)t;
	return 0;
}

static int
build_loop(struct bench *b, struct evg_journal *j, const void *value)
{
	uint32_t *cur = calloc(b->o.streams, sizeof(*cur));
	uint64_t bytes = 0, durable;
	bool bumped = false;
	int rc = cur == NULL ? -ENOMEM : 0;

	while (rc == 0 && bytes < b->o.size) {
		for (uint32_t s = 0; rc == 0 && s < b->o.streams; s++)
			rc = append_round(b, j, s, &cur[s], value);
		for (uint32_t p = 0; rc == 0 && p < PARTITIONS; p++) {
			int n = evg_journal_poll(j, p, &durable);

			rc = n < 0 ? n : 0;
		}
		bytes = bytes_written(j);
		if (!bumped && bytes >= b->o.size / 2) {
			/* every 8th producer restarts: a new session */
			for (uint32_t k = 0; k < b->o.producers; k += 8)
				for (uint32_t s = 0; s < b->o.streams; s++)
					b->exp[(uint64_t)k * b->o.streams + s]
						.restart = 1;
			bumped = true;
		}
		if (rc == 0 && br_past_deadline(b))
			rc = -ETIMEDOUT;
	}
	free(cur);
	b->sc.bytes = bytes;
	return rc;
}

/* Flush and poll until every ticket is durable: what the log holds at
 * the crash is then exactly what was appended. */
static int
drain(const struct bench *b, struct evg_journal *j)
{
	const struct timespec tick = {.tv_nsec = 100000};
	int rc = 0;

	for (uint32_t p = 0; rc == 0 && p < PARTITIONS; p++) {
		uint64_t durable = 0;

		rc = evg_journal_flush(j, p);
		while (rc == 0 && durable < b->ticket[p]) {
			int n = evg_journal_poll(j, p, &durable);

			rc = n < 0 ? n : br_past_deadline(b) ? -ETIMEDOUT : 0;
			if (n == 0)
				nanosleep(&tick, NULL);
		}
	}
	return rc;
}

/* Build the log and leave it as a crash would: not closed. */
static int
build_log(struct bench *b)
{
	struct evg_journal_conf c;
	struct evg_journal *j;
	char err[512];
	void *value = malloc(b->o.event_size + 1);
	uint64_t n = (uint64_t)b->o.producers * b->o.streams;
	double t0 = peer_now_s();
	int rc;

	if (value == NULL)
		return -ENOMEM;
	for (uint32_t i = 0; i < b->o.event_size; i++)
		((uint8_t *)value)[i] = (uint8_t)(i * 31 + 7);
	for (uint64_t i = 0; i < n; i++)
		b->exp[i] = (struct pstate){.session = 1 + i / b->o.streams};
	br_conf_init(b, &c);
	rc = evg_journal_open(&c, &j, NULL, err, sizeof(err));
	if (rc < 0) {
		fprintf(stderr, "bench_recovery: open for writing: %s\n", err);
		free(value);
		return rc;
	}
	rc = build_loop(b, j, value);
	if (rc == 0)
		rc = drain(b, j);
	free(value);
	b->sc.build_s = peer_now_s() - t0;
	if (rc < 0)
		fprintf(stderr, "bench_recovery: building the log: %s\n",
			rc == -ETIMEDOUT && *b->stop == 0 ? "past --timeout"
							  : strerror(-rc));
	return rc;
}

static int
sidecar_write(const struct bench *b)
{
	uint64_t n = (uint64_t)b->o.producers * b->o.streams;
	FILE *f = fopen(b->side, "wb");
	bool ok;

	if (f == NULL)
		return -errno;
	ok = fwrite(&b->sc, sizeof(b->sc), 1, f) == 1 &&
	     fwrite(b->exp, sizeof(*b->exp), n, f) == n;
	ok = fclose(f) == 0 && ok;
	return ok ? 0 : -EIO;
}

/* 1: reused, 0: nothing there, < 0: a log that does not fit. */
int
br_sidecar_load(struct bench *b)
{
	uint64_t n = (uint64_t)b->o.producers * b->o.streams;
	struct sidecar sc;
	FILE *f = fopen(b->side, "rb");
	bool ok;

	if (f == NULL)
		return errno == ENOENT ? 0 : -errno;
	ok = fread(&sc, sizeof(sc), 1, f) == 1 && sc.magic == SIDECAR_MAGIC &&
	     sc.event_size == b->o.event_size &&
	     sc.producers == b->o.producers && sc.streams == b->o.streams &&
	     sc.size == b->o.size && fread(b->exp, sizeof(*b->exp), n, f) == n;
	fclose(f);
	if (!ok) {
		fprintf(stderr,
			"bench_recovery: %s: a log of other parameters; "
			"remove it or pick another --dir\n",
			b->side);
		return -EEXIST;
	}
	b->sc = sc;
	return 1;
}

static int
rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path) < 0 && errno != ENOENT ? -1 : 0;
}

/* Only what this benchmark made: DIR/log, the sidecar, and DIR when
 * dir_too (the benchmark created it) and it is empty. */
void
br_remove_log(const struct bench *b, bool dir_too)
{
	nftw(b->log, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	unlink(b->side);
	if (dir_too)
		rmdir(b->o.dir);
}

/* The builder runs in a child that ends without closing the journal
 * (a crash): the last index blocks and the last checkpoint of each
 * partition are never written. It leaves what it wrote in the sidecar. */
int
br_build_crashed(struct bench *b)
{
	int status = 0, rc;
	pid_t pid;

	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		rc = build_log(b);
		if (rc == 0)
			rc = sidecar_write(b);
		_exit(rc == 0 ? 0 : 1);
	}
	rc = pid < 0 ? -errno : br_reap(b, pid, &status);
	if (rc == 0 && !(WIFEXITED(status) && WEXITSTATUS(status) == 0))
		rc = -EIO; /* the child said why */
	if (rc == 0)
		rc = br_sidecar_load(b) == 1 ? 0 : -EIO;
	return rc;
}

int
br_drop_caches(void)
{
	FILE *f;
	int rc;

	sync();
	f = fopen("/proc/sys/vm/drop_caches", "w");
	if (f == NULL)
		return -errno;
	rc = fputs("3\n", f) < 0 ? -EIO : 0;
	return fclose(f) != 0 ? -errno : rc;
}

int
br_remove_checkpoints(const struct bench *b)
{
	char name[4200];

	for (uint32_t p = 0; p < PARTITIONS; p++)
		for (unsigned int s = 0; s < 2; s++) {
			snprintf(name, sizeof(name), "%s/p%04u/checkpoint.%u",
				 b->log, p, s);
			if (unlink(name) < 0 && errno != ENOENT)
				return -errno;
		}
	return 0;
}

/* Name of the last segment of partition p. */
static int
last_segment(const struct bench *b, uint32_t p, char *name, size_t len)
{
	char dir[4200];
	struct dirent *de;
	unsigned long long best = 0;
	bool found = false;
	DIR *d;

	snprintf(dir, sizeof(dir), "%s/p%04u", b->log, p);
	d = opendir(dir);
	if (d == NULL)
		return -errno;
	while ((de = readdir(d)) != NULL) {
		char *end;
		unsigned long long base = strtoull(de->d_name, &end, 10);

		if (strcmp(end, ".seg") == 0 && (!found || base > best)) {
			best = base;
			found = true;
		}
	}
	closedir(d);
	snprintf(name, len, "%s/%020llu.seg", dir, best);
	return found ? 0 : -ENOENT;
}

/* A write cut short: the first block of a batch whose length runs past
 * the end of the file (docs/storage.md, "Batch": magic, header length,
 * length at bytes 0, 4, 8), after the last batch. */
int
br_tear_tails(const struct bench *b)
{
	uint8_t blk[EVG_STORE_ALIGN];
	uint32_t v32;
	uint16_t v16;
	char name[4300];
	int rc = 0;

	memset(blk, 0xa5, sizeof(blk));
	v32 = htole32(EVG_JOURNAL_BATCH_MAGIC);
	memcpy(blk, &v32, 4);
	v16 = htole16(EVG_JOURNAL_BATCH_HDR_LEN);
	memcpy(blk + 4, &v16, 2);
	v32 = htole32(BATCH_BYTES);
	memcpy(blk + 8, &v32, 4);
	for (uint32_t p = 0; rc == 0 && p < PARTITIONS; p++) {
		struct stat st;
		int fd;

		rc = last_segment(b, p, name, sizeof(name));
		fd = rc < 0 ? -1 : open(name, O_WRONLY | O_CLOEXEC);
		if (rc == 0 && fd < 0)
			rc = -errno;
		if (rc == 0 && fstat(fd, &st) < 0)
			rc = -errno;
		if (rc == 0) {
			off_t at = (st.st_size + EVG_STORE_ALIGN - 1) &
				   ~(off_t)(EVG_STORE_ALIGN - 1);

			if (pwrite(fd, blk, sizeof(blk), at) != sizeof(blk))
				rc = -EIO;
		}
		if (fd >= 0)
			close(fd);
	}
	return rc;
}

/* Wait for the child, killing it (by its pid) past the deadline. */
int
br_reap(const struct bench *b, pid_t pid, int *status)
{
	const struct timespec tick = {.tv_nsec = 2000000};

	for (;;) {
		pid_t w = waitpid(pid, status, WNOHANG);

		if (w == pid)
			return 0;
		if (w < 0 && errno != EINTR)
			return -errno;
		if (br_past_deadline(b)) {
			kill(pid, SIGKILL);
			waitpid(pid, status, 0);
			return *b->stop ? -EINTR : -ETIMEDOUT;
		}
		nanosleep(&tick, NULL);
	}
}
