/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * drivers/port with jumbo frames: the pool's data room at an MTU, a
 * net_ring port set to MTU 9000 taking a 9000-byte IP packet in one mbuf,
 * and the refusals: an MTU the pool cannot hold whole, an MTU above what
 * the device reports (net_tap: 1522-byte frames), and the warning for
 * net_memif, whose MTU is advisory.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <rte_errno.h>
#include <rte_eth_ring.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_ring.h>

#include "eal_testutil.h"
#include "evg_port.h"

#define POOL_N 511u
#define JUMBO_FRAME (9000u + RTE_ETHER_HDR_LEN)

_Static_assert(EVG_PORT_DATA_ROOM(1500) == 2048, "standard frames");
_Static_assert(EVG_PORT_DATA_ROOM(2022) == 2048, "2022 + 26 fills 2048");
_Static_assert(EVG_PORT_DATA_ROOM(2023) == 3072, "then whole KiB");
_Static_assert(EVG_PORT_DATA_ROOM(9000) == 9216, "jumbo");

static struct rte_mempool *jumbo; /* EVG_PORT_DATA_ROOM(9000) */
static struct rte_mempool *small; /* DPDK's default data room */
static char memif_vdev[96], tap_vdev[64], tap_name[16];

static void
pools_create(void)
{
	jumbo = evg_port_pool_create("mtu_jumbo", POOL_N, 0, 64,
				     EVG_PORT_DATA_ROOM(9000), SOCKET_ID_ANY);
	cr_assert_not_null(jumbo, "jumbo pool: %s", rte_strerror(rte_errno));
	small = evg_port_pool_create("mtu_small", POOL_N, 0, 64, 0,
				     SOCKET_ID_ANY);
	cr_assert_not_null(small, "small pool: %s", rte_strerror(rte_errno));
}

static void
setup(void)
{
	static const char *extra[] = {memif_vdev, NULL};

	/* abstract socket (the 22.11 default): nothing left on disk */
	snprintf(memif_vdev, sizeof(memif_vdev),
		 "--vdev=net_memif0,role=server,socket=/evgmtu-%d.sock",
		 (int)getpid());
	tu_eal_setup_args(extra);
	pools_create();
}

static void
teardown(void)
{
	uint16_t p;

	RTE_ETH_FOREACH_DEV (p)
		evg_port_close(p);
	rte_mempool_free(jumbo);
	rte_mempool_free(small);
	tu_eal_teardown();
}

TestSuite(port_mtu, .init = setup, .fini = teardown);

static struct evg_port_conf
conf_mtu(uint16_t mtu)
{
	struct evg_port_conf conf = {
		.rx_queues = 1,
		.tx_queues = 1,
		.rx_desc = 128,
		.tx_desc = 128,
		.mtu = mtu,
	};
	return conf;
}

static uint16_t
ring_port(const char *name, struct rte_ring **rx)
{
	struct rte_ring *tx;
	char rname[RTE_RING_NAMESIZE];
	int ret;

	snprintf(rname, sizeof(rname), "%s_rx", name);
	*rx = rte_ring_create(rname, 64, SOCKET_ID_ANY, 0);
	snprintf(rname, sizeof(rname), "%s_tx", name);
	tx = rte_ring_create(rname, 64, SOCKET_ID_ANY, 0);
	cr_assert(*rx != NULL && tx != NULL, "rings for %s", name);
	ret = rte_eth_from_rings(name, rx, 1, &tx, 1, 0);
	cr_assert_geq(ret, 0, "rte_eth_from_rings(%s): %d", name, ret);
	return (uint16_t)ret;
}

Test(port_mtu, jumbo_pool_has_a_9216_byte_data_room_and_says_its_size)
{
	size_t bytes = evg_port_pool_bytes(jumbo);

	cr_assert_eq(rte_pktmbuf_data_room_size(jumbo),
		     9216 + RTE_PKTMBUF_HEADROOM);
	cr_assert_eq(rte_pktmbuf_data_room_size(small),
		     RTE_MBUF_DEFAULT_BUF_SIZE);
	cr_assert_gt(bytes, (size_t)POOL_N * (9216 + sizeof(struct rte_mbuf)),
		     "%zu bytes", bytes);
	cr_assert_lt(bytes, (size_t)POOL_N * 12288, "%zu bytes", bytes);
	cr_assert_null(evg_port_pool_create("mtu_huge", 63, 0, 0, 65535,
					    SOCKET_ID_ANY),
		       "a data room above 65535 with the headroom");
	cr_assert_eq(rte_errno, EINVAL);
}

