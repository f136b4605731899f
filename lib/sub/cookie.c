/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * SUBSCRIBE cookies: SipHash-2-4 (libsodium's crypto_shorthash) of the
 * source address, port, consumer id and session under a random key that
 * changes every EVG_SUB_COOKIE_EPOCH_S. Bit 0 of a cookie says which of
 * the two keys made it; the rest is the hash. A consumer can only echo a
 * cookie it received at the address it claims, and evgate keeps no state
 * for a SUBSCRIBE until it does.
 */
#include <string.h>

#include <sodium.h>

#include "evg_sub.h"

static uint64_t
cookie_hash(const uint8_t key[16], rte_be32_t ip, rte_be16_t port,
	    uint32_t consumer_id, uint64_t session)
{
	uint8_t in[18], out[crypto_shorthash_BYTES];
	uint64_t h;

	memcpy(in, &ip, 4);
	memcpy(in + 4, &port, 2);
	memcpy(in + 6, &consumer_id, 4);
	memcpy(in + 10, &session, 8);
	crypto_shorthash(out, in, sizeof(in), key);
	memcpy(&h, out, sizeof(h));
	return h;
}

/* The slot of the key for epoch, drawn anew when that slot holds an
 * older epoch's key. */
static unsigned int
key_for(struct evg_sub_cookie_keys *k, uint64_t epoch)
{
	unsigned int b = (unsigned int)(epoch & 1);

	if (!k->set[b] || k->epoch[b] != epoch) {
		randombytes_buf(k->key[b], sizeof(k->key[b]));
		k->epoch[b] = epoch;
		k->set[b] = true;
	}
	return b;
}

uint64_t
evg_sub_cookie_make(struct evg_sub_cookie_keys *k, uint64_t epoch,
		    rte_be32_t ip, rte_be16_t port, uint32_t consumer_id,
		    uint64_t session)
{
	unsigned int b = key_for(k, epoch);

	return (cookie_hash(k->key[b], ip, port, consumer_id, session) &
		~UINT64_C(1)) |
	       b;
}

bool
evg_sub_cookie_check(struct evg_sub_cookie_keys *k, uint64_t epoch,
		     uint64_t cookie, rte_be32_t ip, rte_be16_t port,
		     uint32_t consumer_id, uint64_t session)
{
	unsigned int b = (unsigned int)(cookie & 1);

	if (!k->set[b] || (k->epoch[b] != epoch && k->epoch[b] + 1 != epoch))
		return false;
	return ((cookie_hash(k->key[b], ip, port, consumer_id, session) &
		 ~UINT64_C(1)) |
		b) == cookie;
}
