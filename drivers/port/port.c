/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Ethernet port set-up: what evg_port_setup() asks of a PMD, what it
 * settles for, and how it reports both. Control path only.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <rte_common.h>
#include <rte_cycles.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_log.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_string_fns.h>

#include "evg_port.h"

RTE_LOG_REGISTER(evg_port_logtype, evgate.port, INFO);

#define PORT_LOG(level, fmt, ...)                                            \
	rte_log(RTE_LOG_##level, evg_port_logtype, "evgate.port: " fmt "\n", \
		__VA_ARGS__)

/* What evgate hashes on: producers are told apart by address and port. */
#define PORT_RSS_WANTED (RTE_ETH_RSS_IPV4 | RTE_ETH_RSS_NONFRAG_IPV4_UDP)
#define PORT_LINK_POLL_MS 10u
#define PORT_DEFAULT_DESC 1024u

/* One evg_port_setup() call. */
struct port_ctx {
	uint16_t port_id;
	const struct evg_port_conf *conf;
	struct evg_port_info *info;
	struct rte_eth_dev_info dev;
	struct rte_eth_conf eth;
	char who[16 + RTE_ETH_NAME_MAX_LEN + 32]; /* "port N (name, drv)" */
	char *err;
	size_t errlen;
};

/*
 * Drivers that report the Ethernet maximum (max_rx_pktlen 1518) but take
 * frames up to their own buffer sizes: memif chains its buffers into the
 * mbuf, af_packet receives what the kernel interface's MTU and framesz
 * let through. Their ethdev MTU is advisory; a larger one is a warning.
 */
static const char *const port_mtu_advisory[] = {"net_memif", "net_af_packet"};

struct rte_mempool *
evg_port_pool_create(const char *name, unsigned int n, unsigned int cache,
		     uint16_t priv_size, uint16_t data_room, int socket_id)
{
	uint16_t priv = RTE_ALIGN_CEIL(priv_size, RTE_MBUF_PRIV_ALIGN);
	uint32_t room = data_room != 0 ? data_room : RTE_MBUF_DEFAULT_DATAROOM;
	struct rte_mempool *mp;

	if (name == NULL || priv < priv_size ||
	    room + RTE_PKTMBUF_HEADROOM > UINT16_MAX) {
		rte_errno = EINVAL;
		return NULL;
	}
	mp = rte_pktmbuf_pool_create_by_ops(
		name, n, cache, priv, (uint16_t)(room + RTE_PKTMBUF_HEADROOM),
		socket_id, EVG_PORT_POOL_OPS);
	if (mp == NULL)
		PORT_LOG(ERR,
			 "mbuf pool %s (%u mbufs of %u bytes, cache %u, priv "
			 "%u, socket %d, ops %s): %s",
			 name, n, room, cache, priv, socket_id,
			 EVG_PORT_POOL_OPS, rte_strerror(rte_errno));
	return mp;
}

size_t
evg_port_pool_bytes(const struct rte_mempool *mp)
{
	size_t obj = (size_t)mp->header_size + mp->elt_size + mp->trailer_size;

	return obj * mp->size + sizeof(*mp);
}

uint32_t
evg_port_mtu_max(const struct rte_eth_dev_info *dev)
{
	uint32_t overhead = RTE_ETHER_HDR_LEN + RTE_ETHER_CRC_LEN;
	uint32_t max = dev->max_mtu;

	/* ethdev's eth_dev_get_overhead_len() */
	if (dev->max_mtu != UINT16_MAX && dev->max_rx_pktlen > dev->max_mtu)
		overhead = dev->max_rx_pktlen - dev->max_mtu;
	if (dev->max_rx_pktlen < overhead)
		return 0;
	return RTE_MIN(max, dev->max_rx_pktlen - overhead);
}

static int port_fail(struct port_ctx *c, int ret, const char *fmt, ...)
	__rte_format_printf(3, 4);
static void port_warn(struct port_ctx *c, const char *fmt, ...)
	__rte_format_printf(2, 3);

/* Write the one-line error, log it and return ret. */
static int
port_fail(struct port_ctx *c, int ret, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	PORT_LOG(ERR, "%s", msg);
	if (c->err != NULL && c->errlen > 0)
		snprintf(c->err, c->errlen, "%s", msg);
	return ret;
}

