/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The ACK stage over real mbufs and edges: which replies a burst of
 * decided frames yields, what each carries, and that every mbuf is reused
 * or freed. Frames are mbufs whose evg_pkt is filled as rx and seq leave
 * it; replies are read back byte by byte at the offsets of an untagged
 * Ethernet/IPv4/UDP frame, and their EVF frame must be sealed.
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include <criterion/criterion.h>
#include <rte_byteorder.h>
#include <rte_cycles.h>
#include <rte_errno.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include "evg_stages.h"
#include "stage_fixture.h"

#define OUR_IP 0x0a000001u   /* 10.0.0.1 */
#define PEER_IP 0x0a000002u  /* 10.0.0.2 */
#define OTHER_IP 0x0a000003u /* 10.0.0.3 */
#define OUR_PORT 7470u
#define PEER_PORT 40000u
#define S1 0x0123456789ABCDEFull
#define REPLY_LEN (14u + 20u + 8u + EVG_EVF_HDR_LEN)
#define NO_LIMIT 1000000u

static const uint8_t our_mac[6] = {0x02, 0, 0, 0, 0, 0x01};
static const uint8_t peer_mac[6] = {0x02, 0, 0, 0, 0, 0x02};

static struct {
	struct evg_net_if ifc;
	struct sf_edges e;
	struct evg_ack_ctx ctx;
	struct evg_node node;
} fx;

#define C(name) (fx.ctx.stats.c[EVG_ACK_##name])

TestSuite(ack_stage, .init = sf_setup, .fini = sf_teardown);

static struct evg_ack_conf
conf_for(uint16_t burst, uint32_t nak_burst)
{
	struct evg_ack_conf conf = {
		.ifc = &fx.ifc,
		.nb_ports = 1,
		.nb_in = 2,
		.out = &fx.e.out,
		.burst = burst,
		.nak_rate = nak_burst == NO_LIMIT ? NO_LIMIT : 1,
		.nak_burst = nak_burst,
		.tsc_hz = rte_get_tsc_hz(),
	};

	conf.in[0] = &fx.e.in[0];
	conf.in[1] = &fx.e.in[1];
	return conf;
}

static void
fx_init(unsigned int out_size, uint16_t burst, uint32_t nak_burst)
{
	struct evg_ack_conf conf;

	memset(&fx, 0, sizeof(fx));
	memcpy(fx.ifc.mac.addr_bytes, our_mac, 6);
	fx.ifc.ip = rte_cpu_to_be_32(OUR_IP);
	fx.ifc.udp_port = OUR_PORT;
	sf_edges_init(&fx.e, "ack", 256, EVG_EDGE_BACKPRESSURE, out_size,
		      EVG_EDGE_DROP);
	conf = conf_for(burst, nak_burst);
	cr_assert_eq(evg_ack_init(&fx.ctx, &conf), 0);
	fx.node = (struct evg_node){.ops = &evg_ack_ops, .ctx = &fx.ctx};
}

static void
fx_fini(void)
{
	sf_edges_fini(&fx.e);
}

static unsigned int
poll(void)
{
	return fx.node.ops->poll(&fx.node);
}

/* What a frame is, and what seq decided on it. */
struct fr {
	uint8_t type;
	uint8_t flags;
	uint8_t action;
	uint32_t producer;
	uint32_t stream;
	uint64_t session;
	uint64_t seq;
	uint64_t ack_seq;
	uint32_t src_ip; /* host order; 0 means PEER_IP */
};

/* A decided frame as it reaches ack: a received datagram of 82 bytes
 * whose bytes are junk (only evg_pkt matters), on port 0. */
