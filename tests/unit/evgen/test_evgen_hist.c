/* SPDX-License-Identifier: BSD-3-Clause */
/* The RTT histogram: bucket bounds, percentiles against a sorted array. */
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "hist.h"

/* Every malloc, calloc and realloc of the test binary, counted (the link
 * wraps them: see meson.build). */
static unsigned long nb_allocs;
void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t sz);
void *__real_realloc(void *p, size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t sz);
void *__wrap_realloc(void *p, size_t n);

void *
__wrap_malloc(size_t n)
{
	nb_allocs++;
	return __real_malloc(n);
}

void *
__wrap_calloc(size_t n, size_t sz)
{
	nb_allocs++;
	return __real_calloc(n, sz);
}

void *
__wrap_realloc(void *p, size_t n)
{
	nb_allocs++;
	return __real_realloc(p, n);
}

static struct evgen_hist h;

static void
setup(void)
{
	evgen_hist_reset(&h);
}

TestSuite(evgen_hist, .init = setup);

Test(evgen_hist, buckets_tile_the_whole_range_without_gaps_or_overlap)
{
	cr_assert_eq(evgen_hist_lower(0), 0);
	for (unsigned int i = 0; i + 1 < EVGEN_HIST_NB; i++) {
		cr_assert_leq(evgen_hist_lower(i), evgen_hist_upper(i),
			      "bucket %u: lower above upper", i);
		cr_assert_eq(evgen_hist_upper(i) + 1, evgen_hist_lower(i + 1),
			     "bucket %u ends at %lu, bucket %u starts at %lu",
			     i, evgen_hist_upper(i), i + 1,
			     evgen_hist_lower(i + 1));
	}
	cr_assert_eq(evgen_hist_upper(EVGEN_HIST_NB - 1), UINT64_MAX);
}

Test(evgen_hist, every_value_falls_in_the_bucket_whose_bounds_hold_it)
{
	uint64_t vals[] = {
		0,	   1,  15, 16,	 31,   32,   33,	47,
		48,	   63, 64, 1000, 1023, 1024, 123456789, UINT64_MAX / 3,
		UINT64_MAX};

	for (unsigned int i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
		unsigned int b = evgen_hist_index(vals[i]);

		cr_assert_lt(b, EVGEN_HIST_NB);
		cr_assert(evgen_hist_lower(b) <= vals[i] &&
				  vals[i] <= evgen_hist_upper(b),
			  "%lu in bucket %u [%lu, %lu]", vals[i], b,
			  evgen_hist_lower(b), evgen_hist_upper(b));
	}
}

Test(evgen_hist, bucket_width_is_at_most_one_sixteenth_of_its_values)
{
	for (unsigned int i = 2 * EVGEN_HIST_SUB; i < EVGEN_HIST_NB; i++) {
		uint64_t w = evgen_hist_upper(i) - evgen_hist_lower(i) + 1;

		cr_assert_leq(w * 16, evgen_hist_lower(i),
			      "bucket %u is %lu wide from %lu", i, w,
			      evgen_hist_lower(i));
	}
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

Test(evgen_hist, percentiles_match_the_sorted_samples_within_a_bucket)
{
	enum { N = 20000 };
	static uint64_t s[N];
	const double ps[] = {1, 50, 90, 99, 99.9, 99.99, 100};
	uint64_t x = 88172645463325252ull;

	for (unsigned int i = 0; i < N; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		/* log-uniform over ~1 us .. ~16 ms, like RTTs */
		s[i] = (1000u + x % 1000u) << (x >> 60);
		evgen_hist_record(&h, s[i]);
	}
	qsort(s, N, sizeof(s[0]), cmp_u64);
	cr_assert_eq(h.count, N);
	cr_assert_eq(h.min, s[0]);
	cr_assert_eq(h.max, s[N - 1]);
	for (unsigned int i = 0; i < sizeof(ps) / sizeof(ps[0]); i++) {
		uint64_t rank = (uint64_t)__builtin_ceil(ps[i] / 100.0 * N);
		uint64_t want = s[rank - 1];
		uint64_t got = evgen_hist_percentile(&h, ps[i]);

		cr_assert_eq(evgen_hist_index(got), evgen_hist_index(want),
			     "p%g: got %lu, the sample of rank %lu is %lu",
			     ps[i], got, rank, want);
		cr_assert_geq(got, want, "p%g: %lu below the sample %lu", ps[i],
			      got, want);
	}
	cr_assert_eq(evgen_hist_percentile(&h, 100), s[N - 1]);
}

Test(evgen_hist, empty_histogram_reports_zero)
{
	cr_assert_eq(evgen_hist_percentile(&h, 50), 0);
	cr_assert_eq(h.count, 0);
}

Test(evgen_hist, merge_equals_recording_both_sets)
{
	static struct evgen_hist a, b;

	evgen_hist_reset(&a);
	evgen_hist_reset(&b);
	for (uint64_t v = 1; v < 5000; v += 7) {
		evgen_hist_record(v % 2 ? &a : &b, v * 13);
		evgen_hist_record(&h, v * 13);
	}
	evgen_hist_merge(&a, &b);
	cr_assert_eq(memcmp(&a, &h, sizeof(h)), 0);
}

Test(evgen_hist, recording_and_percentiles_never_allocate)
{
	unsigned long before = nb_allocs;

	for (uint64_t v = 0; v < 100000; v++)
		evgen_hist_record(&h, v * v);
	(void)evgen_hist_percentile(&h, 99.9);
	cr_assert_eq(nb_allocs, before, "%lu allocations while recording",
		     nb_allocs - before);
	cr_assert_eq(sizeof(struct evgen_hist),
		     (4 + EVGEN_HIST_NB) * sizeof(uint64_t));
}

Test(evgen_hist, the_sum_saturates_and_the_top_bucket_holds_the_maximum)
{
	evgen_hist_record(&h, UINT64_MAX);
	evgen_hist_record(&h, UINT64_MAX);
	cr_assert_eq(h.sum, UINT64_MAX, "the sum saturates");
	cr_assert_eq(h.b[EVGEN_HIST_NB - 1], 2);
}
