/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * EVF/1 codec: the protocol's test vectors byte for byte, the CRC, and one
 * test per validation rule.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <criterion/criterion.h>

#include "evf_testutil.h"

/* The two vectors printed in PROTOCOL.md. */
static const char data_vector_hex[] =
	"4556463101000200070000002a000000efcdab896745230100000000000000005800000056ed090f"
	"070000000200000000002a36fe9c97176b3168656c6c6f0008000000000000000000000000000000"
	"776f726c64212121";
static const char ack_vector_hex[] =
	"4556463102000000070000002a000000efcdab89674523010200000000000000280000006c01d39d";

Test(evf_crc, check_value_of_123456789_is_e3069283)
{
	cr_assert_eq(evg_evf_crc32c("123456789", 9), 0xE3069283u);
	cr_assert_eq(evg_evf_crc32c("", 0), 0u);
}

Test(evf_crc, frame_crc_reads_the_crc_field_as_zero)
{
	uint8_t f[128], z[128];
	uint32_t len = tu_data_frame(f, sizeof(f), 2, 13);

	memcpy(z, f, len);
	memset(z + EVG_EVF_CRC_OFF, 0, 4);
	cr_assert_eq(evg_evf_frame_crc(f, len), evg_evf_crc32c(z, len));
	/* Whatever sits in the field does not change the frame CRC. */
	memset(f + EVG_EVF_CRC_OFF, 0xA5, 4);
	cr_assert_eq(evg_evf_frame_crc(f, len), evg_evf_crc32c(z, len));
}

Test(evf_vectors, data_vector_decodes_field_by_field)
{
	uint8_t f[128];
	long len = tu_unhex(data_vector_hex, f, sizeof(f));
	struct evg_evf_hdr h;
	struct evg_evf_iter it;
	struct evg_evf_event ev;

	cr_assert_eq(len, 88);
	cr_assert_eq(evg_evf_validate(f, (size_t)len, &h), EVG_EVF_OK);
	cr_assert_eq(h.magic, EVG_EVF_MAGIC);
	cr_assert_eq(h.type, EVG_EVF_DATA);
	cr_assert_eq(h.flags, 0);
	cr_assert_eq(h.count, 2);
	cr_assert_eq(h.producer_id, 7);
	cr_assert_eq(h.stream_id, 42);
	cr_assert_eq(h.session, 0x0123456789ABCDEFull);
	cr_assert_eq(h.seq, 0);
	cr_assert_eq(h.length, 88);
	cr_assert_eq(h.crc32c, 0x0F09ED56u);

	evg_evf_iter_init(&it, f);
	cr_assert(evg_evf_iter_next(&it, &ev));
	cr_assert_eq(ev.key_size, 2);
	cr_assert_arr_eq(ev.key, "k1", 2);
	cr_assert_eq(ev.value_size, 5);
	cr_assert_arr_eq(ev.value, "hello", 5);
	cr_assert_eq(ev.ts_ns, 1700000000000000000ull);
	cr_assert_eq(ev.key, f + 56, "events are read in place, not copied");
	cr_assert(evg_evf_iter_next(&it, &ev));
	cr_assert_eq(ev.key_size, 0);
	cr_assert_eq(ev.value_size, 8);
	cr_assert_arr_eq(ev.value, "world!!!", 8);
	cr_assert_eq(ev.ts_ns, 0);
	cr_assert_not(evg_evf_iter_next(&it, &ev));
}

Test(evf_vectors, builder_reproduces_data_vector_byte_for_byte)
{
	uint8_t want[128], got[256];
	long len = tu_unhex(data_vector_hex, want, sizeof(want));
	struct evg_evf_hdr h = {
		.producer_id = 7,
		.stream_id = 42,
		.session = 0x0123456789ABCDEFull,
		.seq = 0,
	};
	struct evg_evf_builder b;

	memset(got, 0xEE, sizeof(got));
	cr_assert_eq(evg_evf_builder_init(&b, got, sizeof(got), &h), 0);
	cr_assert_eq(evg_evf_builder_add(&b, "k1", 2, "hello", 5,
					 1700000000000000000ull), 0);
	cr_assert_eq(evg_evf_builder_add(&b, NULL, 0, "world!!!", 8, 0), 0);
	cr_assert_eq(evg_evf_builder_finish(&b), len);
	cr_assert_arr_eq(got, want, (size_t)len);
}

