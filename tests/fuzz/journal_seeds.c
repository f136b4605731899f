/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Writes the seed corpus of fuzz_journal: real logs written by the
 * journal (psync store, in a temporary directory), clean, torn and
 * corrupt, in fuzz_journal's input form (see fuzz_journal.c).
 *   journal_seeds OUTDIR
 * Each 4096-byte block of a file becomes one chunk: its bytes without
 * trailing zeros, after padding to the block boundary, so the seeds stay
 * small and the fuzzer mutates batches, not padding.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "journal_priv.h"

#define OUT_MAX (1u << 20)
#define SEGS_MAX 16u

struct out {
	uint8_t b[OUT_MAX];
	size_t n;
};

static void
put_chunk(struct out *o, uint8_t tag, const uint8_t *p, size_t len)
{
	if (o->n + 3 + len > OUT_MAX) {
		fprintf(stderr, "journal_seeds: seed too large\n");
		exit(1);
	}
	o->b[o->n++] = tag;
	o->b[o->n++] = (uint8_t)len;
	o->b[o->n++] = (uint8_t)(len >> 8);
	memcpy(o->b + o->n, p, len);
	o->n += len;
}

/* A file's bytes as chunks of kind. */
static void
put_file(struct out *o, uint8_t kind, const uint8_t *p, size_t len)
{
	for (size_t off = 0; off < len; off += JRN_ALIGN) {
		size_t n = len - off < JRN_ALIGN ? len - off : JRN_ALIGN;
		bool last = off + n == len;
		uint8_t tag = kind | 0x10;

		if (n == JRN_ALIGN || !last)
			while (n > 1 && p[off + n - 1] == 0)
				n--;
		if (last && len % JRN_ALIGN == 0)
			tag |= 0x20;
		put_chunk(o, tag, p + off, n);
	}
}

static uint8_t *
slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *p;
	long n;

	*len = 0;
	if (f == NULL)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	p = malloc(n > 0 ? (size_t)n : 1);
	if (p == NULL || fread(p, 1, (size_t)n, f) != (size_t)n) {
		fprintf(stderr, "journal_seeds: cannot read %s\n", path);
		exit(1);
	}
	fclose(f);
	*len = (size_t)n;
	return p;
}

enum damage { CLEAN, TORN, FLIP, NO_INDEX, NO_CKPT, GARBAGE_TAIL };

/* Encode the first two segments of base[] in dir/p0000, their index
 * files and the checkpoints, damaged as dmg says. */
static void
encode(struct out *o, const char *dir, const uint64_t *base, uint32_t n,
       enum damage dmg)
{
	static const char *const ext[] = {".seg", ".idx", ".tix"};
	char path[4096 + 72], name[64];
	uint8_t b[8];
	size_t len;

	o->n = 0;
	for (uint32_t s = 0; s < n && s < 2; s++) {
		evg_st64(b, base[s]);
		put_chunk(o, (uint8_t)(9 + s), b, 8);
		for (unsigned int k = 0; k < 3; k++) {
			uint8_t *p;

			if (k > 0 && dmg == NO_INDEX)
				continue;
			evg_jrn_file_name(name, sizeof(name), 0, base[s], ext[k]);
			snprintf(path, sizeof(path), "%s/%s", dir, name);
			p = slurp(path, &len);
			if (p == NULL)
				continue;
			if (k == 0 && s + 1 == (n < 2 ? n : 2)) {
				/* cut inside the last batch (>= 128 bytes) */
				if (dmg == TORN && len > 200)
					len = jrn_align(len) - JRN_ALIGN + 100;
				if (dmg == FLIP && len > 200)
					p[150] ^= 0x40;
				if (dmg == GARBAGE_TAIL)
					memcpy(p + (len > 64 ? len - 64 : 0),
					       "garbage!", 8);
			}
			put_file(o, (uint8_t)(s * 3 + k), p, len);
			free(p);
		}
	}
	for (unsigned int c = 0; c < 2 && dmg != NO_CKPT; c++) {
		uint8_t *p;

		evg_jrn_ckpt_name(name, sizeof(name), 0, c);
		snprintf(path, sizeof(path), "%s/%s", dir, name);
		p = slurp(path, &len);
		if (p != NULL && len > 0)
			put_file(o, (uint8_t)(6 + c), p, len);
		free(p);
	}
}

