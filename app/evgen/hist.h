/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Fixed log-bucket histogram for latencies in ns (HDR-style): values below
 * 32 have a bucket each; above, every power of two [2^e, 2^(e+1)) is split
 * into 16 linear sub-buckets, so a bucket is at most 1/16 of its lower
 * bound wide and a percentile read from it is within 6.25% of the truth.
 * 976 buckets cover the whole uint64_t range. The struct is plain memory:
 * recording never allocates, locks or fails.
 */
#ifndef EVGEN_HIST_H
#define EVGEN_HIST_H

#include <stdint.h>

#define EVGEN_HIST_SUB_BITS 4u
#define EVGEN_HIST_SUB (1u << EVGEN_HIST_SUB_BITS)
#define EVGEN_HIST_NB ((64u - EVGEN_HIST_SUB_BITS + 1u) * EVGEN_HIST_SUB)

struct evgen_hist {
	uint64_t count;
	uint64_t min; /* UINT64_MAX while empty */
	uint64_t max;
	uint64_t sum; /* saturates at UINT64_MAX */
	uint64_t b[EVGEN_HIST_NB];
};

/* Empty the histogram. */
void evgen_hist_reset(struct evgen_hist *h);

/* Bucket of value v, in [0, EVGEN_HIST_NB). */
static inline unsigned int
evgen_hist_index(uint64_t v)
{
	unsigned int e, shift;

	if (v < 2u * EVGEN_HIST_SUB)
		return (unsigned int)v;
	e = 63u - (unsigned int)__builtin_clzll(v);
	shift = e - EVGEN_HIST_SUB_BITS;
	return (shift + 1u) * EVGEN_HIST_SUB +
	       (unsigned int)((v >> shift) - EVGEN_HIST_SUB);
}

/* Smallest and largest value of bucket idx (idx < EVGEN_HIST_NB). */
uint64_t evgen_hist_lower(unsigned int idx);
uint64_t evgen_hist_upper(unsigned int idx);

static inline void
evgen_hist_record(struct evgen_hist *h, uint64_t v)
{
	h->b[evgen_hist_index(v)]++;
	h->count++;
	if (v < h->min)
		h->min = v;
	if (v > h->max)
		h->max = v;
	h->sum = (h->sum + v < h->sum) ? UINT64_MAX : h->sum + v;
}

/* Add every sample of src to dst. */
void evgen_hist_merge(struct evgen_hist *dst, const struct evgen_hist *src);

/*
 * The p-th percentile (0 < p <= 100): the sample of rank ceil(p/100 *
 * count) in sorted order, reported as the upper bound of its bucket, but
 * never above the largest sample (so p = 100 gives the exact maximum).
 * 0 for an empty histogram.
 */
uint64_t evgen_hist_percentile(const struct evgen_hist *h, double p);

#endif /* EVGEN_HIST_H */
