/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The consumer side of the subscriber extension (docs/protocol.md,
 * "Subscribers"): the cookie handshake, DELIVER frames taken in dseq
 * order into the arena, CREDIT (acknowledgement, credit, NAK, heartbeat,
 * commit), COMMITTED, SUB_ERROR and the resubscription after UNKNOWN.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "consumer_priv.h"
#include "evg_client.h"

uint64_t
cs_now(void)
{
	return evg_client_now_ns();
}

int
cs_fail(struct evg_consumer *c, int err, const char *fmt, ...)
{
	va_list ap;

	if (c->err != 0)
		return c->err;
	va_start(ap, fmt);
	vsnprintf(c->errmsg, sizeof(c->errmsg), fmt, ap);
	va_end(ap);
	c->err = err;
	return err;
}

int
cs_stream_index(const struct evg_consumer *c, uint32_t stream_id)
{
	for (unsigned int i = 0; i < c->nb_streams; i++)
		if (c->streams[i].stream_id == stream_id)
			return (int)i;
	return -1;
}

/* 0 when sent or when the failure passes (a full socket buffer, an ICMP
 * error of an earlier datagram: the timers send again), else sticky. */
static int
cs_send(struct evg_consumer *c, const void *buf, int len)
{
	if (len < 0)
		return cs_fail(c, -EPROTO, "cannot encode a frame: %s",
			       strerror(-len));
	if (send(c->fd, buf, (size_t)len, MSG_DONTWAIT) == (ssize_t)len)
		return 0;
	switch (errno) {
	case EAGAIN:
	case ENOBUFS:
	case EINTR:
	case ECONNREFUSED:
	case EHOSTUNREACH:
	case ENETUNREACH:
		return -EAGAIN;
	default:
		return cs_fail(c, -errno, "send of a %d-byte frame failed: %s",
			       len, strerror(errno));
	}
}

static struct evg_evf_sub_ids
ids_of(const struct evg_consumer *c)
{
	return (struct evg_evf_sub_ids){.consumer_id = c->consumer_id,
					.session = c->session};
}

/* The SUBSCRIBE of the handshake: the options', or after UNKNOWN for a
 * plain subscription, OFFSET from where each stream stopped. */
static void
fill_subscribe(const struct evg_consumer *c, struct evg_evf_sub_subscribe *s)
{
	memset(s, 0, sizeof(*s));
	s->cookie = c->cookie;
	s->start = (uint8_t)c->o.start;
	s->policy = (uint8_t)c->o.policy;
	s->nb_streams = (uint8_t)c->nb_streams;
	s->weight = c->o.weight;
	s->credit_events = c->o.credit_events;
	s->credit_bytes = c->o.credit_bytes;
	s->start_time = c->o.start_time_ns;
	memcpy(s->group, c->group, sizeof(s->group));
	for (unsigned int i = 0; i < c->nb_streams; i++) {
		s->streams[i].stream_id = c->streams[i].stream_id;
		s->streams[i].offset = c->streams[i].offset;
	}
	if (!c->resub_offsets)
		return;
	/* A stream with nothing received resumes where the first
	 * subscription put it (SUBSCRIBED's start), which is where the
	 * original start resolved to. */
	s->start = EVG_EVF_SUB_OFFSET;
	for (unsigned int i = 0; i < c->nb_streams; i++) {
		if (c->have_last[i])
			s->streams[i].offset = c->last_offset[i] + 1;
		else if (c->have_pos[i])
			s->streams[i].offset = c->pos[i].start;
	}
}

void
cs_send_subscribe(struct evg_consumer *c, uint64_t now)
{
	struct evg_evf_sub_ids ids = ids_of(c);
	struct evg_evf_sub_subscribe s;
	uint8_t buf[EVG_EVF_SUB_SUBSCRIBE_FIXED +
		    EVG_EVF_SUB_MAX_STREAMS * EVG_EVF_SUB_STREAM_LEN];

	fill_subscribe(c, &s);
	if (cs_send(c, buf,
		    evg_evf_sub_subscribe_encode(buf, sizeof(buf), &ids, &s)) ==
	    0)
		c->st.subscribes++;
	c->sub_next_ns = now + cs_retry_ns(c);
}

