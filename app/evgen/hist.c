/* SPDX-License-Identifier: BSD-3-Clause */
#include <math.h>
#include <string.h>

#include "hist.h"

void
evgen_hist_reset(struct evgen_hist *h)
{
	memset(h, 0, sizeof(*h));
	h->min = UINT64_MAX;
}

uint64_t
evgen_hist_lower(unsigned int idx)
{
	unsigned int g = idx / EVGEN_HIST_SUB;
	unsigned int sub = idx % EVGEN_HIST_SUB;

	if (g == 0)
		return sub;
	return (uint64_t)(EVGEN_HIST_SUB + sub) << (g - 1u);
}

uint64_t
evgen_hist_upper(unsigned int idx)
{
	unsigned int g = idx / EVGEN_HIST_SUB;

	if (g == 0)
		return idx;
	return evgen_hist_lower(idx) + ((uint64_t)1 << (g - 1u)) - 1u;
}

void
evgen_hist_merge(struct evgen_hist *dst, const struct evgen_hist *src)
{
	for (unsigned int i = 0; i < EVGEN_HIST_NB; i++)
		dst->b[i] += src->b[i];
	dst->count += src->count;
	if (src->min < dst->min)
		dst->min = src->min;
	if (src->max > dst->max)
		dst->max = src->max;
	dst->sum = (dst->sum + src->sum < dst->sum) ? UINT64_MAX
						    : dst->sum + src->sum;
}

uint64_t
evgen_hist_percentile(const struct evgen_hist *h, double p)
{
	uint64_t rank, seen = 0;
	double r;

	if (h->count == 0)
		return 0;
	r = ceil(p / 100.0 * (double)h->count);
	rank = r < 1.0 ? 1 : (r > (double)h->count ? h->count : (uint64_t)r);
	for (unsigned int i = 0; i < EVGEN_HIST_NB; i++) {
		seen += h->b[i];
		if (seen >= rank) {
			uint64_t up = evgen_hist_upper(i);

			return up < h->max ? up : h->max;
		}
	}
	return h->max;
}
