/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Fuzz target: EVF/1 validation and record iteration over arbitrary bytes.
 *
 * Beyond "no crash, no sanitizer report", it checks invariants and aborts
 * when one breaks:
 * - the verdict is a known one;
 * - an accepted DATA frame yields exactly `count` events, each inside the
 *   frame, and the builder rebuilds the identical frame from them;
 * - an accepted PING is exactly 40 bytes;
 * - an accepted consumer frame (SUBSCRIBE, CREDIT, UNSUBSCRIBE) decodes
 *   into what its encoder writes back byte for byte (unchecked bytes
 *   aside); nothing else is accepted;
 * - a frame evgate sends (types 24-28) that is well formed but for its
 *   direction yields its records or entries inside the frame, as many as
 *   its count says.
 *
 * Almost every mutation breaks the CRC, which would keep the fuzzer out of
 * everything behind it; so each input is checked twice: as given, and as a
 * copy whose length field and CRC are fixed up to match.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "evg_evf.h"
#include "evg_evf_sub.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_TARGET "fuzz_evf"
#include "fuzz_check.h"

static void
check_data_frame(const uint8_t *data, size_t size, const struct evg_evf_hdr *h)
{
	static uint8_t rebuilt[EVG_EVF_MAX_FRAME];
	struct evg_evf_builder b;
	struct evg_evf_iter it;
	struct evg_evf_event ev;
	uint32_t n = 0;

	CHECK(evg_evf_builder_init(&b, rebuilt, sizeof(rebuilt), h) == 0);
	evg_evf_iter_init(&it, data);
	while (evg_evf_iter_next(&it, &ev)) {
		CHECK(ev.key >= data + EVG_EVF_HDR_LEN);
		CHECK(ev.value + ev.value_size <= data + size);
		CHECK(ev.key + ev.key_size == ev.value);
		CHECK(evg_evf_builder_add(&b, ev.key, ev.key_size, ev.value,
					  ev.value_size, ev.ts_ns) == 0);
		n++;
	}
	CHECK(n == h->count);
	CHECK(evg_evf_builder_finish(&b) == (int)size);
	/* Padding is not validated, so compare it only when it is zero. */
	if (memcmp(rebuilt, data, size) != 0) {
		evg_evf_iter_init(&it, data);
		while (evg_evf_iter_next(&it, &ev)) {
			const uint8_t *end = ev.value + ev.value_size;

			for (uint32_t pad = 0;
			     (ev.key_size + ev.value_size + pad) % 8; pad++)
				if (end[pad] != 0)
					return;
		}
		CHECK(!"accepted frame not rebuilt byte for byte");
	}
}

/* Equal in every byte validation looks at: not the header's flags, seq
 * and stream (a SUBSCRIBE's), nor the body from `to` on (its padding). */
static void
check_same(const uint8_t *data, const uint8_t *enc, size_t to)
{
	CHECK(memcmp(data, enc, 5) == 0);
	CHECK(memcmp(data + 6, enc + 6, 6) == 0);   /* count, consumer id */
	CHECK(memcmp(data + 16, enc + 16, 8) == 0); /* session */
	CHECK(memcmp(data + 32, enc + 32, 4) == 0); /* length */
	CHECK(memcmp(data + 40, enc + 40, to - 40) == 0);
}

