/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Helpers of the subscriber codec tests: one valid frame of each type in
 * fr (fr_len bytes), and field setters that leave it to the test to
 * reseal. Frames are validated from heap blocks of exactly their length,
 * so a check that reads past the end shows under ASan.
 */
#ifndef EVF_SUB_TESTUTIL_H
#define EVF_SUB_TESTUTIL_H

#include <stdint.h>

#include "evg_evf_sub.h"

#define CONSUMER 9u
#define SESSION 0x5555AAAA12345678ull
#define NB_SUB_TYPES 8u /* make_type()'s */

extern const struct evg_evf_sub_ids ids; /* CONSUMER, SESSION */
extern uint8_t fr[2048];
extern uint32_t fr_len;

void clear(void);
void set16(uint32_t off, uint16_t v);
void set32(uint32_t off, uint32_t v);
void set64(uint32_t off, uint64_t v);
/* Validate the first len bytes of fr from a heap block of that size. */
enum evg_evf_verdict validate_len(uint32_t len);
/* Set the length field to len, seal, validate len bytes. */
enum evg_evf_verdict reseal(uint32_t len);
/* The same at fr_len. */
enum evg_evf_verdict resealed(void);

/* Valid frames (asserted so): SUBSCRIBE of nb streams 100.. (start
 * OFFSET), CREDIT, UNSUBSCRIBE, CHALLENGE, SUBSCRIBED and COMMITTED of nb
 * streams, SUB_ERROR, DELIVER of n records (record i: key of i % 3 bytes,
 * value of 5 + i; stream 42, dseq 10, partition 2). */
void make_subscribe(unsigned int nb, const char *group);
void make_credit(uint64_t received, uint64_t processed);
void make_unsubscribe(void);
void make_challenge(void);
void make_subscribed(unsigned int nb);
void make_committed(unsigned int nb);
void make_error(enum evg_evf_sub_error reason);
void make_deliver(unsigned int n);
/* Type t (0..NB_SUB_TYPES-1) of the eight above. */
void make_type(unsigned int t);
/* Offset of DELIVER record i as make_deliver() lays them out. */
uint32_t rec_off(unsigned int i);

#endif
