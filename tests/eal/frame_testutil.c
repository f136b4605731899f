/* SPDX-License-Identifier: BSD-3-Clause */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>

#include "evg_evf_sub.h"
#include "frame_testutil.h"

const uint8_t ft_our_mac[6] = {0x02, 0, 0, 0, 0, 0x01};
const uint8_t ft_peer_mac[6] = {0x02, 0, 0, 0, 0, 0x02};
const uint8_t ft_bcast_mac[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

/* ---- bytes ----------------------------------------------------------- */

void
ft_put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

void
ft_put32(uint8_t *p, uint32_t v)
{
	ft_put16(p, (uint16_t)(v >> 16));
	ft_put16(p + 2, (uint16_t)v);
}

uint16_t
ft_get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

uint32_t
ft_get32(const uint8_t *p)
{
	return (uint32_t)ft_get16(p) << 16 | ft_get16(p + 2);
}

uint16_t
ft_ocsum(const uint8_t *p, size_t n, uint32_t sum)
{
	for (size_t i = 0; i + 1 < n; i += 2)
		sum += ft_get16(p + i);
	if (n & 1)
		sum += (uint32_t)p[n - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

uint16_t
ft_ones_cksum(const uint8_t *p, size_t n)
{
	return (uint16_t)~ft_ocsum(p, n, 0);
}

/* ---- frames ---------------------------------------------------------- */

uint16_t
ft_put_eth(uint8_t *p, const uint8_t *dst, int vlan, uint16_t type)
{
	memcpy(p, dst, 6);
	memcpy(p + 6, ft_peer_mac, 6);
	if (vlan == FT_NO_VLAN) {
		ft_put16(p + 12, type);
		return 14;
	}
	ft_put16(p + 12, 0x8100);
	ft_put16(p + 14, (uint16_t)vlan);
	ft_put16(p + 16, type);
	return 18;
}

void
ft_pad(struct ft_frame *f)
{
	if (f->len < FT_MIN_FRAME)
		f->len = FT_MIN_FRAME;
}

void
ft_fix_ip_cksum(struct ft_frame *f)
{
	uint8_t *ip = f->b + f->l3;

	ft_put16(ip + 10, 0);
	ft_put16(ip + 10, ft_ones_cksum(ip, (size_t)(ip[0] & 0xf) * 4));
}

void
ft_put_ipv4(struct ft_frame *f, uint8_t proto, uint32_t src, uint32_t dst,
	    uint16_t l4_len)
{
	uint8_t *ip = f->b + f->l3;

	memset(ip, 0, 20);
	ip[0] = 0x45;
	ft_put16(ip + 2, (uint16_t)(20 + l4_len));
	ft_put16(ip + 4, 0x1234);
	ft_put16(ip + 6, 0x4000);
	ip[8] = 63;
	ip[9] = proto;
	ft_put32(ip + 12, src);
	ft_put32(ip + 16, dst);
	ft_fix_ip_cksum(f);
}

struct ft_udp_spec
ft_udp_to_us(uint16_t plen)
{
	return (struct ft_udp_spec){.vlan = FT_NO_VLAN,
				    .src_ip = FT_PEER_IP,
				    .dst_ip = FT_OUR_IP,
				    .sport = FT_PEER_PORT,
				    .dport = EVG_EVF_UDP_PORT,
				    .plen = plen};
}

void
ft_build_udp(struct ft_frame *f, const struct ft_udp_spec *s)
{
	uint8_t *udp;

	memset(f, 0, sizeof(*f));
	f->l3 = ft_put_eth(f->b, ft_our_mac, s->vlan, 0x0800);
	cr_assert_leq(f->l3 + 28u + s->plen, sizeof(f->b),
		      "%u-byte payload does not fit a test frame", s->plen);
	ft_put_ipv4(f, 17, s->src_ip, s->dst_ip, (uint16_t)(8 + s->plen));
	udp = f->b + f->l3 + 20;
	ft_put16(udp, s->sport);
	ft_put16(udp + 2, s->dport);
	ft_put16(udp + 4, (uint16_t)(8 + s->plen));
	ft_put16(udp + 6, 0xbeef);
	if (s->payload != NULL)
		memcpy(udp + 8, s->payload, s->plen);
	else
		for (uint16_t i = 0; i < s->plen; i++)
			udp[8 + i] = (uint8_t)(0x40 + i);
	f->len = (uint16_t)(f->l3 + 28 + s->plen);
	ft_pad(f);
}

void
ft_evf_udp_frame(struct ft_frame *f, const void *evf, uint16_t len, int vlan)
{
	struct ft_udp_spec s = ft_udp_to_us(len);

	s.vlan = vlan;
	s.payload = evf;
	ft_build_udp(f, &s);
}

void
ft_build_icmp_echo(struct ft_frame *f, int vlan, uint16_t seq, uint16_t dlen)
{
	uint8_t *icmp;

	memset(f, 0, sizeof(*f));
	f->l3 = ft_put_eth(f->b, ft_our_mac, vlan, 0x0800);
	ft_put_ipv4(f, 1, FT_PEER_IP, FT_OUR_IP, (uint16_t)(8 + dlen));
	icmp = f->b + f->l3 + 20;
	icmp[0] = 8;
	ft_put16(icmp + 4, 0x4242);
	ft_put16(icmp + 6, seq);
	for (uint16_t i = 0; i < dlen; i++)
		icmp[8 + i] = (uint8_t)(seq * 7 + i);
	ft_put16(icmp + 2, ft_ones_cksum(icmp, 8u + dlen));
	f->len = (uint16_t)(f->l3 + 28 + dlen);
	ft_pad(f);
}

void
ft_build_arp(struct ft_frame *f, int vlan, uint16_t op, uint32_t target_ip)
{
	uint8_t *arp;

	memset(f, 0, sizeof(*f));
	f->l3 = ft_put_eth(f->b, ft_bcast_mac, vlan, 0x0806);
	arp = f->b + f->l3;
	ft_put16(arp, 1);
	ft_put16(arp + 2, 0x0800);
	arp[4] = 6;
	arp[5] = 4;
	ft_put16(arp + 6, op);
	memcpy(arp + 8, ft_peer_mac, 6);
	ft_put32(arp + 14, FT_PEER_IP);
	/* target hardware address unknown: zero */
	ft_put32(arp + 24, target_ip);
	f->len = (uint16_t)(f->l3 + 28);
	ft_pad(f);
}

/* ---- EVF payloads ---------------------------------------------------- */

uint16_t
ft_evf_data(uint8_t *buf, size_t cap, uint32_t producer_id, uint32_t stream_id,
	    uint64_t session, uint64_t seq, uint16_t count)
{
	static const uint8_t value[5] = {'h', 'e', 'l', 'l', 'o'};
	struct evg_evf_hdr h = {.producer_id = producer_id,
				.stream_id = stream_id,
				.session = session,
				.seq = seq};
	struct evg_evf_builder b;
	uint8_t key[2];
	int len;

	cr_assert_eq(evg_evf_builder_init(&b, buf, cap, &h), 0,
		     "cannot start a DATA frame");
	for (uint16_t i = 0; i < count; i++) {
		key[0] = 'k';
		key[1] = (uint8_t)('0' + i % 10);
		cr_assert_eq(evg_evf_builder_add(&b, key, sizeof(key), value,
						 i % 5 + 1, 1000 + i),
			     0, "event %u does not fit in %zu bytes", i, cap);
	}
	len = evg_evf_builder_finish(&b);
	cr_assert_gt(len, 0, "DATA frame not sealed");
	return (uint16_t)len;
}

uint16_t
ft_evf_ping(uint8_t *buf, uint32_t producer_id, uint32_t stream_id,
	    uint64_t session)
{
	return (uint16_t)evg_evf_control_build(
		buf, EVG_EVF_PING, 0, producer_id, stream_id, session, 0);
}

static void
put_le(uint8_t *p, uint64_t v, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

void
ft_evf_control(uint8_t *buf, uint8_t type, uint16_t count, uint32_t producer_id,
	       uint32_t stream_id, uint64_t session, uint64_t seq)
{
	memcpy(buf, "EVF1", 4);
	buf[4] = type;
	buf[5] = 0;
	put_le(buf + 6, count, 2);
	put_le(buf + 8, producer_id, 4);
	put_le(buf + 12, stream_id, 4);
	put_le(buf + 16, session, 8);
	put_le(buf + 24, seq, 8);
	put_le(buf + 32, EVG_EVF_HDR_LEN, 4);
	put_le(buf + 36, 0, 4);
	put_le(buf + 36, evg_evf_frame_crc(buf, EVG_EVF_HDR_LEN), 4);
}

/* Break the rule behind verdict v in a sealed frame of len bytes; returns
 * the new length, or 0 when the CRC still has to be fixed up. */
static uint16_t
evf_break(uint8_t *buf, size_t cap, uint16_t len, enum evg_evf_verdict v)
{
	switch (v) {
	case EVG_EVF_BAD_RUNT:
		return EVG_EVF_HDR_LEN - 1;
	case EVG_EVF_BAD_MAGIC:
		buf[3] = '2';
		break;
	case EVG_EVF_BAD_TYPE:
		buf[4] = 5;
		break;
	case EVG_EVF_BAD_LENGTH:
		buf[32] += 8;
		break;
	case EVG_EVF_BAD_CRC:
		buf[len - 1] ^= 0x01;
		return len;
	case EVG_EVF_BAD_COUNT:
		buf[6] = 0;
		break;
	case EVG_EVF_BAD_RECORDS:
		buf[6] = 3; /* three events announced, two present */
		break;
	case EVG_EVF_BAD_KEY_SIZE:
		buf[44] = buf[40] + 1; /* first record's key_size > size */
		break;
	case EVG_EVF_BAD_ATTRS:
		buf[46] = 1;
		break;
	case EVG_EVF_BAD_PRODUCER:
		memset(buf + 8, 0, 4);
		break;
	case EVG_EVF_BAD_SESSION:
		memset(buf + 16, 0, 8);
		break;
	case EVG_EVF_BAD_FIELD: {
		/* A consumer's SUBSCRIBE of a version evgate does not speak. */
		const struct evg_evf_sub_ids ids = {.consumer_id = 7,
						    .session = FT_SESSION};
		const struct evg_evf_sub_subscribe s = {
			.nb_streams = 1, .streams = {{.stream_id = 42}}};
		int n = evg_evf_sub_subscribe_encode(buf, cap, &ids, &s);

		cr_assert_eq(n, (int)EVG_EVF_SUB_SUBSCRIBE_MIN);
		buf[48] = 2;
		evg_evf_frame_seal(buf, (size_t)n);
		return (uint16_t)n;
	}
	case EVG_EVF_BAD_DIRECTION:
		ft_evf_control(buf, EVG_EVF_NAK, EVG_EVF_NAK_GAP, 7, 42,
			       FT_SESSION, 0);
		return EVG_EVF_HDR_LEN;
	default:
		cr_assert_fail("no malformed frame for verdict %d", v);
	}
	return 0;
}

uint16_t
ft_evf_malformed(uint8_t *buf, size_t cap, enum evg_evf_verdict v)
{
	uint16_t len = ft_evf_data(buf, cap, 7, 42, FT_SESSION, 0, 2);
	uint16_t broken;

	cr_assert_eq(evg_evf_validate(buf, len, NULL), EVG_EVF_OK);
	broken = evf_break(buf, cap, len, v);
	if (broken != 0)
		return broken;
	evg_evf_frame_seal(buf, len);
	return len;
}

FILE *
ft_evf_vectors_open(void)
{
	const char *dir = getenv("EVG_TEST_DATA");
	char path[4096];
	FILE *fp;

	cr_assert_not_null(dir, "EVG_TEST_DATA is not set (run through meson)");
	snprintf(path, sizeof(path), "%s/evf1.tsv", dir);
	fp = fopen(path, "r");
	cr_assert_not_null(fp, "cannot open %s", path);
	return fp;
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static void
unhex(const char *hex, struct ft_evf_vector *vec)
{
	size_t n = strcspn(hex, "\r\n");

	cr_assert(n % 2 == 0 && n / 2 <= sizeof(vec->frame),
		  "vector %s: %zu hex digits", vec->note, n);
	for (size_t i = 0; i < n / 2; i++) {
		int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);

		cr_assert(hi >= 0 && lo >= 0, "vector %s: bad hex", vec->note);
		vec->frame[i] = (uint8_t)(hi << 4 | lo);
	}
	vec->len = (uint32_t)(n / 2);
}

bool
ft_evf_vector_next(FILE *fp, struct ft_evf_vector *vec)
{
	static char line[20000];
	char *field[4], *rest = line;
	int v;

	do {
		if (fgets(line, sizeof(line), fp) == NULL)
			return false;
	} while (line[0] == '#' || line[0] == '\n');
	cr_assert_not_null(strchr(line, '\n'), "vectors line too long");
	/* verdict, rule, note, frame (hex) */
	for (int i = 0; i < 4; i++)
		field[i] = strsep(&rest, "\t");
	cr_assert_not_null(field[3], "vectors line of fewer than 4 fields");
	snprintf(vec->note, sizeof(vec->note), "%s", field[2]);
	v = strcmp(field[0], "valid") == 0
		    ? EVG_EVF_OK
		    : evg_evf_verdict_from_name(field[1]);
	cr_assert_geq(v, 0, "vector %s: unknown rule %s", vec->note, field[1]);
	vec->verdict = (enum evg_evf_verdict)v;
	unhex(field[3], vec);
	return true;
}

/* ---- mbufs ----------------------------------------------------------- */

struct rte_mempool *
ft_pool_create(const char *name, unsigned int n, uint16_t priv_size)
{
	struct rte_mempool *mp;

	mp = rte_pktmbuf_pool_create(name, n, 0, priv_size,
				     RTE_MBUF_DEFAULT_BUF_SIZE,
				     (int)rte_socket_id());
	cr_assert_not_null(mp, "rte_pktmbuf_pool_create(%s) failed", name);
	return mp;
}

unsigned int
ft_pool_free(struct rte_mempool *pool)
{
	unsigned int in_use = rte_mempool_in_use_count(pool);

	rte_mempool_free(pool);
	return in_use;
}

void
ft_abort_on_leak(unsigned int leaked)
{
	if (leaked != 0) {
		fprintf(stderr, "%u mbufs leaked\n", leaked);
		abort();
	}
}

struct rte_mbuf *
ft_to_mbuf(struct rte_mempool *pool, const struct ft_frame *f)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(pool);
	char *p;

	cr_assert_not_null(m, "pool exhausted");
	p = rte_pktmbuf_append(m, f->len);
	cr_assert_not_null(p, "frame of %u bytes does not fit", f->len);
	memcpy(p, f->b, f->len);
	return m;
}

void
ft_mark_stripped(struct rte_mbuf *m, uint16_t tci)
{
	m->ol_flags |= RTE_MBUF_F_RX_VLAN | RTE_MBUF_F_RX_VLAN_STRIPPED;
	m->vlan_tci = tci;
}

void
ft_ring_free_all(struct rte_ring *r)
{
	struct rte_mbuf *pkts[64];
	unsigned int n;

	while ((n = rte_ring_dequeue_burst(r, (void **)pkts, RTE_DIM(pkts),
					   NULL)) > 0)
		rte_pktmbuf_free_bulk(pkts, n);
}

struct rte_ring *
ft_ring_port_start(const char *name, struct rte_mempool *pool, uint16_t *port)
{
	static const struct rte_eth_conf conf;
	const int sock = (int)rte_socket_id();
	char ring[RTE_RING_NAMESIZE];
	struct rte_ring *r;

	cr_assert_eq(rte_eth_dev_get_port_by_name(name, port), 0,
		     "no port %s (EAL argument --vdev=%s missing?)", name,
		     name);
	cr_assert_eq(rte_eth_dev_configure(*port, 1, 1, &conf), 0);
	cr_assert_eq(rte_eth_rx_queue_setup(*port, 0, 512, sock, NULL, pool),
		     0);
	cr_assert_eq(rte_eth_tx_queue_setup(*port, 0, 512, sock, NULL), 0);
	cr_assert_eq(rte_eth_dev_start(*port), 0);
	snprintf(ring, sizeof(ring), "ETH_RXTX0_%s", name);
	r = rte_ring_lookup(ring);
	cr_assert_not_null(r, "ring PMD queue ring %s missing", ring);
	return r;
}

void
ft_ring_port_stop(uint16_t port, struct rte_ring *r)
{
	ft_ring_free_all(r);
	rte_eth_dev_stop(port);
	rte_eth_dev_close(port);
}

/* ---- replies --------------------------------------------------------- */

/* Ethernet header of a reply to the peer: returns the l3 offset. */
static uint16_t
check_eth_to_peer(const uint8_t *b, int vlan, uint16_t type)
{
	uint16_t l3 = vlan == FT_NO_VLAN ? 14 : 18;

	cr_assert_arr_eq(b, ft_peer_mac, 6, "Ethernet dst is not the peer");
	cr_assert_arr_eq(b + 6, ft_our_mac, 6, "Ethernet src is not our MAC");
	if (vlan != FT_NO_VLAN) {
		cr_assert_eq(ft_get16(b + 12), 0x8100, "VLAN tag lost");
		cr_assert_eq(ft_get16(b + 14), (uint16_t)vlan,
			     "VLAN TCI changed");
	}
	cr_assert_eq(ft_get16(b + l3 - 2), type, "ethertype %#x, expected %#x",
		     ft_get16(b + l3 - 2), type);
	return l3;
}

void
ft_check_arp_reply(const struct rte_mbuf *m, int vlan)
{
	const uint8_t *b = rte_pktmbuf_mtod(m, const uint8_t *);
	uint16_t l3 = check_eth_to_peer(b, vlan, 0x0806);
	const uint8_t *arp = b + l3;

	cr_assert_eq(rte_pktmbuf_data_len(m), l3 + 28u, "padding not trimmed");
	cr_assert_eq(rte_pktmbuf_pkt_len(m), l3 + 28u);
	cr_assert_eq(ft_get16(arp), 1, "hardware type");
	cr_assert_eq(ft_get16(arp + 2), 0x0800, "protocol type");
	cr_assert_eq(arp[4], 6);
	cr_assert_eq(arp[5], 4);
	cr_assert_eq(ft_get16(arp + 6), 2, "op is not reply");
	cr_assert_arr_eq(arp + 8, ft_our_mac, 6, "sha is not our MAC");
	cr_assert_eq(ft_get32(arp + 14), FT_OUR_IP, "spa is not our IP");
	cr_assert_arr_eq(arp + 18, ft_peer_mac, 6, "tha is not the requester");
	cr_assert_eq(ft_get32(arp + 24), FT_PEER_IP,
		     "tpa is not the requester");
	cr_assert_eq(m->l2_len, l3);
}

void
ft_check_echo_reply(const struct rte_mbuf *m, const struct ft_frame *req,
		    int vlan, uint16_t dlen)
{
	const uint8_t *b = rte_pktmbuf_mtod(m, const uint8_t *);
	uint16_t l3 = check_eth_to_peer(b, vlan, 0x0800);
	const uint8_t *ip = b + l3, *icmp = ip + 20;

	cr_assert_eq(rte_pktmbuf_data_len(m), l3 + 28u + dlen,
		     "length %u, expected %u", rte_pktmbuf_data_len(m),
		     l3 + 28u + dlen);
	cr_assert_eq(ft_get16(ip + 2), 28u + dlen, "IP total length changed");
	cr_assert_eq(ft_get32(ip + 12), FT_OUR_IP, "IP src is not ours");
	cr_assert_eq(ft_get32(ip + 16), FT_PEER_IP,
		     "IP dst is not the requester");
	cr_assert_eq(ip[8], 64, "TTL");
	cr_assert_eq(ft_ocsum(ip, 20, 0), 0xffff, "IP header checksum wrong");
	cr_assert_eq(icmp[0], 0, "type is not echo reply");
	cr_assert_eq(icmp[1], 0, "code");
	cr_assert_eq(ft_ocsum(icmp, 8u + dlen, 0), 0xffff,
		     "ICMP checksum wrong (seq %u)", ft_get16(icmp + 6));
	/* identifier, sequence and data are echoed */
	cr_assert_arr_eq(icmp + 4, req->b + req->l3 + 24, 4u + dlen,
			 "identifier, sequence or data changed");
}

static void
check_udp_sum(const uint8_t *ip, const uint8_t *udp, uint16_t udp_len)
{
	uint8_t pseudo[12];

	cr_assert_neq(ft_get16(udp + 6), 0, "UDP checksum left out");
	memcpy(pseudo, ip + 12, 8);
	pseudo[8] = 0;
	pseudo[9] = 17;
	ft_put16(pseudo + 10, udp_len);
	cr_assert_eq(ft_ocsum(udp, udp_len, ft_ocsum(pseudo, 12, 0)), 0xffff,
		     "UDP checksum wrong");
}

void
ft_parse_udp_reply(const struct rte_mbuf *m, struct ft_udp_reply *r)
{
	const uint8_t *b = rte_pktmbuf_mtod(m, const uint8_t *);
	uint16_t len = rte_pktmbuf_data_len(m);
	const uint8_t *ip, *udp;

	memset(r, 0, sizeof(*r));
	cr_assert_eq(m->nb_segs, 1, "reply spans %u segments", m->nb_segs);
	cr_assert_eq(rte_pktmbuf_pkt_len(m), len, "pkt_len != data_len");
	cr_assert_geq(len, 14u + 28u, "%u bytes: too short for UDP", len);
	r->eth = b;
	r->vlan = FT_NO_VLAN;
	r->l3 = 14;
	if (ft_get16(b + 12) == 0x8100) {
		r->vlan = ft_get16(b + 14);
		r->l3 = 18;
	}
	cr_assert_eq(ft_get16(b + r->l3 - 2), 0x0800, "not IPv4");
	ip = b + r->l3;
	cr_assert_eq(ip[0], 0x45, "version/IHL");
	cr_assert_eq(ip[9], 17, "protocol is not UDP");
	cr_assert_eq(ft_get16(ip + 2), len - r->l3,
		     "IP total length %u in a frame of %u", ft_get16(ip + 2),
		     len);
	cr_assert_eq(ft_ocsum(ip, 20, 0), 0xffff, "IP header checksum wrong");
	udp = ip + 20;
	cr_assert_eq(ft_get16(udp + 4), len - r->l3 - 20u, "UDP length");
	check_udp_sum(ip, udp, ft_get16(udp + 4));
	r->src_ip = ft_get32(ip + 12);
	r->dst_ip = ft_get32(ip + 16);
	r->sport = ft_get16(udp);
	r->dport = ft_get16(udp + 2);
	r->payload = udp + 8;
	r->plen = (uint16_t)(ft_get16(udp + 4) - 8);
	if (r->plen < EVG_EVF_HDR_LEN)
		return;
	evg_evf_hdr_decode(r->payload, &r->hdr);
	r->evf_sealed = r->hdr.magic == EVG_EVF_MAGIC &&
			r->hdr.length == r->plen &&
			r->hdr.crc32c == evg_evf_frame_crc(r->payload, r->plen);
}

void
ft_check_udp_reply(const struct rte_mbuf *m, int vlan, uint32_t dst_ip,
		   uint16_t dport, const void *payload, uint16_t len)
{
	struct ft_udp_reply r;

	ft_parse_udp_reply(m, &r);
	check_eth_to_peer(r.eth, vlan, 0x0800);
	cr_assert_eq(r.vlan, vlan, "VLAN %d, expected %d", r.vlan, vlan);
	cr_assert_eq(ft_get16(r.eth + r.l3 + 6), 0x4000, "DF, no offset");
	cr_assert_eq(r.eth[r.l3 + 8], 64, "TTL");
	cr_assert_eq(r.src_ip, FT_OUR_IP, "IP src is not ours");
	cr_assert_eq(r.dst_ip, dst_ip, "IP dst %#x, expected %#x", r.dst_ip,
		     dst_ip);
	cr_assert_eq(r.sport, EVG_EVF_UDP_PORT, "UDP src port");
	cr_assert_eq(r.dport, dport, "UDP dst port %u, expected %u", r.dport,
		     dport);
	cr_assert_eq(r.plen, len, "payload of %u bytes, expected %u", r.plen,
		     len);
	if (len > 0)
		cr_assert_arr_eq(r.payload, payload, len, "payload differs");
	cr_assert_eq(m->l2_len, r.l3);
	cr_assert_eq(m->l3_len, 20);
	cr_assert_eq(m->l4_len, 8);
}
