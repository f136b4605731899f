/* SPDX-License-Identifier: BSD-3-Clause */
/* The scripted fake subscriber appliance of the consumer tests. */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "fake_sub.h"

#define NS_PER_MS 1000000ull

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t
events_of(const struct fsub *f, unsigned int k)
{
	return f->s.events_of[k] != 0 ? f->s.events_of[k] : f->s.events;
}

static void
tx(struct fsub *f, const void *buf, int len)
{
	cr_assert_gt(len, 0, "fake: cannot encode a frame (%d)", len);
	sendto(f->fd, buf, (size_t)len, 0, (const struct sockaddr *)&f->peer,
	       sizeof(f->peer));
}

static struct evg_evf_sub_ids
ids(const struct fsub *f, uint32_t stream_id)
{
	return (struct evg_evf_sub_ids){.consumer_id = f->consumer_id,
					.stream_id = stream_id,
					.session = f->session};
}

static void
send_error(struct fsub *f, unsigned int reason, uint64_t detail)
{
	struct evg_evf_sub_ids i = ids(f, 0);
	uint8_t buf[EVG_EVF_HDR_LEN];

	tx(f, buf,
	   evg_evf_sub_error_encode(buf, sizeof(buf), &i,
				    (enum evg_evf_sub_error)reason, detail));
}

static void
send_subscribed(struct fsub *f)
{
	struct evg_evf_sub_subscribed s = {
		.token = f->token,
		.timeout_ms = f->s.timeout_ms ? f->s.timeout_ms : 10000,
		.max_inflight = f->s.max_inflight ? f->s.max_inflight : 1000000,
		.flags = f->s.resumed ? EVG_EVF_SUB_F_RESUMED : 0,
		.members = f->s.members,
		.partitions = 4,
		.nb = (uint8_t)f->nb,
	};
	struct evg_evf_sub_ids i = ids(f, 0);
	uint8_t buf[512];

	for (unsigned int k = 0; k < f->nb; k++) {
		unsigned int src = f->s.reverse_pos ? f->nb - 1 - k : k;

		s.pos[k] = (struct evg_evf_sub_start_pos){
			.stream_id = f->stream[src],
			.partition = f->stream[src] % 4,
			.start = f->start_off[src],
			.end = events_of(f, src),
		};
	}
	tx(f, buf, evg_evf_sub_subscribed_encode(buf, sizeof(buf), &i, &s));
}

static uint64_t
start_offset(const struct fsub *f, const struct evg_evf_sub_subscribe *s,
	     unsigned int k)
{
	uint64_t o;

	switch (s->start) {
	case EVG_EVF_SUB_OLDEST:
		return 0;
	case EVG_EVF_SUB_END:
		return events_of(f, k);
	case EVG_EVF_SUB_OFFSET:
		o = s->streams[k].offset;
		break;
	default:
		o = s->start_time > FSUB_TS0 ? s->start_time - FSUB_TS0 : 0;
		break;
	}
	return o < events_of(f, k) ? o : events_of(f, k);
}

static void
create(struct fsub *f, const struct evg_evf_hdr *h,
       const struct evg_evf_sub_subscribe *s)
{
	f->live = true;
	f->consumer_id = h->producer_id;
	f->session = h->session;
	f->token = 0x70CE000000000000ull + ++f->subscriptions;
	f->nb = s->nb_streams;
	for (unsigned int k = 0; k < f->nb; k++) {
		f->stream[k] = s->streams[k].stream_id;
		f->start_off[k] = f->next_off[k] = start_offset(f, s, k);
	}
	f->dseq = f->received = f->processed = 0;
	f->credit_events = s->credit_events;
	f->nb_sent = 0;
	f->rr = 0;
	f->progress_ns = now_ns();
}

static void
on_subscribe(struct fsub *f, const uint8_t *buf, const struct evg_evf_hdr *h)
{
	struct evg_evf_sub_subscribe s;

	evg_evf_sub_subscribe_decode(buf, &s);
	f->log[f->nb_log - 1].u.sub = s;
	f->consumer_id = h->producer_id;
	f->session = h->session;
	if (s.cookie != FSUB_COOKIE) {
		struct evg_evf_sub_ids i = ids(f, 0);
		uint8_t c[EVG_EVF_SUB_CHALLENGE_LEN];

		tx(f, c,
		   evg_evf_sub_challenge_encode(c, sizeof(c), &i, FSUB_COOKIE));
		return;
	}
	if (f->s.hold)
		return;
	if (f->errors_sent < f->s.error_count) {
		f->errors_sent++;
		send_error(f, f->s.error_reason, 7);
		return;
	}
	if (!f->live)
		create(f, h, &s);
	send_subscribed(f);
}