/* Log a reduction and add it to info->warning, which stays one line. */
static void
port_warn(struct port_ctx *c, const char *fmt, ...)
{
	char *w = c->info->warning;
	const size_t size = sizeof(c->info->warning);
	size_t len = strlen(w);
	char msg[160];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	PORT_LOG(WARNING, "%s: %s", c->who, msg);
	if (len == 0) {
		rte_strlcpy(w, c->who, size);
		rte_strlcat(w, ": ", size);
	} else {
		rte_strlcat(w, "; ", size);
	}
	rte_strlcat(w, msg, size); /* truncated when too long: still one line */
}

static int
port_identify(struct port_ctx *c)
{
	struct evg_port_info *info = c->info;
	int ret;

	if (!rte_eth_dev_is_valid_port(c->port_id))
		return port_fail(c, -ENODEV,
				 "port %u: no such port (%u ports available)",
				 c->port_id, rte_eth_dev_count_avail());
	info->port_id = c->port_id;
	ret = rte_eth_dev_socket_id(c->port_id);
	info->socket_id = ret == SOCKET_ID_ANY ? 0 : ret;
	if (rte_eth_dev_get_name_by_port(c->port_id, info->name) != 0)
		snprintf(info->name, sizeof(info->name), "?");
	ret = rte_eth_dev_info_get(c->port_id, &c->dev);
	if (ret != 0)
		return port_fail(c, ret, "port %u (%s): device info: %s",
				 c->port_id, info->name, rte_strerror(-ret));
	snprintf(info->driver, sizeof(info->driver), "%s",
		 c->dev.driver_name != NULL ? c->dev.driver_name : "?");
	snprintf(c->who, sizeof(c->who), "port %u (%s, %s)", c->port_id,
		 info->name, info->driver);
	return 0;
}

/* RX queues and RSS: as many as wanted when the PMD can spread over them
 * by IPv4/UDP, else one. */
static void
port_plan_rx(struct port_ctx *c)
{
	struct evg_port_info *info = c->info;
	uint16_t want = c->conf->rx_queues;
	uint16_t nrx = RTE_MIN(want, c->dev.max_rx_queues);
	uint64_t hf = PORT_RSS_WANTED & c->dev.flow_type_rss_offloads;

	if (want > 1 && hf == 0) {
		port_warn(
			c,
			"no RSS over IPv4/UDP; using 1 RX queue instead of %u",
			want);
		nrx = 1;
	} else if (nrx < want) {
		port_warn(c,
			  "device has at most %u RX queue(s); using %u instead "
			  "of %u",
			  c->dev.max_rx_queues, nrx, want);
	}
	if (nrx > 1 && !(hf & RTE_ETH_RSS_NONFRAG_IPV4_UDP))
		port_warn(c, "RSS hashes IPv4 addresses only, not UDP ports");
	else if (nrx > 1 && !(hf & RTE_ETH_RSS_IPV4))
		port_warn(c, "RSS covers IPv4/UDP only, not other IPv4");
	info->rx_queues = nrx;
	info->rss = nrx > 1;
	info->rss_hf = info->rss ? hf : 0;
	if (info->rss) {
		c->eth.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
		c->eth.rx_adv_conf.rss_conf.rss_key = NULL;
		c->eth.rx_adv_conf.rss_conf.rss_hf = hf;
	} else {
		c->eth.rxmode.mq_mode = RTE_ETH_MQ_RX_NONE;
	}
	if (c->dev.rx_offload_capa & RTE_ETH_RX_OFFLOAD_IPV4_CKSUM)
		c->eth.rxmode.offloads |= RTE_ETH_RX_OFFLOAD_IPV4_CKSUM;
	info->rx_offloads = c->eth.rxmode.offloads;
	info->tx_offloads = c->eth.txmode.offloads;
}

static bool
port_mtu_is_advisory(const struct port_ctx *c)
{
	for (size_t i = 0; i < RTE_DIM(port_mtu_advisory); i++)
		if (strcmp(c->info->driver, port_mtu_advisory[i]) == 0)
			return true;
	return false;
}

