/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libevclient: opening a producer handle (socket, path MTU, window) and the
 * blocking calls built on the non-blocking core in proto.c.
 */
#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "cl_sock.h"
#include "client_priv.h"

#define SNDBUF_WANTED (4 << 20)

static const char *const stat_names[EVG_CLIENT_STAT_MAX] = {
#define NAME_(name, desc) [EVG_CLIENT_STAT_##name] = #name,
	EVG_CLIENT_STATS_FOREACH(NAME_)
#undef NAME_
};

void
evg_client_opts_init(struct evg_client_opts *o)
{
	*o = (struct evg_client_opts){
		.window_events = 65536,
		.window_bytes = 4u << 20,
		.rto_min_us = 200000,
		.rto_max_us = 2000000,
		.backoff_min_us = 1000,
		.backoff_max_us = 500000,
	};
}

static int
check_opts(const struct evg_client_opts *o)
{
	if (o->max_payload != 0 && (o->max_payload < CL_MIN_PAYLOAD ||
				    o->max_payload > EVG_EVF_MAX_FRAME))
		return -EINVAL;
	if (o->window_events == 0 || o->window_bytes == 0 ||
	    o->rto_min_us == 0 || o->rto_max_us < o->rto_min_us ||
	    o->backoff_min_us == 0 || o->backoff_max_us < o->backoff_min_us)
		return -EINVAL;
	return 0;
}

/* Path MTU of the connected socket minus the IPv4 and UDP headers. */
static uint32_t
path_payload(int fd)
{
	int mtu = 0;
	socklen_t len = sizeof(mtu);

	if (getsockopt(fd, IPPROTO_IP, IP_MTU, &mtu, &len) != 0 ||
	    mtu <= (int)CL_UDP_IP_HDRS)
		mtu = CL_DEFAULT_MTU;
	mtu -= CL_UDP_IP_HDRS;
	if (mtu > (int)EVG_EVF_MAX_FRAME)
		mtu = EVG_EVF_MAX_FRAME;
	return mtu < (int)CL_MIN_PAYLOAD ? CL_MIN_PAYLOAD : (uint32_t)mtu;
}

static int
alloc_window(struct evg_client *c)
{
	uint32_t cap = (c->max_payload + 7u) & ~7u;
	uint64_t n = c->o.window_bytes / cap;

	if (n < 2)
		n = 2;
	if (n > UINT32_MAX / 2)
		n = UINT32_MAX / 2;
	c->nb_frames = (uint32_t)n;
	c->frames = calloc(n, sizeof(*c->frames));
	c->mem = malloc(n * cap);
	if (c->frames == NULL || c->mem == NULL)
		return -ENOMEM;
	for (uint64_t i = 0; i < n; i++)
		c->frames[i].buf = c->mem + i * cap;
	return 0;
}