uint32_t
fsub_event(const struct fsub *f, uint32_t sid, uint64_t o, char *key,
	   uint32_t *key_len, char *val, size_t cap)
{
	int n = snprintf(val, cap, "s%u-o%llu", sid, (unsigned long long)o);

	*key_len = (uint32_t)snprintf(key, 16, "k%u", sid);
	if (f->s.pieces_at == 0 || o != f->s.pieces_at - 1)
		return (uint32_t)n;
	cr_assert_geq(cap, FSUB_BIG);
	for (uint32_t i = (uint32_t)n; i < FSUB_BIG; i++)
		val[i] = (char)('a' + i % 26);
	return FSUB_BIG;
}

/* Record of offset o, or its piece p (1-based) of FSUB_PIECES. */
static void
add_record(struct fsub *f, struct evg_evf_sub_builder *b, uint32_t sid,
	   uint64_t o, uint32_t piece)
{
	char data[16 + FSUB_BIG];
	uint32_t klen, size, per, from, to;
	struct evg_evf_sub_record r = {.offset = o,
				       .session = 77,
				       .seq = o,
				       .ts_ns = FSUB_TS0 + o,
				       .producer_id = 5};

	size = fsub_event(f, sid, o, data, &klen, data + 16, FSUB_BIG);
	memmove(data + klen, data + 16, size); /* key then value */
	size += klen;
	from = 0;
	to = size;
	if (piece != 0) {
		per = (size + FSUB_PIECES - 1) / FSUB_PIECES;
		from = (piece - 1) * per;
		to = from + per < size ? from + per : size;
		r.flags = (uint16_t)((piece > 1 ? EVG_EVF_SUB_REC_CONT : 0) |
				     (piece < FSUB_PIECES ? EVG_EVF_SUB_REC_MORE
							  : 0));
	}
	r.key = (const uint8_t *)data + from;
	r.key_size = from < klen ? (to < klen ? to : klen) - from : 0;
	r.value = r.key + r.key_size;
	r.value_size = to - from - r.key_size;
	cr_assert_eq(evg_evf_sub_builder_add(b, &r), 0);
}

/* DELIVER from the table entry e, starting `early` records before it. */
static void
send_deliver(struct fsub *f, const struct fsub_sent *e, uint32_t early)
{
	uint32_t sid = f->stream[e->sidx];
	struct evg_evf_sub_ids i = ids(f, sid);
	struct evg_evf_sub_builder b;
	uint8_t buf[8192];

	cr_assert_eq(evg_evf_sub_builder_init(&b, buf, sizeof(buf), &i,
					      e->dseq - early, sid % 4),
		     0);
	if (e->piece != 0)
		add_record(f, &b, sid, e->offset, e->piece);
	else
		for (uint64_t o = e->offset - early; o < e->offset + e->count;
		     o++)
			add_record(f, &b, sid, o, 0);
	tx(f, buf, evg_evf_sub_builder_finish(&b));
	f->frames_tx++;
}

/* Table entry number nb_sent, sent as the script says. */
static void
send_new(struct fsub *f, struct fsub_sent *e)
{
	unsigned int no = (unsigned int)(e - f->sent) + 1;

	if (no == f->s.drop_frame)
		return;
	if (no == f->s.overlap_frame && no > 1 &&
	    f->sent[no - 2].sidx == e->sidx && e->piece == 0)
		send_deliver(f, e, 1);
	else
		send_deliver(f, e, 0);
	if (no == f->s.dup_frame)
		send_deliver(f, e, 0);
}

/* The pieces of the big event of stream k; false without credit. */
static bool
deliver_pieces(struct fsub *f, unsigned int k, uint64_t room)
{
	if (room < FSUB_PIECES || f->nb_sent + FSUB_PIECES > FSUB_MAX_FRAMES)
		return false;
	for (uint32_t p = 1; p <= FSUB_PIECES; p++) {
		struct fsub_sent *e = &f->sent[f->nb_sent++];

		*e = (struct fsub_sent){.dseq = f->dseq++,
					.count = 1,
					.sidx = k,
					.offset = f->next_off[k],
					.piece = p};
		send_new(f, e);
	}
	f->next_off[k]++;
	return true;
}