Test(evf_vectors, ack_vector_both_ways)
{
	uint8_t want[64], got[64];
	long len = tu_unhex(ack_vector_hex, want, sizeof(want));
	struct evg_evf_hdr h;

	cr_assert_eq(len, 40);
	cr_assert_eq(evg_evf_control_build(got, EVG_EVF_ACK, 0, 7, 42,
					   0x0123456789ABCDEFull, 2),
		     40);
	cr_assert_arr_eq(got, want, 40);
	/* Decodes fine, but an ACK is never accepted from the network. */
	cr_assert_eq(evg_evf_validate(want, 40, &h), EVG_EVF_BAD_DIRECTION);
	cr_assert_eq(h.type, EVG_EVF_ACK);
	cr_assert_eq(h.seq, 2);
	cr_assert_eq(h.session, 0x0123456789ABCDEFull);
}

/* Every line of the independent implementation's vector file: valid lines
 * are accepted (and rebuilt byte for byte from their events), malformed
 * lines are rejected for exactly the rule they name. */
Test(evf_vectors, tsv_file_verdicts_match)
{
	static char line[65536];
	static uint8_t f[32768], re[32768];
	FILE *fp = fopen(tu_data_path("evf1.tsv"), "r");
	int n_valid = 0, n_bad = 0;

	cr_assert_not_null(fp, "cannot open %s", tu_data_path("evf1.tsv"));
	while (fgets(line, sizeof(line), fp) != NULL) {
		char *verdict, *rule, *note, *hex, *save;
		struct evg_evf_hdr h;
		long len;
		int got;

		if (line[0] == '#' || line[0] == '\n')
			continue;
		line[strcspn(line, "\r\n")] = '\0';
		verdict = strtok_r(line, "\t", &save);
		rule = strtok_r(NULL, "\t", &save);
		note = strtok_r(NULL, "\t", &save);
		hex = strtok_r(NULL, "\t", &save);
		cr_assert(verdict && rule && note, "bad vector line");
		len = tu_unhex(hex ? hex : "", f, sizeof(f));
		cr_assert_geq(len, 0, "bad hex in vector '%s'", note);
		got = evg_evf_validate(f, (size_t)len, &h);
		if (strcmp(verdict, "valid") == 0) {
			n_valid++;
			cr_expect_eq(got, EVG_EVF_OK, "'%s': rejected as %s",
				     note, evg_evf_verdict_name(got));
			if (got == EVG_EVF_OK && h.type == EVG_EVF_DATA) {
				struct evg_evf_builder b;
				struct evg_evf_iter it;
				struct evg_evf_event ev;

				evg_evf_builder_init(&b, re, sizeof(re), &h);
				evg_evf_iter_init(&it, f);
				while (evg_evf_iter_next(&it, &ev))
					cr_assert_eq(evg_evf_builder_add(
							     &b, ev.key, ev.key_size,
							     ev.value, ev.value_size,
							     ev.ts_ns),
						     0);
				cr_expect_eq(evg_evf_builder_finish(&b), len);
				cr_expect_arr_eq(re, f, (size_t)len,
						 "'%s' not rebuilt byte for byte",
						 note);
			}
		} else {
			int want = evg_evf_verdict_from_name(rule);

			n_bad++;
			cr_assert_geq(want, 1, "unknown rule '%s'", rule);
			cr_expect_eq(got, want, "'%s': got %s, want %s", note,
				     evg_evf_verdict_name(got), rule);
		}
	}
	fclose(fp);
	cr_assert_geq(n_valid, 10, "only %d valid vectors read", n_valid);
	cr_assert_geq(n_bad, 20, "only %d malformed vectors read", n_bad);
}

/*
 * One test per validation rule, each breaking exactly one rule of a frame
 * that is otherwise valid (resealed unless the CRC is the point).
 */
