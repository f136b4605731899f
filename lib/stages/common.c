/* SPDX-License-Identifier: BSD-3-Clause */
/* What several stages share: the NAK rate limit and control replies. */
#include <errno.h>
#include <string.h>

#include <rte_cycles.h>

#include "evg_stages.h"

void
evg_nak_limiter_init(struct evg_nak_limiter *l, uint32_t rate, uint32_t burst,
		     uint64_t tsc_hz)
{
	memset(l, 0, sizeof(*l));
	if (tsc_hz == 0)
		tsc_hz = rte_get_tsc_hz();
	if (rate == 0)
		rate = 1;
	if (burst == 0)
		burst = 1;
	l->interval = tsc_hz / rate;
	if (l->interval == 0)
		l->interval = 1;
	l->tolerance = l->interval * (burst - 1);
}

bool
evg_nak_limiter_allow(struct evg_nak_limiter *l, rte_be32_t src_ip,
		      uint64_t now)
{
	/* Fibonacci hashing: the top bits of the product mix every byte of
	 * the address, so a /24 of sources spreads over the slots. */
	uint32_t slot = ((uint32_t)src_ip * 2654435761u) >>
			(32 - __builtin_ctz(EVG_NAK_LIMIT_SLOTS));
	uint64_t *tat = &l->tat[slot];

	if (*tat > now + l->tolerance)
		return false;
	*tat = RTE_MAX(*tat, now) + l->interval;
	return true;
}

int
evg_pkt_reply(const struct evg_net_if *ifc, struct rte_mbuf *m,
	      const struct evg_pkt *pkt, enum evg_evf_type type, uint16_t code,
	      uint64_t seq)
{
	uint8_t frame[EVG_EVF_HDR_LEN];

	evg_evf_control_build(frame, type, code, pkt->hdr.producer_id,
			      pkt->hdr.stream_id, pkt->hdr.session, seq);
	return evg_net_udp_reply(ifc, m, &pkt->net, frame, sizeof(frame));
}
