/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The EVF/1 subscriber extension (evg_evf_sub.h): every encoder and
 * decoder both ways, the DELIVER builder and iterator, group names and
 * the name tables. The validation rules are in test_evf_sub_validate.c.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "evf_sub_testutil.h"

/* ---- encoders and decoders ------------------------------------------- */

Test(evf_sub_codec, subscribe_round_trip)
{
	struct evg_evf_sub_subscribe s = {.cookie = 0xC00C1E,
					  .start = EVG_EVF_SUB_TIME,
					  .policy = EVG_EVF_SUB_POLICY_WEIGHTED,
					  .nb_streams = 3,
					  .weight = 1000,
					  .credit_events = 4096,
					  .credit_bytes = UINT32_MAX,
					  .start_time = 1700000000000000000ull,
					  .group = "billing.v2_x-1"};
	struct evg_evf_sub_subscribe d;
	struct evg_evf_hdr h;

	for (unsigned int i = 0; i < 3; i++)
		s.streams[i] = (struct evg_evf_sub_stream){
			.stream_id = 7 * i, .offset = 1ull << (20 + i)};
	cr_assert_eq(evg_evf_sub_subscribe_encode(fr, sizeof(fr), &ids, &s),
		     152);
	cr_assert_eq(evg_evf_validate(fr, 152, &h), EVG_EVF_OK);
	cr_expect_eq(h.type, EVG_EVF_SUBSCRIBE);
	cr_expect_eq(h.producer_id, CONSUMER);
	cr_expect_eq(h.session, SESSION);
	cr_expect_eq(h.stream_id, 0);
	cr_expect_eq(h.seq, 0);
	cr_expect_eq(h.count, 0);
	cr_expect_eq(fr[48], EVG_EVF_SUB_VERSION);
	evg_evf_sub_subscribe_decode(fr, &d);
	cr_expect_eq(memcmp(&d, &s, sizeof(s)), 0, "decoded differs");
}

Test(evf_sub_codec, subscribe_lengths_follow_the_streams)
{
	make_subscribe(1, "");
	cr_expect_eq(fr_len, EVG_EVF_SUB_SUBSCRIBE_MIN, "padded to 128");
	for (unsigned int i = 120; i < 128; i++)
		cr_expect_eq(fr[i], 0, "padding byte %u", i);
	make_subscribe(2, "");
	cr_expect_eq(fr_len, 136);
	make_subscribe(16, "g");
	cr_expect_eq(fr_len, 104 + 16 * 16);
}

Test(evf_sub_codec, subscribe_encode_rejects_bad_arguments)
{
	struct evg_evf_sub_subscribe s = {.nb_streams = 1};
	struct evg_evf_sub_ids bad = ids;
	uint8_t b[512];

	cr_expect_eq(evg_evf_sub_subscribe_encode(b, 127, &ids, &s), -ENOSPC);
	cr_expect_eq(evg_evf_sub_subscribe_encode(b, sizeof(b), &ids, NULL),
		     -EINVAL);
	bad.consumer_id = 0;
	cr_expect_eq(evg_evf_sub_subscribe_encode(b, sizeof(b), &bad, &s),
		     -EINVAL);
	bad = ids;
	bad.session = 0;
	cr_expect_eq(evg_evf_sub_subscribe_encode(b, sizeof(b), &bad, &s),
		     -EINVAL);
	s.nb_streams = 0;
	cr_expect_eq(evg_evf_sub_subscribe_encode(b, sizeof(b), &ids, &s),
		     -EINVAL);
	s.nb_streams = 17;
	cr_expect_eq(evg_evf_sub_subscribe_encode(b, sizeof(b), &ids, &s),
		     -EINVAL);
	s.nb_streams = 2; /* both stream 0 */
	cr_expect_eq(evg_evf_sub_subscribe_encode(b, sizeof(b), &ids, &s),
		     -EINVAL);
	s.nb_streams = 1;
	s.start = 4;
	cr_expect_eq(evg_evf_sub_subscribe_encode(b, sizeof(b), &ids, &s),
		     -EINVAL);
	s.start = 0;
	s.policy = 6;
	cr_expect_eq(evg_evf_sub_subscribe_encode(b, sizeof(b), &ids, &s),
		     -EINVAL);
	s.policy = 0;
	s.weight = 1001;
	cr_expect_eq(evg_evf_sub_subscribe_encode(b, sizeof(b), &ids, &s),
		     -EINVAL);
	s.weight = 0;
	strcpy(s.group, "a b");
	cr_expect_eq(evg_evf_sub_subscribe_encode(b, sizeof(b), &ids, &s),
		     -EINVAL);
	memset(s.group, 'a', sizeof(s.group)); /* 32 characters, no NUL */
	cr_expect_eq(evg_evf_sub_subscribe_encode(b, sizeof(b), &ids, &s),
		     -EINVAL);
}