static void
check_consumer_frame(const uint8_t *data, size_t size,
		     const struct evg_evf_hdr *h)
{
	static uint8_t enc[EVG_EVF_MAX_FRAME];
	const struct evg_evf_sub_ids ids = {.consumer_id = h->producer_id,
					    .session = h->session};
	struct evg_evf_sub_subscribe sub;
	struct evg_evf_sub_credit cr;
	uint64_t token, processed;
	int n;

	if (h->type == EVG_EVF_SUBSCRIBE) {
		evg_evf_sub_subscribe_decode(data, &sub);
		n = evg_evf_sub_subscribe_encode(enc, sizeof(enc), &ids, &sub);
		CHECK(n == (int)size);
		check_same(data, enc,
			   EVG_EVF_SUB_SUBSCRIBE_FIXED +
				   sub.nb_streams * EVG_EVF_SUB_STREAM_LEN);
	} else if (h->type == EVG_EVF_CREDIT) {
		evg_evf_sub_credit_decode(data, &cr);
		CHECK(cr.processed <= cr.received);
		n = evg_evf_sub_credit_encode(enc, sizeof(enc), &ids, &cr);
		CHECK(n == (int)size);
		check_same(data, enc, size);
		CHECK(memcmp(data + 24, enc + 24, 8) == 0);
	} else {
		CHECK(h->type == EVG_EVF_UNSUBSCRIBE);
		evg_evf_sub_unsubscribe_decode(data, &token, &processed);
		n = evg_evf_sub_unsubscribe_encode(enc, sizeof(enc), &ids,
						   token, processed);
		CHECK(n == (int)size);
		check_same(data, enc, size);
		CHECK(memcmp(data + 24, enc + 24, 8) == 0);
	}
}

static void
check_appliance_frame(const uint8_t *data, size_t size,
		      const struct evg_evf_hdr *h)
{
	struct evg_evf_sub_subscribed sd;
	struct evg_evf_sub_committed cm;
	struct evg_evf_sub_record r;
	struct evg_evf_sub_iter it;
	uint32_t n = 0;

	switch (h->type) {
	case EVG_EVF_DELIVER:
		evg_evf_sub_iter_init(&it, data);
		while (evg_evf_sub_iter_next(&it, &r)) {
			CHECK(r.key >= data + EVG_EVF_SUB_DELIVER_FIXED);
			CHECK(r.value + r.value_size <= data + size);
			n++;
		}
		CHECK(n == h->count);
		break;
	case EVG_EVF_SUBSCRIBED:
		evg_evf_sub_subscribed_decode(data, &sd);
		CHECK(sd.nb == h->count && sd.nb <= EVG_EVF_SUB_MAX_STREAMS);
		break;
	case EVG_EVF_COMMITTED:
		evg_evf_sub_committed_decode(data, &cm);
		CHECK(cm.nb == h->count && cm.nb <= EVG_EVF_SUB_MAX_STREAMS);
		break;
	default:
		break;
	}
}

static void
check_one(const uint8_t *data, size_t size)
{
	struct evg_evf_hdr h;
	enum evg_evf_verdict v = evg_evf_validate(data, size, &h);

	CHECK((unsigned int)v < EVG_EVF_VERDICT_MAX);
	CHECK(evg_evf_verdict_name(v) != NULL);
	if (v == EVG_EVF_BAD_DIRECTION && evg_evf_sub_from_appliance(h.type))
		check_appliance_frame(data, size, &h);
	if (v != EVG_EVF_OK)
		return;
	CHECK(h.length == size && h.producer_id != 0 && h.session != 0);
	if (h.type == EVG_EVF_DATA)
		check_data_frame(data, size, &h);
	else if (evg_evf_sub_from_consumer(h.type))
		check_consumer_frame(data, size, &h);
	else
		CHECK(h.type == EVG_EVF_PING && size == EVG_EVF_HDR_LEN);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *fixed;
	struct evg_evf_hdr h;

	check_one(data, size);
	if (size < EVG_EVF_HDR_LEN || size > EVG_EVF_MAX_FRAME)
		return 0;
	/* An exact-size heap copy, so ASan still sees any overrun. */
	fixed = malloc(size);
	CHECK(fixed != NULL);
	memcpy(fixed, data, size);
	evg_evf_hdr_decode(fixed, &h);
	h.length = (uint32_t)size;
	evg_evf_hdr_encode(&h, fixed);
	evg_evf_frame_seal(fixed, size);
	CHECK(evg_evf_validate(fixed, size, NULL) != EVG_EVF_BAD_CRC);
	check_one(fixed, size);
	free(fixed);
	return 0;
}
