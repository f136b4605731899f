/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * evpub's event sources: lines from stdin or a file (read in chunks, so
 * that whatever has arrived goes out in as few frames as it fills), and
 * generated events at a given rate.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "evpub.h"

#define CHUNK (256u << 10)

static uint64_t
realtime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Queue n events; 0, -EINTR, or an error (printed). */
static int
send_batch(struct evpub *p, const struct evg_client_event *evs, size_t n)
{
	int rc = 0;
	size_t done = evg_client_send_batch(
		p->c, evs, n, (int)(p->o.timeout_s * 1000.0), &rc);

	p->sent += done;
	if (rc == 0 || rc == -EINTR)
		return rc;
	if (rc == -EMSGSIZE)
		fprintf(stderr,
			"evpub: event %" PRIu64
			" has %u bytes of key and value;"
			" at most %u fit in a frame (--mtu)\n",
			p->sent + 1, evs[done].key_size + evs[done].value_size,
			evg_client_max_event_size(p->c));
	else if (rc == -ETIMEDOUT)
		fprintf(stderr,
			"evpub: no room in the window within %gs (no ACKs)\n",
			p->o.timeout_s);
	else
		fprintf(stderr, "evpub: %s\n",
			*evg_client_errmsg(p->c) ? evg_client_errmsg(p->c)
						 : strerror(-rc));
	p->err = rc;
	return rc;
}

/* Read more input; 0, or -errno. */
static int
fill(struct evpub_lines *in)
{
	ssize_t n;

	if (in->start > 0) {
		memmove(in->buf, in->buf + in->start, in->end - in->start);
		in->end -= in->start;
		in->start = 0;
	}
	if (in->end == in->cap) {
		char *nb = realloc(in->buf, in->cap * 2);

		if (nb == NULL)
			return -ENOMEM;
		in->buf = nb;
		in->cap *= 2;
	}
	n = read(in->fd, in->buf + in->end, in->cap - in->end);
	if (n < 0)
		return -errno;
	if (n == 0)
		in->eof = true;
	in->end += (size_t)n;
	return 0;
}

/* One line "key<TAB>value" or "value" into ev. */
static void
parse_line(char *s, size_t len, uint64_t ts, struct evg_client_event *ev)
{
	char *tab = memchr(s, '\t', len);

	if (len > 0 && s[len - 1] == '\r')
		len--;
	*ev = (struct evg_client_event){
		.value = s, .value_size = (uint32_t)len, .ts_ns = ts};
	if (tab != NULL && tab < s + len) {
		ev->key = s;
		ev->key_size = (uint32_t)(tab - s);
		ev->value = tab + 1;
		ev->value_size = (uint32_t)(len - (size_t)(tab - s) - 1);
	}
}

/* Send the complete lines buffered (the last one too at EOF). */
static int
send_lines(struct evpub *p)
{
	struct evpub_lines *in = &p->in;
	struct evg_client_event evs[EVPUB_BATCH];
	uint64_t ts = realtime_ns();
	size_t n = 0;
	int rc;

	while (in->start < in->end) {
		char *s = in->buf + in->start;
		char *nl = memchr(s, '\n', in->end - in->start);
		size_t len = nl ? (size_t)(nl - s) : in->end - in->start;

		if (nl == NULL && !in->eof)
			break;
		parse_line(s, len, ts, &evs[n++]);
		in->start += len + (nl ? 1 : 0);
		in->lineno++;
		if (n == EVPUB_BATCH) {
			rc = send_batch(p, evs, n);
			if (rc < 0)
				return rc;
			n = 0;
		}
	}
	return n > 0 ? send_batch(p, evs, n) : 0;
}

int
evpub_run_lines(struct evpub *p)
{
	struct evpub_lines *in = &p->in;
	int rc;

	in->fd = 0;
	if (p->o.file != NULL) {
		in->fd = open(p->o.file, O_RDONLY | O_CLOEXEC);
		if (in->fd < 0) {
			fprintf(stderr, "evpub: --file '%s': %s\n", p->o.file,
				strerror(errno));
			p->err = -errno;
			return p->err;
		}
	}
	in->cap = CHUNK;
	in->buf = malloc(in->cap);
	rc = in->buf == NULL ? -ENOMEM : 0;
	while (rc == 0 && !in->eof && *p->stop == 0) {
		rc = fill(in);
		if (rc == -EINTR)
			break;
		if (rc < 0) {
			fprintf(stderr, "evpub: reading %s: %s\n",
				p->o.file ? p->o.file : "stdin", strerror(-rc));
			p->err = rc;
			break;
		}
		rc = send_lines(p);
	}
	if (in->fd > 0)
		close(in->fd);
	return rc;
}

/* Run the client until `until` (CLOCK_MONOTONIC ns) or a signal. */
static void
idle_until(struct evpub *p, uint64_t until)
{
	uint64_t now;

	while ((now = evg_client_now_ns()) < until && *p->stop == 0) {
		struct pollfd pfd = {.fd = evg_client_fd(p->c),
				     .events = POLLIN};
		int t = evg_client_next_timeout_ms(p->c, now);
		int left = (int)((until - now + 999999u) / 1000000u);

		if (t < 0 || t > left)
			t = left;
		if (poll(&pfd, 1, t) < 0)
			return;
		if (evg_client_process(p->c, evg_client_now_ns()) < 0)
			return;
	}
}

int
evpub_run_generated(struct evpub *p)
{
	struct evg_client_event evs[EVPUB_BATCH];
	uint32_t size = p->o.size;
	char *vals = malloc((size_t)EVPUB_BATCH * (size + 24u));
	int rc = 0;

	if (vals == NULL)
		return -ENOMEM;
	while (p->sent < p->o.count && *p->stop == 0) {
		uint64_t due = p->o.count - p->sent, n;
		uint64_t ts = realtime_ns();

		if (p->o.rate > 0) {
			double t = (double)(evg_client_now_ns() - p->t0) / 1e9;
			uint64_t allowed = (uint64_t)(t * p->o.rate) + 1;

			due = allowed > p->sent ? allowed - p->sent : 0;
			if (due > p->o.count - p->sent)
				due = p->o.count - p->sent;
			if (due == 0) {
				idle_until(
					p,
					p->t0 + (uint64_t)((double)(p->sent) /
							   p->o.rate * 1e9));
				continue;
			}
		}
		n = due < EVPUB_BATCH ? due : EVPUB_BATCH;
		for (uint64_t i = 0; i < n; i++) {
			char *v = vals + i * (size + 24u);
			int len = snprintf(v, size + 24u, "%" PRIu64,
					   p->sent + i);

			if ((uint32_t)len < size)
				memset(v + len, 'x', size - (uint32_t)len);
			evs[i] = (struct evg_client_event){
				.value = v, .value_size = size, .ts_ns = ts};
		}
		rc = send_batch(p, evs, n);
		if (rc < 0)
			break;
	}
	free(vals);
	return rc;
}
