/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Fuzz target: EVF/1 validation and record iteration over arbitrary bytes.
 *
 * Beyond "no crash, no sanitizer report", it checks invariants and aborts
 * when one breaks:
 * - the verdict is a known one;
 * - an accepted DATA frame yields exactly `count` events, each inside the
 *   frame, and the builder rebuilds the identical frame from them;
 * - an accepted PING is exactly 40 bytes; nothing else is accepted.
 *
 * Almost every mutation breaks the CRC, which would keep the fuzzer out of
 * everything behind it; so each input is checked twice: as given, and as a
 * copy whose length field and CRC are fixed up to match.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "evg_evf.h"

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

			for (uint32_t pad = 0; (ev.key_size + ev.value_size + pad) % 8; pad++)
				if (end[pad] != 0)
					return;
		}
		CHECK(!"accepted frame not rebuilt byte for byte");
	}
}

static void
check_one(const uint8_t *data, size_t size)
{
	struct evg_evf_hdr h;
	enum evg_evf_verdict v = evg_evf_validate(data, size, &h);

	CHECK((unsigned int)v < EVG_EVF_VERDICT_MAX);
	CHECK(evg_evf_verdict_name(v) != NULL);
	if (v != EVG_EVF_OK)
		return;
	CHECK(h.length == size && h.producer_id != 0 && h.session != 0);
	if (h.type == EVG_EVF_DATA)
		check_data_frame(data, size, &h);
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