static uint8_t frame[512];
static uint32_t frame_len;

static void
make_valid(void)
{
	frame_len = tu_data_frame(frame, sizeof(frame), 3, 10);
	cr_assert_eq(evg_evf_validate(frame, frame_len, NULL), EVG_EVF_OK);
}

static void
set16(uint32_t off, uint16_t v)
{
	frame[off] = (uint8_t)v;
	frame[off + 1] = (uint8_t)(v >> 8);
}

static void
set32(uint32_t off, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		frame[off + i] = (uint8_t)(v >> (8 * i));
}

static enum evg_evf_verdict
reseal_and_validate(uint32_t len)
{
	evg_evf_frame_seal(frame, len);
	return evg_evf_validate(frame, len, NULL);
}

TestSuite(evf_validate, .init = make_valid);

Test(evf_validate, runt_payload_shorter_than_header)
{
	for (uint32_t len = 0; len < EVG_EVF_HDR_LEN; len++)
		cr_assert_eq(evg_evf_validate(frame, len, NULL), EVG_EVF_BAD_RUNT,
			     "%u bytes", len);
}

Test(evf_validate, bad_magic)
{
	frame[3] = '2';
	cr_assert_eq(reseal_and_validate(frame_len), EVG_EVF_BAD_MAGIC);
}

Test(evf_validate, unknown_type)
{
	/* 16-18 and 24-28 are the subscriber extension's. */
	static const uint8_t types[] = { 0, 5, 15, 19, 23, 29, 255 };

	for (size_t i = 0; i < sizeof(types); i++) {
		frame[4] = types[i];
		cr_assert_eq(reseal_and_validate(frame_len), EVG_EVF_BAD_TYPE,
			     "type %u", types[i]);
	}
}

Test(evf_validate, length_field_differs_from_payload)
{
	set32(32, frame_len + 8);
	cr_assert_eq(evg_evf_validate(frame, frame_len, NULL),
		     EVG_EVF_BAD_LENGTH);
	/* A payload longer than the length field is just as wrong. */
	set32(32, frame_len);
	cr_assert_eq(evg_evf_validate(frame, frame_len + 8, NULL),
		     EVG_EVF_BAD_LENGTH);
}

Test(evf_validate, crc_mismatch_on_any_single_bit_flip)
{
	for (uint32_t bit = 0; bit < frame_len * 8; bit++) {
		uint32_t byte = bit / 8;

		/* Flips of magic, type and length are caught by earlier rules. */
		if (byte < 5 || (byte >= 32 && byte < 36))
			continue;
		frame[byte] ^= (uint8_t)(1u << (bit % 8));
		cr_assert_eq(evg_evf_validate(frame, frame_len, NULL),
			     EVG_EVF_BAD_CRC, "bit %u", bit);
		frame[byte] ^= (uint8_t)(1u << (bit % 8));
	}
}

Test(evf_validate, data_with_count_zero)
{
	set16(6, 0);
	cr_assert_eq(reseal_and_validate(frame_len), EVG_EVF_BAD_COUNT);
}

Test(evf_validate, ping_with_nonzero_count)
{
	evg_evf_control_build(frame, EVG_EVF_PING, 0, 7, 42, 99, 0);
	cr_assert_eq(evg_evf_validate(frame, 40, NULL), EVG_EVF_OK);
	set16(6, 1);
	cr_assert_eq(reseal_and_validate(40), EVG_EVF_BAD_COUNT);
}

Test(evf_validate, records_overflow_the_frame)
{
	set16(6, 4); /* one more record than the frame holds */
	cr_assert_eq(reseal_and_validate(frame_len), EVG_EVF_BAD_RECORDS);
	set16(6, 3);
	set32(40, 0xFFFFFFFFu); /* first record's size runs far past the end */
	cr_assert_eq(reseal_and_validate(frame_len), EVG_EVF_BAD_RECORDS);
}

