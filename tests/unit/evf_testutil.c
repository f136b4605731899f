/* SPDX-License-Identifier: BSD-3-Clause */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "evf_testutil.h"

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

long
tu_unhex(const char *hex, uint8_t *out, size_t cap)
{
	size_t n = strlen(hex);

	if (n % 2 != 0 || n / 2 > cap)
		return -1;
	for (size_t i = 0; i < n / 2; i++) {
		int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return -1;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return (long)(n / 2);
}

uint64_t
tu_rand(uint64_t *state)
{
	uint64_t z = (*state += 0x9E3779B97F4A7C15ull);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

uint32_t
tu_data_frame(uint8_t *buf, size_t cap, uint16_t count, uint32_t value_size)
{
	static const uint8_t key[2] = { 'k', 'y' };
	uint8_t value[256];
	struct evg_evf_hdr h = {
		.producer_id = 7, .stream_id = 42, .session = 99, .seq = 5,
	};
	struct evg_evf_builder b;

	cr_assert(value_size <= sizeof(value), "test value too large");
	memset(value, 'v', value_size);
	cr_assert_eq(evg_evf_builder_init(&b, buf, cap, &h), 0);
	for (uint16_t i = 0; i < count; i++)
		cr_assert_eq(evg_evf_builder_add(&b, key, i % 3, value,
						 value_size, 1000 + i),
			     0, "event %u does not fit in %zu bytes", i, cap);
	return (uint32_t)evg_evf_builder_finish(&b);
}

const char *
tu_data_path(const char *name)
{
	static char path[4096];
	const char *dir = getenv("EVG_TEST_DATA");

	cr_assert_not_null(dir, "EVG_TEST_DATA is not set (run through meson test)");
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return path;
}
