/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The DPDK-free CRC-32C of lib/evf (crc32c.c): the SSE4.2 and the table
 * implementations agree with the protocol's check value and with each other
 * at every length and alignment. The whole codec test (test_evf_codec.c,
 * vectors from tests/data/evf1.tsv included) also runs against this build
 * as the unit test evf_codec_nodpdk.
 */
#include <string.h>

#include <criterion/criterion.h>

#include "evf_crc32c.h"
#include "evg_evf.h"

static uint32_t
crc_sw(const void *p, size_t n)
{
	return evg_evf_crc32c_update_sw(0xFFFFFFFFu, p, n) ^ 0xFFFFFFFFu;
}

static uint32_t
crc_hw(const void *p, size_t n)
{
	return evg_evf_crc32c_update_hw(0xFFFFFFFFu, p, n) ^ 0xFFFFFFFFu;
}

Test(evf_crc32c_nodpdk, table_gives_the_check_value)
{
	cr_assert_eq(crc_sw("123456789", 9), 0xE3069283u,
		     "table CRC of \"123456789\" is 0x%08x",
		     crc_sw("123456789", 9));
	cr_assert_eq(crc_sw("", 0), 0u);
}

Test(evf_crc32c_nodpdk, sse42_gives_the_check_value)
{
	if (!evg_evf_crc32c_hw_available())
		cr_skip_test("this CPU has no SSE4.2");
	cr_assert_eq(crc_hw("123456789", 9), 0xE3069283u,
		     "SSE4.2 CRC of \"123456789\" is 0x%08x",
		     crc_hw("123456789", 9));
}

Test(evf_crc32c_nodpdk, codec_crc_is_the_check_value)
{
	cr_assert_eq(evg_evf_crc32c("123456789", 9), 0xE3069283u);
}

Test(evf_crc32c_nodpdk, sse42_and_table_agree_at_every_length_and_alignment)
{
	uint8_t buf[300];

	if (!evg_evf_crc32c_hw_available())
		cr_skip_test("this CPU has no SSE4.2");
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(i * 131u + 7u);
	for (size_t off = 0; off < 8; off++)
		for (size_t n = 0; n + off <= sizeof(buf); n++)
			cr_assert_eq(crc_hw(buf + off, n), crc_sw(buf + off, n),
				     "length %zu at offset %zu", n, off);
}

Test(evf_crc32c_nodpdk, updates_chain_like_one_pass)
{
	const char *s = "123456789";
	uint32_t c = evg_evf_crc32c_update(0xFFFFFFFFu, s, 4);

	c = evg_evf_crc32c_update(c, s + 4, 5);
	cr_assert_eq(c ^ 0xFFFFFFFFu, 0xE3069283u);
}