/* The next frame of the log within the credit; false when none. */
static bool
deliver_next(struct fsub *f)
{
	uint32_t per = f->s.per_frame ? f->s.per_frame : 4;
	uint64_t room = f->credit_events - (f->dseq - f->processed);
	uint64_t big = f->s.pieces_at ? f->s.pieces_at - 1 : UINT64_MAX;
	struct fsub_sent *e;
	unsigned int k, n;

	if (f->dseq - f->processed >= f->credit_events ||
	    f->nb_sent == FSUB_MAX_FRAMES)
		return false;
	for (n = 0; n < f->nb; n++) {
		k = (f->rr + n) % f->nb;
		if (f->next_off[k] < events_of(f, k))
			break;
	}
	if (n == f->nb)
		return false;
	if (f->next_off[k] == big) {
		if (!deliver_pieces(f, k, room))
			return false;
		f->rr = (k + 1) % f->nb;
		return true;
	}
	f->rr = (k + 1) % f->nb;
	e = &f->sent[f->nb_sent++];
	*e = (struct fsub_sent){
		.dseq = f->dseq, .sidx = k, .offset = f->next_off[k]};
	e->count = (uint32_t)(events_of(f, k) - f->next_off[k]);
	if (e->count > per)
		e->count = per;
	if (e->count > room)
		e->count = (uint32_t)room;
	if (e->offset < big && e->offset + e->count > big)
		e->count = (uint32_t)(big - e->offset);
	f->dseq += e->count;
	f->next_off[k] += e->count;
	send_new(f, e);
	return true;
}

static void
resend_from(struct fsub *f, uint64_t dseq)
{
	for (unsigned int i = 0; i < f->nb_sent; i++) {
		if (f->sent[i].dseq + f->sent[i].count <= dseq)
			continue;
		send_deliver(f, &f->sent[i], 0);
		f->resent++;
	}
}

static void
send_committed(struct fsub *f, uint64_t processed)
{
	struct evg_evf_sub_committed cm = {.processed = processed,
					   .nb = (uint8_t)f->nb};
	struct evg_evf_sub_ids i = ids(f, 0);
	uint8_t buf[512];

	for (unsigned int k = 0; k < f->nb; k++) {
		cm.pos[k] = (struct evg_evf_sub_commit_pos){
			.stream_id = f->stream[k],
			.partition = f->stream[k] % 4,
			.offset = f->start_off[k]};
	}
	for (unsigned int i2 = 0; i2 < f->nb_sent; i2++) {
		const struct fsub_sent *e = &f->sent[i2];
		uint64_t n = processed <= e->dseq ? 0 : processed - e->dseq;

		n = n < e->count ? n : e->count;
		if (e->offset + n > cm.pos[e->sidx].offset)
			cm.pos[e->sidx].offset = e->offset + n;
	}
	tx(f, buf, evg_evf_sub_committed_encode(buf, sizeof(buf), &i, &cm));
}

static void
on_credit(struct fsub *f, const uint8_t *buf)
{
	struct evg_evf_sub_credit c;

	evg_evf_sub_credit_decode(buf, &c);
	f->log[f->nb_log - 1].u.credit = c;
	if (!f->live || c.token != f->token) {
		send_error(f, EVG_EVF_SUB_ERR_UNKNOWN, 0);
		return;
	}
	if (c.received > f->received) {
		f->received = c.received;
		f->progress_ns = now_ns();
	}
	f->processed = c.processed;
	f->credit_events = c.credit_events;
	if (f->s.forget_after != 0 && !f->forgotten &&
	    f->received >= f->s.forget_after) {
		f->forgotten = true;
		f->live = false;
		return;
	}
	if (c.flags & EVG_EVF_SUB_F_NAK)
		resend_from(f, c.received);
	if ((c.flags & EVG_EVF_SUB_F_COMMIT) && !f->s.no_committed) {
		if (f->s.committed_delay_ms != 0) {
			if (f->commit_due_ns != 0)
				return; /* a resend: the first one counts */
			f->commit_due_ns =
				now_ns() + f->s.committed_delay_ms * NS_PER_MS;
			f->commit_seq = c.processed;
		} else {
			send_committed(f, c.processed);
		}
	}
}