/* One frame of the MTU in one mbuf, and an MTU the device takes. */
static int
port_plan_mtu(struct port_ctx *c, struct rte_mempool *pool)
{
	uint32_t mtu = c->conf->mtu;
	uint32_t room = rte_pktmbuf_data_room_size(pool) - RTE_PKTMBUF_HEADROOM;
	uint32_t max = evg_port_mtu_max(&c->dev);

	if (mtu == 0)
		return 0;
	if (mtu > EVG_PORT_MTU_MAX || mtu + EVG_PORT_L2_OVERHEAD > room)
		return port_fail(c, -EINVAL,
				 "%s: mtu %u: expected at most %u (pool %s has "
				 "a %u-byte data room; RX does not scatter)",
				 c->who, mtu,
				 RTE_MIN(EVG_PORT_MTU_MAX,
					 room > EVG_PORT_L2_OVERHEAD
						 ? room - EVG_PORT_L2_OVERHEAD
						 : 0),
				 pool->name, room);
	if (mtu < c->dev.min_mtu)
		return port_fail(c, -EINVAL,
				 "%s: mtu %u: expected at least %u (the "
				 "device's minimum)",
				 c->who, mtu, c->dev.min_mtu);
	if (mtu > max && port_mtu_is_advisory(c)) {
		port_warn(c,
			  "device MTU stays at most %u; frames up to mtu %u "
			  "still arrive whole if its buffers take them",
			  max, mtu);
		return 0;
	}
	if (mtu > max)
		return port_fail(c, -EINVAL,
				 "%s: mtu %u: expected at most %u (the "
				 "device's maximum; max_rx_pktlen %u)",
				 c->who, mtu, max, c->dev.max_rx_pktlen);
	c->eth.rxmode.mtu = mtu;
	return 0;
}

static int
port_plan(struct port_ctx *c, struct rte_mempool *pool)
{
	const struct evg_port_conf *conf = c->conf;

	if (conf->rx_queues == 0)
		return port_fail(c, -EINVAL,
				 "%s: rx_queues is 0, expected 1 or more",
				 c->who);
	if (conf->tx_queues == 0 || conf->tx_queues > c->dev.max_tx_queues)
		return port_fail(
			c, -EINVAL,
			"%s: tx_queues %u, expected 1 to %u (device maximum)",
			c->who, conf->tx_queues, c->dev.max_tx_queues);
	if (pool == NULL)
		return port_fail(c, -EINVAL, "%s: no mbuf pool", c->who);
	memset(&c->eth, 0, sizeof(c->eth));
	port_plan_rx(c);
	c->info->tx_queues = conf->tx_queues;
	return port_plan_mtu(c, pool);
}

/* rte_eth_dev_configure(), stopping the port first if it runs. */
static int
port_dev_configure(struct port_ctx *c)
{
	struct evg_port_info *info = c->info;
	int ret;

	ret = rte_eth_dev_configure(c->port_id, info->rx_queues,
				    info->tx_queues, &c->eth);
	if (ret == -EBUSY) {
		PORT_LOG(INFO, "%s: running; stopping it to set it up again",
			 c->who);
		ret = rte_eth_dev_stop(c->port_id);
		if (ret == 0)
			ret = rte_eth_dev_configure(c->port_id, info->rx_queues,
						    info->tx_queues, &c->eth);
	}
	return ret;
}

/*
 * Configure; a PMD that advertises RSS but refuses it (net_tap without
 * its kernel support) gets a second try with one RX queue.
 */
static int
port_configure(struct port_ctx *c)
{
	struct evg_port_info *info = c->info;
	int ret = port_dev_configure(c);

	if (ret != 0 && info->rss) {
		port_warn(c, "RSS refused (%s); using 1 RX queue instead of %u",
			  rte_strerror(-ret), info->rx_queues);
		info->rx_queues = 1;
		info->rss = false;
		info->rss_hf = 0;
		c->eth.rxmode.mq_mode = RTE_ETH_MQ_RX_NONE;
		c->eth.rx_adv_conf.rss_conf.rss_hf = 0;
		ret = port_dev_configure(c);
	}
	if (ret != 0)
		return port_fail(
			c, ret, "%s: configure with %u RX and %u TX queues: %s",
			c->who, info->rx_queues, info->tx_queues,
			rte_strerror(-ret));
	return 0;
}

/* Descriptors per queue: asked, else the PMD's preference, then fitted to
 * its limits. */
static int
port_fit_desc(struct port_ctx *c)
{
	struct evg_port_info *info = c->info;
	int ret;

	info->rx_desc = c->conf->rx_desc;
	if (info->rx_desc == 0)
		info->rx_desc = c->dev.default_rxportconf.ring_size;
	if (info->rx_desc == 0)
		info->rx_desc = PORT_DEFAULT_DESC;
	info->tx_desc = c->conf->tx_desc;
	if (info->tx_desc == 0)
		info->tx_desc = c->dev.default_txportconf.ring_size;
	if (info->tx_desc == 0)
		info->tx_desc = PORT_DEFAULT_DESC;
	ret = rte_eth_dev_adjust_nb_rx_tx_desc(c->port_id, &info->rx_desc,
					       &info->tx_desc);
	if (ret != 0)
		return port_fail(c, ret,
				 "%s: adjust descriptors (%u RX, %u TX): %s",
				 c->who, info->rx_desc, info->tx_desc,
				 rte_strerror(-ret));
	return 0;
}

