/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Consumers' frames: SUBSCRIBE (cookie round trip, then a subscription),
 * CREDIT (acknowledgement, credit, NAK, COMMIT, heartbeat) and
 * UNSUBSCRIBE. rx has validated them and applied the allow list; replies
 * are built into the frame's own mbuf. Nothing larger than what arrived
 * is sent before the sender has echoed a cookie, and a frame that names
 * no subscription gets at most a rate-limited 40-byte SUB_ERROR.
 */
#include <errno.h>
#include <string.h>

#include <rte_malloc.h>
#include <sodium.h>

#include "sub_priv.h"

static void
reply_out(struct evg_sub *s, struct rte_mbuf *mb)
{
	if (!sub_out(s, mb)) {
		sub_flush_out(s);
		(void)sub_out(s, mb);
	}
}

/* Build len bytes of buf as the reply to the frame in mb, into mb. */
static void
reply(struct evg_sub *s, struct rte_mbuf *mb, const void *buf, int len)
{
	if (len < 0 || evg_net_udp_reply(s->conf.ifc, mb, &evg_pkt(mb)->net,
					 buf, (uint16_t)len) != 0) {
		s->stats[EVG_SUB_reply_failed]++;
		rte_pktmbuf_free(mb);
		return;
	}
	reply_out(s, mb);
}

void
sub_reply_error(struct evg_sub *s, struct rte_mbuf *mb,
		const struct evg_evf_hdr *h, enum evg_evf_sub_error why,
		uint64_t detail)
{
	struct evg_evf_sub_ids ids = {.consumer_id = h->producer_id,
				      .session = h->session};
	uint8_t buf[EVG_EVF_HDR_LEN];

	if (!evg_nak_limiter_allow(&s->lim, evg_pkt(mb)->net.src_ip,
				   rte_rdtsc())) {
		s->stats[EVG_SUB_errors_limited]++;
		rte_pktmbuf_free(mb);
		return;
	}
	reply(s, mb, buf,
	      evg_evf_sub_error_encode(buf, sizeof(buf), &ids, why, detail));
}

static uint64_t
cookie_epoch(const struct evg_sub *s, uint64_t now)
{
	return (now - s->tsc_base) / (s->conf.tsc_hz * EVG_SUB_COOKIE_EPOCH_S);
}

/* The first SUBSCRIBE, or one with a stale cookie: a CHALLENGE (48 bytes,
 * less than the SUBSCRIBE's 128) and nothing else. */
static void
challenge(struct evg_sub *s, struct rte_mbuf *mb, const struct evg_evf_hdr *h,
	  uint64_t now)
{
	const struct evg_net_meta *net = &evg_pkt(mb)->net;
	struct evg_evf_sub_ids ids = {.consumer_id = h->producer_id,
				      .session = h->session};
	uint8_t buf[EVG_EVF_SUB_CHALLENGE_LEN];
	uint64_t cookie;

	if (!evg_nak_limiter_allow(&s->lim, net->src_ip, now)) {
		s->stats[EVG_SUB_challenges_limited]++;
		rte_pktmbuf_free(mb);
		return;
	}
	cookie =
		evg_sub_cookie_make(&s->keys, cookie_epoch(s, now), net->src_ip,
				    net->src_port, h->producer_id, h->session);
	s->stats[EVG_SUB_challenges]++;
	reply(s, mb, buf,
	      evg_evf_sub_challenge_encode(buf, sizeof(buf), &ids, cookie));
}

