/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * evgen: the EVF/1 traffic generator (docs/evgen.md). Internal header
 * shared by the files of app/evgen.
 *
 * One lcore runs one loop: receive (ARP, ACK, NAK), then build and send
 * frames as the pacer and the windows allow. Every (producer, stream) has
 * a preallocated ring of its frames in flight (end seq, TSC at send); an
 * ACK covering a frame's last event pops it and records its RTT in a
 * fixed histogram. Nothing on that path allocates, logs or locks. With
 * --subscribe, the same loop also runs subscriptions to evgate's log
 * (sub.h): their frames come in with the ACKs and go out with the DATA.
 */
#ifndef EVGEN_H
#define EVGEN_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <rte_byteorder.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_udp.h>

#include "evg_evf.h"
#include "evg_port.h"
#include "hist.h"
#include "mix.h"
#include "sub.h"

#define EVGEN_BURST 32u
#define EVGEN_ERR_LEN 256u
#define EVGEN_PCAP_VDEV "net_pcap_evgen0"
#define EVGEN_EXIT_CONFIG 2
#define EVGEN_MAX_STREAMS (1u << 20) /* producers x streams */
/* Jumbo frames: the pool's mbufs get EVG_PORT_DATA_ROOM(--mtu) bytes, so
 * a frame and its Ethernet header fit one mbuf: no chained mbufs. */
#define EVGEN_MAX_MTU EVG_PORT_MTU_MAX
/* Ethernet, IPv4 and UDP headers before every EVF payload evgen sends. */
#define EVGEN_HDRS_LEN                                                \
	(sizeof(struct rte_ether_hdr) + sizeof(struct rte_ipv4_hdr) + \
	 sizeof(struct rte_udp_hdr))

/* Ways evgen breaks a malformed frame, in turn; each is named by the
 * evf verdict the receiver must report (evg_evf_verdict_name()). */
#define EVGEN_BAD_FOREACH(X)                              \
	X(CRC, EVG_EVF_BAD_CRC, "one CRC bit flipped")    \
	X(MAGIC, EVG_EVF_BAD_MAGIC, "magic byte changed") \
	X(RUNT, EVG_EVF_BAD_RUNT, "UDP payload cut to 20 bytes")

enum evgen_bad {
#define EVGEN_BAD_ENUM_(name, verdict, desc) EVGEN_BAD_##name,
	EVGEN_BAD_FOREACH(EVGEN_BAD_ENUM_)
#undef EVGEN_BAD_ENUM_
		EVGEN_BAD_MAX,
};

/* The run's counters; one list yields the enum, names and descriptions. */
#define EVGEN_CTR_FOREACH(X)                                                   \
	X(frames_sent, "frames the port took, every kind")                     \
	X(bytes_sent, "EVF bytes (UDP payload) of those frames")               \
	X(events_sent, "new events sent (normal frames, rewinds included)")    \
	X(acks, "ACK frames received for our streams")                         \
	X(naks, "NAK frames received for our streams")                         \
	X(unmatched, "ACK/NAK for no stream or session of ours")               \
	X(rx_other, "received frames neither ARP nor EVF ACK/NAK for us")      \
	X(arp_requests, "ARP requests sent for --dst-ip")                      \
	X(arp_replies, "ARP requests for our address answered")                \
	X(tx_retries, "bursts the port took only in part (rest retried)")      \
	X(window_full, "frames not built: every stream's window was full")     \
	X(alloc_failed, "mbuf allocations that failed (retried)")              \
	X(resyncs, "real holes (NAK GAP, BUSY, STORAGE): seq rewound")         \
	X(events_rewound, "seqs rewound by a resync, to be sent again")        \
	X(dropped_on_rewind, "built frames discarded by a rewind, never sent") \
	X(naks_gap_deliberate, "NAK GAP answering a deliberate gap frame")     \
	X(naks_fenced_stale, "NAK FENCED answering a stale-session frame")     \
	X(streams_stopped, "streams stopped by NAK FENCED or REJECTED")        \
	X(rtt_lost, "frames sent whose RTT was not measured (rewound)")        \
	X(unacked, "frames still unacknowledged at the end")                   \
	X(unsent, "frames built but never taken by the port at the end")

enum evgen_ctr {
#define EVGEN_CTR_ENUM_(name, desc) EVGEN_CTR_##name,
	EVGEN_CTR_FOREACH(EVGEN_CTR_ENUM_)
#undef EVGEN_CTR_ENUM_
		EVGEN_CTR_MAX,
};

#define EVGEN_NAK_CODES 6u /* codes 1..5; 0 collects unknown codes */

struct evgen_opts {
	rte_be32_t src_ip, dst_ip;
	uint16_t src_port, dst_port; /* host order; producer i: src_port + i */
	struct rte_ether_addr dst_mac;
	bool have_dst_mac;
	uint32_t producers, streams; /* streams per producer */
	uint32_t producer_base, stream_base;
	uint64_t session;
	uint32_t batch;		     /* events per frame */
	uint32_t size_min, size_max; /* key + value bytes per event */
	uint64_t rate;		     /* per second; 0 = as fast as possible */
	bool rate_frames;	     /* rate in frames/s, not events/s */
	double duration_s;	     /* 0 = until count or a signal */
	uint64_t count;		     /* new events; 0 = no limit */
	uint32_t drain_ms, arp_timeout_ms, link_wait_ms;
	double pct[EVGEN_KIND_MAX];
	uint32_t window; /* frames in flight per stream, a power of two */
	uint32_t mtu;
	bool ack_now, json;
	const char *pcap_out;
	struct evgen_sub_opts sub; /* --subscribe, --sub-* */
};

