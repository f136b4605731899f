/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * evgate: the appliance's entry point.
 *
 * Command line: evgate [EAL options] -- [evgate options]. The evgate
 * options are parsed and checked before the EAL starts, so --help,
 * --version and configuration errors need no hugepages or ports.
 *
 * The main lcore is the control thread: it sets the port and the stages
 * up, launches the stages' lcore loops, prints the --stats line, and on
 * SIGINT/SIGTERM stops the sources, lets the rings drain, sends the final
 * replies and prints the final counters. A second signal exits at once.
 */
#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_pdump.h>
#include <rte_version.h>

#include "app.h"
#include "evg_eal_util.h"
#include "evg_signal.h"
#include "evg_version.h"

/* Exit codes: 0 after a clean shutdown, 2 for a configuration or start-up
 * error (the message says which), 1 for a failure at run time. */
enum { EXIT_CONFIG = 2 };

/* The only state a signal handler can reach; written by the handler,
 * read by the control loop. */
static volatile sig_atomic_t got_signal;

static void
on_signal(int sig)
{
	static const char msg[] = "evgate: second signal, exiting now\n";

	if (got_signal != 0) {
		(void)!write(STDERR_FILENO, msg, sizeof(msg) - 1);
		_exit(128 + sig);
	}
	got_signal = sig;
}

static void
version(void)
{
	printf("evgate %s (EVF/1, built against DPDK %s, running %s)\n",
	       EVG_VERSION, EVG_DPDK_VERSION, rte_version());
}

/* -h or --help among the EAL options: the EAL prints its usage. */
static bool
wants_eal_help(int start, char **argv)
{
	for (int i = 1; i < start; i++)
		if (strcmp(argv[i], "-h") == 0 ||
		    strcmp(argv[i], "--help") == 0)
			return true;
	return false;
}

/* Parse and check our options; returns -1 to go on, or an exit code. */
static int
parse_options(struct app *app, int argc, char **argv)
{
	char err[EVG_CFG_ERR_LEN];
	int rc;

	if (evg_cfg_defaults(&app->cfg) < 0) {
		fprintf(stderr, "%s: cannot load the built-in configuration\n",
			app->prog);
		return EXIT_CONFIG;
	}
	rc = evg_cfg_parse_args(&app->cfg, argc, argv, err, sizeof(err));
	if (rc == EVG_CFG_ARGS_HELP) {
		evg_cfg_usage(stdout, app->prog);
		return 0;
	}
	if (rc == EVG_CFG_ARGS_VERSION) {
		version();
		return 0;
	}
	if (rc == EVG_CFG_ARGS_RUN)
		rc = evg_cfg_validate(&app->cfg, err, sizeof(err));
	if (rc < 0) {
		fprintf(stderr, "%s: %s\n", app->prog, err);
		return EXIT_CONFIG;
	}
	return -1;
}