static void
serve_one(struct fsub *f)
{
	uint8_t buf[70000];
	struct sockaddr_in from;
	socklen_t flen = sizeof(from);
	struct evg_evf_hdr h;
	struct fsub_rx *r;
	ssize_t len;

	len = recvfrom(f->fd, buf, sizeof(buf), MSG_DONTWAIT,
		       (struct sockaddr *)&from, &flen);
	if (len < 0)
		return;
	if (evg_evf_validate(buf, (size_t)len, &h) != EVG_EVF_OK ||
	    !evg_evf_sub_from_consumer(h.type) || f->nb_log == FSUB_MAX_LOG) {
		f->malformed++;
		return;
	}
	f->peer = from;
	f->have_peer = true;
	r = &f->log[f->nb_log++];
	*r = (struct fsub_rx){.type = h.type,
			      .flags = h.flags,
			      .seq = h.seq,
			      .at_ns = now_ns()};
	if (h.type == EVG_EVF_SUBSCRIBE) {
		on_subscribe(f, buf, &h);
	} else if (h.type == EVG_EVF_CREDIT) {
		on_credit(f, buf);
	} else {
		evg_evf_sub_unsubscribe_decode(buf, &r->u.unsub.token,
					       &r->u.unsub.processed);
		if (f->live && r->u.unsub.token == f->token)
			f->live = false;
	}
}

static void
pump(struct fsub *f)
{
	uint64_t now = now_ns();
	uint64_t rto = (f->s.rto_ms ? f->s.rto_ms : 300) * NS_PER_MS;

	if (f->commit_due_ns != 0 && now >= f->commit_due_ns) {
		f->commit_due_ns = 0;
		send_committed(f, f->commit_seq);
	}
	if (!f->live || f->s.no_deliver)
		return;
	while (deliver_next(f))
		;
	if (f->dseq > f->received && now - f->progress_ns > rto) {
		resend_from(f, f->received);
		f->progress_ns = now;
	}
}

static void *
serve(void *arg)
{
	struct fsub *f = arg;
	struct pollfd p = {.fd = f->fd, .events = POLLIN};

	while (!atomic_load(&f->stop)) {
		int n = poll(&p, 1, 5);

		pthread_mutex_lock(&f->mu);
		if (n > 0)
			serve_one(f);
		pump(f);
		pthread_mutex_unlock(&f->mu);
	}
	return NULL;
}

void
fsub_start(struct fsub *f, const struct fsub_script *s)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t alen = sizeof(a);

	memset(f, 0, sizeof(*f));
	if (s != NULL)
		f->s = *s;
	pthread_mutex_init(&f->mu, NULL);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	f->fd = socket(AF_INET, SOCK_DGRAM, 0);
	cr_assert_geq(f->fd, 0, "socket: %s", strerror(errno));
	cr_assert_eq(bind(f->fd, (struct sockaddr *)&a, sizeof(a)), 0,
		     "bind: %s", strerror(errno));
	getsockname(f->fd, (struct sockaddr *)&a, &alen);
	snprintf(f->addr, sizeof(f->addr), "127.0.0.1:%u", ntohs(a.sin_port));
	atomic_init(&f->stop, false);
	cr_assert_eq(pthread_create(&f->thread, NULL, serve, f), 0);
}

void
fsub_stop(struct fsub *f)
{
	if (f->fd <= 0)
		return;
	atomic_store(&f->stop, true);
	pthread_join(f->thread, NULL);
	close(f->fd);
	f->fd = -1;
	pthread_mutex_destroy(&f->mu);
}

void
fsub_inject(struct fsub *f, const void *buf, size_t len)
{
	pthread_mutex_lock(&f->mu);
	cr_assert(f->have_peer, "inject before the consumer said anything");
	sendto(f->fd, buf, len, 0, (const struct sockaddr *)&f->peer,
	       sizeof(f->peer));
	pthread_mutex_unlock(&f->mu);
}

unsigned int
fsub_count(struct fsub *f, uint8_t type, uint8_t flags)
{
	unsigned int n = 0;

	pthread_mutex_lock(&f->mu);
	for (unsigned int i = 0; i < f->nb_log; i++)
		if (f->log[i].type == type &&
		    (flags == 0 || (f->log[i].flags & flags) == flags))
			n++;
	pthread_mutex_unlock(&f->mu);
	return n;
}

bool
fsub_nth(struct fsub *f, uint8_t type, unsigned int i, struct fsub_rx *out)
{
	bool found = false;

	pthread_mutex_lock(&f->mu);
	for (unsigned int k = 0; k < f->nb_log && !found; k++)
		if (f->log[k].type == type && i-- == 0) {
			*out = f->log[k];
			found = true;
		}
	pthread_mutex_unlock(&f->mu);
	return found;
}

uint64_t
fsub_token(struct fsub *f)
{
	uint64_t t;

	pthread_mutex_lock(&f->mu);
	t = f->token;
	pthread_mutex_unlock(&f->mu);
	return t;
}
