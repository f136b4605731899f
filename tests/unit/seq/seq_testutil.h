/* SPDX-License-Identifier: BSD-3-Clause */
/* Helpers shared by the sequencer's unit and EAL tests. */
#ifndef SEQ_TESTUTIL_H
#define SEQ_TESTUTIL_H

#include "evg_seq.h"

/* Assert that a result is exactly (action, ack_seq, skip, accept). */
void tu_seq_expect(struct evg_seq_result r, enum evg_seq_action action,
		   uint64_t ack_seq, uint32_t skip, uint32_t accept);

#endif
