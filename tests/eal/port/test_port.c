/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * drivers/port over virtual devices: net_null0 (given to the EAL; it
 * advertises RSS and generates frames on every rx burst) and net_ring
 * ports made with rte_eth_from_rings() (no RSS, one queue each way, and
 * frames that the test puts on or takes off the rings itself).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <rte_cycles.h>
#include <rte_errno.h>
#include <rte_eth_ring.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_ring.h>

#include "eal_testutil.h"
#include "evg_port.h"

#define POOL_N 1023u
#define POOL_CACHE 32u
#define PRIV_SIZE 64u
#define NULL_DEV "net_null0"
#define RSS_WANTED (RTE_ETH_RSS_IPV4 | RTE_ETH_RSS_NONFRAG_IPV4_UDP)

static struct rte_mempool *pool;

static void
setup(void)
{
	static const char *const extra[] = {"--vdev=" NULL_DEV, NULL};

	tu_eal_setup_args(extra);
	pool = evg_port_pool_create("port_test", POOL_N, POOL_CACHE, PRIV_SIZE,
				    0, SOCKET_ID_ANY);
	cr_assert_not_null(pool, "pool: %s", rte_strerror(rte_errno));
}

static void
teardown(void)
{
	uint16_t p;

	RTE_ETH_FOREACH_DEV (p)
		evg_port_close(p);
	rte_mempool_free(pool);
	tu_eal_teardown();
}

TestSuite(port, .init = setup, .fini = teardown);

/* ---- helpers ---------------------------------------------------------- */

struct ring_port {
	uint16_t id;
	struct rte_ring *rx; /* the test enqueues what the port receives */
	struct rte_ring *tx; /* the port enqueues what it sends */
};

static struct ring_port
ring_port_create(const char *name)
{
	struct ring_port rp;
	char rname[RTE_RING_NAMESIZE];
	int ret;

	snprintf(rname, sizeof(rname), "%s_rx", name);
	rp.rx = rte_ring_create(rname, 64, SOCKET_ID_ANY, 0);
	snprintf(rname, sizeof(rname), "%s_tx", name);
	rp.tx = rte_ring_create(rname, 64, SOCKET_ID_ANY, 0);
	cr_assert(rp.rx != NULL && rp.tx != NULL, "rings for %s", name);
	ret = rte_eth_from_rings(name, &rp.rx, 1, &rp.tx, 1, 0);
	cr_assert_geq(ret, 0, "rte_eth_from_rings(%s): %d", name, ret);
	rp.id = (uint16_t)ret;
	return rp;
}

static uint16_t
null_port(void)
{
	uint16_t id;

	cr_assert_eq(rte_eth_dev_get_port_by_name(NULL_DEV, &id), 0,
		     "%s not probed", NULL_DEV);
	return id;
}

static struct evg_port_conf
conf_of(uint16_t rxq, uint16_t txq)
{
	struct evg_port_conf conf = {
		.rx_queues = rxq,
		.tx_queues = txq,
		.rx_desc = 256,
		.tx_desc = 256,
		.promiscuous = true,
		.link_wait_ms = 100,
	};
	return conf;
}

static void
setup_ok(uint16_t port, const struct evg_port_conf *conf,
	 struct evg_port_info *info)
{
	char err[256] = "unset";
	int ret = evg_port_setup(port, conf, pool, info, err, sizeof(err));

	cr_assert_eq(ret, 0, "setup of port %u: %d (%s)", port, ret, err);
	cr_assert_str_empty(err, "err written on success: %s", err);
}

/* A 60-byte frame whose bytes all equal tag. */
static struct rte_mbuf *
frame(uint8_t tag, uint16_t len)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(pool);
	char *p;

	cr_assert_not_null(m, "mbuf");
	p = rte_pktmbuf_append(m, len);
	cr_assert_not_null(p, "append %u", len);
	memset(p, tag, len);
	return m;
}