static struct rte_mbuf *
mk(const struct fr *f)
{
	struct rte_mbuf *m = sf_mbuf(0);
	struct evg_pkt *pkt = evg_pkt(m);
	char *d = rte_pktmbuf_append(m, 96);

	cr_assert_not_null(d);
	memset(d, 0xEE, 96);
	m->port = 0;
	memcpy(pkt->net.src_mac.addr_bytes, peer_mac, 6);
	pkt->net.l2_len = 14;
	pkt->net.l3_len = 20;
	pkt->net.src_ip =
		rte_cpu_to_be_32(f->src_ip != 0 ? f->src_ip : PEER_IP);
	pkt->net.dst_ip = rte_cpu_to_be_32(OUR_IP);
	pkt->net.src_port = rte_cpu_to_be_16(PEER_PORT);
	pkt->net.dst_port = rte_cpu_to_be_16(OUR_PORT);
	pkt->net.payload_off = 42;
	pkt->net.payload_len = 96 - 42;
	pkt->hdr = (struct evg_evf_hdr){
		.magic = EVG_EVF_MAGIC,
		.type = f->type,
		.flags = f->flags,
		.count = f->type == EVG_EVF_DATA ? 1 : 0,
		.producer_id = f->producer,
		.stream_id = f->stream,
		.session = f->session,
		.seq = f->seq,
		.length = 96 - 42,
	};
	pkt->action = f->action;
	pkt->ack_seq = f->ack_seq;
	pkt->accept = f->action == EVG_SEQ_ACCEPT ? 1 : 0;
	pkt->skip = f->action == EVG_SEQ_DUPLICATE ? 1 : 0;
	return m;
}

static struct rte_mbuf *
feed(unsigned int in, const struct fr *f)
{
	struct rte_mbuf *m = mk(f);

	sf_feed(&fx.e.in[in], m);
	return m;
}

/* An accepted DATA frame of key (producer 7, stream 42, S1). */
static struct fr
acc(uint64_t seq)
{
	return (struct fr){.type = EVG_EVF_DATA,
			   .action = EVG_SEQ_ACCEPT,
			   .producer = 7,
			   .stream = 42,
			   .session = S1,
			   .seq = seq,
			   .ack_seq = seq + 1};
}

static uint16_t
rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t
rd32(const uint8_t *p)
{
	return (uint32_t)rd16(p) << 16 | rd16(p + 2);
}

/* One's-complement sum of big-endian 16-bit words. */
static uint32_t
sum16(uint32_t sum, const uint8_t *p, unsigned int len)
{
	for (unsigned int i = 0; i + 1 < len; i += 2)
		sum += rd16(p + i);
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	return sum;
}

static uint16_t
fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

/*
 * Check that m is a reply to a frame from the peer, from us, and return
 * its EVF header. The EVF frame must pass every rule a frame from the
 * network must pass, up to the last one: ACK and NAK only go out.
 */
static struct evg_evf_hdr
reply_of(const struct rte_mbuf *m)
{
	const uint8_t *p = rte_pktmbuf_mtod(m, const uint8_t *);
	const uint8_t *ip = p + 14, *udp = ip + 20;
	uint8_t pseudo[12];
	struct evg_evf_hdr h;

	cr_assert_eq(m->nb_segs, 1);
	cr_assert_eq(rte_pktmbuf_data_len(m), REPLY_LEN, "reply is %u bytes",
		     rte_pktmbuf_data_len(m));
	cr_assert_eq(rte_pktmbuf_pkt_len(m), REPLY_LEN);
	cr_assert_eq(memcmp(p, peer_mac, 6), 0, "to the frame's source MAC");
	cr_assert_eq(memcmp(p + 6, our_mac, 6), 0, "from our MAC");
	cr_assert_eq(rd16(p + 12), 0x0800, "IPv4");
	cr_assert_eq(ip[0], 0x45);
	cr_assert_eq(rd16(ip + 2), 20 + 8 + EVG_EVF_HDR_LEN);
	cr_assert_eq(ip[9], 17, "UDP");
	cr_assert_eq(fold(sum16(0, ip, 20)), 0xffff, "IPv4 checksum");
	cr_assert_eq(rd32(ip + 12), OUR_IP, "from our IP");
	cr_assert_eq(rd32(ip + 16), PEER_IP, "to the frame's source IP");
	cr_assert_eq(rd16(udp), OUR_PORT, "from our port");
	cr_assert_eq(rd16(udp + 2), PEER_PORT, "to the frame's source port");
	cr_assert_eq(rd16(udp + 4), 8 + EVG_EVF_HDR_LEN);
	memcpy(pseudo, ip + 12, 8);
	pseudo[8] = 0;
	pseudo[9] = 17;
	pseudo[10] = 0;
	pseudo[11] = 8 + EVG_EVF_HDR_LEN;
	cr_assert_eq(
		fold(sum16(sum16(0, pseudo, 12), udp, 8 + EVG_EVF_HDR_LEN)),
		0xffff, "UDP checksum");
	cr_assert_eq(evg_evf_validate(udp + 8, EVG_EVF_HDR_LEN, &h),
		     EVG_EVF_BAD_DIRECTION,
		     "sealed control frame (magic, length, CRC, ids)");
	return h;
}

