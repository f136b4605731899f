/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The subscriber stage's node: create and free, one poll (consumers'
 * frames, timed work, a delivery round), counters and telemetry.
 */
#include <errno.h>
#include <string.h>

#include <rte_cycles.h>
#include <rte_ip.h>
#include <rte_malloc.h>
#include <rte_udp.h>
#include <sodium.h>

#include "sub_priv.h"

/* clang-format off */
static const char *const sub_counter_names[EVG_SUB_STAT_MAX] = {
#define SUB_NAME_(name, desc) [EVG_SUB_##name] = #name,
	EVG_SUB_STATS_FOREACH(SUB_NAME_)
#undef SUB_NAME_
};
/* clang-format on */

uint64_t
sub_durable_end(const struct evg_sub *s, uint32_t partition)
{
	return evg_journal_durable_end(s->conf.journal, partition);
}

/* ---- consumer id -> member ---------------------------------------------- */

int
sub_by_id_find(const struct evg_sub *s, uint32_t consumer_id)
{
	uint32_t i = (consumer_id * 2654435761u) & s->by_id_mask;

	for (;; i = (i + 1) & s->by_id_mask) {
		uint16_t mi = s->by_id[i];

		if (mi == SUB_NONE)
			return -1;
		if (s->members[mi].consumer_id == consumer_id)
			return mi;
	}
}

void
sub_by_id_rebuild(struct evg_sub *s)
{
	for (uint32_t i = 0; i <= s->by_id_mask; i++)
		s->by_id[i] = SUB_NONE;
	for (uint32_t mi = 0; mi < s->max_members; mi++) {
		uint32_t i;

		if (!s->members[mi].used)
			continue;
		i = (s->members[mi].consumer_id * 2654435761u) & s->by_id_mask;
		while (s->by_id[i] != SUB_NONE)
			i = (i + 1) & s->by_id_mask;
		s->by_id[i] = (uint16_t)mi;
	}
}

/* ---- timed work --------------------------------------------------------- */

static void
timers(struct evg_sub *s, uint64_t now)
{
	for (uint32_t i = 0; i < s->max_members; i++) {
		struct sub_member *m = &s->members[i];

		if (!m->used)
			continue;
		if (now - m->last_rx_tsc > s->timeout_tsc) {
			s->stats[EVG_SUB_timeouts]++;
			sub_member_remove(s, (uint16_t)i, now);
			continue;
		}
		if (m->rto_at == 0 || now < m->rto_at)
			continue;
		if (m->received >= m->next_dseq) {
			m->rto_at = 0;
			continue;
		}
		/* Nothing acknowledged for rto: the tail was lost (or the
		 * acknowledgement was); send from received again, backing
		 * off while it goes on. */
		s->stats[EVG_SUB_rto]++;
		sub_go_back(s, m, m->received);
		m->rto_cur = RTE_MIN(m->rto_cur * 2,
				     s->rto_tsc * SUB_RTO_MAX_FACTOR);
		m->rto_at = now + m->rto_cur;
	}
	sub_commit_replies(s);
}

/* ---- the node ----------------------------------------------------------- */

static unsigned int
sub_poll(struct evg_node *node)
{
	struct evg_sub *s = node->ctx;
	struct rte_mbuf *pkts[EVG_BURST_MAX];
	uint64_t now = rte_rdtsc();
	unsigned int n, work;

	n = evg_edge_pull_rr(s->conf.in, s->conf.nb_in, &s->next_in, pkts,
			     s->conf.burst);
	for (unsigned int i = 0; i < n; i++)
		sub_control(s, pkts[i], now);
	if (now >= s->next_timer) {
		timers(s, now);
		s->next_timer = now + s->timer_tsc;
	}
	work = n;
	if (s->nb_feeds > 0 && !*s->conf.stop)
		work += sub_deliver(s, now);
	sub_flush_out(s);
	return work;
}

static void
sub_read_counters(const struct evg_node *node, uint64_t *values)
{
	const struct evg_sub *s = node->ctx;

	for (unsigned int i = 0; i < EVG_SUB_STAT_MAX; i++)
		values[i] = s->stats[i];
}