/* A port that was never started, or was stopped, reports link down. */
static bool
link_up(uint16_t port)
{
	struct rte_eth_link link;

	memset(&link, 0, sizeof(link));
	return rte_eth_link_get_nowait(port, &link) == 0 &&
	       link.link_status == RTE_ETH_LINK_UP;
}

/* ---- queues and RSS ---------------------------------------------------- */

Test(port, ring_port_asked_for_4_rx_queues_gets_1_and_a_warning_why)
{
	struct ring_port rp = ring_port_create("r4");
	struct evg_port_conf conf = conf_of(4, 1);
	struct evg_port_info info;
	char who[32];

	setup_ok(rp.id, &conf, &info);
	cr_assert_eq(info.rx_queues, 1, "granted %u RX queues", info.rx_queues);
	cr_assert_eq(info.tx_queues, 1);
	cr_assert_not(info.rss, "RSS on a ring port");
	cr_assert_eq(info.rss_hf, 0);
	cr_assert_str_eq(info.driver, "net_ring");
	snprintf(who, sizeof(who), "port %u (", rp.id);
	cr_assert(strncmp(info.warning, who, strlen(who)) == 0,
		  "warning does not name the port: %s", info.warning);
	cr_assert(strstr(info.warning, "net_ring") != NULL,
		  "warning does not name the driver: %s", info.warning);
	cr_assert(strstr(info.warning, "no RSS over IPv4/UDP; using 1 RX "
				       "queue instead of 4") != NULL,
		  "warning does not say why: %s", info.warning);
	cr_assert_null(strchr(info.warning, '\n'), "warning spans lines");
}

Test(port, null_port_with_2_rx_queues_gets_rss_over_ipv4_udp)
{
	/* DPDK 22.11's net_null advertises every RTE_ETH_RSS_PROTO_MASK flow
	 * type (and emulates a RETA), so it gets both queues and RSS. */
	uint16_t port = null_port();
	struct evg_port_conf conf = conf_of(2, 2);
	struct rte_eth_dev_info dev;
	struct evg_port_info info;

	cr_assert_eq(rte_eth_dev_info_get(port, &dev), 0);
	cr_assert_eq(dev.flow_type_rss_offloads & RSS_WANTED, RSS_WANTED,
		     "net_null no longer advertises IPv4/UDP RSS: 0x%lx",
		     (unsigned long)dev.flow_type_rss_offloads);
	setup_ok(port, &conf, &info);
	cr_assert_eq(info.rx_queues, 2, "granted %u RX queues", info.rx_queues);
	cr_assert_eq(info.tx_queues, 2);
	cr_assert(info.rss, "RSS off");
	cr_assert_eq(info.rss_hf, RSS_WANTED, "rss_hf 0x%lx",
		     (unsigned long)info.rss_hf);
	cr_assert_str_eq(info.driver, "net_null");
	cr_assert_str_eq(info.name, NULL_DEV);
	cr_assert(rte_is_valid_assigned_ether_addr(&info.mac), "no MAC");
	cr_assert_str_empty(info.warning, "unexpected warning: %s",
			    info.warning);
}

Test(port, rx_ipv4_checksum_offload_is_used_only_when_offered)
{
	/* Neither vdev offers it; setup must not ask for it anyway. */
	uint16_t port = null_port();
	struct evg_port_conf conf = conf_of(1, 1);
	struct evg_port_info info;

	setup_ok(port, &conf, &info);
	cr_assert_eq(info.rx_offloads & RTE_ETH_RX_OFFLOAD_IPV4_CKSUM, 0);
}

