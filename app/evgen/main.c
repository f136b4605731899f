/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * evgen: EVF/1 traffic generator. evgen [EAL options] -- [options].
 *
 * The options are checked before the EAL starts. Then: the port (the
 * first DPDK port, or a net_pcap vdev writing --pcap-out), the stream
 * state, ARP for evgate's MAC, the subscriptions' handshakes (sub.c),
 * the send loop on the main lcore until the duration, the count or a
 * signal, the drain for the last ACKs and deliveries, and the summary. A
 * second signal ends the drain at once.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>

#include "evg_eal_util.h"
#include "evg_port.h"
#include "evg_signal.h"
#include "evgen.h"

#define SUB_LINGER_MS 20u

/* Written by the signal handler only; the loop reads it through
 * struct evgen. */
static volatile sig_atomic_t got_signal;

static void
on_signal(int sig)
{
	got_signal = sig;
}

/* The EAL's argv: ours up to "--", plus the pcap vdev for --pcap-out. */
static int
eal_init(struct evgen *g, int start, char **argv)
{
	int n = start > 0 ? start : 1;
	char **eargv = calloc((size_t)n + 2, sizeof(*eargv));
	char vdev[PATH_MAX + 64];
	int rc;

	if (eargv == NULL)
		return -ENOMEM;
	memcpy(eargv, argv, (size_t)n * sizeof(*eargv));
	if (g->o.pcap_out != NULL) {
		snprintf(vdev, sizeof(vdev), "--vdev=%s,tx_pcap=%s",
			 EVGEN_PCAP_VDEV, g->o.pcap_out);
		eargv[n++] = vdev;
	}
	rc = rte_eal_init(n, eargv);
	free(eargv);
	return rc;
}

static int
setup_port(struct evgen *g, char *err, size_t errlen)
{
	struct evg_port_conf pc = {
		.rx_queues = 1,
		.tx_queues = 1,
		.link_wait_ms = g->o.pcap_out != NULL ? 0 : g->o.link_wait_ms,
		.mtu = (uint16_t)g->o.mtu,
	};
	const uint16_t room = EVG_PORT_DATA_ROOM(g->o.mtu);
	struct evg_port_info info;
	int rc;

	if (g->o.pcap_out != NULL) {
		if (rte_eth_dev_get_port_by_name(EVGEN_PCAP_VDEV,
						 &g->port_id) != 0) {
			snprintf(err, errlen, "--pcap-out %s: no %s port",
				 g->o.pcap_out, EVGEN_PCAP_VDEV);
			return -ENODEV;
		}
	} else if (rte_eth_dev_count_avail() == 0) {
		snprintf(err, errlen,
			 "no ports: give a virtual device (e.g. "
			 "--vdev=net_memif0,socket=PATH) or use --pcap-out");
		return -ENODEV;
	} else {
		g->port_id =
			rte_eth_find_next_owned_by(0, RTE_ETH_DEV_NO_OWNER);
	}
	/* Fewer mbufs when jumbo: 4095 x 9216 B is 38 MiB, 8191 x 2048 19 */
	g->pool = evg_port_pool_create(
		"evgen_pool", room > RTE_MBUF_DEFAULT_DATAROOM ? 4095 : 8191,
		256, 0, room, SOCKET_ID_ANY);
	if (g->pool == NULL) {
		snprintf(err, errlen, "cannot create the mbuf pool: %s",
			 rte_strerror(rte_errno));
		return -ENOMEM;
	}
	rc = evg_port_setup(g->port_id, &pc, g->pool, &info, err, errlen);
	if (rc < 0)
		return rc;
	if (info.warning[0] != '\0' && !info.link_up)
		fprintf(stderr, "%s: warning: %s\n", g->prog, info.warning);
	g->src_mac = info.mac;
	if (g->o.pcap_out != NULL && !g->o.have_dst_mac)
		memset(&g->o.dst_mac, 0xFF, sizeof(g->o.dst_mac));
	return 0;
}