Test(evf_sub_codec, credit_round_trip)
{
	struct evg_evf_sub_credit c = {.received = 1ull << 40,
				       .token = 0x0123456789ABCDEFull,
				       .processed = (1ull << 40) - 3,
				       .credit_events = 4096,
				       .credit_bytes =
					       EVG_EVF_SUB_NO_BYTE_LIMIT,
				       .flags = 0xFF};
	struct evg_evf_sub_credit d;
	struct evg_evf_hdr h;

	cr_assert_eq(evg_evf_sub_credit_encode(fr, sizeof(fr), &ids, &c), 64);
	cr_assert_eq(evg_evf_validate(fr, 64, &h), EVG_EVF_OK);
	cr_expect_eq(h.seq, c.received);
	cr_expect_eq(h.flags, EVG_EVF_SUB_F_NAK | EVG_EVF_SUB_F_COMMIT,
		     "reserved flag bits are not sent");
	evg_evf_sub_credit_decode(fr, &d);
	c.flags = EVG_EVF_SUB_F_NAK | EVG_EVF_SUB_F_COMMIT;
	cr_expect_eq(d.received, c.received);
	cr_expect_eq(d.token, c.token);
	cr_expect_eq(d.processed, c.processed);
	cr_expect_eq(d.credit_events, c.credit_events);
	cr_expect_eq(d.credit_bytes, c.credit_bytes);
	cr_expect_eq(d.flags, c.flags);
	c.processed = c.received + 1;
	cr_expect_eq(evg_evf_sub_credit_encode(fr, sizeof(fr), &ids, &c),
		     -EINVAL);
	c.processed = 0;
	cr_expect_eq(evg_evf_sub_credit_encode(fr, 63, &ids, &c), -ENOSPC);
}

Test(evf_sub_codec, unsubscribe_round_trip)
{
	uint64_t token = 0, processed = 0;
	struct evg_evf_hdr h;

	cr_assert_eq(evg_evf_sub_unsubscribe_encode(fr, sizeof(fr), &ids,
						    0xFEEDull, 99),
		     48);
	cr_assert_eq(evg_evf_validate(fr, 48, &h), EVG_EVF_OK);
	cr_expect_eq(h.type, EVG_EVF_UNSUBSCRIBE);
	cr_expect_eq(h.seq, 99, "seq = processed");
	evg_evf_sub_unsubscribe_decode(fr, &token, &processed);
	cr_expect_eq(token, 0xFEEDull);
	cr_expect_eq(processed, 99);
	cr_expect_eq(evg_evf_sub_unsubscribe_encode(fr, 47, &ids, 1, 0),
		     -ENOSPC);
}

Test(evf_sub_codec, challenge_round_trip)
{
	struct evg_evf_hdr h;

	cr_assert_eq(evg_evf_sub_challenge_encode(fr, sizeof(fr), &ids,
						  0xC00C1E5EEDull),
		     48);
	cr_assert_eq(evg_evf_validate(fr, 48, &h), EVG_EVF_BAD_DIRECTION);
	cr_expect_eq(h.type, EVG_EVF_CHALLENGE);
	cr_expect_eq(h.count, 0);
	cr_expect_eq(evg_evf_sub_challenge_cookie(fr), 0xC00C1E5EEDull);
}