static void
send_subscribed(struct evg_sub *s, struct rte_mbuf *mb,
		const struct sub_member *m)
{
	const struct sub_feed *f = &s->feeds[m->feed];
	struct evg_evf_sub_ids ids = {.consumer_id = m->consumer_id,
				      .session = m->session};
	struct evg_evf_sub_subscribed r = {
		.token = m->token,
		.timeout_ms = s->timeout_ms,
		.max_inflight = s->max_inflight,
		.flags = f->resumed ? EVG_EVF_SUB_F_RESUMED : 0,
		.members = f->named ? f->nb_members : 0,
		.partitions = s->conf.partitions,
	};
	uint8_t buf[EVG_EVF_SUB_SUBSCRIBED_FIXED +
		    EVG_EVF_SUB_MAX_STREAMS * EVG_EVF_SUB_SUBSCRIBED_ENTRY];

	for (uint8_t i = 0; i < m->nb_streams; i++)
		for (uint8_t ci = 0; ci < f->nb_cursors; ci++) {
			const struct sub_cursor *c = &f->cursors[ci];

			if (c->stream_id != m->streams[i])
				continue;
			r.pos[r.nb++] = (struct evg_evf_sub_start_pos){
				.stream_id = c->stream_id,
				.partition = c->partition,
				.start = sub_cursor_pos(c),
				.end = sub_durable_end(s, c->partition),
			};
		}
	reply(s, mb, buf,
	      evg_evf_sub_subscribed_encode(buf, sizeof(buf), &ids, &r));
}

/* The feed a SUBSCRIBE joins: its group's (made when new), or a new one
 * of its own. -EINVAL: another policy; -ENOSPC: no room. */
static int
feed_for(struct evg_sub *s, const struct evg_evf_sub_subscribe *req)
{
	unsigned int configured, policy;
	struct sub_feed *f;
	int fi;

	if (req->group[0] == '\0')
		return sub_feed_new(s, NULL, EVG_EVF_SUB_POLICY_ROUND_ROBIN);
	configured = evg_cfg_group_policy(s->conf.cfg, req->group);
	fi = sub_feed_find(s, req->group);
	if (fi < 0) {
		policy = configured != 0    ? configured
			 : req->policy != 0 ? req->policy
					    : EVG_EVF_SUB_POLICY_ROUND_ROBIN;
		if (req->policy != 0 && req->policy != policy)
			return -EINVAL;
		if (s->nb_groups >= s->max_groups)
			return -ENOSPC;
		fi = sub_feed_new(s, req->group, (uint8_t)policy);
		if (fi >= 0)
			s->nb_groups++;
		return fi;
	}
	f = &s->feeds[fi];
	if (req->policy != 0 && req->policy != f->policy)
		return -EINVAL;
	if (f->nb_members >= EVG_SUB_MAX_MEMBERS)
		return -ENOSPC;
	return fi;
}

static int
member_slot(struct evg_sub *s)
{
	for (uint32_t i = 0; i < s->max_members; i++)
		if (!s->members[i].used)
			return (int)i;
	return -ENOSPC;
}

/* Make the subscription; an error reason, or 0 (*mi set). */
static enum evg_evf_sub_error
subscribe(struct evg_sub *s, const struct evg_pkt *pkt,
	  const struct evg_evf_sub_subscribe *req, uint64_t now, uint16_t *mi)
{
	struct sub_member *m;
	struct sub_feed *f;
	uint16_t mask = 0;
	bool fresh, resumed = false;
	int fi, slot, ci;

	slot = member_slot(s);
	if (slot < 0)
		return EVG_EVF_SUB_ERR_FULL;
	fi = feed_for(s, req);
	if (fi == -EINVAL)
		return EVG_EVF_SUB_ERR_POLICY;
	if (fi < 0)
		return EVG_EVF_SUB_ERR_GROUPS;
	f = &s->feeds[fi];
	fresh = f->nb_members == 0;
	for (uint8_t i = 0; i < req->nb_streams; i++) {
		ci = sub_cursor_get(s, f, req, req->streams[i].stream_id,
				    req->streams[i].offset, &resumed);
		if (ci < 0) {
			if (fresh)
				sub_feed_free(s, f);
			return ci == -ENOSPC ? EVG_EVF_SUB_ERR_GROUPS
					     : EVG_EVF_SUB_ERR_FULL;
		}
		mask |= (uint16_t)(1u << ci);
	}
	f->resumed |= resumed;
	m = &s->members[slot];
	memset(m, 0, sizeof(*m));
	m->held_cap = s->held_cap;
	m->held = rte_zmalloc_socket("evg_sub_held",
				     m->held_cap * sizeof(*m->held), 0,
				     s->conf.socket_id);
	if (m->held == NULL) {
		if (fresh)
			sub_feed_free(s, f);
		return EVG_EVF_SUB_ERR_FULL;
	}
	m->used = true;
	m->consumer_id = pkt->hdr.producer_id;
	m->session = pkt->hdr.session;
	randombytes_buf(&m->token, sizeof(m->token));
	m->to = pkt->net;
	m->payload_off = evg_net_udp_hdrs_len(&m->to);
	m->feed = (uint16_t)fi;
	m->weight = req->weight == 0 ? 1 : req->weight;
	m->cursors = mask;
	m->nb_streams = req->nb_streams;
	for (uint8_t i = 0; i < req->nb_streams; i++)
		m->streams[i] = req->streams[i].stream_id;
	m->credit_events = req->credit_events;
	m->credit_bytes = req->credit_bytes;
	m->created_tsc = m->last_rx_tsc = now;
	m->rto_cur = s->rto_tsc;
	s->nb_members++;
	sub_feed_join(s, f, (uint16_t)slot);
	sub_by_id_rebuild(s);
	*mi = (uint16_t)slot;
	return 0;
}

