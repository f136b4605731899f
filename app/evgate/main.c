/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * evgate: the appliance's entry point.
 *
 * Command line: evgate [EAL options] -- [evgate options]. --help and
 * --version are answered before the EAL starts, so they work on a host
 * without hugepages or ports.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include <rte_version.h>

#include "evg_evf.h"
#include "evg_version.h"

static void
usage(FILE *f, const char *prog)
{
	fprintf(f,
		"Usage: %s [EAL options] -- [options]\n"
		"\n"
		"evgate takes EVF/1 event frames (UDP port %u) from DPDK ports,\n"
		"validates, sequences and persists them, and acknowledges producers.\n"
		"\n"
		"Options:\n"
		"  -h, --help       show this help and exit\n"
		"  -V, --version    show the version and exit\n"
		"\n"
		"EAL options are DPDK's (see `%s -h --`); for example\n"
		"  %s -l 0-1 --vdev=net_af_packet0,iface=veth0 -- ...\n"
		"\n"
		"Documentation: README.md and docs/ in the source tree.\n",
		prog, EVG_EVF_UDP_PORT, prog, prog);
}

static void
version(void)
{
	printf("evgate %s (EVF/1, built against DPDK %s, running %s)\n",
	       EVG_VERSION, EVG_DPDK_VERSION, rte_version());
}

/* The application's own options start after "--"; without one, the whole
 * command line is ours. */
static int
app_args_start(int argc, char **argv)
{
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "--") == 0)
			return i;
	return 0;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	int start = app_args_start(argc, argv);
	int app_argc = argc - start;
	char **app_argv = argv + start;
	int c;

	app_argv[0] = argv[0];
	while ((c = getopt_long(app_argc, app_argv, "hV", opts, NULL)) != -1) {
		switch (c) {
		case 'h':
			usage(stdout, argv[0]);
			return 0;
		case 'V':
			version();
			return 0;
		default:
			usage(stderr, argv[0]);
			return 2;
		}
	}
	if (optind < app_argc) {
		fprintf(stderr, "%s: unexpected argument '%s'\n", argv[0],
			app_argv[optind]);
		return 2;
	}
	fprintf(stderr,
		"%s: no data path in this build yet; only --help and --version "
		"are available\n",
		argv[0]);
	return 2;
}