Test(evf_sub_codec, subscribed_round_trip)
{
	struct evg_evf_sub_subscribed s = {.token = 0xABCDEF0123456789ull,
					   .timeout_ms = 10000,
					   .max_inflight = 65536,
					   .flags = EVG_EVF_SUB_F_RESUMED,
					   .members = 3,
					   .partitions = 8,
					   .nb = 16};
	struct evg_evf_sub_subscribed d;
	struct evg_evf_hdr h;

	for (unsigned int i = 0; i < 16; i++)
		s.pos[i] = (struct evg_evf_sub_start_pos){.stream_id = i * 3,
							  .partition = i % 8,
							  .start = 100 + i,
							  .end = 1ull << 33};
	cr_assert_eq(evg_evf_sub_subscribed_encode(fr, sizeof(fr), &ids, &s),
		     64 + 24 * 16);
	cr_assert_eq(evg_evf_validate(fr, 64 + 24 * 16, &h),
		     EVG_EVF_BAD_DIRECTION);
	cr_expect_eq(h.count, 16);
	cr_expect_eq(h.seq, 0, "the first dseq");
	evg_evf_sub_subscribed_decode(fr, &d);
	cr_expect_eq(memcmp(&d, &s, sizeof(s)), 0, "decoded differs");
	s.nb = 0;
	cr_expect_eq(evg_evf_sub_subscribed_encode(fr, sizeof(fr), &ids, &s),
		     -EINVAL);
	s.nb = 17;
	cr_expect_eq(evg_evf_sub_subscribed_encode(fr, sizeof(fr), &ids, &s),
		     -EINVAL);
}

Test(evf_sub_codec, committed_round_trip)
{
	struct evg_evf_sub_committed c = {.processed = 777, .nb = 16};
	struct evg_evf_sub_committed d;
	struct evg_evf_hdr h;

	for (unsigned int i = 0; i < 16; i++)
		c.pos[i] = (struct evg_evf_sub_commit_pos){
			.stream_id = i, .partition = i % 4, .offset = 10 * i};
	cr_assert_eq(evg_evf_sub_committed_encode(fr, sizeof(fr), &ids, &c),
		     40 + 16 * 16);
	cr_assert_eq(evg_evf_validate(fr, 40 + 16 * 16, &h),
		     EVG_EVF_BAD_DIRECTION);
	cr_expect_eq(h.seq, 777);
	evg_evf_sub_committed_decode(fr, &d);
	cr_expect_eq(memcmp(&d, &c, sizeof(c)), 0, "decoded differs");
	c.nb = 0; /* nothing committed yet is a valid answer */
	cr_assert_eq(evg_evf_sub_committed_encode(fr, sizeof(fr), &ids, &c),
		     40);
	cr_expect_eq(evg_evf_validate(fr, 40, NULL), EVG_EVF_BAD_DIRECTION);
	evg_evf_sub_committed_decode(fr, &d);
	cr_expect_eq(d.nb, 0);
	c.nb = 17;
	cr_expect_eq(evg_evf_sub_committed_encode(fr, sizeof(fr), &ids, &c),
		     -EINVAL);
}

Test(evf_sub_codec, sub_error_round_trip)
{
	struct evg_evf_hdr h;

	for (unsigned int r = 1; r < EVG_EVF_SUB_ERR_MAX; r++) {
		cr_assert_eq(evg_evf_sub_error_encode(fr, sizeof(fr), &ids,
						      (enum evg_evf_sub_error)r,
						      1000 + r),
			     40);
		cr_assert_eq(evg_evf_validate(fr, 40, &h),
			     EVG_EVF_BAD_DIRECTION);
		cr_expect_eq(h.type, EVG_EVF_SUB_ERROR);
		cr_expect_eq(h.count, r, "reason in count");
		cr_expect_eq(h.seq, 1000 + r, "detail in seq");
	}
	cr_expect_eq(evg_evf_sub_error_encode(fr, sizeof(fr), &ids, 0, 0),
		     -EINVAL);
	cr_expect_eq(evg_evf_sub_error_encode(fr, sizeof(fr), &ids,
					      EVG_EVF_SUB_ERR_MAX, 0),
		     -EINVAL);
	cr_expect_eq(
		evg_evf_sub_error_encode(fr, 39, &ids, EVG_EVF_SUB_ERR_FULL, 0),
		-ENOSPC);
}

/* ---- DELIVER builder and iterator --------------------------------------- */

