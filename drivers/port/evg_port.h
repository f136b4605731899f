/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Ethernet port set-up for evgate (docs: ports.md).
 *
 * - evg_port_pool_create() makes the mbuf pool that RX queues fill from,
 *   with explicit mempool ops so that a secondary process (dpdk-dumpcap)
 *   can use it too.
 * - evg_port_setup() configures and starts one ethdev port: RSS over
 *   IPv4/UDP when several RX queues are wanted and the PMD can, one RX
 *   queue otherwise; what had to be reduced is reported, not failed.
 * - evg_port_close() stops and closes it.
 * - evg_port_stats_read() reads the port-level counters.
 *
 * All of this is control path: it may block (link wait), logs through the
 * "evgate.port" logtype, and is not thread-safe for one port.
 */
#ifndef EVG_PORT_H
#define EVG_PORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <rte_ethdev.h>
#include <rte_ether.h>
#include <rte_mempool.h>

/* Mempool ops of every pool made here; a secondary process must have the
 * same ops registered (the ring mempool driver, as in every DPDK build). */
#define EVG_PORT_POOL_OPS "ring_mp_mc"

/* The largest IP MTU a port is set up with (jumbo frames). */
#define EVG_PORT_MTU_MAX 9000u
/* What a frame of IP MTU mtu may carry around its IP packet in an RX
 * buffer: Ethernet header, two VLAN tags, and the CRC a PMD may keep. */
#define EVG_PORT_L2_OVERHEAD \
	(RTE_ETHER_HDR_LEN + 2 * RTE_VLAN_HLEN + RTE_ETHER_CRC_LEN)
/*
 * The mbuf data room (after the headroom) that holds a whole frame of IP
 * MTU mtu in one mbuf, so that RX never scatters: mtu plus the L2
 * overhead, in whole KiB, and never below DPDK's default (2048). 1500:
 * 2048, 9000: 9216. A constant expression, for static asserts.
 */
#define EVG_PORT_DATA_ROOM(mtu)                                    \
	((mtu) + EVG_PORT_L2_OVERHEAD <= RTE_MBUF_DEFAULT_DATAROOM \
		 ? RTE_MBUF_DEFAULT_DATAROOM                       \
		 : ((mtu) + EVG_PORT_L2_OVERHEAD + 1023u) / 1024u * 1024u)

/*
 * Create a pool of n mbufs on NUMA socket socket_id (SOCKET_ID_ANY for any)
 * with a per-lcore cache of cache mbufs, priv_size bytes of private area
 * after each struct rte_mbuf (rounded up to RTE_MBUF_PRIV_ALIGN) and
 * data_room bytes of data after RTE_PKTMBUF_HEADROOM (0: DPDK's default,
 * RTE_MBUF_DEFAULT_DATAROOM; EVG_PORT_DATA_ROOM(mtu) for a port MTU),
 * using EVG_PORT_POOL_OPS. n is best 2^k - 1. Returns the pool, or NULL
 * with rte_errno set (EINVAL for a cache too large for n or a data room
 * above 65535 with the headroom, EEXIST for a name in use, ENOMEM, ENOENT
 * when the ops are not registered); the failure is logged.
 */
struct rte_mempool *evg_port_pool_create(const char *name, unsigned int n,
					 unsigned int cache, uint16_t priv_size,
					 uint16_t data_room, int socket_id);

/* Bytes of memory a pool made by evg_port_pool_create() takes (objects,
 * headers and padding, without the per-lcore caches). */
size_t evg_port_pool_bytes(const struct rte_mempool *mp);

/*
 * The largest IP MTU the device accepts, as ethdev computes it from
 * dev_info: max_mtu, and max_rx_pktlen less the device's L2 overhead
 * (max_rx_pktlen - max_mtu when the PMD gives both, else Ethernet header
 * and CRC). 1500 for a PMD reporting max_rx_pktlen 1518 alone.
 */
uint32_t evg_port_mtu_max(const struct rte_eth_dev_info *dev);

/* What the application asks of a port. */
struct evg_port_conf {
	uint16_t rx_queues;    /* wanted, >= 1; RSS over IPv4/UDP when > 1 */
	uint16_t tx_queues;    /* >= 1, at most the device's maximum */
	uint16_t rx_desc;      /* per queue; 0 = the PMD's preferred size */
	uint16_t tx_desc;      /* per queue; 0 = the PMD's preferred size */
	bool promiscuous;      /* a PMD that refuses it gives a warning */
	uint32_t link_wait_ms; /* wait this long for link up after start;
				* 0 = don't wait, just read the state */
	uint16_t mtu;	       /* IP MTU, 68 to EVG_PORT_MTU_MAX; 0 = leave
				* the device's (1500 in DPDK) */
};

