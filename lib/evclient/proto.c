/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The producer side of EVF/1: queue events into frames, send them, read
 * ACKs and NAKs, and resend from the acknowledged seq on NAK GAP, on a
 * timeout and after a BUSY/STORAGE back-off (go-back-N: the appliance
 * drops the duplicates one by one, so resending a whole frame that holds
 * the seq asked for is always safe).
 */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "client_priv.h"

#define NS_PER_US 1000ull
#define NS_PER_MS 1000000ull

uint64_t
evg_client_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int
cl_fail(struct evg_client *c, int err, const char *fmt, ...)
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

void
cl_seal(struct evg_client *c, bool ack_now)
{
	struct cl_frame *f;
	struct evg_evf_hdr h;
	int len;

	if (!c->open)
		return;
	f = cl_frame_at(c, c->nb_used - 1);
	if (ack_now) {
		evg_evf_hdr_decode(f->buf, &h);
		h.flags |= EVG_EVF_FLAG_ACK_NOW;
		evg_evf_hdr_encode(&h, f->buf);
	}
	len = evg_evf_builder_finish(&c->b);
	f->len = (uint32_t)len; /* an open frame holds >= 1 event */
	c->open = false;
}

/* A send that failed for a reason that passes (a full socket buffer, an
 * ICMP error of an earlier datagram): true, and it is retried later. */
static bool
send_error_passes(struct evg_client *c, int e)
{
	switch (e) {
	case EAGAIN:
	case ENOBUFS:
		c->st.send_errors++;
		c->want_out = true;
		return true;
	case ECONNREFUSED:
	case EHOSTUNREACH:
	case ENETUNREACH:
		c->st.unreachable++;
		return true;
	default:
		return false;
	}
}

static int
send_frame(struct evg_client *c, const void *buf, uint32_t len)
{
	if (send(c->fd, buf, len, MSG_DONTWAIT) == (ssize_t)len) {
		c->st.bytes_sent += len;
		return 0;
	}
	if (send_error_passes(c, errno))
		return -EAGAIN;
	return cl_fail(c, -errno, "send of a %u-byte frame failed: %s", len,
		       strerror(errno));
}

void
cl_ping(struct evg_client *c, uint64_t now)
{
	uint8_t buf[EVG_EVF_HDR_LEN];

	(void)now;
	evg_evf_control_build(buf, EVG_EVF_PING, 0, c->producer_id,
			      c->stream_id, c->session, 0);
	if (send_frame(c, buf, sizeof(buf)) == 0)
		c->st.pings_sent++;
}

int
cl_tx(struct evg_client *c, uint64_t now)
{
	uint32_t sealed = cl_nb_sealed(c);
	int n = 0, rc;

	if (c->err != 0)
		return c->err;
	if (now < c->backoff_until)
		return 0;
	c->want_out = false;
	while (c->tx_pos < sealed) {
		struct cl_frame *f = cl_frame_at(c, c->tx_pos);

		rc = send_frame(c, f->buf, f->len);
		if (rc == -EAGAIN)
			break;
		if (rc < 0)
			return rc;
		if (f->first_tx_ns == 0) {
			f->first_tx_ns = now;
			c->st.frames_sent++;
		} else {
			c->st.frames_resent++;
		}
		c->tx_pos++;
		n++;
	}
	if (n > 0 && c->rto_at == 0)
		c->rto_at = now + c->rto_ns;
	return n;
}

/* Index (from head) of the sealed frame holding seq, or of the first
 * frame after it; 0 when seq lies before the head frame. */
static uint32_t
frame_index_of(struct evg_client *c, uint64_t seq)
{
	uint32_t sealed = cl_nb_sealed(c);

	for (uint32_t i = 0; i < sealed; i++) {
		struct cl_frame *f = cl_frame_at(c, i);

		if (seq < f->seq + f->count)
			return i;
	}
	return sealed;
}

static void
go_back_to(struct evg_client *c, uint64_t seq)
{
	uint32_t i = frame_index_of(c, seq);

	if (i < c->tx_pos)
		c->tx_pos = i;
}