Test(evf_sub_deliver, builder_and_iterator_round_trip)
{
	struct evg_evf_sub_iter it;
	struct evg_evf_sub_record r;
	struct evg_evf_hdr h;
	unsigned int n = 0;

	make_deliver(5);
	cr_assert_eq(evg_evf_validate(fr, fr_len, &h), EVG_EVF_BAD_DIRECTION);
	cr_expect_eq(h.type, EVG_EVF_DELIVER);
	cr_expect_eq(h.count, 5);
	cr_expect_eq(h.seq, 10, "dseq of the first record");
	cr_expect_eq(h.stream_id, 42);
	cr_expect_eq(fr_len, rec_off(5));
	cr_expect_eq(evg_evf_sub_deliver_partition(fr), 2);
	evg_evf_sub_iter_init(&it, fr);
	while (evg_evf_sub_iter_next(&it, &r)) {
		cr_expect_eq(r.offset, 1000 + n);
		cr_expect_eq(r.session, 77);
		cr_expect_eq(r.seq, n);
		cr_expect_eq(r.ts_ns, 5000 + n);
		cr_expect_eq(r.producer_id, 5);
		cr_expect_eq(r.flags, 0);
		cr_expect_eq(r.key_size, n % 3);
		cr_expect_eq(r.value_size, 5 + n);
		cr_expect_eq(r.key, fr + rec_off(n) + 48, "read in place");
		cr_expect_arr_eq(r.key, "abc", r.key_size);
		cr_expect_arr_eq(r.value, "ijklmnopqrstu", r.value_size);
		n++;
	}
	cr_expect_eq(n, 5);
}

Test(evf_sub_deliver, builder_keeps_only_the_defined_flags)
{
	struct evg_evf_sub_ids d = {.consumer_id = 1, .session = 1};
	struct evg_evf_sub_record r = {.flags = 0xFFFF};
	struct evg_evf_sub_builder b;
	struct evg_evf_sub_iter it;
	int len;

	cr_assert_eq(evg_evf_sub_builder_init(&b, fr, sizeof(fr), &d, 0, 0), 0);
	cr_assert_eq(evg_evf_sub_builder_add(&b, &r), 0, "an empty record");
	len = evg_evf_sub_builder_finish(&b);
	cr_assert_eq(len, 96);
	cr_expect_eq(evg_evf_validate(fr, 96, NULL), EVG_EVF_BAD_DIRECTION);
	evg_evf_sub_iter_init(&it, fr);
	cr_assert(evg_evf_sub_iter_next(&it, &r));
	cr_expect_eq(r.flags, EVG_EVF_SUB_REC_FLAGS, "flags 0x%x", r.flags);
	cr_expect_eq(EVG_EVF_SUB_REC_FLAGS, EVG_EVF_SUB_REC_REDELIVERED |
						    EVG_EVF_SUB_REC_MORE |
						    EVG_EVF_SUB_REC_CONT);
	cr_expect_eq(r.key_size + r.value_size, 0);
	cr_expect_not(evg_evf_sub_iter_next(&it, &r));
}

Test(evf_sub_deliver, builder_fills_to_its_cap_and_room_says_what_fits)
{
	struct evg_evf_sub_ids d = {.consumer_id = 1, .session = 1};
	static const uint8_t v[2000];
	struct evg_evf_sub_builder b;
	struct evg_evf_sub_record r = {.value = v};
	uint8_t before[600];
	int64_t room;
	int n = 0;

	cr_assert_eq(evg_evf_sub_builder_init(&b, fr, 600, &d, 0, 0), 0);
	room = evg_evf_sub_builder_room(&b);
	cr_expect_eq(room, (600 - 48 - 48) & ~7);
	r.value_size = 100;
	while (evg_evf_sub_builder_add(&b, &r) == 0)
		n++;
	cr_expect_eq(n, 3, "(600 - 48) / 152");
	memcpy(before, fr, sizeof(before));
	cr_expect_eq(evg_evf_sub_builder_add(&b, &r), -ENOSPC);
	cr_expect_eq(memcmp(before, fr, sizeof(before)), 0,
		     "a record that does not fit changes nothing");
	room = evg_evf_sub_builder_room(&b);
	cr_assert_geq(room, 0);
	r.value_size = (uint32_t)room;
	cr_expect_eq(evg_evf_sub_builder_add(&b, &r), 0, "room fits");
	cr_expect_eq(evg_evf_sub_builder_room(&b), -1, "not even an empty one");
	cr_assert_leq(evg_evf_sub_builder_finish(&b), 600);
	cr_expect_eq(evg_evf_validate(fr, b.len, NULL), EVG_EVF_BAD_DIRECTION);
}

