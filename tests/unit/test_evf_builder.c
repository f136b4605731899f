/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * EVF/1 frame builder and iterator: limits, random round trips and every
 * event size that fits a 9000-byte jumbo frame.
 */
#include <errno.h>
#include <string.h>

#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include "evf_testutil.h"

#define JUMBO 9000u
#define JUMBO_MAX_EVENT (JUMBO - EVG_EVF_HDR_LEN - EVG_EVF_REC_HDR_LEN)

static const struct evg_evf_hdr hdr = {
	.producer_id = 1, .stream_id = 2, .session = 3, .seq = 4,
};

Test(evf_builder, init_rejects_bad_arguments)
{
	uint8_t buf[64];
	struct evg_evf_builder b;
	struct evg_evf_hdr h = hdr;

	cr_assert_eq(evg_evf_builder_init(&b, NULL, sizeof(buf), &h), -EINVAL);
	cr_assert_eq(evg_evf_builder_init(&b, buf, 39, &h), -ENOSPC);
	h.producer_id = 0;
	cr_assert_eq(evg_evf_builder_init(&b, buf, sizeof(buf), &h), -EINVAL);
	h = hdr;
	h.session = 0;
	cr_assert_eq(evg_evf_builder_init(&b, buf, sizeof(buf), &h), -EINVAL);
}

Test(evf_builder, finish_without_events_is_refused)
{
	uint8_t buf[64];
	struct evg_evf_builder b;

	cr_assert_eq(evg_evf_builder_init(&b, buf, sizeof(buf), &hdr), 0);
	cr_assert_eq(evg_evf_builder_finish(&b), -ENODATA);
}

Test(evf_builder, event_that_does_not_fit_leaves_frame_unchanged)
{
	uint8_t buf[40 + 32 + 8], copy[sizeof(buf)];
	struct evg_evf_builder b;

	memset(buf, 0x5A, sizeof(buf));
	cr_assert_eq(evg_evf_builder_init(&b, buf, sizeof(buf), &hdr), 0);
	cr_assert_eq(evg_evf_builder_add(&b, "k", 1, "0123456789abcde", 15, 1), 0);
	memcpy(copy, buf, sizeof(buf));
	cr_assert_eq(evg_evf_builder_add(&b, NULL, 0, "x", 1, 2), -ENOSPC,
		     "16 + 8 bytes do not fit in the 8 left");
	cr_assert_arr_eq(buf, copy, sizeof(buf));
	cr_assert_eq(evg_evf_builder_count(&b), 1);
	cr_assert_eq(evg_evf_builder_finish(&b), 72);
	cr_assert_eq(evg_evf_validate(buf, 72, NULL), EVG_EVF_OK);
}

Test(evf_builder, key_over_65535_bytes_is_invalid)
{
	static uint8_t buf[EVG_EVF_MAX_FRAME], key[70000];
	struct evg_evf_builder b;

	cr_assert_eq(evg_evf_builder_init(&b, buf, sizeof(buf), &hdr), 0);
	cr_assert_eq(evg_evf_builder_add(&b, key, 65536, NULL, 0, 0), -EINVAL);
	cr_assert_eq(evg_evf_builder_add(&b, key, 65535, NULL, 0, 0), -ENOSPC,
		     "a 65535-byte key does not fit a UDP datagram");
	cr_assert_eq(evg_evf_builder_add(&b, key, 60000, NULL, 0, 0), 0);
}

Test(evf_builder, bulk_add_returns_how_many_fit)
{
	uint8_t buf[1472];
	uint8_t value[64];
	struct evg_evf_event evs[40];
	struct evg_evf_builder b;
	struct evg_evf_iter it;
	struct evg_evf_event ev;
	unsigned int n, seen = 0;
	int len;

	memset(value, 'q', sizeof(value));
	for (unsigned int i = 0; i < 40; i++)
		evs[i] = (struct evg_evf_event){ .value = value,
						 .value_size = 64,
						 .ts_ns = i };
	cr_assert_eq(evg_evf_builder_init(&b, buf, sizeof(buf), &hdr), 0);
	n = evg_evf_builder_add_bulk(&b, evs, 40);
	/* (1472 - 40) / (16 + 64) = 17 events of 64 bytes. */
	cr_assert_eq(n, 17);
	len = evg_evf_builder_finish(&b);
	cr_assert_eq(len, 40 + 17 * 80);
	cr_assert_eq(evg_evf_validate(buf, (size_t)len, NULL), EVG_EVF_OK);
	evg_evf_iter_init(&it, buf);
	while (evg_evf_iter_next(&it, &ev))
		cr_assert_eq(ev.ts_ns, seen++);
	cr_assert_eq(seen, 17);
}