Test(port, rx_queues_above_device_maximum_are_capped_with_a_warning)
{
	uint16_t port = null_port();
	struct evg_port_conf conf = conf_of(RTE_MAX_QUEUES_PER_PORT + 5, 1);
	struct rte_eth_dev_info dev;
	struct evg_port_info info;

	cr_assert_eq(rte_eth_dev_info_get(port, &dev), 0);
	conf.rx_desc = 1;
	setup_ok(port, &conf, &info);
	cr_assert_eq(info.rx_queues, dev.max_rx_queues, "granted %u",
		     info.rx_queues);
	cr_assert(info.rss);
	cr_assert(strstr(info.warning, "RX queue(s); using") != NULL,
		  "warning: %s", info.warning);
}

Test(port, pool_smaller_than_rx_descriptors_gives_a_warning)
{
	uint16_t port = null_port();
	struct evg_port_conf conf = conf_of(2, 1);
	struct evg_port_info info;

	conf.rx_desc = 512; /* 2 x 512 > 1023 mbufs */
	setup_ok(port, &conf, &info);
	cr_assert(strstr(info.warning, "RX may starve") != NULL, "warning: %s",
		  info.warning);
}

Test(port, setup_of_a_running_port_sets_it_up_again)
{
	uint16_t port = null_port();
	struct evg_port_conf conf = conf_of(1, 1);
	struct evg_port_info info;

	setup_ok(port, &conf, &info);
	conf = conf_of(2, 1);
	setup_ok(port, &conf, &info);
	cr_assert_eq(info.rx_queues, 2);
	cr_assert(link_up(port), "port not running after the second setup");
}

/* ---- start, link, frames ----------------------------------------------- */

Test(port, set_up_port_is_started_promiscuous_and_reports_link_up)
{
	struct ring_port rp = ring_port_create("rl");
	struct evg_port_conf conf = conf_of(1, 1);
	struct evg_port_info info;

	setup_ok(rp.id, &conf, &info);
	cr_assert(info.link_up, "link down");
	cr_assert_eq(info.link_speed, RTE_ETH_SPEED_NUM_10G);
	cr_assert(info.promiscuous);
	cr_assert_str_empty(info.warning, "warning: %s", info.warning);
	cr_assert_eq(info.rx_desc, 256);
	cr_assert_eq(info.tx_desc, 256);
}

Test(port, link_wait_ends_as_soon_as_the_link_is_up)
{
	uint16_t port = null_port();
	struct evg_port_conf conf = conf_of(1, 1);
	struct evg_port_info info;
	uint64_t t0;

	conf.link_wait_ms = 5000;
	t0 = rte_get_timer_cycles();
	setup_ok(port, &conf, &info);
	cr_assert(info.link_up);
	cr_assert_lt(rte_get_timer_cycles() - t0, rte_get_timer_hz(),
		     "setup waited although the link was up");
}

Test(port, ring_port_receives_from_its_rx_ring_and_sends_to_its_tx_ring)
{
	struct ring_port rp = ring_port_create("rf");
	struct evg_port_conf conf = conf_of(1, 1);
	struct evg_port_info info;
	struct rte_mbuf *in = frame(0xab, 60), *got[4], *out;

	setup_ok(rp.id, &conf, &info);
	cr_assert_eq(rte_ring_enqueue(rp.rx, in), 0);
	cr_assert_eq(rte_eth_rx_burst(rp.id, 0, got, 4), 1, "nothing received");
	cr_assert_eq(got[0], in);
	cr_assert_eq(rte_pktmbuf_pkt_len(got[0]), 60);
	cr_assert_eq(rte_eth_tx_burst(rp.id, 0, got, 1), 1, "not sent");
	cr_assert_eq(rte_ring_dequeue(rp.tx, (void **)&out), 0,
		     "TX ring empty");
	cr_assert_eq(out, in);
	cr_assert_eq(*rte_pktmbuf_mtod(out, uint8_t *), 0xab);
	rte_pktmbuf_free(out);
}