Test(evf_sub_deliver, builder_errors)
{
	struct evg_evf_sub_ids d = {.consumer_id = 1, .session = 1};
	struct evg_evf_sub_ids zero = {.consumer_id = 0, .session = 1};
	struct evg_evf_sub_record r = {.key_size = 65536};
	struct evg_evf_sub_builder b;

	cr_expect_eq(evg_evf_sub_builder_init(NULL, fr, sizeof(fr), &d, 0, 0),
		     -EINVAL);
	cr_expect_eq(evg_evf_sub_builder_init(&b, NULL, sizeof(fr), &d, 0, 0),
		     -EINVAL);
	cr_expect_eq(evg_evf_sub_builder_init(&b, fr, sizeof(fr), &zero, 0, 0),
		     -EINVAL);
	cr_expect_eq(evg_evf_sub_builder_init(&b, fr, 95, &d, 0, 0), -ENOSPC);
	cr_assert_eq(evg_evf_sub_builder_init(&b, fr, 96, &d, 0, 0), 0);
	cr_expect_eq(evg_evf_sub_builder_finish(&b), -ENODATA);
	cr_expect_eq(evg_evf_sub_builder_add(&b, &r), -EINVAL);
}

Test(evf_sub_deliver, builder_caps_a_large_buffer_at_the_largest_datagram)
{
	struct evg_evf_sub_ids d = {.consumer_id = 1, .session = 1};
	struct evg_evf_sub_builder b;
	uint8_t *big = malloc(1u << 17);

	cr_assert_not_null(big);
	cr_assert_eq(evg_evf_sub_builder_init(&b, big, 1u << 17, &d, 0, 0), 0);
	cr_expect_eq(b.cap, EVG_EVF_MAX_FRAME);
	free(big);
}

Test(evf_sub_deliver, iterator_stops_at_count)
{
	struct evg_evf_sub_iter it;
	struct evg_evf_sub_record r;
	unsigned int n = 0;

	make_deliver(3);
	evg_evf_sub_iter_init(&it, fr);
	it.left = 2; /* a misused iterator stops, it does not overrun */
	while (evg_evf_sub_iter_next(&it, &r))
		n++;
	cr_expect_eq(n, 2);
}

/* ---- group names ------------------------------------------------------ */

