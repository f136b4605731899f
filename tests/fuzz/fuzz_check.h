/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The fuzz targets' invariant check: a broken one prints the target's
 * name and the condition, then aborts, which libFuzzer reports as a crash
 * and scripts/fuzz.sh keeps as a regression. Define FUZZ_TARGET (a string)
 * before including.
 */
#ifndef FUZZ_CHECK_H
#define FUZZ_CHECK_H

#include <stdio.h>
#include <stdlib.h>

#ifndef FUZZ_TARGET
#error "define FUZZ_TARGET before including fuzz_check.h"
#endif

#define CHECK(cond)                                                     \
	do {                                                            \
		if (!(cond)) {                                          \
			fprintf(stderr,                                 \
				FUZZ_TARGET ": invariant broken: %s\n", \
				#cond);                                 \
			abort();                                        \
		}                                                       \
	} while (0)

#endif /* FUZZ_CHECK_H */
