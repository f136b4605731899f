/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libevclient's consumer: subscribe to streams of an evgate appliance over
 * a plain UDP socket (no DPDK), receive their events with partition and
 * offset, and commit a consumer group's progress (docs/protocol.md,
 * "Subscribers"; docs/evclient.md).
 *
 *   struct evg_consumer_opts o;
 *   struct evg_consumer_stream s = {.stream_id = 1};
 *   struct evg_consumer_event ev[64];
 *   struct evg_consumer *c;
 *
 *   evg_consumer_opts_init(&o);
 *   o.start = EVG_CONSUMER_OLDEST;
 *   o.group = "billing";                        // optional
 *   if (evg_consumer_open(&c, 9, "10.74.0.2:7470", &s, 1, &o) < 0) ...
 *   if (evg_consumer_wait_subscribed(c, 5000) < 0) ...   // cookie round trip
 *   for (;;) {
 *           int n = evg_consumer_poll(c, ev, 64, 1000);    // blocks <= 1 s
 *           if (n < 0) break;
 *           for (int i = 0; i < n; i++) handle(&ev[i]);
 *   }
 *   evg_consumer_close(c, 1000);    // commits (group), then unsubscribes
 *
 * Processing. The events one evg_consumer_poll() (or dispatch) returns stay
 * valid until the next call on the handle; that next call reports them
 * processed to evgate, so a consumer that crashes in between gets them
 * again (a group member's go to another member: at-least-once).
 *
 * Credit. The handle lets evgate have at most opts.credit_events events and
 * opts.credit_bytes bytes beyond what has been processed, and tells evgate
 * as processing advances (and at least every quarter of the appliance's
 * timeout, as a heartbeat). A consumer that stops polling stops the flow
 * to itself and to nobody else.
 *
 * Loss and order. Events come in delivery order (dseq 0, 1, 2, ...); a lost
 * frame is asked for again (NAK) and frames already seen are dropped, so
 * each event is returned once. If evgate forgets the subscription
 * (SUB_ERROR UNKNOWN: it timed out or evgate restarted), the handle
 * subscribes again by itself: a group from its commit point, a plain
 * subscription from the offset after the last event it received of each
 * stream. Other refusals (REJECTED, FENCED, POLICY) are sticky errors;
 * FULL and GROUPS are retried.
 *
 * Groups. With opts.group set, the handle is a member: evgate spreads the
 * group's events over its members by the group's policy, and commits are
 * the group's: evg_consumer_commit() makes durable (in evgate's log
 * directory) that everything polled so far is processed, and waits for
 * evgate to say so. Every opts.auto_commit_ms a commit is asked for
 * without waiting. A group that starts again starts at its commit point.
 *
 * Thread safety: as the producer handle, one thread at a time per handle.
 * Errors are negative errno values; evg_consumer_errmsg() says why.
 */
#ifndef EVG_CONSUMER_H
#define EVG_CONSUMER_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct evg_consumer;

/* Where a subscription starts (the protocol's codes). */
enum evg_consumer_start {
	EVG_CONSUMER_OLDEST = 0, /* the oldest event in the log */
	EVG_CONSUMER_END = 1,	 /* the next event appended (live tail) */
	EVG_CONSUMER_OFFSET = 2, /* each stream's evg_consumer_stream.offset */
	EVG_CONSUMER_TIME = 3,	 /* first event with ts_ns >= start_time_ns */
};

/* Group policies (the protocol's codes); 0: the group's own. */
enum evg_consumer_policy {
	EVG_CONSUMER_POLICY_DEFAULT = 0,
	EVG_CONSUMER_ROUND_ROBIN = 1,
	EVG_CONSUMER_RANDOM = 2,
	EVG_CONSUMER_WEIGHTED = 3,
	EVG_CONSUMER_LEAST_OUTSTANDING = 4,
	EVG_CONSUMER_KEY_HASH = 5,
};

/* "round-robin", "random", "weighted", "least-outstanding", "key-hash"
 * and back; -EINVAL for an unknown name, NULL for an unknown code. */
int evg_consumer_policy_from_name(const char *name);
const char *evg_consumer_policy_name(int policy);