static int
port_queues_setup(struct port_ctx *c, struct rte_mempool *pool)
{
	struct evg_port_info *info = c->info;
	struct rte_eth_rxconf rxconf = c->dev.default_rxconf;
	struct rte_eth_txconf txconf = c->dev.default_txconf;
	uint64_t rx_total = (uint64_t)info->rx_queues * info->rx_desc;
	uint16_t q;
	int ret;

	if (pool->size <= rx_total)
		port_warn(c,
			  "pool %s holds %u mbufs, no more than the %" PRIu64
			  " RX descriptors: RX may starve",
			  pool->name, pool->size, rx_total);
	rxconf.offloads = c->eth.rxmode.offloads;
	for (q = 0; q < info->rx_queues; q++) {
		ret = rte_eth_rx_queue_setup(c->port_id, q, info->rx_desc,
					     (unsigned int)info->socket_id,
					     &rxconf, pool);
		if (ret != 0)
			return port_fail(
				c, ret,
				"%s: RX queue %u (%u descriptors, pool %s): %s",
				c->who, q, info->rx_desc, pool->name,
				rte_strerror(-ret));
	}
	txconf.offloads = c->eth.txmode.offloads;
	for (q = 0; q < info->tx_queues; q++) {
		ret = rte_eth_tx_queue_setup(c->port_id, q, info->tx_desc,
					     (unsigned int)info->socket_id,
					     &txconf);
		if (ret != 0)
			return port_fail(
				c, ret, "%s: TX queue %u (%u descriptors): %s",
				c->who, q, info->tx_desc, rte_strerror(-ret));
	}
	return 0;
}

/* Poll the link every PORT_LINK_POLL_MS until up or wait_ms have passed. */
static void
port_link_wait(struct port_ctx *c)
{
	struct evg_port_info *info = c->info;
	uint32_t wait_ms = c->conf->link_wait_ms;
	uint64_t deadline =
		rte_get_timer_cycles() + rte_get_timer_hz() * wait_ms / 1000;
	struct rte_eth_link link;
	int ret;

	for (;;) {
		memset(&link, 0, sizeof(link));
		ret = rte_eth_link_get_nowait(c->port_id, &link);
		if (ret == 0 && link.link_status == RTE_ETH_LINK_UP)
			break;
		if (rte_get_timer_cycles() >= deadline)
			break;
		rte_delay_us_sleep(PORT_LINK_POLL_MS * 1000);
	}
	info->link_up = ret == 0 && link.link_status == RTE_ETH_LINK_UP;
	if (info->link_up && link.link_speed != RTE_ETH_SPEED_NUM_UNKNOWN)
		info->link_speed = link.link_speed;
	if (ret != 0)
		PORT_LOG(INFO, "%s: link state unknown: %s", c->who,
			 rte_strerror(-ret));
	if (!info->link_up && wait_ms > 0)
		port_warn(c, "link still down after %u ms", wait_ms);
}

/* Everything after start is best effort: the port already forwards. */
static void
port_after_start(struct port_ctx *c)
{
	struct evg_port_info *info = c->info;
	int ret;

	if (c->conf->promiscuous) {
		ret = rte_eth_promiscuous_enable(c->port_id);
		if (ret != 0)
			port_warn(c, "promiscuous mode refused: %s",
				  rte_strerror(-ret));
	}
	info->promiscuous = rte_eth_promiscuous_get(c->port_id) == 1;
	if (rte_eth_dev_get_mtu(c->port_id, &info->mtu) != 0)
		info->mtu = 0;
	ret = rte_eth_macaddr_get(c->port_id, &info->mac);
	if (ret != 0) {
		memset(&info->mac, 0, sizeof(info->mac));
		PORT_LOG(WARNING, "%s: no MAC address: %s", c->who,
			 rte_strerror(-ret));
	}
	port_link_wait(c);
}