static void
write_seed(const char *outdir, const char *name, const struct out *o)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", outdir, name);
	f = fopen(path, "wb");
	if (f == NULL || fwrite(o->b, 1, o->n, f) != o->n || fclose(f) != 0) {
		fprintf(stderr, "journal_seeds: cannot write %s\n", path);
		exit(1);
	}
}

/* Write a log: batches of records from two producers, then close. */
static void
write_log(const char *dir, uint64_t segment_bytes, unsigned int batches)
{
	struct evg_journal_conf c = {
		.dir = dir, .store = &evg_store_psync_ops, .partitions = 1,
		.segment_bytes = segment_bytes, .batch_bytes = 4096,
		.index_interval = 4096, .level = EVG_JOURNAL_WRITTEN,
		.sync_mode = EVG_JOURNAL_SYNC_FDATASYNC, .depth = 8,
		.socket_id = -1};
	struct evg_journal *j;
	char err[512] = "", key[32], val[200];
	uint64_t durable = 0;
	int64_t t = 0;

	if (evg_journal_open(&c, &j, NULL, err, sizeof(err)) != 0) {
		fprintf(stderr, "journal_seeds: %s\n", err);
		exit(1);
	}
	for (unsigned int b = 0; b < batches; b++) {
		for (unsigned int i = 0; i < 1 + b % 3; i++) {
			struct evg_journal_rec r = {
				.producer_id = 1 + i % 2, .stream_id = 0,
				.session = 5, .seq = b * 4 + i,
				.ts_ns = 1000 * (b + 1), .ingest_ns = 2000,
				.key = key, .value = val,
				.key_size = (uint32_t)snprintf(key, sizeof(key),
							       "k%u", b),
				.value_size = 20 + 30 * i};

			memset(val, 'a' + (int)b, sizeof(val));
			t = evg_journal_append(j, 0, &r, 1, NULL);
		}
		evg_journal_flush(j, 0);
		for (int k = 0; k < 10000 && durable < (uint64_t)t; k++)
			evg_journal_poll(j, 0, &durable);
	}
	evg_journal_close(j);
}

static void
collect(void *arg, const char *entry)
{
	uint64_t *bases = arg, base;

	if (evg_jrn_parse_name(entry, ".seg", &base) == 0 &&
	    bases[SEGS_MAX] < SEGS_MAX)
		bases[bases[SEGS_MAX]++] = base;
}

static int
cmp64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

int
main(int argc, char **argv)
{
	static const char *const names[] = {"clean", "torn", "flip",
					    "no-index", "no-ckpt", "garbage"};
	static struct out o;
	char tmp[] = "/tmp/evg-seeds-XXXXXX", dir[4096], seed[128];
	uint64_t bases[SEGS_MAX + 1];

	if (argc != 2 || mkdtemp(tmp) == NULL) {
		fprintf(stderr, "usage: journal_seeds OUTDIR\n");
		return 2;
	}
	for (unsigned int v = 0; v < 2; v++) {
		struct jrn_fs fs = {.dirfd = -1};

		snprintf(dir, sizeof(dir), "%s/log%u", tmp, v);
		mkdir(dir, 0755);
		write_log(dir, v == 0 ? 1u << 20 : 8192, v == 0 ? 3 : 5);
		memset(bases, 0, sizeof(bases));
		fs.dirfd = open(dir, O_RDONLY | O_DIRECTORY);
		evg_jrn_fs_list(&fs, "p0000", collect, bases);
		close(fs.dirfd);
		qsort(bases, bases[SEGS_MAX], sizeof(bases[0]), cmp64);
		for (unsigned int d = 0; d < RTE_DIM(names); d++) {
			/* log1: its last two segments; the first is base 0 */
			uint32_t n = (uint32_t)bases[SEGS_MAX];
			const uint64_t *b = v == 1 && n > 2 ? bases + n - 2 : bases;

			encode(&o, dir, b, n, (enum damage)d);
			snprintf(seed, sizeof(seed), "%s-%s",
				 v == 0 ? "one-seg" : "two-segs", names[d]);
			write_seed(argv[1], seed, &o);
		}
	}
	snprintf(dir, sizeof(dir), "rm -rf '%s'", tmp);
	return system(dir) == 0 ? 0 : 1;
}
