/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The subscriber mode's part of evgen's summary: two lines per run (and
 * the non-zero counters) in text, the "subscribers" object in JSON
 * (docs/evgen.md, "Subscribing").
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "evgen.h"

static double
interval_s(const struct evgen *g, uint64_t first, uint64_t last)
{
	return last > first ? (double)(last - first) / (double)g->hz : 0.0;
}

static double
rate(uint64_t n, double s)
{
	return s > 0.0 ? (double)n / s : 0.0;
}

/* Totals over every subscription. */
static void
totals(const struct evgen *g, uint64_t *ctr, struct evgen_hist *lat)
{
	memset(ctr, 0, EVGEN_SCTR_MAX * sizeof(*ctr));
	evgen_hist_reset(lat);
	for (uint32_t i = 0; i < g->sub.n; i++) {
		for (unsigned int k = 0; k < EVGEN_SCTR_MAX; k++)
			ctr[k] += g->sub.s[i].ctr[k];
		evgen_hist_merge(lat, &g->sub.s[i].lat);
	}
}

/* Subscriptions that ended with frames seen beyond what arrived. */
static uint32_t
gaps_unrepaired(const struct evgen *g)
{
	uint32_t n = 0;

	for (uint32_t i = 0; i < g->sub.n; i++)
		n += g->sub.s[i].max_seen > g->sub.s[i].received;
	return n;
}

void
evgen_sub_report_text(const struct evgen *g, FILE *f)
{
	uint64_t c[EVGEN_SCTR_MAX];
	struct evgen_hist *lat = malloc(sizeof(*lat));
	double s = interval_s(g, g->sub.t_first, g->sub.t_last);

	if (g->sub.n == 0 || lat == NULL) {
		free(lat);
		return;
	}
	totals(g, c, lat);
	fprintf(f,
		"evgen: subscribers %u: %" PRIu64 " events, %" PRIu64
		" frames, %" PRIu64 " bytes in %.3f s: %.0f events/s; gaps "
		"%" PRIu64 " naks %" PRIu64 " duplicates %" PRIu64
		" unrepaired %u\n",
		g->sub.n, c[EVGEN_SCTR_events], c[EVGEN_SCTR_frames],
		c[EVGEN_SCTR_bytes], s, rate(c[EVGEN_SCTR_events], s),
		c[EVGEN_SCTR_gaps], c[EVGEN_SCTR_naks],
		c[EVGEN_SCTR_duplicates], gaps_unrepaired(g));
	fprintf(f,
		"evgen: subscriber latency ns: n %" PRIu64 " p50 %" PRIu64
		" p99 %" PRIu64 " p99.9 %" PRIu64 " max %" PRIu64 "\n",
		lat->count, evgen_hist_percentile(lat, 50.0),
		evgen_hist_percentile(lat, 99.0),
		evgen_hist_percentile(lat, 99.9),
		lat->count != 0 ? lat->max : 0);
	fprintf(f, "evgen: subscriber counters:");
	for (unsigned int k = 0; k < EVGEN_SCTR_MAX; k++)
		if (c[k] != 0)
			fprintf(f, " %s %" PRIu64, evgen_sub_ctr_name(k), c[k]);
	fprintf(f,
		" unknown %" PRIu64 " bad_frames %" PRIu64 " tx_failed %" PRIu64
		"\n",
		g->sub.unknown, g->sub.bad_frames, g->sub.tx_failed);
	free(lat);
}

static void
json_lat(const struct evgen_hist *h, FILE *f)
{
	fprintf(f,
		"\"latency_ns\":{\"count\":%" PRIu64 ",\"min\":%" PRIu64
		",\"mean\":%.1f,\"p50\":%" PRIu64 ",\"p99\":%" PRIu64
		",\"p99_9\":%" PRIu64 ",\"max\":%" PRIu64 "}",
		h->count, h->count != 0 ? h->min : 0,
		h->count != 0 ? (double)h->sum / (double)h->count : 0.0,
		evgen_hist_percentile(h, 50.0), evgen_hist_percentile(h, 99.0),
		evgen_hist_percentile(h, 99.9), h->count != 0 ? h->max : 0);
}

static void
json_ctrs(const uint64_t *c, FILE *f)
{
	for (unsigned int k = 0; k < EVGEN_SCTR_MAX; k++)
		fprintf(f, "\"%s\":%" PRIu64 ",", evgen_sub_ctr_name(k), c[k]);
}

