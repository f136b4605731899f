/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The on-disk format (docs/storage.md): batch and record layout, the
 * batch CRC, the worked example of the documentation, names, producer
 * states and checkpoint files.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "evg_evf.h"
#include "journal_priv.h"
#include "journal_testutil.h"

/* docs/storage.md, "Worked example": one record, producer 7, stream 42,
 * session 0x0123456789ABCDEF, seq 0, key "k1", value "hello",
 * ts 1700000000000000000, ingest 1700000000000001000, offset 0. */
static const char example_hex[] =
	"45564231400000008800000001000000000000000000000000002a36fe9c9717"
	"00002a36fe9c9717e8032a36fe9c971700000000000000000000000036309e26"
	"07000000020000000000000000000000070000002a000000efcdab8967452301"
	"000000000000000000002a36fe9c9717e8032a36fe9c97170000000000000000"
	"6b3168656c6c6f00";
#define EXAMPLE_LEN 136u
#define EXAMPLE_CRC 0x269e3036u

static void
unhex(const char *hex, uint8_t *out, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned int v;

		cr_assert_eq(sscanf(hex + 2 * i, "%2x", &v), 1);
		out[i] = (uint8_t)v;
	}
}

static const struct evg_journal_rec example_rec = {
	.producer_id = 7,
	.stream_id = 42,
	.session = 0x0123456789ABCDEFull,
	.seq = 0,
	.ts_ns = 1700000000000000000ull,
	.ingest_ns = 1700000000000001000ull,
	.key = "k1",
	.value = "hello",
	.key_size = 2,
	.value_size = 5,
};

/* Build a batch of n copies of example_rec (offsets first..) in buf. */
static uint32_t
build_batch(uint8_t *buf, unsigned int n, uint64_t first, uint32_t partition)
{
	uint64_t rl = evg_jrn_rec_len(2, 5);
	struct jrn_batch_hdr h = {
		.magic = EVG_JOURNAL_BATCH_MAGIC,
		.hdr_len = EVG_JOURNAL_BATCH_HDR_LEN,
		.length = (uint32_t)(EVG_JOURNAL_BATCH_HDR_LEN + n * rl),
		.count = n,
		.first_offset = first,
		.min_ts = example_rec.ts_ns,
		.max_ts = example_rec.ts_ns,
		.ingest_ns = example_rec.ingest_ns,
		.partition = partition,
	};

	for (unsigned int i = 0; i < n; i++)
		evg_jrn_rec_encode(buf + EVG_JOURNAL_BATCH_HDR_LEN + i * rl,
				   &example_rec, first + i);
	evg_jrn_batch_hdr_encode(&h, buf);
	evg_st32(buf + JRN_B_CRC, evg_jrn_batch_crc(buf, h.length));
	return h.length;
}

/* As the cursor does: a length past what was read is not a batch. */
static int
verify(uint8_t *buf, uint32_t partition)
{
	struct jrn_batch_hdr h;

	evg_jrn_batch_hdr_decode(buf, &h);
	if (h.length > 512)
		return -EBADMSG;
	return evg_jrn_batch_verify(buf, &h, partition);
}

Test(journal_format, documented_example_batch_is_byte_exact)
{
	uint8_t want[EXAMPLE_LEN], got[256];
	uint32_t len;

	unhex(example_hex, want, sizeof(want));
	memset(got, 0xEE, sizeof(got));
	len = build_batch(got, 1, 0, 0);
	cr_assert_eq(len, EXAMPLE_LEN, "batch length %" PRIu32, len);
	for (unsigned int i = 0; i < EXAMPLE_LEN; i++)
		cr_assert_eq(got[i], want[i],
			     "byte %u: 0x%02x, docs/storage.md says 0x%02x", i,
			     got[i], want[i]);
	cr_assert_eq(evg_ld32(got + JRN_B_CRC), EXAMPLE_CRC);
	cr_assert_eq(verify(want, 0), 0, "the documented batch must verify");
}

Test(journal_format, crc_is_crc32c_over_the_batch_with_its_field_zero)
{
	uint8_t b[EXAMPLE_LEN];

	unhex(example_hex, b, sizeof(b));
	memset(b + JRN_B_CRC, 0, 4);
	cr_assert_eq(evg_evf_crc32c(b, sizeof(b)), EXAMPLE_CRC);
	/* Whatever the field holds, it is read as zero. */
	evg_st32(b + JRN_B_CRC, 0xDEADBEEF);
	cr_assert_eq(evg_jrn_batch_crc(b, sizeof(b)), EXAMPLE_CRC);
	cr_assert_eq(evg_ld32(b + JRN_B_CRC), 0xDEADBEEF,
		     "the field is restored");
}