void
cs_send_unsubscribe(struct evg_consumer *c)
{
	struct evg_evf_sub_ids ids = ids_of(c);
	uint8_t buf[EVG_EVF_SUB_UNSUBSCRIBE_LEN];

	cs_send(c, buf,
		evg_evf_sub_unsubscribe_encode(buf, sizeof(buf), &ids, c->token,
					       c->processed));
}

static void
send_credit(struct evg_consumer *c, uint8_t flags, uint64_t now)
{
	struct evg_evf_sub_ids ids = ids_of(c);
	struct evg_evf_sub_credit cr = {
		.received = c->received,
		.token = c->token,
		.processed = c->processed,
		.credit_events = c->o.credit_events,
		.credit_bytes = c->o.credit_bytes,
		.flags = flags,
	};
	uint8_t buf[EVG_EVF_SUB_CREDIT_LEN];

	if (cs_send(c, buf,
		    evg_evf_sub_credit_encode(buf, sizeof(buf), &ids, &cr)) !=
	    0) {
		c->tx_wait_until = now + CS_TX_RETRY_NS; /* not a busy loop */
		return;
	}
	c->st.credits++;
	c->received_sent = c->received;
	c->processed_sent = c->processed;
	c->processed_bytes_sent = c->processed_bytes;
	c->credit_ns = now;
	c->ack_at = 0;
	c->credit_now = false;
	if (flags & EVG_EVF_SUB_F_NAK) {
		c->st.naks++;
		c->nak_due = false;
		c->nak_valid = true;
		c->nak_seq = c->received;
		c->nak_ns = now;
	}
	if (flags & EVG_EVF_SUB_F_COMMIT) {
		c->commit_now = false;
		c->commit_ns = now;
		c->commit_asked = c->processed;
	}
}

void
cs_ask_commit(struct evg_consumer *c)
{
	c->st.commits++;
	c->commit_pending = true;
	c->commit_now = true;
	c->commit_target = c->processed;
}

/* ---- received frames ---------------------------------------------------- */

static void
want_nak(struct evg_consumer *c, uint64_t now)
{
	if (!c->nak_valid || c->nak_seq != c->received ||
	    now - c->nak_ns >= cs_retry_ns(c))
		c->nak_due = true;
}

static void
on_deliver(struct evg_consumer *c, const uint8_t *buf,
	   const struct evg_evf_hdr *h, uint64_t now)
{
	int idx = cs_stream_index(c, h->stream_id);
	uint64_t first = h->seq, end = h->seq + h->count;

	if (!c->subscribed || idx < 0 || end < first) {
		c->st.replies_ignored++;
		return;
	}
	if (end <= c->received) {
		c->st.duplicates++;
		c->credit_now = true; /* evgate resends: it lacks our CREDIT */
		return;
	}
	if (first > c->received) {
		c->st.out_of_order++;
		want_nak(c, now);
		return;
	}
	if (!cs_store_frame(c, buf, h, (uint32_t)(c->received - first), idx))
		return; /* no room: evgate sends it again */
	c->received = end;
	c->st.frames++;
	c->st.bytes += h->length;
	cs_report_by(c, now + CS_ACK_DELAY_NS);
}

static void
on_challenge(struct evg_consumer *c, const uint8_t *buf, uint64_t now)
{
	uint64_t cookie = evg_evf_sub_challenge_cookie(buf);

	c->st.challenges++;
	if (c->subscribed || cookie == 0) {
		c->st.replies_ignored++; /* a late answer to a resend */
		return;
	}
	c->cookie = cookie;
	c->busy_reason = 0;
	cs_send_subscribe(c, now);
}

