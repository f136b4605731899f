/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <math.h>
#include <string.h>

#include "mix.h"

static const char *const kind_names[] = {
#define EVGEN_KIND_NAME_(name, str, desc) str,
	EVGEN_KIND_FOREACH(EVGEN_KIND_NAME_)
#undef EVGEN_KIND_NAME_
};

const char *
evgen_kind_name(unsigned int k)
{
	return k < EVGEN_KIND_MAX ? kind_names[k] : NULL;
}

int
evgen_mix_init(struct evgen_mix *m, const double pct[EVGEN_KIND_MAX])
{
	uint64_t total = 0;

	memset(m, 0, sizeof(*m));
	for (unsigned int k = EVGEN_KIND_NORMAL + 1; k < EVGEN_KIND_MAX; k++) {
		if (!isfinite(pct[k]) || pct[k] < 0.0 || pct[k] > 100.0)
			return -EINVAL;
		m->ppm[k] = (uint32_t)llround(pct[k] * (EVGEN_MIX_ONE / 100));
		total += m->ppm[k];
	}
	if (total > EVGEN_MIX_ONE)
		return -EINVAL;
	m->ppm[EVGEN_KIND_NORMAL] = (uint32_t)(EVGEN_MIX_ONE - total);
	return 0;
}

enum evgen_kind
evgen_mix_next(struct evgen_mix *m, unsigned int allowed)
{
	enum evgen_kind pick = EVGEN_KIND_NORMAL;
	uint64_t best = 0;

	/* Error diffusion: with shares summing to at most one frame per
	 * call, no allowed kind falls more than a few frames behind its
	 * exact share. */
	for (unsigned int k = EVGEN_KIND_NORMAL + 1; k < EVGEN_KIND_MAX; k++) {
		m->acc[k] += m->ppm[k];
		if ((allowed & (1u << k)) != 0 && m->acc[k] >= EVGEN_MIX_ONE &&
		    m->acc[k] > best) {
			best = m->acc[k];
			pick = (enum evgen_kind)k;
		}
	}
	if (pick != EVGEN_KIND_NORMAL)
		m->acc[pick] -= EVGEN_MIX_ONE;
	return pick;
}

void
evgen_pacer_init(struct evgen_pacer *p, uint64_t hz, uint64_t rate,
		 uint64_t start, uint64_t burst)
{
	p->hz = hz;
	p->rate = rate;
	p->start = start;
	p->done = 0;
	p->burst = burst == 0 ? 1 : burst;
}

uint64_t
evgen_pacer_allowed(struct evgen_pacer *p, uint64_t now)
{
	unsigned __int128 due;

	if (p->rate == 0)
		return UINT64_MAX;
	if (now <= p->start)
		return 0;
	due = (unsigned __int128)(now - p->start) * p->rate / p->hz;
	if (due <= p->done)
		return 0;
	if (due - p->done > p->burst)
		p->done = (uint64_t)due - p->burst;
	return (uint64_t)due - p->done;
}