/* Options; evg_consumer_opts_init() sets every field to the default shown. */
struct evg_consumer_opts {
	uint64_t session;	   /* = 0: CLOCK_REALTIME ns at open */
	const char *group;	   /* = NULL: no group; else 1..31 of
				    * [A-Za-z0-9._-] (copied at open) */
	int policy;		   /* = EVG_CONSUMER_POLICY_DEFAULT */
	uint16_t weight;	   /* = 1: for the weighted policy, 1..1000 */
	enum evg_consumer_start start; /* = EVG_CONSUMER_END */
	uint64_t start_time_ns;	   /* = 0: for EVG_CONSUMER_TIME */
	uint32_t credit_events;	   /* = 4096 */
	uint32_t credit_bytes;	   /* = 4 MiB; UINT32_MAX: no limit */
	uint32_t auto_commit_ms;   /* = 1000 (groups); 0: explicit only */
	uint32_t retry_ms;	   /* = 200: SUBSCRIBE / NAK resend period */
	uint32_t rcvbuf_bytes;	   /* = 4 MiB: SO_RCVBUF asked for */
};

/* One stream to subscribe to; offset is used with EVG_CONSUMER_OFFSET. */
struct evg_consumer_stream {
	uint32_t stream_id;
	uint64_t offset;
};

/* Where a stream of the subscription starts, from SUBSCRIBED. */
struct evg_consumer_position {
	uint32_t stream_id;
	uint32_t partition;
	uint64_t start; /* the first offset evgate delivers from */
	uint64_t end;	/* the log's next offset when it subscribed */
};

/* One delivered event; key and value point into the handle's buffers and
 * stay valid until the next call on the handle. */
struct evg_consumer_event {
	uint32_t stream_id;
	uint32_t partition;
	uint64_t offset; /* in the partition */
	uint32_t producer_id;
	uint64_t session; /* the producer's */
	uint64_t seq;	  /* the producer's */
	uint64_t ts_ns;	  /* the producer's timestamp; 0: none */
	uint64_t dseq;	  /* delivery seq in this subscription */
	int redelivered;  /* delivered to another group member first */
	const void *key;
	uint32_t key_size;
	const void *value;
	uint32_t value_size;
};

#define EVG_CONSUMER_STATS_FOREACH(X)                                         \
	X(events, "events returned to the application")                      \
	X(frames, "DELIVER frames taken in order")                           \
	X(bytes, "UDP payload bytes of those frames")                        \
	X(redelivered, "events flagged REDELIVERED")                         \
	X(duplicates, "DELIVER frames dropped: every dseq seen already")      \
	X(out_of_order, "DELIVER frames dropped: past a lost one")           \
	X(naks, "CREDIT frames with NAK sent (a lost frame asked for again)") \
	X(credits, "CREDIT frames sent")                                     \
	X(subscribes, "SUBSCRIBE frames sent")                               \
	X(challenges, "CHALLENGE frames received")                           \
	X(resubscribes, "subscriptions made again after SUB_ERROR UNKNOWN")   \
	X(commits, "commits asked for")                                      \
	X(committed, "COMMITTED frames received")                            \
	X(errors, "SUB_ERROR frames received")                               \
	X(replies_ignored, "frames malformed or not for this handle")

enum evg_consumer_stat {
#define EVG_CONSUMER_STAT_ENUM_(name, desc) EVG_CONSUMER_STAT_##name,
	EVG_CONSUMER_STATS_FOREACH(EVG_CONSUMER_STAT_ENUM_)
#undef EVG_CONSUMER_STAT_ENUM_
		EVG_CONSUMER_STAT_MAX,
};

struct evg_consumer_stats {
#define EVG_CONSUMER_STAT_FIELD_(name, desc) uint64_t name;
	EVG_CONSUMER_STATS_FOREACH(EVG_CONSUMER_STAT_FIELD_)
#undef EVG_CONSUMER_STAT_FIELD_
};

void evg_consumer_opts_init(struct evg_consumer_opts *o);