static void
json_one(const struct evgen *g, const struct evgen_sub *s, FILE *f)
{
	double t = interval_s(g, s->t_first, s->t_last);
	const char *err = evg_evf_sub_error_name(s->error);

	fprintf(f,
		"{\"consumer_id\":%u,\"src_port\":%u,\"session\":%" PRIu64
		",\"state\":\"%s\",\"error\":%s%s%s,\"members\":%u,"
		"\"resumed\":%s,\"max_inflight\":%u,\"timeout_ms\":%u,"
		"\"received\":%" PRIu64 ",\"gap_unrepaired\":%s,"
		"\"interval_s\":%.6f,\"events_per_s\":%.1f,",
		s->consumer_id, rte_be_to_cpu_16(s->src_port), s->session,
		evgen_sub_state_name(s->state), err ? "\"" : "",
		err ? err : "null", err ? "\"" : "", s->ok.members,
		(s->ok.flags & EVG_EVF_SUB_F_RESUMED) ? "true" : "false",
		s->ok.max_inflight, s->ok.timeout_ms, s->received,
		s->max_seen > s->received ? "true" : "false", t,
		rate(s->ctr[EVGEN_SCTR_events], t));
	json_ctrs(s->ctr, f);
	fprintf(f, "\"start\":[");
	for (uint8_t k = 0; k < s->ok.nb; k++)
		fprintf(f,
			"%s{\"stream\":%u,\"partition\":%u,\"start\":%" PRIu64
			",\"end\":%" PRIu64 "}",
			k ? "," : "", s->ok.pos[k].stream_id,
			s->ok.pos[k].partition, s->ok.pos[k].start,
			s->ok.pos[k].end);
	fprintf(f, "],");
	json_lat(&s->lat, f);
	fprintf(f, "}");
}

void
evgen_sub_report_json(const struct evgen *g, FILE *f)
{
	const struct evgen_sub_opts *o = &g->o.sub;
	uint64_t c[EVGEN_SCTR_MAX];
	struct evgen_hist *lat = malloc(sizeof(*lat));
	double t = interval_s(g, g->sub.t_first, g->sub.t_last);
	const char *pol = evg_evf_sub_policy_name(o->policy);

	if (g->sub.n == 0 || lat == NULL) {
		free(lat);
		return;
	}
	totals(g, c, lat);
	fprintf(f,
		",\"subscribers\":{\"subscriptions\":%u,\"from\":\"%s\","
		"\"group\":\"%s\",\"policy\":\"%s\",\"credit_events\":%u,"
		"\"streams\":[",
		g->sub.n, o->start == EVG_EVF_SUB_END ? "end" : "oldest",
		o->group, pol ? pol : "", o->credit);
	for (uint8_t k = 0; k < o->nb_streams; k++)
		fprintf(f, "%s%u", k ? "," : "", o->streams[k]);
	fprintf(f,
		"],\"interval_s\":%.6f,\"events_per_s\":%.1f,"
		"\"gaps_unrepaired\":%u,\"unknown\":%" PRIu64
		",\"bad_frames\":%" PRIu64 ",\"tx_failed\":%" PRIu64
		",\"alloc_failed\":%" PRIu64 ",",
		t, rate(c[EVGEN_SCTR_events], t), gaps_unrepaired(g),
		g->sub.unknown, g->sub.bad_frames, g->sub.tx_failed,
		g->sub.alloc_failed);
	json_ctrs(c, f);
	fprintf(f, "\"sub_error\":{");
	for (unsigned int r = 1; r < EVG_EVF_SUB_ERR_MAX; r++)
		fprintf(f, "%s\"%s\":%" PRIu64, r > 1 ? "," : "",
			evg_evf_sub_error_name(r), g->sub.err[r]);
	fprintf(f, ",\"unknown_code\":%" PRIu64 "},", g->sub.err[0]);
	json_lat(lat, f);
	fprintf(f, ",\"per_subscription\":[");
	for (uint32_t i = 0; i < g->sub.n; i++) {
		if (i > 0)
			fprintf(f, ",");
		json_one(g, &g->sub.s[i], f);
	}
	fprintf(f, "]}");
	free(lat);
}