Test(journal_format, every_byte_of_the_batch_is_covered_by_the_crc)
{
	uint8_t b[512];
	uint32_t len = build_batch(b, 3, 100, 2);

	cr_assert_leq(len, sizeof(b));

	for (uint32_t i = 0; i < len; i++) {
		if (i >= JRN_B_CRC && i < JRN_B_CRC + 4)
			continue;
		b[i] ^= 0x01;
		cr_assert_eq(verify(b, 2), -EBADMSG,
			     "a flipped bit at byte %" PRIu32 " went unseen",
			     i);
		b[i] ^= 0x01;
	}
	cr_assert_eq(verify(b, 2), 0);
}

Test(journal_format, batch_header_round_trips)
{
	struct jrn_batch_hdr in =
				     {
					     .magic = EVG_JOURNAL_BATCH_MAGIC,
					     .hdr_len = 64,
					     .flags = 0,
					     .length = 4096,
					     .count = 17,
					     .first_offset = 1ull << 40,
					     .min_ts = 5,
					     .max_ts = 9,
					     .ingest_ns = 11,
					     .partition = 1023,
					     .crc32c = 0xA5A5A5A5,
				     },
			     out;
	uint8_t buf[64];

	memset(buf, 0xFF, sizeof(buf));
	evg_jrn_batch_hdr_encode(&in, buf);
	evg_jrn_batch_hdr_decode(buf, &out);
	cr_assert_eq(memcmp(&in, &out, sizeof(in)), 0);
	for (unsigned int i = 52; i < 60; i++)
		cr_assert_eq(buf[i], 0, "reserved byte %u is not zero", i);
}

Test(journal_format, record_round_trips_with_zero_padding)
{
	uint8_t buf[256];
	struct evg_journal_rec out;
	uint64_t off = 0;
	int64_t len;

	memset(buf, 0xFF, sizeof(buf));
	evg_jrn_rec_encode(buf, &example_rec, 77);
	len = evg_jrn_rec_decode(buf, sizeof(buf), &out, &off);
	cr_assert_eq(len, 72);
	cr_assert_eq(off, 77);
	cr_assert_eq(buf[71], 0, "padding must be zero");
	cr_assert(out.producer_id == 7 && out.stream_id == 42 &&
		  out.session == example_rec.session && out.seq == 0 &&
		  out.ts_ns == example_rec.ts_ns &&
		  out.ingest_ns == example_rec.ingest_ns);
	cr_assert(out.key_size == 2 && memcmp(out.key, "k1", 2) == 0);
	cr_assert(out.value_size == 5 && memcmp(out.value, "hello", 5) == 0);
}

Test(journal_format, record_with_key_over_65535_bytes_has_no_length)
{
	cr_assert_eq(evg_jrn_rec_len(65536, 0), 0);
	cr_assert_eq(evg_jrn_rec_len(65535, 1), 64 + 65536);
	cr_assert_eq(evg_jrn_rec_len(1, UINT32_MAX), 0);
}

Test(journal_format, batch_with_wrong_partition_or_gapped_offsets_is_bad)
{
	uint8_t b[512];
	uint32_t len = build_batch(b, 2, 10, 1);

	cr_assert_eq(verify(b, 0), -EBADMSG, "partition 1 read as 0");
	/* Second record claims offset 12; the CRC is made to match. */
	evg_st64(b + 64 + 72 + 8, 12);
	evg_st32(b + JRN_B_CRC, evg_jrn_batch_crc(b, len));
	cr_assert_eq(verify(b, 1), -EBADMSG);
}

Test(journal_format, batch_whose_records_overrun_its_length_is_bad)
{
	uint8_t b[512];
	uint32_t len = build_batch(b, 2, 0, 0);

	evg_st32(b + JRN_B_LENGTH, len - 8);
	evg_st32(b + JRN_B_CRC, evg_jrn_batch_crc(b, len - 8));
	cr_assert_eq(verify(b, 0), -EBADMSG);
	evg_st32(b + JRN_B_LENGTH, len);
	evg_st32(b + JRN_B_COUNT, 3);
	evg_st32(b + JRN_B_CRC, evg_jrn_batch_crc(b, len));
	cr_assert_eq(verify(b, 0), -EBADMSG, "count 3 with 2 records");
}

