/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libevclient: an EVF/1 producer over a plain UDP socket (no DPDK).
 *
 * A producer handle sends the events of one (producer_id, stream_id) to one
 * evgate appliance and keeps every event until the appliance acknowledges
 * it, so that nothing acknowledged is lost and nothing is written twice:
 *
 *   struct evg_client_opts o;
 *   struct evg_client *c;
 *
 *   evg_client_opts_init(&o);
 *   if (evg_client_open(&c, 7, 1, "10.74.0.2:7470", &o) < 0) ...
 *   evg_client_send(c, "k", 1, "hello", 5, 0, 1000);   // blocks <= 1 s
 *   if (evg_client_flush(c, 5000) < 0)                  // every event ACKed?
 *           fprintf(stderr, "%s\n", evg_client_errmsg(c));
 *   evg_client_close(c);
 *
 * Sessions. Each handle sends under a session that must be higher than any
 * earlier session of the same producer on the stream (the appliance fences
 * lower ones). The default is CLOCK_REALTIME in nanoseconds at open, which
 * is higher than any earlier one as long as the clock does not step back;
 * pass opts.session (for instance persisted and incremented) otherwise.
 * Sequence numbers start at 0 in every session.
 *
 * Framing. Events are packed into DATA frames of at most max_payload bytes:
 * the path MTU of the route to the appliance (IP_MTU on the connected
 * socket) minus 28 bytes of IPv4 and UDP headers, capped at 65507, or
 * opts.max_payload. A frame goes out when the next event does not fit,
 * at the end of each evg_client_send()/evg_client_send_batch() call when
 * opts.linger_us is 0 (the default), otherwise once it has been open for
 * linger_us, and at once on evg_client_flush() (with ACK_NOW set).
 *
 * Window and retransmission. Sent frames stay in memory until ACKed; the
 * window is bounded by opts.window_events unacknowledged events and by
 * opts.window_bytes of frames. When it is full, evg_client_append() returns
 * -EAGAIN and evg_client_send() waits for ACKs. On NAK GAP the frames from
 * the one holding the NAK's seq on are resent; when no ACK advances within
 * the retransmission timeout (rto_min_us, doubling up to rto_max_us) every
 * unacknowledged frame is resent, followed by a PING. NAK BUSY and STORAGE
 * pause all sending for a back-off (backoff_min_us, doubling up to
 * backoff_max_us, reset by an ACK that advances) and then resend from the
 * refused frame. NAK FENCED and NAK REJECTED stop the handle: every later
 * call returns -EPERM (fenced) or -EACCES (rejected), evg_client_errmsg()
 * says why, and the unacknowledged events are lost to this handle.
 *
 * Two ways to drive it.
 * - Blocking: evg_client_send(), evg_client_send_batch() and
 *   evg_client_flush() take a timeout in milliseconds and run the
 *   protocol themselves while they wait.
 * - Event loop: evg_client_append() never blocks; add evg_client_fd() to
 *   poll()/epoll for evg_client_poll_events(), and call
 *   evg_client_process() when it is readable or when the time from
 *   evg_client_next_timeout_ms() has passed.
 * The two may be mixed on one handle.
 *
 * Thread safety: a handle is not thread-safe; use each handle from one
 * thread at a time (one handle per thread is the intended use). Distinct
 * handles share nothing and may be used from different threads at once.
 * evg_client_opts_init() and evg_client_stat_name() are thread-safe.
 *
 * Errors are negative errno values. Once a handle has a sticky error
 * (FENCED, REJECTED, a socket error) every call returns it.
 */
#ifndef EVG_CLIENT_H
#define EVG_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct evg_client;

/*
 * Called once per acknowledged run of events: n events from first_seq on
 * were ACKed latency_ns after the frame carrying them was first sent.
 * Runs inside evg_client_process() (and so inside the blocking calls);
 * it must not call back into the handle.
 */