static void
on_subscribe(struct evg_sub *s, struct rte_mbuf *mb, const void *frame,
	     uint64_t now)
{
	const struct evg_pkt *pkt = evg_pkt(mb);
	const struct evg_evf_hdr *h = &pkt->hdr;
	struct evg_evf_sub_subscribe req;
	enum evg_evf_sub_error why;
	uint16_t mi;
	int old;

	s->stats[EVG_SUB_subscribes]++;
	evg_evf_sub_subscribe_decode(frame, &req);
	if (req.cookie == 0 ||
	    !evg_sub_cookie_check(&s->keys, cookie_epoch(s, now), req.cookie,
				  pkt->net.src_ip, pkt->net.src_port,
				  h->producer_id, h->session)) {
		s->stats[EVG_SUB_cookie_bad] += req.cookie != 0;
		challenge(s, mb, h, now);
		return;
	}
	old = sub_by_id_find(s, h->producer_id);
	if (old >= 0 && s->members[old].session == h->session) {
		/* Its SUBSCRIBED was lost, or it moved (NAT): the cookie
		 * proves the new address. */
		struct sub_member *m = &s->members[old];

		m->to = pkt->net;
		m->payload_off = evg_net_udp_hdrs_len(&m->to);
		m->last_rx_tsc = now;
		s->stats[EVG_SUB_resubscribed]++;
		send_subscribed(s, mb, m);
		return;
	}
	if (old >= 0 && h->session < s->members[old].session) {
		s->stats[EVG_SUB_refused_fenced]++;
		sub_reply_error(s, mb, h, EVG_EVF_SUB_ERR_FENCED, 0);
		return;
	}
	if (old >= 0) {
		s->stats[EVG_SUB_replaced]++;
		sub_member_remove(s, (uint16_t)old, now);
	}
	why = subscribe(s, pkt, &req, now, &mi);
	if (why != 0) {
		s->stats[why == EVG_EVF_SUB_ERR_FULL ? EVG_SUB_refused_full
			 : why == EVG_EVF_SUB_ERR_POLICY
				 ? EVG_SUB_refused_policy
				 : EVG_SUB_refused_groups]++;
		sub_reply_error(s, mb, h, why,
				why == EVG_EVF_SUB_ERR_FULL ? s->nb_members
							    : 0);
		return;
	}
	s->stats[EVG_SUB_subscribed]++;
	send_subscribed(s, mb, &s->members[mi]);
}

/* The member a CREDIT or UNSUBSCRIBE is from, or -1 (counted; the frame
 * is answered UNKNOWN or freed). */
static int
member_of(struct evg_sub *s, struct rte_mbuf *mb, uint64_t token)
{
	const struct evg_pkt *pkt = evg_pkt(mb);
	int mi = sub_by_id_find(s, pkt->hdr.producer_id);
	const struct sub_member *m;

	if (mi < 0 || s->members[mi].session != pkt->hdr.session) {
		s->stats[EVG_SUB_unknown]++;
		sub_reply_error(s, mb, &pkt->hdr, EVG_EVF_SUB_ERR_UNKNOWN, 0);
		return -1;
	}
	m = &s->members[mi];
	if (token != m->token || pkt->net.src_ip != m->to.src_ip ||
	    pkt->net.src_port != m->to.src_port) {
		s->stats[EVG_SUB_bad_token]++;
		rte_pktmbuf_free(mb);
		return -1;
	}
	return mi;
}