static void
expect_reply(const struct rte_mbuf *m, uint8_t type, uint16_t code,
	     uint32_t producer, uint32_t stream, uint64_t seq)
{
	struct evg_evf_hdr h = reply_of(m);

	cr_assert_eq(h.type, type, "type %u, expected %u", h.type, type);
	cr_assert_eq(h.count, code, "code %u, expected %u", h.count, code);
	cr_assert_eq(h.flags, 0);
	cr_assert_eq(h.producer_id, producer, "producer %u", h.producer_id);
	cr_assert_eq(h.stream_id, stream, "stream %u", h.stream_id);
	cr_assert_eq(h.seq, seq, "seq %" PRIu64 ", expected %" PRIu64, h.seq,
		     seq);
}

/* Take every reply off the out edge. */
static unsigned int
replies(struct rte_mbuf **out, unsigned int max)
{
	return evg_edge_pull(&fx.e.out, out, max);
}

Test(ack_stage, accepted_frames_of_one_key_get_one_ack_with_the_last_ack_seq)
{
	struct rte_mbuf *sent[5], *out[8];

	fx_init(64, 32, NO_LIMIT);
	for (unsigned int i = 0; i < 5; i++) {
		struct fr f = acc(i);

		sent[i] = feed(0, &f);
	}
	cr_assert_eq(poll(), 5);
	cr_assert_eq(replies(out, 8), 1, "one ACK for the burst");
	expect_reply(out[0], EVG_EVF_ACK, 0, 7, 42, 5);
	cr_assert_eq(reply_of(out[0]).session, S1);
	cr_assert_eq(out[0], sent[4], "the latest frame's mbuf carries it");
	cr_assert_eq(C(in), 5);
	cr_assert_eq(C(acks), 1);
	cr_assert_eq(C(acks_coalesced), 4);
	cr_assert_eq(rte_mempool_in_use_count(sf_pool()), 1,
		     "the 4 folded frames went back to the pool");
	rte_pktmbuf_free(out[0]);
	fx_fini();
}

Test(ack_stage, keys_differing_in_producer_stream_or_session_get_an_ack_each)
{
	struct fr f[] = {acc(0), acc(0), acc(0), acc(0), acc(1), acc(1)};
	struct rte_mbuf *out[8];

	fx_init(64, 32, NO_LIMIT);
	f[1].producer = 8;
	f[2].stream = 43;
	f[3].session = S1 + 1;
	f[5].producer = 8;
	f[5].ack_seq = 9;
	for (unsigned int i = 0; i < RTE_DIM(f); i++)
		feed(0, &f[i]);
	cr_assert_eq(poll(), 6);
	cr_assert_eq(replies(out, 8), 4, "four keys, four ACKs");
	/* In the order each key first appeared. */
	expect_reply(out[0], EVG_EVF_ACK, 0, 7, 42, 2);
	expect_reply(out[1], EVG_EVF_ACK, 0, 8, 42, 9);
	expect_reply(out[2], EVG_EVF_ACK, 0, 7, 43, 1);
	expect_reply(out[3], EVG_EVF_ACK, 0, 7, 42, 1);
	cr_assert_eq(reply_of(out[0]).session, S1);
	cr_assert_eq(reply_of(out[3]).session, S1 + 1);
	cr_assert_eq(C(acks), 4);
	cr_assert_eq(C(acks_coalesced), 2);
	rte_pktmbuf_free_bulk(out, 4);
	fx_fini();
}

Test(ack_stage, duplicate_frames_are_re_acked)
{
	struct fr f = acc(0);
	struct rte_mbuf *out[4];

	fx_init(64, 32, NO_LIMIT);
	f.action = EVG_SEQ_DUPLICATE;
	f.ack_seq = 12;
	feed(0, &f);
	feed(0, &f);
	cr_assert_eq(poll(), 2);
	cr_assert_eq(replies(out, 4), 1);
	expect_reply(out[0], EVG_EVF_ACK, 0, 7, 42, 12);
	cr_assert_eq(C(acks_coalesced), 1);
	rte_pktmbuf_free(out[0]);
	fx_fini();
}