typedef void (*evg_client_ack_cb)(void *arg, uint64_t first_seq, uint32_t n,
				  uint64_t latency_ns);

/* Options; evg_client_opts_init() sets every field to the default shown. */
struct evg_client_opts {
	uint64_t session;	 /* = 0: CLOCK_REALTIME ns at open */
	uint32_t max_payload;	 /* = 0: path MTU - 28 (1472 if unknown) */
	uint32_t window_events;	 /* = 65536 unacknowledged events at most */
	uint64_t window_bytes;	 /* = 4 MiB of unacknowledged frames at most */
	uint32_t linger_us;	 /* = 0: frames leave at the end of each send */
	uint32_t rto_min_us;	 /* = 200000: first retransmission timeout */
	uint32_t rto_max_us;	 /* = 2000000: cap of the doubling timeout */
	uint32_t backoff_min_us; /* = 1000: first pause after BUSY/STORAGE */
	uint32_t backoff_max_us; /* = 500000: cap of the doubling pause */
	evg_client_ack_cb on_ack; /* = NULL: no per-ACK callback */
	void *on_ack_arg;	  /* = NULL */
};

/* Counters of a handle; one list gives the struct and the names. */
#define EVG_CLIENT_STATS_FOREACH(X)                                          \
	X(events_queued, "events accepted by append/send")                   \
	X(events_acked, "events acknowledged")                               \
	X(frames_sent, "DATA frames sent for the first time")                \
	X(frames_resent, "DATA frames sent again")                           \
	X(bytes_sent, "UDP payload bytes sent, resends and PINGs included")  \
	X(pings_sent, "PING frames sent")                                    \
	X(acks, "ACKs received for this producer, stream and session")       \
	X(acks_stale, "ACKs that acknowledged nothing new")                  \
	X(naks_gap, "NAK GAP received")                                      \
	X(naks_busy, "NAK BUSY received")                                    \
	X(naks_storage, "NAK STORAGE received")                              \
	X(timeouts, "retransmission timeouts")                               \
	X(send_errors, "send() failures that are retried (EAGAIN, ENOBUFS)") \
	X(unreachable, "ICMP unreachable reported by the socket (retried)")  \
	X(replies_ignored, "replies malformed or not for this handle")

struct evg_client_stats {
#define EVG_CLIENT_STAT_FIELD_(name, desc) uint64_t name;
	EVG_CLIENT_STATS_FOREACH(EVG_CLIENT_STAT_FIELD_)
#undef EVG_CLIENT_STAT_FIELD_
};

enum evg_client_stat {
#define EVG_CLIENT_STAT_ENUM_(name, desc) EVG_CLIENT_STAT_##name,
	EVG_CLIENT_STATS_FOREACH(EVG_CLIENT_STAT_ENUM_)
#undef EVG_CLIENT_STAT_ENUM_
		EVG_CLIENT_STAT_MAX,
};

/* One event for evg_client_send_batch(). */
struct evg_client_event {
	const void *key;
	uint32_t key_size; /* <= 65535 */
	const void *value;
	uint32_t value_size;
	uint64_t ts_ns; /* producer timestamp, ns since the epoch; 0 = none */
};

/* Fill o with the defaults. */
void evg_client_opts_init(struct evg_client_opts *o);

/*
 * Open a producer handle: a UDP socket connected to `server` ("IPv4:PORT",
 * "host:PORT", or without ":PORT" for 7470). opts may be NULL for the
 * defaults. Sends nothing yet. Returns 0 and *out, or -EINVAL (producer_id
 * 0, a bad address or option; no handle), -ENOMEM, or a socket error.
 */
int evg_client_open(struct evg_client **out, uint32_t producer_id,
		    uint32_t stream_id, const char *server,
		    const struct evg_client_opts *opts);

/* Close the socket and free everything; unacknowledged events are dropped
 * (call evg_client_flush() first to wait for them). NULL is a no-op. */
void evg_client_close(struct evg_client *c);