static void
ack(struct evg_sub *s, struct sub_member *m, uint64_t received,
    uint64_t processed, uint64_t now)
{
	if (received > m->received) {
		m->received = received;
		m->rto_cur = s->rto_tsc;
		m->rto_at = m->received < m->next_dseq ? now + m->rto_cur : 0;
	}
	if (processed > m->processed) {
		m->processed = RTE_MIN(processed, m->received);
		sub_release(s, m);
	}
}

static void
on_credit(struct evg_sub *s, struct rte_mbuf *mb, const void *frame,
	  uint64_t now)
{
	struct evg_evf_sub_credit c;
	struct sub_member *m;
	struct sub_feed *f;
	int mi;

	evg_evf_sub_credit_decode(frame, &c);
	mi = member_of(s, mb, c.token);
	if (mi < 0)
		return;
	rte_pktmbuf_free(mb);
	m = &s->members[mi];
	f = &s->feeds[m->feed];
	s->stats[EVG_SUB_credits]++;
	m->last_rx_tsc = now;
	if (c.received > m->next_dseq) {
		/* Says it has what was never sent: a heartbeat, no more. */
		s->stats[EVG_SUB_credit_bad]++;
		return;
	}
	ack(s, m, c.received, c.processed, now);
	m->credit_events = c.credit_events;
	m->credit_bytes = c.credit_bytes;
	if (c.flags & EVG_EVF_SUB_F_NAK) {
		/* Every frame behind a loss makes the consumer NAK the same
		 * received; the resend has not reached it yet. */
		if (m->nak_received == m->received && m->nak_tsc != 0 &&
		    now - m->nak_tsc < s->rto_tsc / 2) {
			s->stats[EVG_SUB_naks_repeated]++;
		} else {
			s->stats[EVG_SUB_naks]++;
			m->nak_received = m->received;
			m->nak_tsc = now;
			sub_go_back(s, m, m->received);
		}
	}
	if (!(c.flags & EVG_EVF_SUB_F_COMMIT))
		return;
	if (!f->named) {
		s->stats[EVG_SUB_commit_no_group]++;
		return;
	}
	s->stats[EVG_SUB_commits]++;
	m->commit_gen = sub_commit(s, f);
	m->commit_processed = m->processed;
	m->commit_wait = m->commit_gen != 0;
}

static void
on_unsubscribe(struct evg_sub *s, struct rte_mbuf *mb, const void *frame,
	       uint64_t now)
{
	uint64_t token, processed;
	int mi;

	evg_evf_sub_unsubscribe_decode(frame, &token, &processed);
	mi = member_of(s, mb, token);
	if (mi < 0)
		return;
	rte_pktmbuf_free(mb);
	s->stats[EVG_SUB_unsubscribes]++;
	ack(s, &s->members[mi], s->members[mi].received, processed, now);
	sub_member_remove(s, (uint16_t)mi, now);
}

void
sub_control(struct evg_sub *s, struct rte_mbuf *mb, uint64_t now)
{
	const struct evg_pkt *pkt = evg_pkt(mb);
	const void *frame =
		rte_pktmbuf_mtod_offset(mb, const void *, pkt->net.payload_off);

	s->stats[EVG_SUB_in]++;
	switch (pkt->hdr.type) {
	case EVG_EVF_SUBSCRIBE:
		on_subscribe(s, mb, frame, now);
		break;
	case EVG_EVF_CREDIT:
		on_credit(s, mb, frame, now);
		break;
	case EVG_EVF_UNSUBSCRIBE:
		on_unsubscribe(s, mb, frame, now);
		break;
	default: /* rx sends no other type here */
		rte_pktmbuf_free(mb);
		break;
	}
}