Test(ack_stage, ack_now_frames_get_an_ack_each)
{
	struct rte_mbuf *sent[3], *out[4];

	fx_init(64, 32, NO_LIMIT);
	for (unsigned int i = 0; i < 3; i++) {
		struct fr f = acc(i);

		f.flags = EVG_EVF_FLAG_ACK_NOW;
		sent[i] = feed(0, &f);
	}
	cr_assert_eq(poll(), 3);
	cr_assert_eq(replies(out, 4), 3);
	for (unsigned int i = 0; i < 3; i++) {
		cr_assert_eq(out[i], sent[i], "ACK %u in frame order", i);
		expect_reply(out[i], EVG_EVF_ACK, 0, 7, 42, i + 1);
	}
	cr_assert_eq(C(acks_now), 3);
	cr_assert_eq(C(acks), 3);
	cr_assert_eq(C(acks_coalesced), 0);
	rte_pktmbuf_free_bulk(out, 3);
	fx_fini();
}

Test(ack_stage, ack_now_folds_the_pending_ack_of_its_key)
{
	struct fr f0 = acc(0), f1 = acc(1), f2 = acc(2);
	struct rte_mbuf *out[4];

	fx_init(64, 32, NO_LIMIT);
	f1.flags = EVG_EVF_FLAG_ACK_NOW;
	feed(0, &f0);
	feed(0, &f1);
	feed(0, &f2);
	cr_assert_eq(poll(), 3);
	cr_assert_eq(replies(out, 4), 2, "ACK 2 covers ACK 1");
	expect_reply(out[0], EVG_EVF_ACK, 0, 7, 42, 2);
	expect_reply(out[1], EVG_EVF_ACK, 0, 7, 42, 3);
	cr_assert_eq(C(acks_now), 1);
	cr_assert_eq(C(acks_coalesced), 1);
	rte_pktmbuf_free_bulk(out, 2);
	fx_fini();
}

Test(ack_stage, ping_gets_ack_with_its_ack_seq)
{
	struct fr known = {.type = EVG_EVF_PING,
			   .action = EVG_SEQ_ACCEPT,
			   .producer = 7,
			   .stream = 42,
			   .session = S1,
			   .ack_seq = 7};
	struct fr unknown = known;
	struct rte_mbuf *out[4];

	fx_init(64, 32, NO_LIMIT);
	unknown.producer = 99;
	unknown.ack_seq = 0;
	feed(0, &known);
	feed(0, &unknown);
	cr_assert_eq(poll(), 2);
	cr_assert_eq(replies(out, 4), 2);
	expect_reply(out[0], EVG_EVF_ACK, 0, 7, 42, 7);
	expect_reply(out[1], EVG_EVF_ACK, 0, 99, 42, 0);
	cr_assert_eq(C(acks_ping), 2);
	cr_assert_eq(C(acks), 2);
	rte_pktmbuf_free_bulk(out, 2);
	fx_fini();
}

Test(ack_stage, fenced_ping_gets_nak_fenced)
{
	struct fr f = {.type = EVG_EVF_PING,
		       .action = EVG_SEQ_FENCED,
		       .producer = 7,
		       .stream = 42,
		       .session = S1};
	struct rte_mbuf *out[2];

	fx_init(64, 32, NO_LIMIT);
	feed(0, &f);
	cr_assert_eq(poll(), 1);
	cr_assert_eq(replies(out, 2), 1);
	expect_reply(out[0], EVG_EVF_NAK, EVG_EVF_NAK_FENCED, 7, 42, 0);
	cr_assert_eq(C(naks_fenced), 1);
	cr_assert_eq(C(acks), 0);
	rte_pktmbuf_free(out[0]);
	fx_fini();
}

Test(ack_stage, gap_gets_nak_gap_with_next_expected_seq)
{
	struct fr f = acc(10);
	struct rte_mbuf *out[2];

	fx_init(64, 32, NO_LIMIT);
	f.action = EVG_SEQ_GAP;
	f.ack_seq = 4;
	feed(0, &f);
	cr_assert_eq(poll(), 1);
	cr_assert_eq(replies(out, 2), 1);
	expect_reply(out[0], EVG_EVF_NAK, 1, 7, 42, 4);
	cr_assert_eq(reply_of(out[0]).session, S1);
	cr_assert_eq(C(naks_gap), 1);
	rte_pktmbuf_free(out[0]);
	fx_fini();
}