int
evg_client_append(struct evg_client *c, const void *key, uint32_t key_size,
		  const void *value, uint32_t value_size, uint64_t ts_ns)
{
	struct evg_evf_hdr h = {0};
	struct cl_frame *f;

	if (c->err != 0)
		return c->err;
	if (key_size > EVG_EVF_MAX_KEY)
		return -EINVAL;
	if ((uint64_t)key_size + value_size > evg_client_max_event_size(c))
		return -EMSGSIZE;
	if (c->next_seq - c->acked_seq >= c->o.window_events)
		return -EAGAIN;
	if (c->open) {
		if (evg_evf_builder_add(&c->b, key, key_size, value, value_size,
					ts_ns) == 0)
			goto queued;
		cl_seal(c, false);
		cl_tx(c, evg_client_now_ns());
		if (c->err != 0)
			return c->err;
	}
	if (c->nb_used == c->nb_frames)
		return -EAGAIN;
	f = cl_frame_at(c, c->nb_used);
	h.producer_id = c->producer_id;
	h.stream_id = c->stream_id;
	h.session = c->session;
	h.seq = c->next_seq;
	evg_evf_builder_init(&c->b, f->buf, c->max_payload, &h);
	if (evg_evf_builder_add(&c->b, key, key_size, value, value_size,
				ts_ns) != 0)
		return -EMSGSIZE; /* cannot happen: checked above */
	f->len = 0;
	f->count = 0;
	f->acked = 0;
	f->seq = c->next_seq;
	f->first_tx_ns = 0;
	c->nb_used++;
	c->open = true;
	if (c->o.linger_us != 0)
		c->open_ns = evg_client_now_ns();
queued:
	cl_frame_at(c, c->nb_used - 1)->count++;
	c->next_seq++;
	c->st.events_queued++;
	return 0;
}

int
evg_client_push(struct evg_client *c, int ack_now)
{
	if (c->err != 0)
		return c->err;
	cl_seal(c, ack_now != 0);
	return cl_tx(c, evg_client_now_ns()) < 0 ? c->err : 0;
}

/* ACK of seq a: everything below a is durable. */
static void
on_ack(struct evg_client *c, uint64_t a, uint64_t now)
{
	c->st.acks++;
	if (a > c->next_seq) {
		c->st.replies_ignored++; /* acknowledges events never sent */
		return;
	}
	if (a <= c->acked_seq) {
		c->st.acks_stale++;
		return;
	}
	while (c->acked_seq < a && cl_nb_sealed(c) > 0) {
		struct cl_frame *f = cl_frame_at(c, 0);
		uint64_t end = f->seq + f->count;
		uint64_t upto = a < end ? a : end;
		uint32_t n = (uint32_t)(upto - c->acked_seq);

		if (c->o.on_ack != NULL)
			c->o.on_ack(c->o.on_ack_arg, c->acked_seq, n,
				    f->first_tx_ns ? now - f->first_tx_ns : 0);
		c->st.events_acked += n;
		f->acked += n;
		c->acked_seq = upto;
		if (upto < end)
			break;
		c->head = (c->head + 1) % c->nb_frames;
		c->nb_used--;
		if (c->tx_pos > 0)
			c->tx_pos--;
	}
	c->rto_ns = (uint64_t)c->o.rto_min_us * NS_PER_US;
	c->rto_at = cl_nb_sealed(c) > 0 && c->tx_pos > 0 ? now + c->rto_ns : 0;
	c->backoff_ns = 0;
}

static void
on_nak_gap(struct evg_client *c, uint64_t s, uint64_t now)
{
	c->st.naks_gap++;
	if (cl_nb_sealed(c) > 0 && s < cl_frame_at(c, 0)->seq) {
		cl_fail(c, -EPROTO,
			"NAK GAP asks for seq %llu, but every event below %llu "
			"was acknowledged already",
			(unsigned long long)s,
			(unsigned long long)c->acked_seq);
		return;
	}
	/* Every frame after a lost one draws a GAP for the same seq: go back
	 * once per round trip, not once per NAK. */
	if (c->gap_valid && c->gap_seq == s && now - c->gap_ns < c->rto_ns)
		return;
	c->gap_valid = true;
	c->gap_seq = s;
	c->gap_ns = now;
	go_back_to(c, s);
}

static void
on_nak_backoff(struct evg_client *c, uint64_t s, uint64_t now)
{
	uint64_t max = (uint64_t)c->o.backoff_max_us * NS_PER_US;

	if (c->backoff_ns == 0)
		c->backoff_ns = (uint64_t)c->o.backoff_min_us * NS_PER_US;
	else if (c->backoff_ns < max)
		c->backoff_ns =
			c->backoff_ns * 2 < max ? c->backoff_ns * 2 : max;
	c->backoff_until = now + c->backoff_ns;
	go_back_to(c, s);
}

