/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * lib/core/evg_text.h: the text forms evtail and evsub print and parse.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "evg_text.h"

Test(text, base64_matches_rfc_4648_vectors)
{
	static const char *const in[] = {"",	 "f",	  "fo",	   "foo",
					 "foob", "fooba", "foobar"};
	static const char *const out[] = {
		"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
	char buf[16];

	for (size_t i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
		size_t n = evg_text_b64_encode(in[i], strlen(in[i]), buf);

		cr_assert_str_eq(buf, out[i]);
		cr_assert_eq(n, strlen(out[i]));
	}
}

static char *
printed(const void *p, size_t n)
{
	static char buf[512];
	FILE *f = fmemopen(buf, sizeof(buf), "w");

	evg_text_print_bytes(f, p, n);
	fclose(f);
	return buf;
}

Test(text, printable_values_are_quoted_others_are_hex)
{
	cr_assert_str_eq(printed("say \"hi\"", 8), "\"say \\\"hi\\\"\"");
	cr_assert_str_eq(printed("caf\xc3\xa9", 5), "\"caf\xc3\xa9\"");
	cr_assert_str_eq(printed("\x01\x02", 2), "0x0102");
	cr_assert_str_eq(printed("a\nb", 3), "0x610a62");
}

Test(text, long_values_are_cut_at_64_bytes)
{
	char v[100];

	memset(v, 'x', sizeof(v));
	cr_assert_eq(strlen(printed(v, sizeof(v))), 1 + 64 + 1 + 3);
}

Test(text, times_parse_as_ns_or_utc_and_format_back)
{
	uint64_t ns;
	char buf[48];

	cr_assert_eq(evg_text_parse_time("1700000000000000000", &ns), 0);
	cr_assert_eq(ns, 1700000000000000000ull);
	cr_assert_eq(evg_text_parse_time("2023-11-14T22:13:20.25Z", &ns), 0);
	cr_assert_eq(ns, 1700000000250000000ull);
	evg_text_format_time(ns, buf, sizeof(buf));
	cr_assert_str_eq(buf, "2023-11-14T22:13:20.250000000Z");
	cr_assert_eq(evg_text_parse_time("2023-02-29T00:00:00Z", &ns), -EINVAL);
	cr_assert_eq(evg_text_parse_time("12x", &ns), -EINVAL);
	cr_assert_eq(evg_text_parse_time("", &ns), -EINVAL);
	cr_assert_eq(evg_text_parse_time("99999999999999999999", &ns), -ERANGE);
}