/* Positions of the SUBSCRIBED in the order of c->streams. */
static void
take_positions(struct evg_consumer *c, const struct evg_evf_sub_subscribed *s)
{
	memset(c->have_pos, 0, sizeof(c->have_pos));
	for (unsigned int i = 0; i < s->nb && i < EVG_EVF_SUB_MAX_STREAMS;
	     i++) {
		int idx = cs_stream_index(c, s->pos[i].stream_id);

		if (idx < 0)
			continue;
		c->have_pos[idx] = true;
		c->pos[idx] = (struct evg_consumer_position){
			.stream_id = s->pos[i].stream_id,
			.partition = s->pos[i].partition,
			.start = s->pos[i].start,
			.end = s->pos[i].end,
		};
	}
}

/* A new subscription: a new dseq space. Events buffered from the last one
 * stay and are handed out; what they were is not reported any more. */
static void
new_epoch(struct evg_consumer *c, uint64_t now)
{
	cs_drop_partial(c);
	c->epoch++;
	c->received = c->processed = c->processed_bytes = 0;
	c->received_sent = c->processed_sent = c->processed_bytes_sent = 0;
	c->ack_at = 0;
	c->credit_now = false;
	c->nak_due = c->nak_valid = false;
	c->credit_ns = now;
	c->auto_ns = now;
	c->commit_asked = 0;
	if (c->commit_pending) {
		c->commit_target = 0; /* ask the new subscription again */
		c->commit_now = true;
	}
}

static void
on_subscribed(struct evg_consumer *c, const uint8_t *buf, uint64_t now)
{
	struct evg_evf_sub_subscribed s;

	evg_evf_sub_subscribed_decode(buf, &s);
	if (c->subscribed) {
		if (s.token != c->token)
			c->st.replies_ignored++;
		return; /* the same again: its first copy was taken */
	}
	/* After UNKNOWN, the same token means evgate had not forgotten us
	 * (a lost frame, a forged UNKNOWN): the dseq space goes on. */
	if (c->epoch == 0 || s.token != c->token)
		new_epoch(c, now);
	c->subscribed = true;
	c->resub_offsets = false;
	c->busy_reason = 0;
	c->sub_ns = now;
	c->token = s.token;
	c->timeout_ms = s.timeout_ms;
	c->max_inflight = s.max_inflight;
	c->sflags = s.flags;
	c->members = s.members;
	c->partitions = s.partitions;
	take_positions(c, &s);
}

static void
on_committed(struct evg_consumer *c, const uint8_t *buf,
	     const struct evg_evf_hdr *h)
{
	struct evg_evf_sub_committed cm;

	evg_evf_sub_committed_decode(buf, &cm);
	c->st.committed++;
	c->have_committed = true;
	c->committed_seq = h->seq;
	c->committed_epoch = c->epoch;
	for (unsigned int i = 0; i < cm.nb && i < EVG_EVF_SUB_MAX_STREAMS;
	     i++) {
		int idx = cs_stream_index(c, cm.pos[i].stream_id);

		if (idx >= 0)
			c->committed[idx] = (struct cs_commit_pos){
				.valid = true, .offset = cm.pos[i].offset};
	}
	if (c->commit_pending && h->seq >= c->commit_target)
		c->commit_pending = false;
}

static void
resubscribe(struct evg_consumer *c, uint64_t now)
{
	c->st.resubscribes++;
	c->subscribed = false;
	c->cookie = 0;
	c->resub_offsets = c->group[0] == '\0';
	cs_send_subscribe(c, now);
}