static void
on_nak(struct evg_client *c, const struct evg_evf_hdr *h, uint64_t now)
{
	switch (h->count) {
	case EVG_EVF_NAK_GAP:
		on_nak_gap(c, h->seq, now);
		break;
	case EVG_EVF_NAK_FENCED:
		cl_fail(c, -EPERM,
			"NAK FENCED: a newer session of producer %u on stream "
			"%u exists; session %llu stops",
			c->producer_id, c->stream_id,
			(unsigned long long)c->session);
		break;
	case EVG_EVF_NAK_REJECTED:
		cl_fail(c, -EACCES,
			"NAK REJECTED: the appliance does not allow producer "
			"%u "
			"on stream %u",
			c->producer_id, c->stream_id);
		break;
	case EVG_EVF_NAK_BUSY:
		c->st.naks_busy++;
		on_nak_backoff(c, h->seq, now);
		break;
	case EVG_EVF_NAK_STORAGE:
		c->st.naks_storage++;
		on_nak_backoff(c, h->seq, now);
		break;
	default:
		c->st.replies_ignored++;
		break;
	}
}

static void
on_reply(struct evg_client *c, const uint8_t *buf, size_t len, uint64_t now)
{
	struct evg_evf_hdr h;

	/* Direction is the last rule checked: a reply that breaks only it is
	 * an otherwise well-formed ACK or NAK. */
	if (evg_evf_validate(buf, len, &h) != EVG_EVF_BAD_DIRECTION ||
	    h.producer_id != c->producer_id || h.stream_id != c->stream_id ||
	    h.session != c->session) {
		c->st.replies_ignored++;
		return;
	}
	if (h.type == EVG_EVF_ACK)
		on_ack(c, h.seq, now);
	else
		on_nak(c, &h, now);
}

static int
rx_drain(struct evg_client *c, uint64_t now)
{
	uint8_t buf[512];
	int n = 0;

	while (n < (int)CL_RX_BURST && c->err == 0) {
		ssize_t len = recv(c->fd, buf, sizeof(buf), MSG_DONTWAIT);

		if (len < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			if (send_error_passes(c, errno))
				continue;
			return cl_fail(c, -errno, "recv failed: %s",
				       strerror(errno));
		}
		on_reply(c, buf, (size_t)len, now);
		n++;
	}
	return c->err != 0 ? c->err : n;
}

static void
on_timeout(struct evg_client *c, uint64_t now)
{
	uint64_t max = (uint64_t)c->o.rto_max_us * NS_PER_US;

	c->st.timeouts++;
	c->tx_pos = 0;
	c->rto_ns = c->rto_ns * 2 < max ? c->rto_ns * 2 : max;
	c->rto_at = 0; /* re-armed by cl_tx() */
	c->gap_valid = false;
	if (cl_tx(c, now) > 0)
		cl_ping(c, now);
	else
		c->rto_at = now + c->rto_ns;
}

int
evg_client_process(struct evg_client *c, uint64_t now)
{
	int n, rc;

	if (c->err != 0)
		return c->err;
	n = rx_drain(c, now);
	if (n < 0)
		return n;
	if (c->open && (c->o.linger_us == 0 ||
			now - c->open_ns >= c->o.linger_us * NS_PER_US))
		cl_seal(c, false);
	if (c->rto_at != 0 && now >= c->rto_at) {
		if (cl_nb_sealed(c) > 0) {
			on_timeout(c, now);
			n++;
		} else {
			c->rto_at = 0;
		}
	}
	rc = cl_tx(c, now);
	if (rc < 0)
		return rc;
	return n + rc;
}

int
evg_client_next_timeout_ms(const struct evg_client *c, uint64_t now)
{
	uint64_t at = UINT64_MAX;

	if (c->err != 0)
		return -1;
	if (c->tx_pos < cl_nb_sealed(c) && !c->want_out)
		at = c->backoff_until > now ? c->backoff_until : now;
	if (c->open) {
		uint64_t t = c->o.linger_us == 0
				     ? now
				     : c->open_ns + c->o.linger_us * NS_PER_US;

		at = t < at ? t : at;
	}
	if (c->rto_at != 0 && c->rto_at < at)
		at = c->rto_at;
	if (at == UINT64_MAX)
		return -1;
	if (at <= now)
		return 0;
	at = (at - now + NS_PER_MS - 1) / NS_PER_MS;
	return at > INT32_MAX ? INT32_MAX : (int)at;
}

short
evg_client_poll_events(const struct evg_client *c)
{
	short ev = 0;

	if (c->nb_used > 0)
		ev |= POLLIN;
	if (c->want_out)
		ev |= POLLOUT;
	return ev;
}
