/* SPDX-License-Identifier: BSD-3-Clause */
/* Frames for the subscriber codec tests (evf_sub_testutil.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "evf_sub_testutil.h"

const struct evg_evf_sub_ids ids = {.consumer_id = CONSUMER,
				    .session = SESSION};
uint8_t fr[2048];
uint32_t fr_len;

void
clear(void)
{
	memset(fr, 0, sizeof(fr));
	fr_len = 0;
}

void
set16(uint32_t off, uint16_t v)
{
	fr[off] = (uint8_t)v;
	fr[off + 1] = (uint8_t)(v >> 8);
}

void
set32(uint32_t off, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		fr[off + i] = (uint8_t)(v >> (8 * i));
}

void
set64(uint32_t off, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		fr[off + i] = (uint8_t)(v >> (8 * i));
}

/* Validate the first len bytes of fr from a heap block of that size. */
enum evg_evf_verdict
validate_len(uint32_t len)
{
	uint8_t *p = malloc(len > 0 ? len : 1);
	enum evg_evf_verdict v;

	cr_assert_not_null(p);
	memcpy(p, fr, len);
	v = evg_evf_validate(p, len, NULL);
	free(p);
	return v;
}

/* Set the length field to len, seal, validate len bytes. */
enum evg_evf_verdict
reseal(uint32_t len)
{
	set32(32, len);
	evg_evf_frame_seal(fr, len);
	return validate_len(len);
}

enum evg_evf_verdict
resealed(void)
{
	return reseal(fr_len);
}

static void
make(int len)
{
	cr_assert_gt(len, 0, "encoder: %d", len);
	fr_len = (uint32_t)len;
}

void
make_subscribe(unsigned int nb, const char *group)
{
	struct evg_evf_sub_subscribe s = {.start = EVG_EVF_SUB_OFFSET,
					  .nb_streams = (uint8_t)nb,
					  .credit_events = 64,
					  .credit_bytes = 65536};

	clear();
	snprintf(s.group, sizeof(s.group), "%s", group);
	for (unsigned int i = 0; i < nb; i++)
		s.streams[i] = (struct evg_evf_sub_stream){.stream_id = 100 + i,
							   .offset = i};
	make(evg_evf_sub_subscribe_encode(fr, sizeof(fr), &ids, &s));
	cr_assert_eq(validate_len(fr_len), EVG_EVF_OK);
}

void
make_credit(uint64_t received, uint64_t processed)
{
	struct evg_evf_sub_credit c = {.received = received,
				       .token = 0x70CE,
				       .processed = processed,
				       .credit_events = 8,
				       .credit_bytes = 4096};

	clear();
	make(evg_evf_sub_credit_encode(fr, sizeof(fr), &ids, &c));
	cr_assert_eq(validate_len(fr_len), EVG_EVF_OK);
}

void
make_unsubscribe(void)
{
	clear();
	make(evg_evf_sub_unsubscribe_encode(fr, sizeof(fr), &ids, 0x70CE, 3));
	cr_assert_eq(validate_len(fr_len), EVG_EVF_OK);
}

void
make_challenge(void)
{
	clear();
	make(evg_evf_sub_challenge_encode(fr, sizeof(fr), &ids, 0xC00C1E));
	cr_assert_eq(validate_len(fr_len), EVG_EVF_BAD_DIRECTION);
}

void
make_subscribed(unsigned int nb)
{
	struct evg_evf_sub_subscribed s = {.token = 0x70CE, .nb = (uint8_t)nb};

	clear();
	for (unsigned int i = 0; i < nb; i++)
		s.pos[i].stream_id = 100 + i;
	make(evg_evf_sub_subscribed_encode(fr, sizeof(fr), &ids, &s));
	cr_assert_eq(validate_len(fr_len), EVG_EVF_BAD_DIRECTION);
}

void
make_committed(unsigned int nb)
{
	struct evg_evf_sub_committed c = {.processed = 5, .nb = (uint8_t)nb};

	clear();
	for (unsigned int i = 0; i < nb; i++)
		c.pos[i].stream_id = 100 + i;
	make(evg_evf_sub_committed_encode(fr, sizeof(fr), &ids, &c));
	cr_assert_eq(validate_len(fr_len), EVG_EVF_BAD_DIRECTION);
}

void
make_error(enum evg_evf_sub_error reason)
{
	clear();
	make(evg_evf_sub_error_encode(fr, sizeof(fr), &ids, reason, 42));
	cr_assert_eq(validate_len(fr_len), EVG_EVF_BAD_DIRECTION);
}

/* DELIVER of n records, record i: key of i % 3 bytes, value of 5 + i. */
void
make_deliver(unsigned int n)
{
	struct evg_evf_sub_ids d = ids;
	struct evg_evf_sub_builder b;
	static const uint8_t bytes[64] = "abcdefghijklmnopqrstuvwxyz";

	d.stream_id = 42;
	clear();
	cr_assert_eq(evg_evf_sub_builder_init(&b, fr, sizeof(fr), &d, 10, 2),
		     0);
	for (unsigned int i = 0; i < n; i++) {
		struct evg_evf_sub_record r = {.offset = 1000 + i,
					       .session = 77,
					       .seq = i,
					       .ts_ns = 5000 + i,
					       .producer_id = 5,
					       .key_size = i % 3,
					       .value_size = 5 + i,
					       .key = bytes,
					       .value = bytes + 8};

		cr_assert_eq(evg_evf_sub_builder_add(&b, &r), 0);
	}
	make(evg_evf_sub_builder_finish(&b));
	cr_assert_eq(validate_len(fr_len), EVG_EVF_BAD_DIRECTION);
}

/* Offset of DELIVER record i as make_deliver() lays them out. */
uint32_t
rec_off(unsigned int i)
{
	uint32_t off = EVG_EVF_SUB_DELIVER_FIXED;

	for (unsigned int k = 0; k < i; k++)
		off += (uint32_t)evg_evf_sub_record_len(k % 3 + 5 + k);
	return off;
}

void
make_type(unsigned int t)
{
	switch (t) {
	case 0:
		make_subscribe(1, "");
		break;
	case 1:
		make_credit(1, 0);
		break;
	case 2:
		make_unsubscribe();
		break;
	case 3:
		make_challenge();
		break;
	case 4:
		make_subscribed(1);
		break;
	case 5:
		make_deliver(1);
		break;
	case 6:
		make_committed(0);
		break;
	default:
		make_error(EVG_EVF_SUB_ERR_FULL);
		break;
	}
}