static int
setup_port(struct app *app, char *err, size_t errlen)
{
	struct evg_port_conf pc = {
		.rx_queues = app->cfg.rx_queues,
		.tx_queues = 1,
		.rx_desc = app->cfg.rx_desc,
		.tx_desc = app->cfg.tx_desc,
		.promiscuous = app->cfg.promiscuous,
		.link_wait_ms = app->cfg.link_wait_ms,
		.mtu = app->cfg.mtu,
	};
	const uint16_t room = EVG_PORT_DATA_ROOM(app->cfg.mtu);
	uint16_t nb = rte_eth_dev_count_avail();
	int socket;
	int rc;

	if (nb == 0) {
		snprintf(err, errlen,
			 "no ports: give a virtual device (e.g. "
			 "--vdev=net_af_packet0,iface=IF) or bind a NIC to "
			 "vfio-pci");
		return -ENODEV;
	}
	app->port_id = rte_eth_find_next_owned_by(0, RTE_ETH_DEV_NO_OWNER);
	if (nb > 1)
		fprintf(stderr,
			"%s: warning: %u ports; this version serves port %u "
			"only\n",
			app->prog, nb, app->port_id);
	socket = rte_eth_dev_socket_id(app->port_id);
	if (socket < 0)
		socket = 0;
	app->pool = evg_port_pool_create("evg_pool0", app->cfg.mbufs,
					 app->cfg.mbuf_cache, EVG_PKT_PRIV_SIZE,
					 room, socket);
	if (app->pool == NULL) {
		snprintf(err, errlen,
			 "[port] mbufs = %u: cannot create the mbuf pool of "
			 "%u-byte buffers ([port] mtu = %u) on socket %d: %s "
			 "(hugepages reserved?)",
			 app->cfg.mbufs, room, app->cfg.mtu, socket,
			 rte_strerror(rte_errno));
		return -ENOMEM;
	}
	printf("evgate: mbuf pool: %u mbufs x %u-byte data room ([port] mtu "
	       "= %u), %.1f MiB on socket %d\n",
	       app->cfg.mbufs, room, app->cfg.mtu,
	       (double)evg_port_pool_bytes(app->pool) / (1024.0 * 1024.0),
	       socket);
	if (app->cfg.sub_max > 0) {
		app->sub_pool = evg_port_pool_create(
			"evg_sub_pool", app->cfg.sub_mbufs, app->cfg.mbuf_cache,
			0, room, socket);
		if (app->sub_pool == NULL) {
			snprintf(err, errlen,
				 "[sub] mbufs = %u: cannot create the pool of "
				 "DELIVER frames (%u-byte buffers) on socket "
				 "%d: %s (hugepages reserved?)",
				 app->cfg.sub_mbufs, room, socket,
				 rte_strerror(rte_errno));
			return -ENOMEM;
		}
		printf("evgate: DELIVER pool: %u mbufs, %.1f MiB\n",
		       app->cfg.sub_mbufs,
		       (double)evg_port_pool_bytes(app->sub_pool) /
			       (1024.0 * 1024.0));
	}
	rc = evg_port_setup(app->port_id, &pc, app->pool, &app->port, err,
			    errlen);
	if (rc < 0)
		return rc;
	if (app->port.warning[0] != '\0')
		fprintf(stderr, "%s: warning: %s\n", app->prog,
			app->port.warning);
	app->ifc = (struct evg_net_if){
		.mac = app->port.mac,
		.ip = app->cfg.ip,
		.udp_port = app->cfg.udp_port,
	};
	return 0;
}

static void
print_ready(const struct app *app)
{
	const uint8_t *ip = (const uint8_t *)&app->cfg.ip;
	char mac[RTE_ETHER_ADDR_FMT_SIZE];
	unsigned int nb_lcores = 0;

	for (unsigned int lc = 0; lc < RTE_MAX_LCORE; lc++)
		nb_lcores += app->lcore_used[lc];
	rte_ether_format_addr(mac, sizeof(mac), &app->ifc.mac);
	printf("evgate: ready: port %u (%s) %s %u.%u.%u.%u/%u udp %u, "
	       "%u rx queue(s)%s, %u sequencer shard(s), %u worker lcore(s), "
	       "ack %s, link %s\n",
	       app->port_id, app->port.driver, mac, ip[0], ip[1], ip[2], ip[3],
	       app->cfg.ip_prefix, app->cfg.udp_port, app->port.rx_queues,
	       app->port.rss ? " with RSS" : "", app->nb_shards, nb_lcores,
	       evg_cfg_ack_name(app->cfg.ack_level),
	       app->port.link_up ? "up" : "down");
}

/* The control loop: sleep, print --stats lines, until a signal. */
static void
control_loop(const struct app *app)
{
	struct app_counters *cur = calloc(2, sizeof(*cur));
	uint64_t interval = app->cfg.stats_interval_s * rte_get_timer_hz();
	uint64_t last = rte_get_timer_cycles();
	unsigned int i = 0;

	while (got_signal == 0) {
		uint64_t now;

		rte_delay_us_sleep(50 * 1000);
		now = rte_get_timer_cycles();
		if (interval == 0 || cur == NULL || now - last < interval)
			continue;
		app_counters_collect(app, -1, &cur[i]);
		app_stats_line(app, stdout, &cur[i], &cur[i ^ 1],
			       (double)(now - last) / rte_get_timer_hz());
		last = now;
		i ^= 1;
	}
	free(cur);
}