const struct evg_stage_ops evg_sub_ops = {
	.name = "sub",
	.poll = sub_poll,
	.drain = NULL,
	.counter_names = sub_counter_names,
	.nb_counters = EVG_SUB_STAT_MAX,
	.read_counters = sub_read_counters,
};

/* ---- set-up ------------------------------------------------------------- */

static int
conf_check(const struct evg_sub_conf *c)
{
	if (c->ifc == NULL || c->cfg == NULL || c->journal == NULL ||
	    c->log_dir == NULL || c->out == NULL || c->pool == NULL ||
	    c->commits == NULL || c->stop == NULL || c->nb_in == 0 ||
	    c->nb_in > EVG_STAGES_MAX_INPUTS || c->partitions == 0 ||
	    c->burst == 0 || c->burst > EVG_BURST_MAX || c->cfg->sub_max == 0 ||
	    c->frame_max <
		    EVG_EVF_SUB_DELIVER_FIXED + 2 * EVG_EVF_SUB_REC_HDR_LEN)
		return -EINVAL;
	for (unsigned int i = 0; i < c->nb_in; i++)
		if (c->in[i] == NULL)
			return -EINVAL;
	return 0;
}

/* Key + value bytes any DELIVER frame of the pool holds, whatever the
 * member's headers (a VLAN tag is the most): larger events go as pieces. */
static uint32_t
piece_max(const struct evg_sub_conf *c)
{
	uint32_t room =
		rte_pktmbuf_data_room_size(c->pool) - RTE_PKTMBUF_HEADROOM;
	uint32_t hdrs = RTE_ETHER_HDR_LEN + RTE_VLAN_HLEN +
			(uint32_t)sizeof(struct rte_ipv4_hdr) +
			(uint32_t)sizeof(struct rte_udp_hdr);
	uint32_t cap = RTE_MIN(room - hdrs, (uint32_t)c->frame_max);

	return (cap - EVG_EVF_SUB_DELIVER_FIXED - EVG_EVF_SUB_REC_HDR_LEN) &
	       ~7u;
}

int
evg_sub_create(const struct evg_sub_conf *conf, struct evg_sub **out)
{
	const struct evg_cfg *cfg;
	struct evg_sub *s;
	uint32_t slots = 16, share;
	int rc;

	if (conf == NULL || out == NULL)
		return -EINVAL;
	rc = conf_check(conf);
	if (rc < 0)
		return rc;
	if (sodium_init() < 0)
		return -ENOTSUP;
	cfg = conf->cfg;
	s = rte_zmalloc_socket("evg_sub", sizeof(*s), RTE_CACHE_LINE_SIZE,
			       conf->socket_id);
	if (s == NULL)
		return -ENOMEM;
	s->conf = *conf;
	if (s->conf.deliver_budget == 0)
		s->conf.deliver_budget = SUB_DELIVER_BUDGET;
	if (s->conf.tsc_hz == 0)
		s->conf.tsc_hz = rte_get_tsc_hz();
	s->max_members = RTE_MIN(cfg->sub_max, (uint32_t)SUB_NONE - 1);
	s->max_groups = cfg->sub_max_groups;
	/* A plain subscription is a feed of its own. */
	s->max_feeds = s->max_members + s->max_groups;
	s->timeout_ms = cfg->sub_timeout_ms;
	s->rto_ms = cfg->sub_rto_ms;
	s->max_inflight = cfg->sub_max_inflight;
	share = RTE_MAX(SUB_HELD_MIN, cfg->sub_mbufs / s->max_members);
	s->held_cap = RTE_MIN(s->max_inflight, EVG_SUB_HELD_MAX);
	s->held_cap = RTE_MIN(s->held_cap, share);
	while (slots < 2 * s->max_members)
		slots <<= 1;
	s->by_id_mask = slots - 1;
	s->members = rte_zmalloc_socket("evg_sub_members",
					s->max_members * sizeof(*s->members),
					RTE_CACHE_LINE_SIZE, conf->socket_id);
	s->feeds = rte_zmalloc_socket("evg_sub_feeds",
				      s->max_feeds * sizeof(*s->feeds),
				      RTE_CACHE_LINE_SIZE, conf->socket_id);
	s->by_id = rte_malloc_socket("evg_sub_ids", slots * sizeof(*s->by_id),
				     0, conf->socket_id);
	if (s->members == NULL || s->feeds == NULL || s->by_id == NULL) {
		evg_sub_free(s);
		return -ENOMEM;
	}
	sub_by_id_rebuild(s);
	s->timer_tsc = s->conf.tsc_hz / 1000u * SUB_TIMER_MS;
	s->retry_tsc = s->conf.tsc_hz / 1000000u * SUB_RETRY_US;
	s->timeout_tsc = s->conf.tsc_hz / 1000u * s->timeout_ms;
	s->rto_tsc = s->conf.tsc_hz / 1000u * s->rto_ms;
	s->tsc_base = rte_rdtsc();
	s->piece_max = piece_max(&s->conf);
	evg_nak_limiter_init(&s->lim, cfg->nak_rate, cfg->nak_burst,
			     s->conf.tsc_hz);
	*out = s;
	return 0;
}