Test(ack_stage, fenced_frame_gets_nak_fenced_with_seq_0)
{
	struct fr f = acc(10);
	struct rte_mbuf *out[2];

	fx_init(64, 32, NO_LIMIT);
	f.action = EVG_SEQ_FENCED;
	f.ack_seq = 0;
	feed(0, &f);
	cr_assert_eq(poll(), 1);
	cr_assert_eq(replies(out, 2), 1);
	expect_reply(out[0], EVG_EVF_NAK, 2, 7, 42, 0);
	cr_assert_eq(C(naks_fenced), 1);
	rte_pktmbuf_free(out[0]);
	fx_fini();
}

Test(ack_stage, storage_frame_gets_nak_storage_with_its_own_seq)
{
	struct fr f = acc(40);
	struct rte_mbuf *out[2];

	fx_init(64, 32, NO_LIMIT);
	f.action = EVG_PKT_STORAGE;
	f.ack_seq = 0;
	feed(0, &f);
	cr_assert_eq(poll(), 1);
	cr_assert_eq(replies(out, 2), 1);
	expect_reply(out[0], EVG_EVF_NAK, EVG_EVF_NAK_STORAGE, 7, 42, 40);
	cr_assert_eq(C(naks_storage), 1);
	rte_pktmbuf_free(out[0]);
	fx_fini();
}

Test(ack_stage, busy_frame_gets_nak_busy_with_its_own_seq)
{
	struct fr f = acc(33);
	struct rte_mbuf *out[2];

	fx_init(64, 32, NO_LIMIT);
	f.action = EVG_PKT_BUSY;
	f.ack_seq = 0;
	feed(0, &f);
	cr_assert_eq(poll(), 1);
	cr_assert_eq(replies(out, 2), 1);
	expect_reply(out[0], EVG_EVF_NAK, 3, 7, 42, 33);
	cr_assert_eq(C(naks_busy), 1);
	rte_pktmbuf_free(out[0]);
	fx_fini();
}

Test(ack_stage, naks_past_the_burst_are_limited_per_source)
{
	struct fr f = acc(10), other;
	struct rte_mbuf *out[8], *from_other;

	fx_init(64, 32, 3); /* 1 NAK a second after a burst of 3 */
	f.action = EVG_SEQ_GAP;
	f.ack_seq = 4;
	other = f;
	other.src_ip = OTHER_IP;
	for (unsigned int i = 0; i < 5; i++)
		feed(0, &f);
	from_other = feed(0, &other);
	cr_assert_eq(poll(), 6);
	cr_assert_eq(replies(out, 8), 4, "3 NAKs to the peer, 1 to the other");
	cr_assert_eq(C(naks_gap), 4);
	cr_assert_eq(C(naks_limited), 2);
	cr_assert_eq(out[3], from_other, "another source has its own budget");
	cr_assert_eq(rte_mempool_in_use_count(sf_pool()), 4,
		     "limited frames are freed");
	rte_pktmbuf_free_bulk(out, 4);
	fx_fini();
}

Test(ack_stage, overflow_is_dropped_without_reply)
{
	struct fr f = acc(10);
	struct rte_mbuf *out[2];

	fx_init(64, 32, NO_LIMIT);
	f.action = EVG_SEQ_OVERFLOW;
	feed(0, &f);
	cr_assert_eq(poll(), 1);
	cr_assert_eq(replies(out, 2), 0);
	cr_assert_eq(C(overflow), 1);
	cr_assert_eq(C(acks) + C(naks_gap) + C(naks_fenced) + C(naks_busy), 0);
	fx_fini();
}

Test(ack_stage, frame_from_unknown_port_is_freed_as_reply_failed)
{
	struct fr f = acc(0);
	struct rte_mbuf *m, *out[2];

	fx_init(64, 32, NO_LIMIT);
	m = feed(0, &f);
	m->port = 1; /* nb_ports is 1 */
	cr_assert_eq(poll(), 1);
	cr_assert_eq(replies(out, 2), 0);
	cr_assert_eq(C(reply_failed), 1);
	cr_assert_eq(C(acks), 0);
	fx_fini();
}

