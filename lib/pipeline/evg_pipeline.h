/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Pipeline plumbing: stages, the edges between them, and the lcore loop
 * that runs them.
 *
 * A stage is a table of plain functions (evg_stage_ops). Its poll()
 * function does one bounded unit of work -- take at most one burst from
 * its input (an RX queue, an edge), process it, push results to its output
 * edges -- and returns how many items it handled, 0 when idle. An lcore
 * runs a list of stage instances (nodes) round-robin until told to stop;
 * which nodes run on which lcore is configuration, so the same stages run
 * several to an lcore on a small host and one per lcore on a large one.
 *
 * An edge is an rte_ring with a full-policy: BACKPRESSURE retries until
 * the consumer makes room (for paths that must not lose accepted data,
 * e.g. to the journal), DROP hands what did not fit to the edge's on_full
 * callback (which may answer NAK BUSY) or frees it, and counts it.
 * A producer stage whose consumer runs on the same lcore must not wait on
 * it: it sizes its input burst with evg_edge_room() instead, so the edge
 * never overflows and back-pressure reaches the stage's own input.
 *
 * Shutdown: the application first stops the sources (RX), lets the loops
 * run until every edge is empty, then sets the plan's stop flag; each loop
 * then calls every node's drain() until it reports no more work.
 */
#ifndef EVG_PIPELINE_H
#define EVG_PIPELINE_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_common.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#define EVG_BURST_MAX 256
#define EVG_LCORE_NODES_MAX 16

enum evg_edge_policy {
	EVG_EDGE_DROP,
	EVG_EDGE_BACKPRESSURE,
};

/* Edge counters, written only by the producer side. */
struct evg_edge_stats {
	uint64_t enq;        /* items enqueued */
	uint64_t full;       /* enqueue attempts that found the ring full */
	uint64_t dropped;    /* items dropped (DROP policy) */
	uint64_t retries;    /* extra attempts (BACKPRESSURE policy) */
};

/* Called with the items a DROP edge could not take; it owns them. */
typedef void (*evg_edge_full_cb)(void *arg, struct rte_mbuf **pkts,
				 unsigned int n);

struct evg_edge {
	struct rte_ring *ring;
	enum evg_edge_policy policy;
	evg_edge_full_cb on_full; /* NULL: free the mbufs */
	void *on_full_arg;
	const volatile bool *stop; /* BACKPRESSURE gives up when set */
	struct evg_edge_stats stats;
} __rte_cache_aligned;

/*
 * Create an edge: an rte_ring of `size` slots (a power of two) on
 * socket_id; single-producer/single-consumer unless told otherwise.
 * Returns 0, -EINVAL (bad size, NULL name), -ENOMEM or -EEXIST (name in
 * use; rte_ring names are global).
 */
int evg_edge_init(struct evg_edge *e, const char *name, unsigned int size,
		  int socket_id, bool multi_producer, bool multi_consumer,
		  enum evg_edge_policy policy);
void evg_edge_fini(struct evg_edge *e);

/*
 * Push n mbufs into the edge. Every mbuf is accounted for: enqueued,
 * handed to on_full / freed (DROP), or enqueued after retrying
 * (BACKPRESSURE; if *stop becomes set while retrying, the rest are freed
 * and counted as dropped). Returns how many were enqueued.
 */
unsigned int evg_edge_push(struct evg_edge *e, struct rte_mbuf **pkts,
			   unsigned int n);

/* Free slots: how many items a push would take now. */
static inline unsigned int
evg_edge_room(const struct evg_edge *e)
{
	return rte_ring_free_count(e->ring);
}

/* Items waiting in the edge. */
static inline unsigned int
evg_edge_count(const struct evg_edge *e)
{
	return rte_ring_count(e->ring);
}

/* Take up to n mbufs from the edge. */
static inline unsigned int
evg_edge_pull(struct evg_edge *e, struct rte_mbuf **pkts, unsigned int n)
{
	return rte_ring_dequeue_burst(e->ring, (void **)pkts, n, NULL);
}

/*
 * Take up to `want` mbufs from nb_in edges, starting at in[*next] and
 * going round; *next advances by one per call, so a busy input cannot
 * starve the others. Returns how many were taken.
 */
unsigned int evg_edge_pull_rr(struct evg_edge *const *in, unsigned int nb_in,
			      unsigned int *next, struct rte_mbuf **pkts,
			      unsigned int want);

struct evg_node;

struct evg_stage_ops {
	const char *name;
	/* One bounded unit of work; returns items handled (0 = idle). */
	unsigned int (*poll)(struct evg_node *node);
	/* Finish in-flight work at shutdown (flush buffers, final ACKs);
	 * returns items handled, called until it returns 0. May be NULL. */
	unsigned int (*drain)(struct evg_node *node);
	/* The stage's counters: nb_counters names (one X-macro list in the
	 * stage, so names cannot drift from the values), and a reader that
	 * copies a node's current values into values[0 .. nb_counters).
	 * The reader runs on the control thread while the node's lcore keeps
	 * counting: each value is a plain aligned 64-bit load. */
	const char *const *counter_names;
	unsigned int nb_counters;
	void (*read_counters)(const struct evg_node *node, uint64_t *values);
};

/* Per-node counters, written only by the node's lcore. */
struct evg_node_stats {
	uint64_t busy_polls;
	uint64_t idle_polls;
	uint64_t items;
} __rte_cache_aligned;

/* A stage instance: ops, its private context, its counters. */
struct evg_node {
	const struct evg_stage_ops *ops;
	void *ctx;
	struct evg_node_stats stats;
};

/* What one lcore runs. */
struct evg_lcore_plan {
	struct evg_node *nodes[EVG_LCORE_NODES_MAX];
	unsigned int nb_nodes;
	const volatile bool *stop; /* the loop returns once this is set */
	uint64_t loops;
};

/* Add a node to an lcore's plan; -ENOSPC when full. */
int evg_lcore_plan_add(struct evg_lcore_plan *plan, struct evg_node *node);

/* Poll every node once; returns the total work done. */
unsigned int evg_lcore_plan_run_once(struct evg_lcore_plan *plan);

/*
 * The lcore loop, for rte_eal_remote_launch(): runs the plan until *stop,
 * then drains every node (ops->drain until it returns 0). Returns 0.
 */
int evg_lcore_loop(void *plan);

#endif /* EVG_PIPELINE_H */