/* The session this handle sends under. */
uint64_t evg_client_session(const struct evg_client *c);
/* The largest DATA frame it builds (bytes of UDP payload). */
uint32_t evg_client_max_payload(const struct evg_client *c);
/* The largest key + value size that fits in one frame. */
uint32_t evg_client_max_event_size(const struct evg_client *c);
/* Events queued but not yet acknowledged. */
uint64_t evg_client_unacked(const struct evg_client *c);
/* The seq the next queued event gets (= events queued so far). */
uint64_t evg_client_next_seq(const struct evg_client *c);
/* Copy the counters. */
void evg_client_stats(const struct evg_client *c, struct evg_client_stats *s);
/* "events_queued", ...; NULL out of range. */
const char *evg_client_stat_name(enum evg_client_stat s);
/* The reason for the sticky error, or "" when there is none. */
const char *evg_client_errmsg(const struct evg_client *c);

/* ---- non-blocking core ---- */

/* CLOCK_MONOTONIC in ns: the clock evg_client_process() expects. */
uint64_t evg_client_now_ns(void);

/*
 * Queue one event (copied). May send a full frame; never waits. Returns 0,
 * -EAGAIN when the window is full (call evg_client_process() once ACKs
 * arrive, then retry), -EMSGSIZE when the event cannot fit in one frame,
 * -EINVAL for a key over 65535 bytes, or the sticky error.
 */
int evg_client_append(struct evg_client *c, const void *key, uint32_t key_size,
		      const void *value, uint32_t value_size, uint64_t ts_ns);

/*
 * Do the protocol's pending work at time now_ns (evg_client_now_ns()):
 * read every reply waiting on the socket, send the frames due (lingered,
 * resent, after a back-off), and act on expired timers. Returns the number
 * of replies and frames handled (0 when idle), or the sticky error.
 */
int evg_client_process(struct evg_client *c, uint64_t now_ns);

/* Close the partly filled frame, if any, and send what is due now
 * (ACK_NOW on that frame when ack_now is non-zero). Returns 0, also when
 * there was nothing to send, or the sticky error. */
int evg_client_push(struct evg_client *c, int ack_now);

/* The socket, for poll()/epoll; owned by the handle. */
int evg_client_fd(const struct evg_client *c);
/* The poll() events to wait for: POLLIN while events are unacknowledged,
 * POLLOUT too when a send would have blocked; 0 when idle. */
short evg_client_poll_events(const struct evg_client *c);
/* Milliseconds until evg_client_process() has timed work to do (rounded
 * up), 0 if it has some now, -1 when nothing is pending. */
int evg_client_next_timeout_ms(const struct evg_client *c, uint64_t now_ns);

/* ---- blocking wrappers ----
 * Timeouts are in milliseconds; < 0 waits without limit. A signal that
 * interrupts a wait makes the call return -EINTR (the handle stays usable),
 * so that a program can stop on SIGINT. */

/* Queue one event, waiting up to timeout_ms for room in the window.
 * Returns 0, -ETIMEDOUT, -EINTR, or an error of evg_client_append(). */
int evg_client_send(struct evg_client *c, const void *key, uint32_t key_size,
		    const void *value, uint32_t value_size, uint64_t ts_ns,
		    int timeout_ms);

/* Queue n events in order, packing them into as few frames as fit, waiting
 * up to timeout_ms in all for room. Returns how many were queued (n on
 * success; fewer on a timeout or error, which *err then holds), never
 * negative; err may be NULL. */
size_t evg_client_send_batch(struct evg_client *c,
			     const struct evg_client_event *evs, size_t n,
			     int timeout_ms, int *err);

/* Send what is queued (ACK_NOW) and wait up to timeout_ms until every
 * queued event is acknowledged. Returns 0, -ETIMEDOUT, -EINTR, or the
 * sticky error. */
int evg_client_flush(struct evg_client *c, int timeout_ms);

#ifdef __cplusplus
}
#endif

#endif /* EVG_CLIENT_H */