static void
on_sub_error(struct evg_consumer *c, const struct evg_evf_hdr *h, uint64_t now)
{
	const char *name = evg_evf_sub_error_name(h->count);
	const char *desc = evg_evf_sub_error_desc(h->count);

	c->st.errors++;
	switch (h->count) {
	case EVG_EVF_SUB_ERR_REJECTED:
		cs_fail(c, -EACCES, "SUB_ERROR %s: %s (consumer %u)", name,
			desc, c->consumer_id);
		break;
	case EVG_EVF_SUB_ERR_FENCED:
		cs_fail(c, -EPERM,
			"SUB_ERROR %s: %s (consumer %u, session %llu)", name,
			desc, c->consumer_id, (unsigned long long)c->session);
		break;
	case EVG_EVF_SUB_ERR_POLICY:
		cs_fail(c, -EINVAL, "SUB_ERROR %s: %s (group %s, policy %s)",
			name, desc, c->group,
			c->o.policy == 0 ? "default"
					 : evg_evf_sub_policy_name(
						   (unsigned int)c->o.policy));
		break;
	case EVG_EVF_SUB_ERR_FULL:
	case EVG_EVF_SUB_ERR_GROUPS:
		if (!c->subscribed)
			c->busy_reason = h->count; /* the resend retries */
		break;
	case EVG_EVF_SUB_ERR_UNKNOWN:
		/* Late answers to CREDITs of the subscription just replaced
		 * must not start another. */
		if (c->subscribed &&
		    (c->epoch <= 1 || now - c->sub_ns >= cs_retry_ns(c)))
			resubscribe(c, now);
		break;
	default:
		break;
	}
}

static void
on_frame(struct evg_consumer *c, const uint8_t *buf, size_t len, uint64_t now)
{
	struct evg_evf_hdr h;

	/* Direction is the last rule: well-formed frames from evgate break
	 * only it (as ACK and NAK do for the producer). */
	if (evg_evf_validate(buf, len, &h) != EVG_EVF_BAD_DIRECTION ||
	    !evg_evf_sub_from_appliance(h.type) ||
	    h.producer_id != c->consumer_id || h.session != c->session) {
		c->st.replies_ignored++;
		return;
	}
	switch (h.type) {
	case EVG_EVF_DELIVER:
		on_deliver(c, buf, &h, now);
		break;
	case EVG_EVF_CHALLENGE:
		on_challenge(c, buf, now);
		break;
	case EVG_EVF_SUBSCRIBED:
		on_subscribed(c, buf, now);
		break;
	case EVG_EVF_COMMITTED:
		on_committed(c, buf, &h);
		break;
	default: /* EVG_EVF_SUB_ERROR */
		on_sub_error(c, &h, now);
		break;
	}
}

/* Read what waits, up to CS_RX_MAX datagrams; how many, or the sticky
 * error. */
static int
rx_drain(struct evg_consumer *c, uint64_t now)
{
	int n = 0;

	while (n < (int)CS_RX_MAX && c->err == 0) {
		int got;

		for (unsigned int i = 0; i < CS_RX_BATCH; i++) {
			c->iov[i] = (struct iovec){
				.iov_base =
					c->scratch + (size_t)i * CS_SLOT_LEN,
				.iov_len = CS_SLOT_LEN};
			c->msgs[i] = (struct mmsghdr){
				.msg_hdr = {.msg_iov = &c->iov[i],
					    .msg_iovlen = 1}};
		}
		got = recvmmsg(c->fd, c->msgs, CS_RX_BATCH, MSG_DONTWAIT, NULL);
		if (got < 0) {
			if (errno == EINTR || errno == ECONNREFUSED ||
			    errno == EHOSTUNREACH || errno == ENETUNREACH)
				continue; /* an ICMP error of an earlier send */
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			return cs_fail(c, -errno, "recvmmsg failed: %s",
				       strerror(errno));
		}
		for (int i = 0; i < got && c->err == 0; i++) {
			if (c->msgs[i].msg_hdr.msg_flags & MSG_TRUNC)
				c->st.replies_ignored++;
			else
				on_frame(c, c->iov[i].iov_base,
					 c->msgs[i].msg_len, now);
		}
		n += got;
		if (got < (int)CS_RX_BATCH)
			break;
	}
	return c->err != 0 ? c->err : n;
}

/* ---- timers --------------------------------------------------------- */

static uint64_t
heartbeat_ns(const struct evg_consumer *c)
{
	uint64_t t = (uint64_t)c->timeout_ms * CS_NS_PER_MS / 4;

	if (c->timeout_ms == 0)
		return CS_HB_DEFAULT_NS;
	return t > 0 ? t : 1;
}