Test(port_mtu, ring_port_at_mtu_9000_takes_a_9014_byte_frame_in_one_mbuf)
{
	struct rte_ring *rx;
	uint16_t port = ring_port("mtu9k", &rx);
	struct evg_port_conf conf = conf_mtu(9000);
	struct evg_port_info info;
	struct rte_mbuf *m, *got[4];
	char err[256] = "unset";
	uint16_t n;

	cr_assert_eq(
		evg_port_setup(port, &conf, jumbo, &info, err, sizeof(err)), 0,
		"%s", err);
	cr_assert_eq(info.mtu, 9000);
	cr_assert_str_empty(info.warning, "%s", info.warning);

	m = rte_pktmbuf_alloc(jumbo);
	cr_assert_not_null(m);
	cr_assert_not_null(rte_pktmbuf_append(m, JUMBO_FRAME),
			   "a 9014-byte frame fits one jumbo mbuf");
	memset(rte_pktmbuf_mtod(m, void *), 0x5a, JUMBO_FRAME);
	cr_assert_eq(rte_ring_enqueue(rx, m), 0);
	n = rte_eth_rx_burst(port, 0, got, RTE_DIM(got));
	cr_assert_eq(n, 1);
	cr_assert_eq(got[0]->nb_segs, 1);
	cr_assert_eq(rte_pktmbuf_pkt_len(got[0]), JUMBO_FRAME);
	rte_pktmbuf_free(got[0]);
}

Test(port_mtu, mtu_that_the_pools_data_room_cannot_hold_is_refused)
{
	struct rte_ring *rx;
	uint16_t port = ring_port("mtusm", &rx);
	struct evg_port_conf conf = conf_mtu(2023);
	char err[256] = "";

	cr_assert_eq(evg_port_setup(port, &conf, small, NULL, err, sizeof(err)),
		     -EINVAL);
	cr_assert_not_null(strstr(err, "mtu 2023: expected at most 2022 "
				       "(pool mtu_small has a 2048-byte data "
				       "room; RX does not scatter)"),
			   "%s", err);
	conf.mtu = 2022;
	cr_assert_eq(evg_port_setup(port, &conf, small, NULL, err, sizeof(err)),
		     0, "%s", err);
}

Test(port_mtu, mtu_max_is_what_ethdev_derives_from_dev_info)
{
	struct rte_eth_dev_info d = {.max_mtu = UINT16_MAX,
				     .max_rx_pktlen = 1518};

	cr_assert_eq(evg_port_mtu_max(&d), 1500, "memif, af_packet");
	d.max_rx_pktlen = 1522;
	cr_assert_eq(evg_port_mtu_max(&d), 1504, "net_tap");
	d.max_mtu = 9702; /* a NIC giving both: its own overhead */
	d.max_rx_pktlen = 9728;
	cr_assert_eq(evg_port_mtu_max(&d), 9702);
	d.max_mtu = UINT16_MAX;
	d.max_rx_pktlen = UINT32_MAX;
	cr_assert_eq(evg_port_mtu_max(&d), UINT16_MAX, "net_ring, net_null");
}

Test(port_mtu, memif_above_its_reported_maximum_warns_and_starts)
{
	struct evg_port_conf conf = conf_mtu(9000);
	struct evg_port_info info;
	char err[256] = "unset";
	uint16_t port;

	cr_assert_eq(rte_eth_dev_get_port_by_name("net_memif0", &port), 0);
	cr_assert_eq(
		evg_port_setup(port, &conf, jumbo, &info, err, sizeof(err)), 0,
		"%s", err);
	cr_assert_eq(info.mtu, 1500);
	cr_assert_not_null(strstr(info.warning,
				  "device MTU stays at most 1500; frames up "
				  "to mtu 9000 still arrive whole"),
			   "%s", info.warning);
}

/* ---- net_tap: a device that enforces a 1522-byte maximum ------------- */

static void
setup_tap(void)
{
	static const char *extra[] = {tap_vdev, NULL};
	int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);

	if (fd < 0)
		return; /* the test skips */
	close(fd);
	snprintf(tap_name, sizeof(tap_name), "evgm%d", (int)getpid() % 100000);
	snprintf(tap_vdev, sizeof(tap_vdev), "--vdev=net_tap0,iface=%s",
		 tap_name);
	tu_eal_setup_args(extra);
	pools_create();
}

static void
teardown_tap(void)
{
	if (jumbo != NULL)
		teardown();
}

TestSuite(port_mtu_tap, .init = setup_tap, .fini = teardown_tap);

Test(port_mtu_tap, mtu_above_the_devices_maximum_is_refused_in_one_line)
{
	struct evg_port_conf conf = conf_mtu(9000);
	char err[256] = "";
	uint16_t port;

	if (jumbo == NULL)
		cr_skip_test("no /dev/net/tun");
	cr_assert_eq(rte_eth_dev_get_port_by_name("net_tap0", &port), 0);
	cr_assert_eq(evg_port_setup(port, &conf, jumbo, NULL, err, sizeof(err)),
		     -EINVAL);
	cr_assert_not_null(strstr(err, "(net_tap0, net_tap): mtu 9000: "
				       "expected at most 1504 (the device's "
				       "maximum; max_rx_pktlen 1522)"),
			   "%s", err);
	cr_assert_null(strchr(err, '\n'), "%s", err);
	conf.mtu = 1500;
	cr_assert_eq(evg_port_setup(port, &conf, jumbo, NULL, err, sizeof(err)),
		     0, "%s", err);
}