int
evg_port_setup(uint16_t port_id, const struct evg_port_conf *conf,
	       struct rte_mempool *pool, struct evg_port_info *info, char *err,
	       size_t errlen)
{
	struct evg_port_info scratch;
	struct port_ctx c;
	int ret;

	memset(&c, 0, sizeof(c));
	c.port_id = port_id;
	c.conf = conf;
	c.info = info != NULL ? info : &scratch;
	c.err = err;
	c.errlen = errlen;
	memset(c.info, 0, sizeof(*c.info));
	snprintf(c.who, sizeof(c.who), "port %u", port_id);
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (conf == NULL)
		return port_fail(&c, -EINVAL, "port %u: no configuration",
				 port_id);

	ret = port_identify(&c);
	if (ret == 0)
		ret = port_plan(&c, pool);
	if (ret == 0)
		ret = port_configure(&c);
	if (ret == 0)
		ret = port_fit_desc(&c);
	if (ret == 0)
		ret = port_queues_setup(&c, pool);
	if (ret == 0) {
		ret = rte_eth_dev_start(port_id);
		if (ret != 0)
			ret = port_fail(&c, ret, "%s: start: %s", c.who,
					rte_strerror(-ret));
	}
	if (ret != 0)
		return ret;

	port_after_start(&c);
	PORT_LOG(INFO,
		 "%s: started, socket %d, %u RX queue(s) x %u, %u TX queue(s) "
		 "x %u, RSS %s (0x%" PRIx64 "), MTU %u, link %s %u Mb/s",
		 c.who, c.info->socket_id, c.info->rx_queues, c.info->rx_desc,
		 c.info->tx_queues, c.info->tx_desc, c.info->rss ? "on" : "off",
		 c.info->rss_hf, c.info->mtu, c.info->link_up ? "up" : "down",
		 c.info->link_speed);
	return 0;
}

void
evg_port_close(uint16_t port_id)
{
	int ret;

	if (!rte_eth_dev_is_valid_port(port_id)) {
		PORT_LOG(WARNING, "port %u: close: no such port", port_id);
		return;
	}
	ret = rte_eth_dev_stop(port_id);
	if (ret != 0)
		PORT_LOG(WARNING, "port %u: stop: %s", port_id,
			 rte_strerror(-ret));
	ret = rte_eth_dev_close(port_id);
	if (ret != 0)
		PORT_LOG(WARNING, "port %u: close: %s", port_id,
			 rte_strerror(-ret));
}

/* Where each counter lives in struct rte_eth_stats. */
static const size_t port_stat_off[EVG_PORT_STAT_MAX] = {
	[EVG_PORT_ipackets] = offsetof(struct rte_eth_stats, ipackets),
	[EVG_PORT_opackets] = offsetof(struct rte_eth_stats, opackets),
	[EVG_PORT_ibytes] = offsetof(struct rte_eth_stats, ibytes),
	[EVG_PORT_obytes] = offsetof(struct rte_eth_stats, obytes),
	[EVG_PORT_rx_missed] = offsetof(struct rte_eth_stats, imissed),
	[EVG_PORT_rx_errors] = offsetof(struct rte_eth_stats, ierrors),
	[EVG_PORT_rx_nombuf] = offsetof(struct rte_eth_stats, rx_nombuf),
	[EVG_PORT_tx_errors] = offsetof(struct rte_eth_stats, oerrors),
};

static const char *const port_stat_names[EVG_PORT_STAT_MAX] = {
#define EVG_PORT_STAT_NAME_(name, desc) [EVG_PORT_##name] = #name,
	EVG_PORT_STATS_FOREACH(EVG_PORT_STAT_NAME_)
#undef EVG_PORT_STAT_NAME_
};

static const char *const port_stat_descs[EVG_PORT_STAT_MAX] = {
#define EVG_PORT_STAT_DESC_(name, desc) [EVG_PORT_##name] = desc,
	EVG_PORT_STATS_FOREACH(EVG_PORT_STAT_DESC_)
#undef EVG_PORT_STAT_DESC_
};

int
evg_port_stats_read(uint16_t port_id, uint64_t values[])
{
	struct rte_eth_stats st;
	unsigned int i;
	uint64_t v;
	int ret;

	if (!rte_eth_dev_is_valid_port(port_id))
		return -ENODEV;
	ret = rte_eth_stats_get(port_id, &st);
	if (ret != 0)
		return ret;
	for (i = 0; i < EVG_PORT_STAT_MAX; i++) {
		memcpy(&v, (const char *)&st + port_stat_off[i], sizeof(v));
		values[i] = v;
	}
	return 0;
}

const char *
evg_port_stat_name(unsigned int i)
{
	return i < EVG_PORT_STAT_MAX ? port_stat_names[i] : NULL;
}

const char *
evg_port_stat_desc(unsigned int i)
{
	return i < EVG_PORT_STAT_MAX ? port_stat_descs[i] : NULL;
}
