/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * evgen's traffic shape, independent of any port so that it can be tested
 * alone:
 * - the mix: which kind each frame is (normal, or a deliberate duplicate,
 *   gap, stale session or malformed frame) so that, over any run, each
 *   kind makes up its percentage of the frames sent, deterministically
 *   (an error-diffusion accumulator per kind, no random numbers);
 * - the pacer: how many units (events or frames) may go now for a rate
 *   given per second, from the TSC, with a bounded burst after a stall.
 */
#ifndef EVGEN_MIX_H
#define EVGEN_MIX_H

#include <stdint.h>

/* Kinds of frames, with their option and summary names. */
#define EVGEN_KIND_FOREACH(X)                                               \
	X(NORMAL, "normal", "new events in sequence")                       \
	X(DUP, "dup",                                                       \
	  "the previous frame of the stream again (its seq range)")         \
	X(GAP, "gap", "one frame's worth of seqs beyond the next expected") \
	X(STALE, "stale", "the stream's session minus one (NAK FENCED)")    \
	X(MALFORMED, "malformed", "broken on purpose: never answered")

enum evgen_kind {
#define EVGEN_KIND_ENUM_(name, str, desc) EVGEN_KIND_##name,
	EVGEN_KIND_FOREACH(EVGEN_KIND_ENUM_)
#undef EVGEN_KIND_ENUM_
		EVGEN_KIND_MAX,
};

#define EVGEN_MIX_ONE 1000000u /* 100% in parts per million */

struct evgen_mix {
	uint32_t ppm[EVGEN_KIND_MAX]; /* ppm[NORMAL] is the rest */
	uint64_t acc[EVGEN_KIND_MAX];
};

/* "normal", "dup", ...; NULL when out of range. */
const char *evgen_kind_name(unsigned int k);

/* Set the mix from percentages of frames, pct[k] for each special kind
 * (pct[EVGEN_KIND_NORMAL] is ignored). Returns 0, or -EINVAL for a
 * negative or non-finite percentage or a total above 100. */
int evgen_mix_init(struct evgen_mix *m, const double pct[EVGEN_KIND_MAX]);

#define EVGEN_MIX_ALL ((1u << EVGEN_KIND_MAX) - 1u)

/*
 * The kind of the next frame. Every kind accrues its share; of the kinds
 * in `allowed` (a mask of 1u << kind) that are due, the one furthest
 * behind goes. A kind the caller cannot send now (no previous frame to
 * duplicate, ...) stays owed and goes as soon as it is allowed again, so
 * the proportions hold over a run without one such kind holding up the
 * others. Normal is the answer when nothing allowed is due.
 */
enum evgen_kind evgen_mix_next(struct evgen_mix *m, unsigned int allowed);

struct evgen_pacer {
	uint64_t hz;	/* TSC ticks per second */
	uint64_t rate;	/* units per second; 0: no limit */
	uint64_t start; /* TSC at unit 0 */
	uint64_t done;	/* units consumed since start */
	uint64_t burst; /* most units allowed at once after a stall */
};

/* Start pacing `rate` units per second (0 = as fast as possible) at TSC
 * start; burst >= 1. */
void evgen_pacer_init(struct evgen_pacer *p, uint64_t hz, uint64_t rate,
		      uint64_t start, uint64_t burst);

/* Units that may go at TSC now (UINT64_MAX without a limit). Slots missed
 * by more than the burst are forgotten, not caught up. */
uint64_t evgen_pacer_allowed(struct evgen_pacer *p, uint64_t now);

static inline void
evgen_pacer_consume(struct evgen_pacer *p, uint64_t n)
{
	p->done += n;
}

#endif /* EVGEN_MIX_H */