/* What the port got. */
struct evg_port_info {
	uint16_t port_id;
	/* rte_eth_dev_socket_id(), SOCKET_ID_ANY reported as 0 */
	int socket_id;
	/* dev_info.driver_name, e.g. "net_ice", "net_af_packet" */
	char driver[32];
	/* the device: PCI address or vdev name */
	char name[RTE_ETH_NAME_MAX_LEN];
	/* granted queues, and descriptors per queue as fitted to the PMD */
	uint16_t rx_queues, tx_queues;
	uint16_t rx_desc, tx_desc;
	/* RSS on (only with rx_queues > 1) over these RTE_ETH_RSS_* types */
	bool rss;
	uint64_t rss_hf;
	/* RTE_ETH_RX_OFFLOAD_* / RTE_ETH_TX_OFFLOAD_* turned on */
	uint64_t rx_offloads, tx_offloads;
	struct rte_ether_addr mac;
	/* as the PMD reports them after start and the link wait */
	bool promiscuous;
	bool link_up;
	uint32_t link_speed; /* Mb/s, 0 unknown */
	/* rte_eth_dev_get_mtu() after start; the largest frame RX takes
	 * whole is the pool's data room, whatever the MTU */
	uint16_t mtu;
	/* Empty, or one line: what was reduced or refused and why, e.g.
	 * "port 0 (net_ring_r0, net_ring): no RSS over IPv4/UDP; using 1 RX
	 * queue instead of 4". Several reasons are joined by "; ". Each is
	 * also logged at WARNING. */
	char warning[256];
};

/*
 * Configure and start port_id (stopping it first if it runs):
 * - RX queues: conf->rx_queues, capped at the device's maximum; when more
 *   than one remains, RSS (RTE_ETH_MQ_RX_RSS) hashing whatever of
 *   RTE_ETH_RSS_IPV4 | RTE_ETH_RSS_NONFRAG_IPV4_UDP the PMD offers, or one
 *   RX queue and a warning when it offers neither, or when it advertises
 *   RSS but its configure refuses it;
 * - the RX IPv4 checksum offload when the PMD has it (never required);
 * - the MTU (rxmode.mtu) when conf->mtu is not 0: refused (-EINVAL) when
 *   the pool's data room cannot hold a frame of that MTU plus
 *   EVG_PORT_L2_OVERHEAD in one mbuf (scattered RX stays off), or when it
 *   is outside the device's min_mtu..evg_port_mtu_max(); except that
 *   net_memif and net_af_packet, which report the Ethernet maximum but
 *   receive frames up to their buffer sizes, keep their MTU with a
 *   warning (docs/ports.md);
 * - descriptors per queue adjusted to the PMD's limits; every RX queue
 *   takes its mbufs from pool (which should hold more mbufs than all RX
 *   descriptors together, or a warning says RX may starve);
 * - start, then promiscuous mode if asked, then the link wait, polling
 *   every 10 ms up to conf->link_wait_ms. A refused promiscuous mode and a
 *   link still down are warnings: the port is up and info is filled.
 *
 * Returns 0 with info filled, or a negative errno with one line in err
 * (always NUL-terminated when errlen > 0) naming the port, the device and
 * what failed: -ENODEV for an unknown port, -EINVAL for a bad conf
 * (rx_queues 0, tx_queues 0 or above the device's maximum, no pool), the
 * PMD's error for configure, queue set-up or start (a running port is
 * stopped first, so it is then left stopped). An unknown port or a bad
 * conf changes nothing. info may be partly filled on failure.
 */
int evg_port_setup(uint16_t port_id, const struct evg_port_conf *conf,
		   struct rte_mempool *pool, struct evg_port_info *info,
		   char *err, size_t errlen);

/* Stop and close port_id, which frees it (a later setup needs the device
 * probed again). Errors are logged and otherwise ignored. */
void evg_port_close(uint16_t port_id);

/*
 * Port-level counters from rte_eth_stats_get(). One list yields the enum
 * (EVG_PORT_<name>), the names and the descriptions.
 */
#define EVG_PORT_STATS_FOREACH(X)                                         \
	X(ipackets, "frames received")                                    \
	X(opackets, "frames sent")                                        \
	X(ibytes, "bytes received")                                       \
	X(obytes, "bytes sent")                                           \
	X(rx_missed, "frames the NIC dropped for want of RX descriptors") \
	X(rx_errors, "frames received with errors")                       \
	X(rx_nombuf, "RX mbuf allocation failures")                       \
	X(tx_errors, "frames the NIC failed to send")

enum evg_port_stat {
#define EVG_PORT_STAT_ENUM_(name, desc) EVG_PORT_##name,
	EVG_PORT_STATS_FOREACH(EVG_PORT_STAT_ENUM_)
#undef EVG_PORT_STAT_ENUM_
		EVG_PORT_STAT_MAX,
};

/* Fill values[0..EVG_PORT_STAT_MAX) for port_id. Returns 0, -ENODEV for
 * an unknown port, or the PMD's error. */
int evg_port_stats_read(uint16_t port_id, uint64_t values[]);

/* "ipackets", ... ; NULL when i >= EVG_PORT_STAT_MAX. */
const char *evg_port_stat_name(unsigned int i);
/* One-line description of counter i; NULL when out of range. */
const char *evg_port_stat_desc(unsigned int i);

#endif /* EVG_PORT_H */