/* Processing (or arrival) advanced by a quarter of the window evgate
 * may fill: the credit, capped by evgate's max_inflight. */
static bool
credit_threshold(const struct evg_consumer *c)
{
	uint64_t ev = c->o.credit_events;

	if (c->max_inflight != 0 && c->max_inflight < ev)
		ev = c->max_inflight;
	ev = ev / 4 > 0 ? ev / 4 : 1;
	if (c->processed - c->processed_sent >= ev ||
	    c->received - c->received_sent >= ev)
		return true;
	return c->o.credit_bytes != EVG_EVF_SUB_NO_BYTE_LIMIT &&
	       c->processed_bytes - c->processed_bytes_sent >=
		       (c->o.credit_bytes / 4 > 0 ? c->o.credit_bytes / 4 : 1);
}

static bool
auto_commit_due(const struct evg_consumer *c, uint64_t now)
{
	return c->group[0] != '\0' && c->o.auto_commit_ms != 0 &&
	       c->processed > c->commit_asked &&
	       now - c->auto_ns >= (uint64_t)c->o.auto_commit_ms * CS_NS_PER_MS;
}

/* CREDIT when it is due; 1 when one went out. */
static int
credit_timers(struct evg_consumer *c, uint64_t now)
{
	uint8_t flags = 0;
	uint64_t before = c->st.credits;

	if (now < c->tx_wait_until)
		return 0;
	if (auto_commit_due(c, now)) {
		cs_ask_commit(c);
		c->auto_ns = now;
	}
	if (c->nak_due)
		flags |= EVG_EVF_SUB_F_NAK;
	if (c->commit_pending &&
	    (c->commit_now || now - c->commit_ns >= cs_retry_ns(c)))
		flags |= EVG_EVF_SUB_F_COMMIT;
	if (flags != 0 || c->credit_now || credit_threshold(c) ||
	    (c->ack_at != 0 && now >= c->ack_at) ||
	    now - c->credit_ns >= heartbeat_ns(c))
		send_credit(c, flags, now);
	return c->st.credits != before;
}

int
evg_consumer_process(struct evg_consumer *c, uint64_t now)
{
	int n;

	if (c->err != 0)
		return c->err;
	n = rx_drain(c, now);
	if (n < 0)
		return n;
	if (!c->subscribed) {
		if (now >= c->sub_next_ns) {
			cs_send_subscribe(c, now);
			n++;
		}
	} else {
		n += credit_timers(c, now);
	}
	return c->err != 0 ? c->err : n;
}

static uint64_t
min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

/* When credit_timers() has work, for a subscribed handle. */
static uint64_t
credit_at(const struct evg_consumer *c, uint64_t now)
{
	uint64_t at;

	if (c->nak_due || c->credit_now || credit_threshold(c) ||
	    (c->commit_pending && c->commit_now))
		at = now;
	else
		at = c->credit_ns + heartbeat_ns(c);
	if (c->ack_at != 0)
		at = min_u64(at, c->ack_at);
	if (c->commit_pending)
		at = min_u64(at, c->commit_ns + cs_retry_ns(c));
	if (c->group[0] != '\0' && c->o.auto_commit_ms != 0 &&
	    c->processed > c->commit_asked)
		at = min_u64(at, c->auto_ns + (uint64_t)c->o.auto_commit_ms *
						      CS_NS_PER_MS);
	return at < c->tx_wait_until ? c->tx_wait_until : at;
}

int
evg_consumer_next_timeout_ms(const struct evg_consumer *c, uint64_t now)
{
	uint64_t at;

	if (c->err != 0)
		return -1;
	at = c->subscribed ? credit_at(c, now) : c->sub_next_ns;
	if (at <= now)
		return 0;
	at = (at - now + CS_NS_PER_MS - 1) / CS_NS_PER_MS;
	return at > INT32_MAX ? INT32_MAX : (int)at;
}