Test(evf_sub_group, names_of_1_to_31_allowed_characters_are_valid)
{
	static const char all[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnop"
				  "qrstuvwxyz0123456789._-";
	char name[32];

	for (size_t i = 0; i < sizeof(all) - 1; i++) {
		name[0] = all[i];
		name[1] = '\0';
		cr_expect(evg_evf_sub_group_valid(name), "'%s'", name);
	}
	memset(name, 'x', 31);
	name[31] = '\0';
	cr_expect(evg_evf_sub_group_valid(name), "31 characters");
}

Test(evf_sub_group, empty_long_or_other_characters_are_invalid)
{
	static const char *const bad[] = {
		"",	"a b", "a/b",
		"a:b",	"é",   "a\tb",
		"grp!", "x@y", "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx" /* 32 */};

	cr_expect_not(evg_evf_sub_group_valid(NULL));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_expect_not(evg_evf_sub_group_valid(bad[i]), "'%s'", bad[i]);
}

Test(evf_sub_group, no_group_is_32_zero_bytes)
{
	make_subscribe(1, "");
	for (unsigned int i = 72; i < 104; i++)
		cr_assert_eq(fr[i], 0);
	cr_expect_eq(validate_len(fr_len), EVG_EVF_OK);
	make_subscribe(1, "billing");
	cr_expect_arr_eq(fr + 72, "billing\0", 8);
}

/* ---- names ---------------------------------------------------------- */

Test(evf_sub_names, policies_both_ways)
{
	for (unsigned int p = 1; p < EVG_EVF_SUB_POLICY_MAX; p++) {
		const char *n = evg_evf_sub_policy_name(p);

		cr_assert_not_null(n);
		cr_expect_eq(evg_evf_sub_policy_from_name(n), (int)p, "%s", n);
	}
	cr_expect_str_eq(evg_evf_sub_policy_name(EVG_EVF_SUB_POLICY_KEY_HASH),
			 "key-hash");
	cr_expect_null(evg_evf_sub_policy_name(0));
	cr_expect_null(evg_evf_sub_policy_name(EVG_EVF_SUB_POLICY_MAX));
	cr_expect_eq(evg_evf_sub_policy_from_name("Round-Robin"), -EINVAL);
	cr_expect_eq(evg_evf_sub_policy_from_name(""), -EINVAL);
	cr_expect_eq(evg_evf_sub_policy_from_name(NULL), -EINVAL);
}

Test(evf_sub_names, error_reasons_have_a_name_and_a_description)
{
	for (unsigned int r = 1; r < EVG_EVF_SUB_ERR_MAX; r++) {
		cr_expect_not_null(evg_evf_sub_error_name(r));
		cr_expect_not_null(evg_evf_sub_error_desc(r));
	}
	cr_expect_str_eq(evg_evf_sub_error_name(EVG_EVF_SUB_ERR_UNKNOWN),
			 "UNKNOWN");
	cr_expect_null(evg_evf_sub_error_name(0));
	cr_expect_null(evg_evf_sub_error_name(EVG_EVF_SUB_ERR_MAX));
	cr_expect_null(evg_evf_sub_error_desc(EVG_EVF_SUB_ERR_MAX));
	cr_expect_str_eq(evg_evf_verdict_name(EVG_EVF_BAD_FIELD), "field");
}

/* ---- the worked examples of docs/protocol.md -------------------------- */

static void
unhex(const char *s, uint8_t *out, size_t n)
{
	for (size_t i = 0; i < n; i++)
		cr_assert_eq(sscanf(s + 2 * i, "%2hhx", &out[i]), 1);
}

/* docs/protocol.md, "Worked example: a DELIVER and a CREDIT". */
static const char deliver_vector[] =
	"455646311a000100090000002a00000088776655443322110000000000000000"
	"680000007cbb2b43020000000000000007000000020000000700000000000000"
	"6400000000000000efcdab8967452301000000000000000000002a36fe9c9717"
	"6b3168656c6c6f00";
static const char credit_vector[] =
	"455646311102000009000000000000008877665544332211010000000000000"
	"0400000007710ccf7efbeaddea5a5a5a5010000000000000000100000ffffffff";

Test(evf_sub_vectors, builder_reproduces_the_deliver_example_byte_for_byte)
{
	const struct evg_evf_sub_ids vid = {.consumer_id = 9,
					    .stream_id = 42,
					    .session = 0x1122334455667788ull};
	const struct evg_evf_sub_record r = {
		.offset = 100,
		.session = 0x0123456789ABCDEFull,
		.seq = 0,
		.ts_ns = 1700000000000000000ull,
		.producer_id = 7,
		.key = (const uint8_t *)"k1",
		.key_size = 2,
		.value = (const uint8_t *)"hello",
		.value_size = 5,
	};
	uint8_t want[104], got[256];
	struct evg_evf_sub_builder b;
	struct evg_evf_sub_record d;
	struct evg_evf_sub_iter it;
	struct evg_evf_hdr h;

	unhex(deliver_vector, want, sizeof(want));
	cr_assert_eq(evg_evf_sub_builder_init(&b, got, sizeof(got), &vid, 0, 2),
		     0);
	cr_assert_eq(evg_evf_sub_builder_add(&b, &r), 0);
	cr_assert_eq(evg_evf_sub_builder_finish(&b), 104);
	cr_assert_arr_eq(got, want, sizeof(want));
	cr_assert_eq(evg_evf_validate(want, sizeof(want), &h),
		     EVG_EVF_BAD_DIRECTION);
	evg_evf_sub_iter_init(&it, want);
	cr_assert(evg_evf_sub_iter_next(&it, &d));
	cr_assert_eq(d.offset, 100);
	cr_assert_eq(memcmp(d.value, "hello", 5), 0);
	cr_assert_not(evg_evf_sub_iter_next(&it, &d));
}

Test(evf_sub_vectors, encoder_reproduces_the_credit_example_byte_for_byte)
{
	const struct evg_evf_sub_ids vid = {.consumer_id = 9,
					    .session = 0x1122334455667788ull};
	const struct evg_evf_sub_credit c = {.received = 1,
					     .token = 0xA5A5A5A5DEADBEEFull,
					     .processed = 1,
					     .credit_events = 4096,
					     .credit_bytes = 0xFFFFFFFF,
					     .flags = EVG_EVF_SUB_F_COMMIT};
	uint8_t want[64], got[64];

	unhex(credit_vector, want, sizeof(want));
	cr_assert_eq(evg_evf_sub_credit_encode(got, sizeof(got), &vid, &c),
		     64);
	cr_assert_arr_eq(got, want, sizeof(want));
	cr_assert_eq(evg_evf_validate(want, sizeof(want), NULL), EVG_EVF_OK);
}