int
evg_client_open(struct evg_client **out, uint32_t producer_id,
		uint32_t stream_id, const char *server,
		const struct evg_client_opts *opts)
{
	struct evg_client *c;
	int rc, sndbuf = SNDBUF_WANTED;

	if (out == NULL || server == NULL || producer_id == 0)
		return -EINVAL;
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return -ENOMEM;
	if (opts != NULL)
		c->o = *opts;
	else
		evg_client_opts_init(&c->o);
	c->fd = -1;
	rc = check_opts(&c->o);
	if (rc == 0)
		rc = cl_connect_server(server, &c->fd);
	if (rc < 0) {
		evg_client_close(c);
		return rc;
	}
	setsockopt(c->fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
	c->producer_id = producer_id;
	c->stream_id = stream_id;
	c->session = c->o.session != 0 ? c->o.session : cl_realtime_ns();
	c->max_payload =
		c->o.max_payload != 0 ? c->o.max_payload : path_payload(c->fd);
	c->rto_ns = (uint64_t)c->o.rto_min_us * 1000u;
	rc = alloc_window(c);
	if (rc < 0) {
		evg_client_close(c);
		return rc;
	}
	*out = c;
	return 0;
}

void
evg_client_close(struct evg_client *c)
{
	if (c == NULL)
		return;
	if (c->fd >= 0)
		close(c->fd);
	free(c->frames);
	free(c->mem);
	free(c);
}

uint64_t
evg_client_session(const struct evg_client *c)
{
	return c->session;
}

uint32_t
evg_client_max_payload(const struct evg_client *c)
{
	return c->max_payload;
}

uint32_t
evg_client_max_event_size(const struct evg_client *c)
{
	return (uint32_t)evg_evf_max_event_size(c->max_payload);
}

uint64_t
evg_client_unacked(const struct evg_client *c)
{
	return c->next_seq - c->acked_seq;
}

uint64_t
evg_client_next_seq(const struct evg_client *c)
{
	return c->next_seq;
}

void
evg_client_stats(const struct evg_client *c, struct evg_client_stats *s)
{
	*s = c->st;
}

const char *
evg_client_stat_name(enum evg_client_stat s)
{
	if ((unsigned int)s >= EVG_CLIENT_STAT_MAX)
		return NULL;
	return stat_names[s];
}

const char *
evg_client_errmsg(const struct evg_client *c)
{
	return c->err != 0 ? c->errmsg : "";
}

int
evg_client_fd(const struct evg_client *c)
{
	return c->fd;
}

/* ---- blocking wrappers ------------------------------------------------ */

static uint64_t
deadline_of(int timeout_ms)
{
	if (timeout_ms < 0)
		return UINT64_MAX;
	return evg_client_now_ns() + (uint64_t)timeout_ms * 1000000u;
}

/* Wait for a reply or the next timer, whichever comes first, but not past
 * the deadline; then run the protocol. Returns 0, -ETIMEDOUT once the
 * deadline has passed, or the sticky error. */
static int
wait_once(struct evg_client *c, uint64_t deadline)
{
	uint64_t now = evg_client_now_ns();
	struct pollfd pfd = {.fd = c->fd};
	int t, rc;

	if (now >= deadline)
		return -ETIMEDOUT;
	t = evg_client_next_timeout_ms(c, now);
	if (deadline != UINT64_MAX) {
		uint64_t left = (deadline - now + 999999u) / 1000000u;

		if (t < 0 || (uint64_t)t > left)
			t = left > INT_MAX ? INT_MAX : (int)left;
	}
	pfd.events = (short)(evg_client_poll_events(c) | POLLIN);
	if (poll(&pfd, 1, t) < 0) {
		if (errno == EINTR)
			return -EINTR; /* let the caller see its signal */
		return cl_fail(c, -errno, "poll failed: %s", strerror(errno));
	}
	rc = evg_client_process(c, evg_client_now_ns());
	return rc < 0 ? rc : 0;
}

size_t
evg_client_send_batch(struct evg_client *c, const struct evg_client_event *evs,
		      size_t n, int timeout_ms, int *err)
{
	uint64_t deadline = deadline_of(timeout_ms);
	size_t i = 0;
	int rc = 0;

	while (i < n) {
		rc = evg_client_append(c, evs[i].key, evs[i].key_size,
				       evs[i].value, evs[i].value_size,
				       evs[i].ts_ns);
		if (rc == 0) {
			i++;
			continue;
		}
		if (rc != -EAGAIN)
			break;
		rc = wait_once(c, deadline);
		if (rc < 0)
			break;
	}
	if (c->err == 0) {
		int prc = evg_client_process(c, evg_client_now_ns());

		if (rc == 0 && prc < 0)
			rc = prc;
	}
	if (err != NULL)
		*err = rc;
	return i;
}

int
evg_client_send(struct evg_client *c, const void *key, uint32_t key_size,
		const void *value, uint32_t value_size, uint64_t ts_ns,
		int timeout_ms)
{
	struct evg_client_event ev = {
		.key = key,
		.key_size = key_size,
		.value = value,
		.value_size = value_size,
		.ts_ns = ts_ns,
	};
	int rc;

	evg_client_send_batch(c, &ev, 1, timeout_ms, &rc);
	return rc;
}

int
evg_client_flush(struct evg_client *c, int timeout_ms)
{
	uint64_t deadline = deadline_of(timeout_ms);
	int rc;

	if (c->err != 0)
		return c->err;
	if (c->open) {
		rc = evg_client_push(c, 1);
		if (rc < 0)
			return rc;
	} else if (c->nb_used > 0 && c->tx_pos == c->nb_used) {
		/* Everything is out: ask for the appliance's state at once. */
		cl_ping(c, evg_client_now_ns());
	}
	while (c->nb_used > 0) {
		rc = wait_once(c, deadline);
		if (rc < 0)
			return rc;
	}
	return c->err;
}