Test(port, null_port_receives_on_every_rss_queue)
{
	uint16_t port = null_port();
	struct evg_port_conf conf = conf_of(2, 1);
	struct evg_port_info info;
	struct rte_mbuf *got[4];
	uint16_t q, n;

	setup_ok(port, &conf, &info);
	for (q = 0; q < info.rx_queues; q++) {
		n = rte_eth_rx_burst(port, q, got, 4);
		cr_assert_gt(n, 0, "queue %u received nothing", q);
		cr_assert_eq(got[0]->pool, pool, "queue %u not on our pool", q);
		rte_pktmbuf_free_bulk(got, n);
	}
}

/* ---- errors ------------------------------------------------------------ */

Test(port, unknown_port_gives_enodev_naming_it)
{
	struct evg_port_conf conf = conf_of(1, 1);
	struct evg_port_info info;
	char err[128] = "", want[32];

	cr_assert_eq(evg_port_setup(RTE_MAX_ETHPORTS - 1, &conf, pool, &info,
				    err, sizeof(err)),
		     -ENODEV);
	cr_assert(strstr(err, "no such port") != NULL, "err: %s", err);
	snprintf(want, sizeof(want), "port %u:", RTE_MAX_ETHPORTS - 1);
	cr_assert(strncmp(err, want, strlen(want)) == 0, "err: %s", err);
}

Test(port, zero_rx_queues_gives_einval_and_leaves_the_port_stopped)
{
	uint16_t port = null_port();
	struct evg_port_conf conf = conf_of(0, 1);
	struct evg_port_info info;
	char err[256] = "";

	cr_assert_eq(evg_port_setup(port, &conf, pool, &info, err, sizeof(err)),
		     -EINVAL);
	cr_assert(strstr(err, NULL_DEV) != NULL, "err: %s", err);
	cr_assert(strstr(err, "rx_queues is 0") != NULL, "err: %s", err);
	cr_assert_not(link_up(port), "port started anyway");
}

Test(port, tx_queues_above_device_maximum_give_einval)
{
	struct ring_port rp = ring_port_create("rt");
	struct evg_port_conf conf = conf_of(1, 2);
	struct evg_port_info info;
	char err[256] = "";

	cr_assert_eq(
		evg_port_setup(rp.id, &conf, pool, &info, err, sizeof(err)),
		-EINVAL);
	cr_assert(strstr(err, "tx_queues 2, expected 1 to 1") != NULL,
		  "err: %s", err);
	cr_assert_not(link_up(rp.id), "port started anyway");
}

Test(port, zero_tx_queues_or_no_pool_give_einval)
{
	uint16_t port = null_port();
	struct evg_port_conf conf = conf_of(1, 0);
	struct evg_port_info info;
	char err[256] = "";

	cr_assert_eq(evg_port_setup(port, &conf, pool, &info, err, sizeof(err)),
		     -EINVAL);
	conf = conf_of(1, 1);
	cr_assert_eq(evg_port_setup(port, &conf, NULL, &info, err, sizeof(err)),
		     -EINVAL);
	cr_assert(strstr(err, "no mbuf pool") != NULL, "err: %s", err);
}

Test(port, failed_queue_setup_gives_the_pmd_error_and_leaves_port_stopped)
{
	/* Data room below RTE_PKTMBUF_HEADROOM: ethdev refuses the pool. */
	struct rte_mempool *tiny = rte_pktmbuf_pool_create(
		"port_test_tiny", 63, 0, 0, 64, SOCKET_ID_ANY);
	uint16_t port = null_port();
	struct evg_port_conf conf = conf_of(1, 1);
	struct evg_port_info info;
	char err[256] = "", want[64];

	cr_assert_not_null(tiny);
	setup_ok(port, &conf, &info); /* running before */
	cr_assert_eq(evg_port_setup(port, &conf, tiny, &info, err, sizeof(err)),
		     -EINVAL);
	snprintf(want, sizeof(want), "port %u (%s, net_null): RX queue 0", port,
		 NULL_DEV);
	cr_assert(strncmp(err, want, strlen(want)) == 0, "err: %s", err);
	cr_assert(strstr(err, "port_test_tiny") != NULL, "err: %s", err);
	cr_assert_not(link_up(port), "port left running");
	evg_port_close(port);
	rte_mempool_free(tiny);
}

