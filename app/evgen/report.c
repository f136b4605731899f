/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * evgen's summary: a few human lines, or one JSON object (--json) with
 * every counter. Field names are documented in docs/evgen.md.
 */
#include <inttypes.h>

#include "evgen.h"

static const char *const ctr_names[] = {
#define EVGEN_CTR_NAME_(name, desc) #name,
	EVGEN_CTR_FOREACH(EVGEN_CTR_NAME_)
#undef EVGEN_CTR_NAME_
};

static const enum evg_evf_verdict bad_verdicts[] = {
#define EVGEN_BAD_VERDICT_(name, verdict, desc) verdict,
	EVGEN_BAD_FOREACH(EVGEN_BAD_VERDICT_)
#undef EVGEN_BAD_VERDICT_
};

const char *
evgen_ctr_name(unsigned int i)
{
	return i < EVGEN_CTR_MAX ? ctr_names[i] : NULL;
}

static uint64_t
acked_events(const struct evgen *g)
{
	uint64_t n = 0;

	for (uint32_t i = 0; i < g->nb_streams; i++)
		n += g->streams[i].acked;
	return n;
}

static double
seconds(const struct evgen *g, uint64_t from, uint64_t to)
{
	return to > from ? (double)(to - from) / (double)g->hz : 0.0;
}

static double
per_s(uint64_t n, double s)
{
	return s > 0.0 ? (double)n / s : 0.0;
}

void
evgen_report_text(const struct evgen *g, FILE *f)
{
	const struct evgen_hist *h = &g->rtt;
	double s = seconds(g, g->t_start, g->t_send_end);

	fprintf(f,
		"evgen: sent %" PRIu64 " frames, %" PRIu64 " events, %" PRIu64
		" bytes in %.3f s: %.0f events/s, %.0f frames/s\n",
		g->ctr[EVGEN_CTR_frames_sent], g->ctr[EVGEN_CTR_events_sent],
		g->ctr[EVGEN_CTR_bytes_sent], s,
		per_s(g->ctr[EVGEN_CTR_events_sent], s),
		per_s(g->ctr[EVGEN_CTR_frames_sent], s));
	fprintf(f, "evgen: frames by kind:");
	for (unsigned int k = 0; k < EVGEN_KIND_MAX; k++)
		fprintf(f, " %s %" PRIu64, evgen_kind_name(k),
			g->kind_frames[k]);
	fprintf(f, "\nevgen: acked %" PRIu64 " events; nak", acked_events(g));
	for (unsigned int c = 1; c < EVGEN_NAK_CODES; c++)
		fprintf(f, " %s %" PRIu64, evg_evf_nak_name(c), g->nak[c]);
	fprintf(f,
		"\nevgen: rtt ns: n %" PRIu64 " p50 %" PRIu64 " p99 %" PRIu64
		" p99.9 %" PRIu64 " max %" PRIu64 "\n",
		h->count, evgen_hist_percentile(h, 50.0),
		evgen_hist_percentile(h, 99.0), evgen_hist_percentile(h, 99.9),
		h->count != 0 ? h->max : 0);
	fprintf(f, "evgen: counters:");
	for (unsigned int i = 0; i < EVGEN_CTR_MAX; i++)
		if (g->ctr[i] != 0)
			fprintf(f, " %s %" PRIu64, ctr_names[i], g->ctr[i]);
	fprintf(f, "\n");
	evgen_sub_report_text(g, f);
}

static void
json_kinds(const struct evgen *g, FILE *f)
{
	fprintf(f, "\"frames_by_kind\":{");
	for (unsigned int k = 0; k < EVGEN_KIND_MAX; k++)
		fprintf(f, "%s\"%s\":%" PRIu64, k ? "," : "",
			evgen_kind_name(k), g->kind_frames[k]);
	fprintf(f, "},\"events_by_kind\":{");
	for (unsigned int k = 0; k < EVGEN_KIND_MAX; k++)
		fprintf(f, "%s\"%s\":%" PRIu64, k ? "," : "",
			evgen_kind_name(k), g->kind_events[k]);
	fprintf(f, "},\"malformed_by_rule\":{");
	for (unsigned int b = 0; b < EVGEN_BAD_MAX; b++)
		fprintf(f, "%s\"%s\":%" PRIu64, b ? "," : "",
			evg_evf_verdict_name(bad_verdicts[b]), g->bad[b]);
	fprintf(f, "},\"nak\":{");
	for (unsigned int c = 1; c < EVGEN_NAK_CODES; c++)
		fprintf(f, "%s\"%s\":%" PRIu64, c > 1 ? "," : "",
			evg_evf_nak_name(c), g->nak[c]);
	fprintf(f, ",\"unknown\":%" PRIu64 "}", g->nak[0]);
}

void
evgen_report_json(const struct evgen *g, FILE *f)
{
	const struct evgen_hist *h = &g->rtt;
	double s = seconds(g, g->t_start, g->t_send_end);

	fprintf(f,
		"{\"session\":%" PRIu64 ",\"producers\":%u,\"streams\":%u,"
		"\"send_s\":%.6f,\"total_s\":%.6f,\"acked_events\":%" PRIu64
		",\"events_per_s\":%.1f,\"frames_per_s\":%.1f,"
		"\"acked_events_per_s\":%.1f,",
		g->o.session, g->o.producers, g->nb_streams, s,
		seconds(g, g->t_start, g->t_end), acked_events(g),
		per_s(g->ctr[EVGEN_CTR_events_sent], s),
		per_s(g->ctr[EVGEN_CTR_frames_sent], s),
		per_s(acked_events(g), seconds(g, g->t_start, g->t_end)));
	for (unsigned int i = 0; i < EVGEN_CTR_MAX; i++)
		fprintf(f, "\"%s\":%" PRIu64 ",", ctr_names[i], g->ctr[i]);
	json_kinds(g, f);
	fprintf(f,
		",\"rtt_ns\":{\"count\":%" PRIu64 ",\"min\":%" PRIu64
		",\"mean\":%.1f,\"p50\":%" PRIu64 ",\"p99\":%" PRIu64
		",\"p99_9\":%" PRIu64 ",\"max\":%" PRIu64 "}",
		h->count, h->count != 0 ? h->min : 0,
		h->count != 0 ? (double)h->sum / (double)h->count : 0.0,
		evgen_hist_percentile(h, 50.0), evgen_hist_percentile(h, 99.0),
		evgen_hist_percentile(h, 99.9), h->count != 0 ? h->max : 0);
	evgen_sub_report_json(g, f);
	fprintf(f, "}\n");
}