Test(evf_validate, records_underfill_the_frame)
{
	set16(6, 2); /* the third record is left over */
	cr_assert_eq(reseal_and_validate(frame_len), EVG_EVF_BAD_RECORDS);
	/* Eight trailing bytes after the last record. */
	set16(6, 3);
	memset(frame + frame_len, 0, 8);
	set32(32, frame_len + 8);
	cr_assert_eq(reseal_and_validate(frame_len + 8), EVG_EVF_BAD_RECORDS);
}

Test(evf_validate, ping_with_payload)
{
	evg_evf_control_build(frame, EVG_EVF_PING, 0, 7, 42, 99, 0);
	memset(frame + 40, 0, 8);
	set32(32, 48);
	cr_assert_eq(reseal_and_validate(48), EVG_EVF_BAD_RECORDS);
}

Test(evf_validate, key_size_larger_than_size)
{
	/* Third record: size 2 + 10; key_size 13. */
	uint32_t off = 40 + 2 * (uint32_t)evg_evf_record_len(10 + 1);

	cr_assert_eq(frame[off], 12, "layout assumption");
	set16(off + 4, 13);
	cr_assert_eq(reseal_and_validate(frame_len), EVG_EVF_BAD_KEY_SIZE);
	set16(off + 4, 12); /* key_size == size is fine (key only) */
	cr_assert_eq(reseal_and_validate(frame_len), EVG_EVF_OK);
}

Test(evf_validate, attrs_not_zero)
{
	set16(40 + 6, 0x8000);
	cr_assert_eq(reseal_and_validate(frame_len), EVG_EVF_BAD_ATTRS);
}

Test(evf_validate, key_size_reported_before_attrs_of_an_earlier_record)
{
	uint32_t off3 = 40 + 2 * (uint32_t)evg_evf_record_len(11);

	set16(40 + 6, 1);      /* record 1: attrs */
	set16(off3 + 4, 200);  /* record 3: key_size */
	cr_assert_eq(reseal_and_validate(frame_len), EVG_EVF_BAD_KEY_SIZE);
}

Test(evf_validate, producer_zero)
{
	set32(8, 0);
	cr_assert_eq(reseal_and_validate(frame_len), EVG_EVF_BAD_PRODUCER);
}

Test(evf_validate, session_zero)
{
	memset(frame + 16, 0, 8);
	cr_assert_eq(reseal_and_validate(frame_len), EVG_EVF_BAD_SESSION);
}

Test(evf_validate, ack_and_nak_from_the_network)
{
	evg_evf_control_build(frame, EVG_EVF_ACK, 0, 7, 42, 99, 3);
	cr_assert_eq(evg_evf_validate(frame, 40, NULL), EVG_EVF_BAD_DIRECTION);
	evg_evf_control_build(frame, EVG_EVF_NAK, EVG_EVF_NAK_GAP, 7, 42, 99, 3);
	cr_assert_eq(evg_evf_validate(frame, 40, NULL), EVG_EVF_BAD_DIRECTION);
}

Test(evf_validate, reserved_flag_bits_are_ignored)
{
	frame[5] = 0xFE;
	cr_assert_eq(reseal_and_validate(frame_len), EVG_EVF_OK);
}

Test(evf_names, one_unique_name_per_verdict_and_back)
{
	for (int v = 0; v < EVG_EVF_VERDICT_MAX; v++) {
		const char *name = evg_evf_verdict_name(v);

		cr_assert_not_null(name);
		cr_assert_not_null(evg_evf_verdict_desc(v));
		cr_assert_eq(evg_evf_verdict_from_name(name), v, "%s", name);
		for (int w = 0; w < v; w++)
			cr_assert_str_neq(name, evg_evf_verdict_name(w));
	}
	cr_assert_null(evg_evf_verdict_name(EVG_EVF_VERDICT_MAX));
	cr_assert_eq(evg_evf_verdict_from_name("nonsense"), -EINVAL);
	cr_assert_eq(EVG_EVF_NB_MALFORMED, 13);
	cr_assert_str_eq(evg_evf_nak_name(EVG_EVF_NAK_STORAGE), "STORAGE");
	cr_assert_null(evg_evf_nak_name(0));
	cr_assert_null(evg_evf_nak_name(6));
}