static int
run(struct app *app)
{
	struct app_counters final;
	char err[EVG_CFG_ERR_LEN];
	int rc;

	/* The lcore map first: it needs no port, and a mistake in it should
	 * not wait for a port to start. */
	rc = app_dataplane_check(app, err, sizeof(err));
	if (rc == 0)
		rc = app_journal_open(app, err, sizeof(err));
	if (rc == 0)
		rc = app_offsets_open(app, err, sizeof(err));
	if (rc == 0)
		rc = setup_port(app, err, sizeof(err));
	if (rc == 0)
		rc = app_dataplane_build(app, err, sizeof(err));
	if (rc == 0)
		rc = app_offsets_start(app, err, sizeof(err));
	if (rc < 0) {
		fprintf(stderr, "%s: %s\n", app->prog, err);
		return EXIT_CONFIG;
	}
	if (got_signal != 0) {
		printf("evgate: signal %d during start-up: stopping\n",
		       (int)got_signal);
		return 0;
	}
	app_counters_init(app);
	if (app_telemetry_register(app) < 0)
		fprintf(stderr,
			"%s: warning: telemetry commands not "
			"registered\n",
			app->prog);
	rc = app_dataplane_launch(app);
	if (rc < 0) {
		fprintf(stderr, "%s: launching the lcores: %s\n", app->prog,
			strerror(-rc));
		app_dataplane_stop(app);
		return EXIT_FAILURE;
	}
	print_ready(app);
	control_loop(app);
	printf("evgate: signal %d: draining\n", (int)got_signal);
	app_dataplane_stop(app);
	app_counters_collect(app, -1, &final);
	printf("evgate: final counters\n");
	app_counters_print(app, stdout, &final);
	return 0;
}

int
main(int argc, char **argv)
{
	int start = evg_eal_args_start(argc, argv);
	struct app *app;
	int rc;

	setvbuf(stdout, NULL, _IOLBF, 0);
	/* Before the EAL, so a signal during a slow start-up is not lost: the
	 * control loop then ends at once and evgate shuts down cleanly. */
	evg_signals_install(on_signal);
	app = calloc(1, sizeof(*app));
	if (app == NULL)
		return EXIT_FAILURE;
	app->prog = argv[0];
	/* Our options: argv[start + 1 ..], with argv[0] in front for
	 * getopt. */
	argv[start] = argv[0];
	rc = wants_eal_help(start, argv)
		     ? -1
		     : parse_options(app, argc - start, argv + start);
	if (rc >= 0)
		goto out;
	/* The EAL pins this thread to the main lcore: what evgate may use
	 * is known only now ([log] io_cpus). */
	if (sched_getaffinity(0, sizeof(app->start_cpus), &app->start_cpus) !=
	    0)
		CPU_ZERO(&app->start_cpus);
	rc = rte_eal_init(start > 0 ? start : 1, argv);
	if (rc < 0) {
		fprintf(stderr, "%s: EAL: %s\n", app->prog,
			rte_strerror(rte_errno));
		rc = EXIT_CONFIG;
		goto out;
	}
	app->tsc_hz = rte_get_tsc_hz();
	if (rte_pdump_init() < 0)
		fprintf(stderr,
			"%s: warning: packet capture (dpdk-dumpcap) "
			"unavailable: %s\n",
			app->prog, rte_strerror(rte_errno));
	rc = run(app);
	app_dataplane_free(app);
	app_offsets_close(app);
	app_journal_close(app);
	if (app->port.driver[0] != '\0')
		evg_port_close(app->port_id);
	/* Every stage frees or passes on every mbuf, the rings were emptied
	 * and the port is closed: anything still out is a leak. */
	if (app->pool != NULL && rte_mempool_in_use_count(app->pool) != 0) {
		fprintf(stderr, "%s: error: %u mbufs still in use at exit\n",
			app->prog, rte_mempool_in_use_count(app->pool));
		if (rc == 0)
			rc = EXIT_FAILURE;
	}
	if (app->sub_pool != NULL &&
	    rte_mempool_in_use_count(app->sub_pool) != 0) {
		fprintf(stderr,
			"%s: error: %u DELIVER mbufs still in use at exit\n",
			app->prog, rte_mempool_in_use_count(app->sub_pool));
		if (rc == 0)
			rc = EXIT_FAILURE;
	}
	rte_mempool_free(app->sub_pool);
	rte_mempool_free(app->pool);
	rte_pdump_uninit();
	evg_eal_cleanup();
out:
	free(app);
	return rc;
}