Test(ack_stage, pull_is_bounded_by_room_on_out_edge)
{
	struct rte_mbuf *fill[2], *out[4];

	fx_init(4, 32, NO_LIMIT);
	cr_assert_eq(rte_pktmbuf_alloc_bulk(sf_pool(), fill, 2), 0);
	cr_assert_eq(evg_edge_push(&fx.e.out, fill, 2), 2);
	for (unsigned int i = 0; i < 5; i++) {
		struct fr f = acc(i);

		f.flags = EVG_EVF_FLAG_ACK_NOW;
		feed(0, &f);
	}
	cr_assert_eq(poll(), 2, "2 free slots on out: 2 frames");
	cr_assert_eq(evg_edge_count(&fx.e.in[0]), 3, "the rest wait");
	cr_assert_eq(fx.e.out.stats.dropped, 0, "no reply was dropped");
	cr_assert_eq(poll(), 0, "no room: nothing taken");
	cr_assert_eq(replies(out, 4), 4);
	expect_reply(out[2], EVG_EVF_ACK, 0, 7, 42, 1);
	expect_reply(out[3], EVG_EVF_ACK, 0, 7, 42, 2);
	rte_pktmbuf_free_bulk(out, 4);
	fx_fini();
}

Test(ack_stage, replies_reuse_the_frames_mbufs)
{
	struct fr f[] = {acc(0), acc(1), acc(2), acc(3), acc(4), acc(5)};
	struct rte_mbuf *sent[RTE_DIM(f)], *out[8];
	unsigned int n;

	fx_init(64, 32, NO_LIMIT);
	f[1].action = EVG_SEQ_OVERFLOW;
	f[2].flags = EVG_EVF_FLAG_ACK_NOW;
	f[2].producer = 8;
	f[3].action = EVG_SEQ_GAP;
	f[4].type = EVG_EVF_PING;
	f[4].producer = 9;
	for (unsigned int i = 0; i < RTE_DIM(f); i++)
		sent[i] = feed(0, &f[i]);
	cr_assert_eq(poll(), RTE_DIM(f));
	n = replies(out, 8);
	cr_assert_eq(n, 4, "ACK_NOW, NAK, PING ACK, one coalesced ACK");
	cr_assert_eq(rte_mempool_in_use_count(sf_pool()), n,
		     "no mbuf besides the replies");
	for (unsigned int i = 0; i < n; i++) {
		bool found = false;

		for (unsigned int j = 0; j < RTE_DIM(sent); j++)
			found |= out[i] == sent[j];
		cr_assert(found, "reply %u is in a frame's own mbuf", i);
	}
	rte_pktmbuf_free_bulk(out, n);
	cr_assert_eq(rte_mempool_in_use_count(sf_pool()), 0);
	fx_fini();
}

Test(ack_stage, coalescing_starts_afresh_after_generation_wrap)
{
	struct fr f = acc(0);
	struct rte_mbuf *out[4];

	fx_init(64, 32, NO_LIMIT);
	feed(0, &f);
	cr_assert_eq(poll(), 1); /* leaves key A's slot at gen 1 */
	cr_assert_eq(replies(out, 4), 1);
	rte_pktmbuf_free(out[0]);
	/* 2^32 - 2 polls later the next poll wraps gen around: neither the
	 * slots that were never used (gen 0) nor the one left at gen 1 may
	 * pass for a key of that poll. */
	fx.ctx.gen = UINT32_MAX;
	for (unsigned int i = 1; i <= 2; i++) {
		struct fr a = acc(i), b = acc(i);

		b.producer = 8;
		feed(0, &a);
		feed(0, &b);
	}
	cr_assert_eq(poll(), 4);
	cr_assert_eq(replies(out, 4), 2, "one ACK per key");
	expect_reply(out[0], EVG_EVF_ACK, 0, 7, 42, 3);
	expect_reply(out[1], EVG_EVF_ACK, 0, 8, 42, 3);
	cr_assert_eq(C(acks_coalesced), 2);
	rte_pktmbuf_free_bulk(out, 2);
	fx_fini();
}

/* xorshift32: distinct non-zero values, scattered so that some of them
 * share slots (consecutive ones hash apart too well). */
static uint32_t
scatter(uint32_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 17;
	*x ^= *x << 5;
	return *x;
}

/* Burst-max keys that differ in one field only: where their slots
 * collide, that field alone must keep them apart. */
