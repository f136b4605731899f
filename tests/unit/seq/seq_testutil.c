/* SPDX-License-Identifier: BSD-3-Clause */
#include <inttypes.h>

#include <criterion/criterion.h>

#include "seq_testutil.h"

void
tu_seq_expect(struct evg_seq_result r, enum evg_seq_action action,
	      uint64_t ack_seq, uint32_t skip, uint32_t accept)
{
	cr_assert_eq(r.action, action, "action %s, expected %s",
		     evg_seq_action_name(r.action),
		     evg_seq_action_name(action));
	cr_assert_eq(r.ack_seq, ack_seq,
		     "ack_seq %" PRIu64 ", expected %" PRIu64, r.ack_seq,
		     ack_seq);
	cr_assert_eq(r.skip, skip, "skip %u, expected %u", r.skip, skip);
	cr_assert_eq(r.accept, accept, "accept %u, expected %u", r.accept,
		     accept);
}