/* ---- pools --------------------------------------------------------------- */

Test(port, pool_has_ring_mp_mc_ops_priv_size_and_n_mbufs)
{
	cr_assert_str_eq(rte_mempool_get_ops(pool->ops_index)->name,
			 "ring_mp_mc");
	cr_assert_eq(rte_pktmbuf_priv_size(pool), PRIV_SIZE);
	cr_assert_eq(pool->size, POOL_N);
	cr_assert_eq(rte_mempool_avail_count(pool), POOL_N);
	cr_assert_eq(rte_pktmbuf_data_room_size(pool),
		     RTE_MBUF_DEFAULT_BUF_SIZE);
}

Test(port, pool_rounds_priv_size_up_to_mbuf_priv_align)
{
	struct rte_mempool *mp = evg_port_pool_create("port_test_odd", 63, 0,
						      20, 0, SOCKET_ID_ANY);

	cr_assert_not_null(mp, "%s", rte_strerror(rte_errno));
	cr_assert_eq(rte_pktmbuf_priv_size(mp), 24);
	rte_mempool_free(mp);
}

Test(port, pool_with_a_name_in_use_fails_with_eexist)
{
	cr_assert_null(
		evg_port_pool_create("port_test", 63, 0, 0, 0, SOCKET_ID_ANY));
	cr_assert_eq(rte_errno, EEXIST, "rte_errno %d", rte_errno);
}

/* ---- counters ------------------------------------------------------------ */

Test(port, stats_count_frames_received_and_sent)
{
	struct ring_port rp = ring_port_create("rs");
	struct evg_port_conf conf = conf_of(1, 1);
	uint64_t v[EVG_PORT_STAT_MAX];
	struct evg_port_info info;
	struct rte_mbuf *got[8];
	unsigned int i;
	uint16_t n;

	setup_ok(rp.id, &conf, &info);
	for (i = 0; i < 3; i++)
		cr_assert_eq(rte_ring_enqueue(rp.rx, frame((uint8_t)i, 60)), 0);
	n = rte_eth_rx_burst(rp.id, 0, got, 8);
	cr_assert_eq(n, 3);
	cr_assert_eq(rte_eth_tx_burst(rp.id, 0, got, 2), 2);
	rte_pktmbuf_free(got[2]);

	cr_assert_eq(evg_port_stats_read(rp.id, v), 0);
	cr_assert_eq(v[EVG_PORT_ipackets], 3, "ipackets %lu",
		     (unsigned long)v[EVG_PORT_ipackets]);
	cr_assert_eq(v[EVG_PORT_opackets], 2, "opackets %lu",
		     (unsigned long)v[EVG_PORT_opackets]);
	/* net_ring counts no bytes in 22.11 (nor does net_null) */
	cr_assert_eq(v[EVG_PORT_rx_errors], 0);
	cr_assert_eq(v[EVG_PORT_tx_errors], 0);
	n = (uint16_t)rte_ring_dequeue_burst(rp.tx, (void **)got, 8, NULL);
	rte_pktmbuf_free_bulk(got, n);
}

Test(port, stats_of_an_unknown_port_give_enodev)
{
	uint64_t v[EVG_PORT_STAT_MAX];

	cr_assert_eq(evg_port_stats_read(RTE_MAX_ETHPORTS - 1, v), -ENODEV);
}

Test(port, stat_names_follow_the_list_and_end_in_null)
{
	static const char *const want[] = {
		"ipackets",  "opackets",  "ibytes",    "obytes",
		"rx_missed", "rx_errors", "rx_nombuf", "tx_errors",
	};
	unsigned int i;

	cr_assert_eq(EVG_PORT_STAT_MAX, RTE_DIM(want));
	for (i = 0; i < EVG_PORT_STAT_MAX; i++) {
		cr_assert_str_eq(evg_port_stat_name(i), want[i]);
		cr_assert_not_null(evg_port_stat_desc(i));
	}
	cr_assert_null(evg_port_stat_name(EVG_PORT_STAT_MAX));
	cr_assert_null(evg_port_stat_desc(EVG_PORT_STAT_MAX));
}