Test(evf_builder, max_event_size_per_frame_length)
{
	cr_assert_eq(evg_evf_max_event_size(1472), 1416);
	cr_assert_eq(evg_evf_max_event_size(JUMBO), JUMBO_MAX_EVENT);
	cr_assert_eq(evg_evf_max_event_size(56), 0);
	cr_assert_eq(evg_evf_max_event_size(55), -ENOSPC);
	cr_assert_eq(evg_evf_max_event_size(63), 0);
	cr_assert_eq(evg_evf_max_event_size(64), 8);
}

Test(evf_iter, iterator_stops_at_count_even_with_bytes_left)
{
	uint8_t buf[256];
	uint32_t len = tu_data_frame(buf, sizeof(buf), 3, 4);
	struct evg_evf_iter it;
	struct evg_evf_event ev;
	unsigned int n = 0;

	cr_assert_eq(evg_evf_validate(buf, len, NULL), EVG_EVF_OK);
	buf[6] = 2; /* caller lied about validation: count 2 of 3 */
	evg_evf_iter_init(&it, buf);
	while (evg_evf_iter_next(&it, &ev))
		n++;
	cr_assert_eq(n, 2);
	buf[6] = 9; /* more records claimed than bytes: stops at the end */
	evg_evf_iter_init(&it, buf);
	for (n = 0; evg_evf_iter_next(&it, &ev);)
		n++;
	cr_assert_eq(n, 3);
}

/* Build a frame of random events, validate it, iterate and compare. */
static void
roundtrip_one(uint64_t *rng, uint8_t *buf, uint8_t *payload)
{
	struct evg_evf_hdr h = {
		.producer_id = (uint32_t)tu_rand(rng) | 1u,
		.stream_id = (uint32_t)tu_rand(rng),
		.session = tu_rand(rng) | 1u,
		.seq = tu_rand(rng),
		.flags = (uint8_t)(tu_rand(rng) & EVG_EVF_FLAG_ACK_NOW),
	};
	uint32_t cap = 56 + (uint32_t)(tu_rand(rng) % (JUMBO - 55));
	struct evg_evf_event evs[64], ev;
	struct evg_evf_builder b;
	struct evg_evf_iter it;
	struct evg_evf_hdr got;
	unsigned int n = 1 + (unsigned int)(tu_rand(rng) % 64), added, i = 0;
	int len;

	for (unsigned int k = 0; k < n; k++) {
		/* The first event always fits; later ones may not. */
		uint32_t lim = k == 0 ? (uint32_t)evg_evf_max_event_size(cap) + 1 : 300;
		uint32_t size = (uint32_t)(tu_rand(rng) % lim);
		uint32_t ks = size ? (uint32_t)(tu_rand(rng) % (size + 1)) : 0;
		uint32_t off = (uint32_t)(tu_rand(rng) % (JUMBO - size));

		evs[k] = (struct evg_evf_event){
			.key = payload + off, .key_size = ks,
			.value = payload + off + ks, .value_size = size - ks,
			.ts_ns = tu_rand(rng),
		};
	}
	cr_assert_eq(evg_evf_builder_init(&b, buf, cap, &h), 0);
	added = evg_evf_builder_add_bulk(&b, evs, n);
	cr_assert_geq(added, 1, "the first event is sized to fit");
	len = evg_evf_builder_finish(&b);
	cr_assert_leq((uint32_t)len, cap);
	cr_assert_eq(evg_evf_validate(buf, (size_t)len, &got), EVG_EVF_OK);
	cr_assert_eq(got.producer_id, h.producer_id);
	cr_assert_eq(got.stream_id, h.stream_id);
	cr_assert_eq(got.session, h.session);
	cr_assert_eq(got.seq, h.seq);
	cr_assert_eq(got.flags, h.flags);
	cr_assert_eq(got.count, added);
	evg_evf_iter_init(&it, buf);
	while (evg_evf_iter_next(&it, &ev)) {
		cr_assert_lt(i, added);
		cr_assert_eq(ev.key_size, evs[i].key_size);
		cr_assert_eq(ev.value_size, evs[i].value_size);
		cr_assert_eq(ev.ts_ns, evs[i].ts_ns);
		cr_assert_arr_eq(ev.key, evs[i].key, ev.key_size);
		cr_assert_arr_eq(ev.value, evs[i].value, ev.value_size);
		i++;
	}
	cr_assert_eq(i, added);
	if (added < n) /* the next event really did not fit */
		cr_assert_gt(evg_evf_record_len(evs[added].key_size +
						evs[added].value_size),
			     cap - (uint32_t)len);
}