void
evg_sub_free(struct evg_sub *s)
{
	if (s == NULL)
		return;
	for (uint32_t i = 0; s->members != NULL && i < s->max_members; i++) {
		struct sub_member *m = &s->members[i];

		if (!m->used)
			continue;
		rte_pktmbuf_free(m->open_m);
		for (uint32_t k = 0; k < m->held_n; k++)
			rte_pktmbuf_free(sub_held_at(m, k)->m);
		rte_free(m->held);
	}
	for (uint32_t i = 0; s->feeds != NULL && i < s->max_feeds; i++)
		if (s->feeds[i].used)
			sub_feed_free(s, &s->feeds[i]);
	rte_pktmbuf_free_bulk(s->out, s->nb_out);
	rte_free(s->members);
	rte_free(s->feeds);
	rte_free(s->by_id);
	rte_free(s);
}

/* ---- telemetry ---------------------------------------------------------- */

static uint64_t
member_lag(const struct evg_sub *s, const struct sub_member *m)
{
	const struct sub_feed *f = &s->feeds[m->feed];
	uint64_t lag = 0;

	for (uint8_t ci = 0; ci < f->nb_cursors; ci++) {
		const struct sub_cursor *c = &f->cursors[ci];
		uint64_t end = sub_durable_end(s, c->partition);
		uint64_t pos = sub_cursor_pos(c);

		if ((m->cursors & (1u << ci)) && end > pos)
			lag += end - pos;
	}
	return lag;
}

unsigned int
evg_sub_list(const struct evg_sub *s, struct evg_sub_info *out,
	     unsigned int max)
{
	uint64_t now = rte_rdtsc(), ms = s->conf.tsc_hz / 1000u;
	unsigned int n = 0;

	for (uint32_t i = 0; i < s->max_members; i++) {
		const struct sub_member *m = &s->members[i];
		const struct sub_feed *f = &s->feeds[m->feed];
		struct evg_sub_info *o;

		if (!m->used)
			continue;
		if (n++ >= max)
			continue;
		o = &out[n - 1];
		memset(o, 0, sizeof(*o));
		o->consumer_id = m->consumer_id;
		o->session = m->session;
		o->ip = m->to.src_ip;
		o->port = m->to.src_port;
		if (f->named)
			memcpy(o->group, f->name, sizeof(o->group));
		o->policy = f->policy;
		o->nb_streams = m->nb_streams;
		memcpy(o->streams, m->streams, sizeof(o->streams));
		o->next_dseq = m->next_dseq;
		o->received = m->received;
		o->processed = m->processed;
		o->credit_events = m->credit_events;
		o->credit_bytes = m->credit_bytes;
		o->held_frames = m->held_n;
		o->held_bytes = m->held_bytes;
		o->lag = member_lag(s, m);
		o->events = m->st[SM_EVENTS];
		o->frames = m->st[SM_FRAMES];
		o->bytes = m->st[SM_BYTES];
		o->frames_resent = m->st[SM_RESENT];
		o->redelivered = m->st[SM_REDELIVERED];
		o->stalls = m->st[SM_STALLS];
		o->age_ms = (now - m->created_tsc) / ms;
		o->idle_ms = (now - m->last_rx_tsc) / ms;
	}
	return n;
}

unsigned int
evg_sub_count(const struct evg_sub *s, unsigned int *groups)
{
	if (groups != NULL)
		*groups = s->nb_groups;
	return s->nb_members;
}