Test(journal_format, segment_names_are_twenty_digit_offsets)
{
	char name[64];
	uint64_t base = 0;

	evg_jrn_file_name(name, sizeof(name), 3, 4096, ".seg");
	cr_assert_str_eq(name, "p0003/00000000000000004096.seg");
	cr_assert_eq(
		evg_jrn_parse_name("00000000000000004096.seg", ".seg", &base),
		0);
	cr_assert_eq(base, 4096);
	cr_assert_eq(
		evg_jrn_parse_name("18446744073709551615.idx", ".idx", &base),
		0);
	cr_assert_eq(base, UINT64_MAX);
	cr_assert_lt(
		evg_jrn_parse_name("18446744073709551616.seg", ".seg", &base),
		0, "overflow accepted");
	cr_assert_lt(evg_jrn_parse_name("4096.seg", ".seg", &base), 0);
	cr_assert_lt(evg_jrn_parse_name("00000000000000004096.seg.tmp", ".seg",
					&base),
		     0);
}

static uint64_t
state_of(struct jrn_ptable *pt, uint32_t producer, uint32_t stream,
	 uint64_t *next)
{
	for (uint32_t i = 0; i < pt->cap; i++)
		if (pt->t[i].used &&
		    pt->t[i].key == ((uint64_t)producer << 32 | stream)) {
			*next = pt->t[i].next_seq;
			return pt->t[i].session;
		}
	cr_assert_fail("no state for (%" PRIu32 ", %" PRIu32 ")", producer,
		       stream);
	return 0;
}

Test(journal_format, producer_state_keeps_highest_session_then_highest_seq)
{
	struct jrn_ptable pt;
	uint64_t next = 0;

	cr_assert_eq(evg_jrn_ptable_init(&pt), 0);
	evg_jrn_ptable_update(&pt, 1, 2, 5, 10);
	evg_jrn_ptable_update(&pt, 1, 2, 5, 3); /* older seq */
	cr_assert_eq(state_of(&pt, 1, 2, &next), 5);
	cr_assert_eq(next, 11);
	evg_jrn_ptable_update(&pt, 1, 2, 4, 99); /* fenced session */
	cr_assert_eq(state_of(&pt, 1, 2, &next), 5);
	cr_assert_eq(next, 11);
	evg_jrn_ptable_update(&pt, 1, 2, 6, 0); /* new session */
	cr_assert_eq(state_of(&pt, 1, 2, &next), 6);
	cr_assert_eq(next, 1);
	cr_assert_eq(pt.n, 1);
	evg_jrn_ptable_free(&pt);
}

Test(journal_format, producer_table_grows_and_keeps_every_key)
{
	struct jrn_ptable pt;
	uint64_t next = 0;

	cr_assert_eq(evg_jrn_ptable_init(&pt), 0);
	for (uint32_t k = 0; k < 10000; k++) {
		cr_assert_eq(evg_jrn_ptable_reserve(&pt, 1), 0);
		evg_jrn_ptable_update(&pt, k, k * 3, k + 1, k);
	}
	cr_assert_eq(pt.n, 10000);
	for (uint32_t k = 0; k < 10000; k += 97) {
		cr_assert_eq(state_of(&pt, k, k * 3, &next), k + 1);
		cr_assert_eq(next, k + 1);
	}
	evg_jrn_ptable_free(&pt);
}

static void
write_ckpt(const char *dir, unsigned int slot, const struct jrn_ptable *pt,
	   const struct jrn_ckpt_pos *pos, bool corrupt)
{
	char path[4096], name[64];
	uint8_t *buf = calloc(1, jrn_align(evg_jrn_ckpt_len(pt)));
	uint64_t len = evg_jrn_ckpt_encode(pt, 0, pos, buf);
	int fd;

	if (corrupt)
		buf[len - 1] ^= 0x40;
	evg_jrn_ckpt_name(name, sizeof(name), 0, slot);
	cr_assert_lt(snprintf(path, sizeof(path), "%s/%s", dir, name),
		     (int)sizeof(path));
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, buf, len), (ssize_t)len);
	close(fd);
	free(buf);
}

struct ckpt_fixture {
	char dir[256], pdir[1024]; /* the log, its partition 0 */
	struct jrn_fs fs;
	struct jrn_ptable a, b, got;
};

