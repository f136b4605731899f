/* SPDX-License-Identifier: BSD-3-Clause */
/* Helpers shared by the EVF/1 codec tests. */
#ifndef EVF_TESTUTIL_H
#define EVF_TESTUTIL_H

#include <stddef.h>
#include <stdint.h>

#include "evg_evf.h"

/* Decode hex text into out (cap bytes); returns the byte count or -1 on a
 * bad digit, an odd length or overflow. */
long tu_unhex(const char *hex, uint8_t *out, size_t cap);

/* Deterministic PRNG (splitmix64) so failures reproduce from the seed. */
uint64_t tu_rand(uint64_t *state);

/* A sealed DATA frame of `count` events, event i having a key of
 * (i % 3) bytes and a value of value_size bytes; returns its length. */
uint32_t tu_data_frame(uint8_t *buf, size_t cap, uint16_t count,
		       uint32_t value_size);

/* Path of a file in tests/data (EVG_TEST_DATA). */
const char *tu_data_path(const char *name);

#endif