static void
many_keys(unsigned int field)
{
	struct rte_mbuf *out[EVG_BURST_MAX];
	uint32_t x = 2463534242u;

	for (unsigned int i = 0; i < EVG_BURST_MAX; i++) {
		struct fr f = acc(i);

		if (field == 0)
			f.producer = scatter(&x);
		else if (field == 1)
			f.stream = scatter(&x);
		else
			f.session = (uint64_t)scatter(&x) << 32 | scatter(&x);
		feed(i % 2, &f);
	}
	cr_assert_eq(poll(), EVG_BURST_MAX);
	cr_assert_eq(replies(out, EVG_BURST_MAX), EVG_BURST_MAX,
		     "field %u: an ACK per key", field);
	cr_assert_eq(C(acks_coalesced), 0, "field %u", field);
	rte_pktmbuf_free_bulk(out, EVG_BURST_MAX);
}

Test(ack_stage, a_burst_of_distinct_keys_gets_an_ack_per_key)
{
	fx_init(EVG_BURST_MAX, EVG_BURST_MAX, NO_LIMIT);
	for (unsigned int field = 0; field < 3; field++)
		many_keys(field);
	cr_assert_eq(C(acks), 3 * EVG_BURST_MAX);
	fx_fini();
}

Test(ack_stage, inputs_are_taken_round_robin)
{
	struct rte_mbuf *a[2], *b[2], *out[1];
	struct rte_mbuf **want[4] = {&a[0], &b[0], &a[1], &b[1]};

	fx_init(64, 1, NO_LIMIT);
	for (unsigned int i = 0; i < 2; i++) {
		struct fr fa = acc(i), fb = acc(i);

		fb.producer = 8;
		a[i] = feed(0, &fa);
		b[i] = feed(1, &fb);
	}
	for (unsigned int p = 0; p < 4; p++) {
		cr_assert_eq(poll(), 1);
		cr_assert_eq(replies(out, 1), 1);
		cr_assert_eq(out[0], *want[p], "poll %u: wrong input", p);
		rte_pktmbuf_free(out[0]);
	}
	fx_fini();
}

Test(ack_stage, init_rejects_bad_conf)
{
	struct evg_ack_conf ok;
	static struct evg_ack_ctx ctx; /* 40 KiB: not on the stack */

	fx_init(64, 32, NO_LIMIT);
	ok = conf_for(32, NO_LIMIT);
	cr_assert_eq(evg_ack_init(&ctx, &ok), 0);
	cr_assert_eq(evg_ack_init(NULL, &ok), -EINVAL);
	cr_assert_eq(evg_ack_init(&ctx, NULL), -EINVAL);
	SF_EXPECT_EINVAL(evg_ack_init, &ctx, ok, ifc, NULL);
	SF_EXPECT_EINVAL(evg_ack_init, &ctx, ok, nb_ports, 0);
	SF_EXPECT_EINVAL(evg_ack_init, &ctx, ok, out, NULL);
	SF_EXPECT_EINVAL_INPUTS_AND_BURST(evg_ack_init, &ctx, ok);
	fx_fini();
}

Test(ack_stage, counters_are_exported_by_name)
{
	static const char *const names[] = {
		"in",		"acks",	     "acks_coalesced",
		"acks_now",	"acks_ping", "naks_gap",
		"naks_fenced",	"naks_busy", "naks_storage",
		"naks_limited", "overflow",  "reply_failed",
	};
	const struct evg_stage_ops *ops = &evg_ack_ops;
	struct fr f0 = acc(0), f1 = acc(1);
	struct rte_mbuf *out[2];
	uint64_t v[RTE_DIM(names)];

	sf_expect_counter_names(ops, "ack", names, RTE_DIM(names));
	fx_init(64, 32, NO_LIMIT);
	feed(0, &f0);
	feed(0, &f1);
	cr_assert_eq(poll(), 2);
	cr_assert_eq(replies(out, 2), 1);
	rte_pktmbuf_free(out[0]);
	ops->read_counters(&fx.node, v);
	cr_assert_eq(memcmp(v, fx.ctx.stats.c, sizeof(v)), 0);
	cr_assert_eq(v[EVG_ACK_in], 2);
	cr_assert_eq(v[EVG_ACK_acks_coalesced], 1);
	if (ops->drain != NULL)
		cr_assert_eq(ops->drain(&fx.node), 0, "nothing to drain");
	fx_fini();
}
