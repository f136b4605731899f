/* SPDX-License-Identifier: BSD-3-Clause */
/* The scripted fake appliance of the libevclient tests. */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "fake_appliance.h"

static void
reply(struct fake *f, const struct sockaddr_in *to, const struct evg_evf_hdr *h,
      enum evg_evf_type type, uint16_t code, uint64_t seq)
{
	uint8_t buf[EVG_EVF_HDR_LEN];

	if (type == EVG_EVF_ACK && f->s.ack_delay_ms != 0)
		usleep(f->s.ack_delay_ms * 1000u);
	evg_evf_control_build(buf, type, code, h->producer_id, h->stream_id,
			      h->session, seq);
	sendto(f->fd, buf, sizeof(buf), 0, (const struct sockaddr *)to,
	       sizeof(*to));
	if (type == EVG_EVF_ACK)
		f->seen.acks++;
	else
		f->seen.naks++;
}

static void
take_events(struct fake *f, const uint8_t *frame, const struct evg_evf_hdr *h)
{
	struct evg_evf_iter it;
	struct evg_evf_event ev;
	uint64_t seq = h->seq;
	char want[32];

	evg_evf_iter_init(&it, frame);
	while (evg_evf_iter_next(&it, &ev)) {
		if (seq < f->next) {
			f->seen.duplicates++;
		} else {
			int n = snprintf(want, sizeof(want), "ev-%" PRIu64,
					 seq);

			if (ev.value_size < (uint32_t)n ||
			    memcmp(ev.value, want, (size_t)n) != 0)
				f->seen.bad_values++;
			f->seen.accepted++;
			f->next++;
		}
		seq++;
	}
}

/* Returns true when the frame was refused by the script. */
static bool
scripted_refusal(struct fake *f, const struct sockaddr_in *from,
		 const struct evg_evf_hdr *h)
{
	uint64_t n = f->seen.data_frames;

	if (n <= f->s.drop_data || n == f->s.drop_nth)
		return true;
	if (f->s.fence || f->s.reject) {
		reply(f, from, h, EVG_EVF_NAK,
		      f->s.fence ? EVG_EVF_NAK_FENCED : EVG_EVF_NAK_REJECTED,
		      0);
		return true;
	}
	if (n <= f->s.nak_busy + f->s.nak_storage) {
		reply(f, from, h, EVG_EVF_NAK,
		      n <= f->s.nak_busy ? EVG_EVF_NAK_BUSY
					 : EVG_EVF_NAK_STORAGE,
		      h->seq);
		return true;
	}
	return false;
}

static void
on_data(struct fake *f, const uint8_t *buf, const struct sockaddr_in *from,
	const struct evg_evf_hdr *h)
{
	f->seen.data_frames++;
	if (h->length > f->seen.max_len)
		f->seen.max_len = h->length;
	if (scripted_refusal(f, from, h))
		return;
	if (h->session != f->session) {
		cr_expect_gt(h->session, f->session, "a session went down");
		f->session = h->session;
		f->next = 0;
		f->seen.sessions++;
	}
	if (h->seq > f->next) {
		reply(f, from, h, EVG_EVF_NAK, EVG_EVF_NAK_GAP, f->next);
		return;
	}
	take_events(f, buf, h);
	if (h->flags & EVG_EVF_FLAG_ACK_NOW)
		f->seen.ack_now_frames++;
	if (!f->s.silent &&
	    ((h->flags & EVG_EVF_FLAG_ACK_NOW) || f->s.ack_every <= 1 ||
	     f->seen.data_frames % f->s.ack_every == 0))
		reply(f, from, h, EVG_EVF_ACK, 0, f->next);
}

static void
serve_one(struct fake *f)
{
	uint8_t buf[70000];
	struct sockaddr_in from;
	socklen_t flen = sizeof(from);
	struct evg_evf_hdr h;
	ssize_t len;

	len = recvfrom(f->fd, buf, sizeof(buf), MSG_DONTWAIT,
		       (struct sockaddr *)&from, &flen);
	if (len < 0)
		return;
	if (evg_evf_validate(buf, (size_t)len, &h) != EVG_EVF_OK) {
		f->seen.malformed++;
		return;
	}
	if (h.type == EVG_EVF_PING) {
		f->seen.pings++;
		if (!f->s.silent)
			reply(f, &from, &h, EVG_EVF_ACK, 0,
			      h.session == f->session ? f->next : 0);
		return;
	}
	on_data(f, buf, &from, &h);
}

static void *
serve(void *arg)
{
	struct fake *f = arg;
	struct pollfd p = {.fd = f->fd, .events = POLLIN};

	while (!atomic_load(&f->stop))
		if (poll(&p, 1, 10) > 0)
			serve_one(f);
	return NULL;
}

void
fake_start(struct fake *f, const struct fake_script *s)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t alen = sizeof(a);

	memset(f, 0, sizeof(*f));
	if (s != NULL)
		f->s = *s;
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
fake_stop(struct fake *f)
{
	atomic_store(&f->stop, true);
	pthread_join(f->thread, NULL);
	close(f->fd);
}