/*
 * Open a consumer handle for consumer_id (non-zero) on `server`
 * ("IPv4:PORT", "host:PORT", or without ":PORT" for 7470), subscribing to
 * nb_streams streams (1..16, no stream twice). Sends the first SUBSCRIBE;
 * does not wait. 0 and *out, or -EINVAL (bad id, address, streams or
 * option), -ENOMEM, or a socket error.
 */
int evg_consumer_open(struct evg_consumer **out, uint32_t consumer_id,
		      const char *server,
		      const struct evg_consumer_stream *streams,
		      unsigned int nb_streams,
		      const struct evg_consumer_opts *opts);

/* Wait for the handshake (CHALLENGE, SUBSCRIBE again, SUBSCRIBED); 0 once
 * subscribed, -ETIMEDOUT, -EINTR, or the sticky error (-EACCES REJECTED,
 * -EPERM FENCED, -EINVAL POLICY). FULL and GROUPS are retried until the
 * timeout, which then returns -EBUSY. */
int evg_consumer_wait_subscribed(struct evg_consumer *c, int timeout_ms);

/* Positions from the last SUBSCRIBED: fills up to max of them in the
 * order the streams were given; returns how many (0 before SUBSCRIBED). */
unsigned int evg_consumer_positions(const struct evg_consumer *c,
				    struct evg_consumer_position *pos,
				    unsigned int max);
/* Whether the last SUBSCRIBED said the group resumed at its commit, and
 * how many members it had. */
int evg_consumer_resumed(const struct evg_consumer *c);
unsigned int evg_consumer_members(const struct evg_consumer *c);

/*
 * Return up to max events, waiting up to timeout_ms (< 0: no limit) for
 * the first; the events of the previous poll count as processed. Returns
 * how many (0 on timeout), -EINTR, or the sticky error.
 */
int evg_consumer_poll(struct evg_consumer *c, struct evg_consumer_event *evs,
		      unsigned int max, int timeout_ms);

/* Callback form: calls fn for up to max events (one poll); fn returning
 * non-zero stops early, and the events not yet handed to fn stay for the
 * next call. Returns as evg_consumer_poll(). */
typedef int (*evg_consumer_event_cb)(void *arg,
				     const struct evg_consumer_event *ev);
int evg_consumer_dispatch(struct evg_consumer *c, evg_consumer_event_cb fn,
			  void *arg, unsigned int max, int timeout_ms);

/* Group: mark everything returned so far processed, ask evgate to make
 * the group's commit durable, and wait for COMMITTED. 0, -ETIMEDOUT,
 * -EINTR, -ENOTSUP without a group, or the sticky error. */
int evg_consumer_commit(struct evg_consumer *c, int timeout_ms);
/* The group's commit point of a stream from the last COMMITTED: 0 and
 * *offset, or -ENOENT (none yet, or not a stream of the handle). */
int evg_consumer_committed(const struct evg_consumer *c, uint32_t stream_id,
			   uint64_t *offset);

/* Commit (groups, waiting up to timeout_ms), send UNSUBSCRIBE, close the
 * socket and free everything. NULL is a no-op. */
void evg_consumer_close(struct evg_consumer *c, int timeout_ms);

/* ---- event loop core (as the producer handle's) ---- */

int evg_consumer_fd(const struct evg_consumer *c);
/* Read what waits on the socket and do what is due at now_ns
 * (evg_client_now_ns()): handshake, CREDIT, NAK, heartbeat, commit.
 * Returns frames handled, or the sticky error. */
int evg_consumer_process(struct evg_consumer *c, uint64_t now_ns);
/* Milliseconds until process() has timed work (0: now). */
int evg_consumer_next_timeout_ms(const struct evg_consumer *c, uint64_t now_ns);
/* Events received and not yet returned. */
unsigned int evg_consumer_pending(const struct evg_consumer *c);

void evg_consumer_stats(const struct evg_consumer *c,
			struct evg_consumer_stats *s);
const char *evg_consumer_stat_name(enum evg_consumer_stat s);
const char *evg_consumer_errmsg(const struct evg_consumer *c);
/* The subscription's session. */
uint64_t evg_consumer_session(const struct evg_consumer *c);

#ifdef __cplusplus
}
#endif

#endif /* EVG_CONSUMER_H */
