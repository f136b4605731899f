/* SPDX-License-Identifier: BSD-3-Clause */
/* evsub's latency histogram and its summary: events, rate, end-to-end
 * latency percentiles, the consumer's counters. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>

#include "evsub.h"

static unsigned int
hist_index(uint64_t v)
{
	unsigned int e, shift;

	if (v < 2u * EVSUB_HIST_SUB)
		return (unsigned int)v;
	e = 63u - (unsigned int)__builtin_clzll(v);
	shift = e - EVSUB_HIST_SUB_BITS;
	return (shift + 1u) * EVSUB_HIST_SUB +
	       (unsigned int)((v >> shift) - EVSUB_HIST_SUB);
}

/* The largest value of bucket idx. */
static uint64_t
hist_upper(unsigned int idx)
{
	unsigned int g = idx / EVSUB_HIST_SUB, sub = idx % EVSUB_HIST_SUB;

	if (g == 0)
		return idx;
	return ((uint64_t)(EVSUB_HIST_SUB + sub) << (g - 1u)) +
	       ((uint64_t)1 << (g - 1u)) - 1u;
}

void
evsub_hist_record(struct evsub_hist *h, uint64_t v)
{
	h->b[hist_index(v)]++;
	h->count++;
	if (v > h->max)
		h->max = v;
}

/* The sample of rank ceil(p/100 * count) as its bucket's upper bound,
 * never above the largest sample (p = 100 is the exact maximum). */
uint64_t
evsub_hist_percentile(const struct evsub_hist *h, double p)
{
	uint64_t rank, seen = 0;
	double r;

	if (h->count == 0)
		return 0;
	r = ceil(p / 100.0 * (double)h->count);
	rank = r < 1.0 ? 1 : (r > (double)h->count ? h->count : (uint64_t)r);
	for (unsigned int i = 0; i < EVSUB_HIST_NB; i++) {
		seen += h->b[i];
		if (seen >= rank) {
			uint64_t up = hist_upper(i);

			return up < h->max ? up : h->max;
		}
	}
	return h->max;
}

/* The counters in the order of their names. */
static void
stat_values(const struct evg_consumer_stats *st,
	    uint64_t v[EVG_CONSUMER_STAT_MAX])
{
	int i = 0;

#define VALUE_(name, desc) v[i++] = st->name;
	EVG_CONSUMER_STATS_FOREACH(VALUE_)
#undef VALUE_
}

static void
json_summary(const struct evsub *s, const uint64_t *st, const double *us,
	     double secs, double rate)
{
	printf("{\"summary\":true,\"events\":%" PRIu64
	       ",\"redelivered\":%" PRIu64 ",\"seconds\":%.6f"
	       ",\"events_per_s\":%.1f,\"latency_us\":{\"p50\":%.3f"
	       ",\"p99\":%.3f,\"p99.9\":%.3f,\"max\":%.3f}"
	       ",\"latency_events\":%" PRIu64 ",\"consumer\":%" PRIu32
	       ",\"session\":%" PRIu64 ",\"interrupted\":%s,\"counters\":{",
	       s->events, s->redelivered, secs, rate, us[0], us[1], us[2],
	       us[3], s->lat.count, s->o.consumer, evg_consumer_session(s->c),
	       s->interrupted ? "true" : "false");
	for (int i = 0; i < EVG_CONSUMER_STAT_MAX; i++)
		printf("%s\"%s\":%" PRIu64, i ? "," : "",
		       evg_consumer_stat_name(i), st[i]);
	printf("}}\n");
}

void
evsub_report(const struct evsub *s)
{
	static const double q[4] = {50, 99, 99.9, 100};
	struct evg_consumer_stats st;
	uint64_t v[EVG_CONSUMER_STAT_MAX];
	double us[4], secs = 0, rate = 0;

	evg_consumer_stats(s->c, &st);
	stat_values(&st, v);
	for (int i = 0; i < 4; i++)
		us[i] = (double)evsub_hist_percentile(&s->lat, q[i]) / 1e3;
	if (s->t_last > s->t_first) {
		secs = (double)(s->t_last - s->t_first) / 1e9;
		rate = (double)s->events / secs;
	}
	fprintf(stderr,
		"evsub: %" PRIu64 " events (%" PRIu64
		" redelivered) in %.3f s, %.0f events/s, latency p50 %.1f "
		"p99 %.1f p99.9 %.1f max %.1f us over %" PRIu64
		" events, consumer %" PRIu32 " session %" PRIu64 "%s\n",
		s->events, s->redelivered, secs, rate, us[0], us[1], us[2],
		us[3], s->lat.count, s->o.consumer, evg_consumer_session(s->c),
		s->interrupted ? ", interrupted" : "");
	fprintf(stderr, "evsub:");
	for (int i = 0; i < EVG_CONSUMER_STAT_MAX; i++)
		fprintf(stderr, " %s %" PRIu64, evg_consumer_stat_name(i),
			v[i]);
	fputc('\n', stderr);
	if (s->o.json)
		json_summary(s, v, us, secs, rate);
	fflush(stdout);
}
