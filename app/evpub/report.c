/* SPDX-License-Identifier: BSD-3-Clause */
/* evpub's ACK latency record and its report: percentiles weighted by the
 * number of events each ACK acknowledged. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "evpub.h"

void
evpub_lat_add(void *arg, uint64_t first_seq, uint32_t n, uint64_t ns)
{
	struct evpub_lat *l = arg;

	(void)first_seq;
	if (l->len == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 4096;
		uint64_t *a = realloc(l->ns, cap * sizeof(*a));
		uint32_t *b;

		if (a != NULL)
			l->ns = a;
		b = a ? realloc(l->n, cap * sizeof(*b)) : NULL;
		if (b == NULL) {
			l->oom = true; /* reported as a failure, never hidden */
			return;
		}
		l->n = b;
		l->cap = cap;
	}
	l->ns[l->len] = ns;
	l->n[l->len++] = n;
	l->events += n;
	if (l->late_ns != 0 && ns > l->late_ns)
		l->late += n;
}

void
evpub_lat_free(struct evpub_lat *l)
{
	free(l->ns);
	free(l->n);
}

struct pair {
	uint64_t ns;
	uint32_t n;
};

static int
cmp_pair(const void *a, const void *b)
{
	uint64_t x = ((const struct pair *)a)->ns,
		 y = ((const struct pair *)b)->ns;

	return x < y ? -1 : x > y;
}

/* Latencies in us at the quantiles q[0..nq), from sorted pairs. */
static void
quantiles(const struct pair *s, size_t len, uint64_t total, const double *q,
	  double *out, int nq)
{
	uint64_t cum = 0;
	size_t i = 0;

	for (int k = 0; k < nq; k++) {
		uint64_t rank = (uint64_t)(q[k] * (double)total + 0.999999);

		if (rank == 0)
			rank = 1;
		while (i < len && cum + s[i].n < rank)
			cum += s[i++].n;
		out[k] = len == 0 ? 0
				  : (double)s[i < len ? i : len - 1].ns / 1e3;
	}
}

void
evpub_report(struct evpub *p, bool all_acked, bool interrupted)
{
	static const double q[4] = {0.5, 0.99, 0.999, 1.0};
	struct evpub_lat *l = &p->lat;
	struct pair *s = malloc((l->len ? l->len : 1) * sizeof(*s));
	struct evg_client_stats st;
	double us[4] = {0}, secs = (double)(p->t_end - p->t0) / 1e9;
	double rate = secs > 0 ? (double)l->events / secs : 0;

	evg_client_stats(p->c, &st);
	if (s != NULL) {
		for (size_t i = 0; i < l->len; i++)
			s[i] = (struct pair){l->ns[i], l->n[i]};
		qsort(s, l->len, sizeof(*s), cmp_pair);
		quantiles(s, l->len, l->events, q, us, 4);
		free(s);
	}
	printf("evpub: sent %" PRIu64 " events in %" PRIu64
	       " frames, %.0f events/s, "
	       "ACK latency p50 %.1f p99 %.1f p99.9 %.1f max %.1f us\n",
	       p->sent, st.frames_sent, rate, us[0], us[1], us[2], us[3]);
	printf("evpub: acked %" PRIu64 " of %" PRIu64 " in %.3f s, %" PRIu64
	       " late, %" PRIu64 " frames resent, %" PRIu64
	       " timeouts, session %" PRIu64 "%s%s\n",
	       l->events, p->sent, secs, l->late, st.frames_resent, st.timeouts,
	       evg_client_session(p->c), interrupted ? ", interrupted" : "",
	       all_acked ? "" : ", NOT ALL ACKNOWLEDGED IN TIME");
	if (p->o.json) {
		printf("{\"sent\":%" PRIu64 ",\"acked\":%" PRIu64
		       ",\"late\":%" PRIu64 ",\"frames\":%" PRIu64
		       ",\"frames_resent\":%" PRIu64
		       ",\"seconds\":%.6f,\"events_per_s\":%.1f,\"ack_us\":{"
		       "\"p50\":%.3f"
		       ",\"p99\":%.3f,\"p99.9\":%.3f,\"max\":%.3f},\"session\":"
		       "%" PRIu64 ",\"all_acked\":%s,\"interrupted\":%s}\n",
		       p->sent, l->events, l->late, st.frames_sent,
		       st.frames_resent, secs, rate, us[0], us[1], us[2], us[3],
		       evg_client_session(p->c), all_acked ? "true" : "false",
		       interrupted ? "true" : "false");
	}
	fflush(stdout);
}