static void
clocks(struct evgen *g)
{
	struct timespec ts;

	g->hz = rte_get_tsc_hz();
	g->ns_per_tsc = 1e9 / (double)g->hz;
	clock_gettime(CLOCK_REALTIME, &ts);
	g->tsc_base = rte_rdtsc();
	g->rt_base_ns =
		(uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Subscriptions first, so that one from the end misses nothing the
 * producers send: handshakes for up to --sub-wait-ms. */
static void
sub_connect(struct evgen *g)
{
	uint64_t now = rte_rdtsc();
	uint64_t end = now + g->hz / 1000 * g->o.sub.wait_ms;

	while (got_signal == 0 && now < end && !evgen_sub_ready(g)) {
		evgen_rx_step(g, now);
		evgen_sub_step(g, now);
		now = rte_rdtsc();
	}
	if (got_signal == 0 && !evgen_sub_ready(g))
		fprintf(stderr,
			"%s: warning: --sub-wait-ms %u: not every "
			"subscription was made; going on\n",
			g->prog, g->o.sub.wait_ms);
}

/* UNSUBSCRIBE, then poll a little longer: a memif peer loses what is
 * still in the ring when the port closes. */
static void
sub_close(struct evgen *g)
{
	uint64_t now = rte_rdtsc(), end = now + g->hz / 1000 * SUB_LINGER_MS;

	evgen_sub_close(g);
	while (now < end) {
		evgen_rx_step(g, now);
		now = rte_rdtsc();
	}
}

/* One pass of the loop: receive, send, subscriptions. */
static void
step(struct evgen *g, uint64_t now, bool make)
{
	if (g->track)
		evgen_rx_step(g, now);
	evgen_tx_step(g, now, make);
	if (g->sub.n > 0)
		evgen_sub_step(g, now);
}

/* Whether the sending phase is over (the duration aside). */
static bool
sent_all(const struct evgen *g, uint64_t now)
{
	if (g->o.producers == 0)
		return g->o.sub.count != 0 && evgen_sub_done(g, now);
	return g->o.count != 0 && g->events_built >= g->o.count &&
	       g->nb_pend == 0;
}

/* Send until the duration, the count or a signal; then drain: the last
 * ACKs, and what the subscriptions still have to receive. */
static void
run_loop(struct evgen *g)
{
	bool make = g->o.producers > 0;
	uint64_t now = rte_rdtsc();
	uint64_t end =
		g->o.duration_s > 0.0
			? now + (uint64_t)(g->o.duration_s * (double)g->hz)
			: UINT64_MAX;
	uint64_t drain;

	g->t_start = now;
	evgen_pacer_init(&g->pacer, g->hz, g->o.rate, now,
			 (uint64_t)EVGEN_BURST *
				 (g->o.rate_frames ? 1u : g->o.batch));
	while (got_signal == 0 && now < end && !sent_all(g, now)) {
		step(g, now, make);
		now = rte_rdtsc();
	}
	g->t_send_end = now;
	drain = now + g->hz / 1000 * (g->track && make ? g->o.drain_ms : 0);
	evgen_sub_idle_from(g, now);
	got_signal = 0; /* a second signal ends the drain */
	while (got_signal == 0 && now < drain &&
	       !(g->nb_pend == 0 && evgen_all_acked(g) &&
		 evgen_sub_done(g, now))) {
		step(g, now, false);
		now = rte_rdtsc();
	}
	evgen_tx_discard(g);
	if (g->sub.n > 0)
		sub_close(g);
	for (uint32_t i = 0; i < g->nb_streams; i++)
		g->ctr[EVGEN_CTR_unacked] +=
			g->streams[i].tail - g->streams[i].head;
	g->t_end = now;
}

static int
run(struct evgen *g)
{
	char err[EVGEN_ERR_LEN];
	int rc;

	rc = setup_port(g, err, sizeof(err));
	if (rc == 0)
		rc = evgen_streams_init(g, err, sizeof(err));
	if (rc < 0) {
		fprintf(stderr, "%s: %s\n", g->prog, err);
		return EVGEN_EXIT_CONFIG;
	}
	g->track = g->o.pcap_out == NULL;
	clocks(g);
	if (evgen_sub_init(g, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s: %s\n", g->prog, err);
		return EVGEN_EXIT_CONFIG;
	}
	if (g->track && !g->o.have_dst_mac) {
		rc = evgen_arp_resolve(g);
		if (rc == -EINTR)
			return 0;
		if (rc < 0) {
			char ip[INET_ADDRSTRLEN];

			inet_ntop(AF_INET, &g->o.dst_ip, ip, sizeof(ip));
			fprintf(stderr,
				"%s: --dst-ip %s: no ARP reply within %u ms "
				"(--arp-timeout-ms; or give --dst-mac)\n",
				g->prog, ip, g->o.arp_timeout_ms);
			return EVGEN_EXIT_CONFIG;
		}
	}
	if (g->sub.n > 0)
		sub_connect(g);
	run_loop(g);
	if (g->o.json)
		evgen_report_json(g, stdout);
	else
		evgen_report_text(g, stdout);
	return 0;
}

int
main(int argc, char **argv)
{
	int start = evg_eal_args_start(argc, argv);
	struct evgen *g;
	int rc;

	setvbuf(stdout, NULL, _IOLBF, 0);
	evg_signals_install(on_signal);
	g = calloc(1, sizeof(*g));
	if (g == NULL)
		return EXIT_FAILURE;
	g->prog = argv[0];
	g->signal = &got_signal;
	argv[start] = argv[0];
	rc = evgen_options_parse(&g->o, g->prog, argc - start, argv + start);
	if (rc >= 0)
		goto out;
	if (eal_init(g, start, argv) < 0) {
		fprintf(stderr, "%s: EAL: %s\n", g->prog,
			rte_strerror(rte_errno));
		rc = EVGEN_EXIT_CONFIG;
		goto out;
	}
	rc = run(g);
	evgen_sub_free(g);
	evgen_streams_free(g);
	if (g->pool != NULL) {
		evg_port_close(g->port_id);
		rte_mempool_free(g->pool);
	}
	evg_eal_cleanup();
out:
	free(g);
	return rc;
}