/* One frame in flight: its last seq + 1 and the TSC when it went. */
struct evgen_inflight {
	uint64_t end;
	uint64_t tsc;
};

struct evgen_stream {
	uint32_t producer_id, stream_id;
	rte_be16_t src_port;
	uint64_t session;
	uint64_t next_seq; /* seq of the next new event */
	uint64_t acked;	   /* highest ACK: events [0, acked) are durable */
	uint64_t last_seq; /* the last normal frame: what a dup repeats */
	uint32_t last_n;
	bool gap_out;	  /* a deliberate gap frame awaits its NAK GAP */
	uint64_t gap_seq; /* ... which carries this seq */
	bool resync_on;	  /* rewound to resync_seq, no ACK past it yet */
	uint64_t resync_seq;
	bool stopped;
	uint32_t head, tail; /* ring[head..tail) in flight, oldest first */
	struct evgen_inflight *ring;
};

/* A built frame not yet taken by the port. */
struct evgen_pend {
	uint32_t stream;
	uint8_t kind;
	uint8_t bad;
	uint16_t events;
	uint32_t bytes; /* EVF bytes */
	uint32_t slot;	/* ring slot of a normal frame */
};

struct evgen {
	const char *prog;
	struct evgen_opts o;
	volatile sig_atomic_t *signal;
	uint16_t port_id;
	struct rte_mempool *pool;
	struct rte_ether_addr src_mac;
	bool track; /* a real peer: ACKs, windows, RTT (not --pcap-out) */

	struct evgen_stream *streams;
	struct evgen_inflight *rings;
	uint32_t nb_streams, rr;
	struct evgen_mix mix;
	struct evgen_pacer pacer;
	uint64_t events_built; /* new events built, for --count */
	uint64_t rng;
	uint8_t bad_next;

	uint64_t hz;
	double ns_per_tsc;
	uint64_t rt_base_ns, tsc_base;
	uint64_t t_start, t_send_end, t_end;

	struct rte_mbuf *pm[EVGEN_BURST];
	struct evgen_pend pd[EVGEN_BURST];
	uint32_t nb_pend;

	uint64_t ctr[EVGEN_CTR_MAX];
	uint64_t kind_frames[EVGEN_KIND_MAX];
	uint64_t kind_events[EVGEN_KIND_MAX];
	uint64_t bad[EVGEN_BAD_MAX];
	uint64_t nak[EVGEN_NAK_CODES];
	struct evgen_hist rtt;
	struct evgen_subs sub;

	uint8_t value[EVG_EVF_MAX_FRAME]; /* event bytes, a fixed pattern */
};

/* options.c */
/* Parse argv (argv[0] = program); returns -1 to run, or an exit code
 * (0 after --help, EVGEN_EXIT_CONFIG with one line on stderr). */
int evgen_options_parse(struct evgen_opts *o, const char *prog, int argc,
			char **argv);
void evgen_usage(FILE *f, const char *prog);

/* gen.c: the data path */
int evgen_streams_init(struct evgen *g, char *err, size_t errlen);
void evgen_streams_free(struct evgen *g);
/* Build and send what the pacer, the windows and --count allow. */
void evgen_tx_step(struct evgen *g, uint64_t now, bool produce);
/* Ethernet, IPv4 and UDP headers for an EVF payload of len bytes from
 * our address and src_port to evgate's. */
void evgen_write_headers(const struct evgen *g, rte_be16_t src_port, uint8_t *p,
			 uint32_t len);
/* Give back the frames still waiting for the port (at the end). */
void evgen_tx_discard(struct evgen *g);
bool evgen_all_acked(const struct evgen *g);

/* rx.c */
/* Receive and handle one burst; returns frames received. */
unsigned int evgen_rx_step(struct evgen *g, uint64_t now);
/* Resolve o.dst_mac by ARP; 0 or -ETIMEDOUT / -EINTR. */
int evgen_arp_resolve(struct evgen *g);
/* Forget frames in flight from seq on (a rewind): exposed for rx.c. */
void evgen_stream_rewind(struct evgen *g, uint32_t idx, uint64_t seq);

/* sub.c: the subscriber mode (sub.h) */
int evgen_sub_init(struct evgen *g, char *err, size_t errlen);
void evgen_sub_free(struct evgen *g);
/* A frame evgate sent to a subscription port (dport, network order):
 * true when it was one (handled and counted), false when not. */
bool evgen_sub_rx(struct evgen *g, const uint8_t *p, uint32_t len,
		  rte_be16_t dport, uint64_t now);
/* Handshakes, CREDITs and NAKs that are due; sends them. */
void evgen_sub_step(struct evgen *g, uint64_t now);
/* Every subscription SUBSCRIBED or stopped. */
bool evgen_sub_ready(const struct evgen *g);
/* Nothing more to wait for: --sub-count reached, or (without it) every
 * subscription silent for --sub-idle-ms since the later of its last
 * frame and the call that armed the wait (evgen_sub_idle_from). */
bool evgen_sub_done(const struct evgen *g, uint64_t now);
void evgen_sub_idle_from(struct evgen *g, uint64_t now);
/* UNSUBSCRIBE every subscription (at the end). */
void evgen_sub_close(struct evgen *g);

/* subreport.c */
void evgen_sub_report_text(const struct evgen *g, FILE *f);
/* The "subscribers" member of the JSON summary: ,"subscribers":{...} */
void evgen_sub_report_json(const struct evgen *g, FILE *f);

/* report.c */
const char *evgen_ctr_name(unsigned int i);
void evgen_report_text(const struct evgen *g, FILE *f);
void evgen_report_json(const struct evgen *g, FILE *f);

#endif /* EVGEN_H */