Test(evf_roundtrip, hundred_thousand_random_frames)
{
	static uint8_t buf[JUMBO], payload[JUMBO];
	uint64_t rng = 0xE7F1;

	for (size_t i = 0; i < sizeof(payload); i++)
		payload[i] = (uint8_t)tu_rand(&rng);
	for (int i = 0; i < 100000; i++)
		roundtrip_one(&rng, buf, payload);
}

static void
one_event_of_size(uint32_t size)
{
	static uint8_t buf[JUMBO], value[JUMBO];
	struct evg_evf_builder b;
	struct evg_evf_iter it;
	struct evg_evf_event ev;
	uint32_t ks = size < 16 ? size / 2 : 16;
	int len;

	for (uint32_t i = 0; i < size; i++)
		value[i] = (uint8_t)(i * 31 + size);
	cr_assert_eq(evg_evf_builder_init(&b, buf, JUMBO, &hdr), 0);
	cr_assert_eq(evg_evf_builder_add(&b, value, ks, value + ks, size - ks, size),
		     0, "size %u must fit a %u-byte frame", size, JUMBO);
	len = evg_evf_builder_finish(&b);
	cr_assert_eq((uint64_t)len, 40 + evg_evf_record_len(size));
	cr_assert_eq(len % 8, 0);
	cr_assert_eq(evg_evf_validate(buf, (size_t)len, NULL), EVG_EVF_OK,
		     "size %u", size);
	evg_evf_iter_init(&it, buf);
	cr_assert(evg_evf_iter_next(&it, &ev));
	cr_assert_eq(ev.key_size + ev.value_size, size);
	cr_assert_arr_eq(ev.key, value, size);
	cr_assert_eq(ev.ts_ns, size);
	cr_assert_not(evg_evf_iter_next(&it, &ev));
}

ParameterizedTestParameters(evf_sizes, one_event_roundtrips)
{
	static uint32_t sizes[] = {
		0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 15, 16, 17, 63, 64, 65,
		255, 256, 257, 1023, 1024, 1025, 1416, 1417, 4095, 4096,
		8191, 8192, JUMBO_MAX_EVENT - 8, JUMBO_MAX_EVENT - 1,
		JUMBO_MAX_EVENT,
	};

	return cr_make_param_array(uint32_t, sizes, sizeof(sizes) / sizeof(sizes[0]));
}

ParameterizedTest(uint32_t *size, evf_sizes, one_event_roundtrips)
{
	one_event_of_size(*size);
}

Test(evf_sizes, every_size_up_to_the_jumbo_limit)
{
	static uint8_t buf[JUMBO];
	struct evg_evf_builder b;

	for (uint32_t size = 0; size <= JUMBO_MAX_EVENT; size++)
		one_event_of_size(size);
	/* One byte more rounds up past the frame. */
	cr_assert_eq(evg_evf_builder_init(&b, buf, JUMBO, &hdr), 0);
	cr_assert_eq(evg_evf_builder_add(&b, NULL, 0, buf, JUMBO_MAX_EVENT + 1, 0),
		     -ENOSPC);
}