/* ---- close --------------------------------------------------------------- */

Test(port, close_frees_the_port)
{
	uint16_t port = null_port();
	struct ring_port rp = ring_port_create("rc");
	struct evg_port_conf conf = conf_of(1, 1);
	struct evg_port_info info;

	setup_ok(port, &conf, &info);
	setup_ok(rp.id, &conf, &info);
	evg_port_close(port);
	evg_port_close(rp.id);
	cr_assert_not(rte_eth_dev_is_valid_port(port), "net_null0 still valid");
	cr_assert_not(rte_eth_dev_is_valid_port(rp.id),
		      "ring port still valid");
	evg_port_close(rp.id); /* twice: logged, harmless */
}

/* ---- link down: a memif server that no client ever connects to -------- */

static void
setup_memif(void)
{
	/* abstract socket (the 22.11 default): nothing left on disk */
	static char vdev[96];
	static const char *extra[] = {vdev, NULL};

	snprintf(vdev, sizeof(vdev),
		 "--vdev=net_memif0,role=server,socket=/evgtest-%d.sock",
		 (int)getpid());
	tu_eal_setup_args(extra);
	pool = evg_port_pool_create("port_test", POOL_N, POOL_CACHE, PRIV_SIZE,
				    0, SOCKET_ID_ANY);
	cr_assert_not_null(pool, "pool: %s", rte_strerror(rte_errno));
}

TestSuite(port_link, .init = setup_memif, .fini = teardown);

static uint16_t
memif_port(void)
{
	uint16_t id;

	cr_assert_eq(rte_eth_dev_get_port_by_name("net_memif0", &id), 0,
		     "net_memif0 not probed");
	return id;
}

Test(port_link, link_down_after_the_wait_is_a_warning_not_an_error)
{
	uint16_t port = memif_port();
	struct evg_port_conf conf = conf_of(1, 1);
	struct evg_port_info info;
	uint64_t t0, ms;

	conf.link_wait_ms = 50;
	t0 = rte_get_timer_cycles();
	setup_ok(port, &conf, &info);
	ms = (rte_get_timer_cycles() - t0) * 1000 / rte_get_timer_hz();
	cr_assert_geq(ms, 50, "gave up after %lu ms", (unsigned long)ms);
	cr_assert_lt(ms, 2000, "waited %lu ms", (unsigned long)ms);
	cr_assert_not(info.link_up);
	cr_assert_eq(info.link_speed, 0);
	cr_assert(strstr(info.warning, "link still down after 50 ms") != NULL,
		  "warning: %s", info.warning);
}

Test(port_link, link_wait_0_reads_the_link_without_waiting_or_warning)
{
	uint16_t port = memif_port();
	struct evg_port_conf conf = conf_of(1, 1);
	struct evg_port_info info;

	conf.link_wait_ms = 0;
	setup_ok(port, &conf, &info);
	cr_assert_not(info.link_up);
	cr_assert_str_empty(info.warning, "warning: %s", info.warning);
}

Test(port_link, port_without_rss_and_link_reports_both_in_one_line)
{
	uint16_t port = memif_port();
	struct evg_port_conf conf = conf_of(2, 1);
	struct evg_port_info info;

	conf.link_wait_ms = 10;
	setup_ok(port, &conf, &info);
	cr_assert_eq(info.rx_queues, 1);
	cr_assert(strstr(info.warning, "instead of 2; link still down") != NULL,
		  "warning: %s", info.warning);
	cr_assert_null(strchr(info.warning, '\n'));
}
