/* SPDX-License-Identifier: BSD-3-Clause */
/* The frame mix and the TSC pacer, without a port. */
#include <errno.h>
#include <math.h>

#include <criterion/criterion.h>

#include "mix.h"

static void
run_mix(struct evgen_mix *m, unsigned int n, uint64_t got[EVGEN_KIND_MAX])
{
	for (unsigned int k = 0; k < EVGEN_KIND_MAX; k++)
		got[k] = 0;
	for (unsigned int i = 0; i < n; i++)
		got[evgen_mix_next(m, EVGEN_MIX_ALL)]++;
}

Test(evgen_mix, each_kind_gets_its_percentage_of_frames_within_one_frame)
{
	const double pct[EVGEN_KIND_MAX] = {0, 5, 3, 2.5, 0.1};
	struct evgen_mix m;
	uint64_t got[EVGEN_KIND_MAX];
	const unsigned int n = 100000;

	cr_assert_eq(evgen_mix_init(&m, pct), 0);
	run_mix(&m, n, got);
	for (unsigned int k = 1; k < EVGEN_KIND_MAX; k++) {
		double want = pct[k] / 100.0 * n;

		cr_assert(fabs((double)got[k] - want) <= EVGEN_KIND_MAX,
			  "%s: %lu frames of %u, want %.1f", evgen_kind_name(k),
			  got[k], n, want);
	}
	cr_assert_eq(got[EVGEN_KIND_NORMAL] + got[1] + got[2] + got[3] + got[4],
		     n);
}

Test(evgen_mix, no_percentages_means_every_frame_is_normal)
{
	const double pct[EVGEN_KIND_MAX] = {0};
	struct evgen_mix m;
	uint64_t got[EVGEN_KIND_MAX];

	cr_assert_eq(evgen_mix_init(&m, pct), 0);
	run_mix(&m, 1000, got);
	cr_assert_eq(got[EVGEN_KIND_NORMAL], 1000);
}

Test(evgen_mix, hundred_percent_of_one_kind_leaves_no_normal_frame)
{
	const double pct[EVGEN_KIND_MAX] = {0, 0, 0, 0, 100};
	struct evgen_mix m;
	uint64_t got[EVGEN_KIND_MAX];

	cr_assert_eq(evgen_mix_init(&m, pct), 0);
	run_mix(&m, 1000, got);
	cr_assert_eq(got[EVGEN_KIND_MALFORMED], 1000);
}

Test(evgen_mix, totals_above_100_or_negative_are_refused)
{
	const double over[EVGEN_KIND_MAX] = {0, 50, 30, 20, 0.5};
	const double neg[EVGEN_KIND_MAX] = {0, -1, 0, 0, 0};
	const double nan_[EVGEN_KIND_MAX] = {0, NAN, 0, 0, 0};
	struct evgen_mix m;

	cr_assert_eq(evgen_mix_init(&m, over), -EINVAL);
	cr_assert_eq(evgen_mix_init(&m, neg), -EINVAL);
	cr_assert_eq(evgen_mix_init(&m, nan_), -EINVAL);
}

Test(evgen_mix, a_kind_not_allowed_is_owed_without_holding_up_the_others)
{
	const double pct[EVGEN_KIND_MAX] = {0, 10, 10, 0, 0};
	unsigned int no_gap = EVGEN_MIX_ALL & ~(1u << EVGEN_KIND_GAP);
	uint64_t got[EVGEN_KIND_MAX] = {0};
	struct evgen_mix m;

	cr_assert_eq(evgen_mix_init(&m, pct), 0);
	for (unsigned int i = 0; i < 1000; i++)
		got[evgen_mix_next(&m, no_gap)]++;
	cr_assert_eq(got[EVGEN_KIND_GAP], 0, "a gap went while not allowed");
	cr_assert(got[EVGEN_KIND_DUP] >= 99 && got[EVGEN_KIND_DUP] <= 100,
		  "%lu dups in 1000 frames while gaps were held back",
		  got[EVGEN_KIND_DUP]);
	/* The 100 owed gaps go first once allowed, then the share goes on. */
	for (unsigned int i = 0; i < 100; i++)
		cr_assert_eq(evgen_mix_next(&m, EVGEN_MIX_ALL), EVGEN_KIND_GAP,
			     "owed gap %u did not go", i);
	for (unsigned int i = 0; i < 900; i++)
		got[evgen_mix_next(&m, EVGEN_MIX_ALL)]++;
	/* Over the 2000 frames, gaps made up their 10%. */
	cr_assert(100 + got[EVGEN_KIND_GAP] >= 199 &&
			  100 + got[EVGEN_KIND_GAP] <= 200,
		  "%lu gaps in 2000 frames", 100 + got[EVGEN_KIND_GAP]);
}

Test(evgen_pacer, no_rate_allows_everything)
{
	struct evgen_pacer p;

	evgen_pacer_init(&p, 1000000, 0, 5, 32);
	cr_assert_eq(evgen_pacer_allowed(&p, 0), UINT64_MAX);
}

Test(evgen_pacer, allows_rate_times_elapsed_seconds)
{
	struct evgen_pacer p;
	uint64_t hz = 2000000000ull, sent = 0;

	/* 1000 units/s, burst large: every 1 ms of TSC releases one unit */
	evgen_pacer_init(&p, hz, 1000, 100, 1000000);
	cr_assert_eq(evgen_pacer_allowed(&p, 100), 0);
	cr_assert_eq(evgen_pacer_allowed(&p, 100 + hz / 1000 - 1), 0);
	cr_assert_eq(evgen_pacer_allowed(&p, 100 + hz / 1000), 1);
	for (uint64_t t = 100; t <= 100 + hz; t += hz / 100000) {
		uint64_t a = evgen_pacer_allowed(&p, t);

		evgen_pacer_consume(&p, a);
		sent += a;
	}
	cr_assert_eq(sent, 1000, "%lu units in one second at 1000/s", sent);
}

Test(evgen_pacer, a_stall_is_caught_up_only_up_to_the_burst)
{
	struct evgen_pacer p;
	uint64_t hz = 1000000;

	evgen_pacer_init(&p, hz, 1000, 0, 32);
	cr_assert_eq(evgen_pacer_allowed(&p, hz * 10), 32,
		     "10 s of stall at 1000/s released more than the burst");
	evgen_pacer_consume(&p, 32);
	cr_assert_eq(evgen_pacer_allowed(&p, hz * 10), 0);
	cr_assert_eq(evgen_pacer_allowed(&p, hz * 10 + hz / 100), 10);
}