static struct ckpt_fixture cfx;

static void
ckpt_setup(void)
{
	struct ckpt_fixture *f = &cfx;

	tu_mkdtemp(f->dir, sizeof(f->dir));
	cr_assert_lt(snprintf(f->pdir, sizeof(f->pdir), "%s/p0000", f->dir),
		     (int)sizeof(f->pdir));
	cr_assert_eq(mkdir(f->pdir, 0755), 0);
	f->fs = (struct jrn_fs){.dirfd = open(f->dir, O_RDONLY | O_DIRECTORY)};
	cr_assert_eq(evg_jrn_ptable_init(&f->a), 0);
	cr_assert_eq(evg_jrn_ptable_init(&f->b), 0);
	cr_assert_eq(evg_jrn_ptable_init(&f->got), 0);
	evg_jrn_ptable_update(&f->a, 1, 1, 7, 100);
	evg_jrn_ptable_update(&f->a, 2, 5, 8, 0);
	evg_jrn_ptable_update(&f->b, 1, 1, 9, 3);
}

static void
ckpt_teardown(void)
{
	struct ckpt_fixture *f = &cfx;

	close(f->fs.dirfd);
	evg_jrn_ptable_free(&f->a);
	evg_jrn_ptable_free(&f->b);
	evg_jrn_ptable_free(&f->got);
	tu_rmrf(f->dir);
}

TestSuite(journal_checkpoint, .init = ckpt_setup, .fini = ckpt_teardown);

Test(journal_checkpoint, newest_valid_checkpoint_within_the_log_is_loaded)
{
	struct ckpt_fixture *f = &cfx;
	struct jrn_ckpt_pos p1 = {.gen = 1, .next_offset = 50};
	struct jrn_ckpt_pos p2 = {.gen = 2, .next_offset = 80};
	struct jrn_ckpt_pos got = {0};
	unsigned int stale = 0;
	uint64_t next = 0;

	write_ckpt(f->dir, 1, &f->a, &p1, false);
	write_ckpt(f->dir, 0, &f->b, &p2, false);
	cr_assert_eq(evg_jrn_ckpt_load(&f->fs, 0, 100, &f->got, &got, &stale),
		     1);
	cr_assert_eq(got.gen, 2);
	cr_assert_eq(got.next_offset, 80);
	cr_assert_eq(stale, 0);
	cr_assert_eq(state_of(&f->got, 1, 1, &next), 9);
	cr_assert_eq(next, 4);
}

Test(journal_checkpoint, torn_newest_checkpoint_falls_back_to_the_older)
{
	struct ckpt_fixture *f = &cfx;
	struct jrn_ckpt_pos p1 = {.gen = 1, .next_offset = 50};
	struct jrn_ckpt_pos p2 = {.gen = 2, .next_offset = 80};
	struct jrn_ckpt_pos got = {0};
	unsigned int stale = 0;
	uint64_t next = 0;

	write_ckpt(f->dir, 1, &f->a, &p1, false);
	write_ckpt(f->dir, 0, &f->b, &p2, true);
	cr_assert_eq(evg_jrn_ckpt_load(&f->fs, 0, 100, &f->got, &got, &stale),
		     1);
	cr_assert_eq(got.gen, 1);
	cr_assert_eq(f->got.n, 2);
	cr_assert_eq(state_of(&f->got, 2, 5, &next), 8);
	cr_assert_eq(next, 1);
}

Test(journal_checkpoint, checkpoint_past_the_recovered_end_is_stale)
{
	struct ckpt_fixture *f = &cfx;
	struct jrn_ckpt_pos p1 = {.gen = 1, .next_offset = 50};
	struct jrn_ckpt_pos p2 = {.gen = 2, .next_offset = 80};
	struct jrn_ckpt_pos got = {0};
	unsigned int stale = 0;

	write_ckpt(f->dir, 1, &f->a, &p1, false);
	write_ckpt(f->dir, 0, &f->b, &p2, false);
	cr_assert_eq(evg_jrn_ckpt_load(&f->fs, 0, 60, &f->got, &got, &stale),
		     1);
	cr_assert_eq(got.gen, 1);
	cr_assert_eq(stale, 1u, "slot 0 (offset 80 > end 60) must be stale");
	cr_assert_eq(evg_jrn_ckpt_load(&f->fs, 0, 10, &f->got, &got, &stale), 0,
		     "no checkpoint fits a log that ends at 10");
}
