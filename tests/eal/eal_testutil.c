/* SPDX-License-Identifier: BSD-3-Clause */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <rte_eal.h>

#include "eal_testutil.h"
#include "evg_eal_util.h"

#define MAX_ARGS 64

void
tu_eal_setup_args(const char *const *extra)
{
	static char buf[1024], prefix[64];
	char *argv[MAX_ARGS];
	const char *env = getenv("EVG_EAL_ARGS");
	int argc = 0;
	char *save, *tok;

	cr_assert_not_null(env, "EVG_EAL_ARGS is not set (run through meson test)");
	snprintf(buf, sizeof(buf), "%s", env);
	snprintf(prefix, sizeof(prefix), "--file-prefix=evgtest%d", (int)getpid());
	argv[argc++] = "evg_test";
	for (tok = strtok_r(buf, " ", &save); tok && argc < MAX_ARGS - 2;
	     tok = strtok_r(NULL, " ", &save))
		argv[argc++] = tok;
	argv[argc++] = prefix;
	for (; extra != NULL && *extra != NULL && argc < MAX_ARGS; extra++)
		argv[argc++] = (char *)*extra;
	cr_assert_geq(rte_eal_init(argc, argv), 0, "rte_eal_init failed");
}

void
tu_eal_setup(void)
{
	tu_eal_setup_args(NULL);
}

/* The EAL leaves its (empty, with --no-shconf --no-telemetry) runtime
 * directory behind; one per test process would pile up in /var/run/dpdk. */
void
tu_eal_teardown(void)
{
	evg_eal_cleanup();
}
