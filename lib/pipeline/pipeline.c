/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>

#include <rte_errno.h>
#include <rte_pause.h>

#include "evg_pipeline.h"

/* Idle rounds before the loop starts pausing between polls. */
#define IDLE_SPIN_LOOPS 64

int
evg_edge_init(struct evg_edge *e, const char *name, unsigned int size,
	      int socket_id, bool multi_producer, bool multi_consumer,
	      enum evg_edge_policy policy)
{
	unsigned int flags = RING_F_EXACT_SZ;

	if (e == NULL || name == NULL || size < 2 || !rte_is_power_of_2(size))
		return -EINVAL;
	if (!multi_producer)
		flags |= RING_F_SP_ENQ;
	if (!multi_consumer)
		flags |= RING_F_SC_DEQ;
	*e = (struct evg_edge){.policy = policy};
	/* EXACT_SZ: `size` usable slots, not size - 1. */
	e->ring = rte_ring_create(name, size, socket_id, flags);
	if (e->ring == NULL)
		return rte_errno == EEXIST   ? -EEXIST
		       : rte_errno == EINVAL ? -EINVAL
					     : -ENOMEM;
	return 0;
}

void
evg_edge_fini(struct evg_edge *e)
{
	struct rte_mbuf *pkts[64];
	unsigned int n;

	if (e == NULL || e->ring == NULL)
		return;
	while ((n = evg_edge_pull(e, pkts, RTE_DIM(pkts))) > 0)
		rte_pktmbuf_free_bulk(pkts, n);
	rte_ring_free(e->ring);
	e->ring = NULL;
}

unsigned int
evg_edge_push(struct evg_edge *e, struct rte_mbuf **pkts, unsigned int n)
{
	unsigned int done, k;

	done = rte_ring_enqueue_burst(e->ring, (void **)pkts, n, NULL);
	e->stats.enq += done;
	if (likely(done == n))
		return n;
	e->stats.full++;
	if (e->policy == EVG_EDGE_BACKPRESSURE) {
		while (done < n && !(e->stop != NULL && *e->stop)) {
			rte_pause();
			e->stats.retries++;
			k = rte_ring_enqueue_burst(
				e->ring, (void **)pkts + done, n - done, NULL);
			e->stats.enq += k;
			done += k;
		}
		if (done == n)
			return n;
	}
	e->stats.dropped += n - done;
	if (e->on_full != NULL)
		e->on_full(e->on_full_arg, pkts + done, n - done);
	else
		rte_pktmbuf_free_bulk(pkts + done, n - done);
	return done;
}

unsigned int
evg_edge_pull_rr(struct evg_edge *const *in, unsigned int nb_in,
		 unsigned int *next, struct rte_mbuf **pkts, unsigned int want)
{
	unsigned int i = *next, n = 0;

	if (nb_in == 0)
		return 0;
	for (unsigned int k = 0; k < nb_in && n < want; k++) {
		n += evg_edge_pull(in[i], pkts + n, want - n);
		i = i + 1 == nb_in ? 0 : i + 1;
	}
	*next = *next + 1 >= nb_in ? 0 : *next + 1;
	return n;
}

int
evg_lcore_plan_add(struct evg_lcore_plan *plan, struct evg_node *node)
{
	if (plan->nb_nodes == EVG_LCORE_NODES_MAX)
		return -ENOSPC;
	plan->nodes[plan->nb_nodes++] = node;
	return 0;
}

unsigned int
evg_lcore_plan_run_once(struct evg_lcore_plan *plan)
{
	unsigned int total = 0;

	for (unsigned int i = 0; i < plan->nb_nodes; i++) {
		struct evg_node *node = plan->nodes[i];
		unsigned int work = node->ops->poll(node);

		if (work != 0) {
			node->stats.busy_polls++;
			node->stats.items += work;
			total += work;
		} else {
			node->stats.idle_polls++;
		}
	}
	plan->loops++;
	return total;
}

static unsigned int
drain_once(struct evg_lcore_plan *plan)
{
	unsigned int total = 0;

	for (unsigned int i = 0; i < plan->nb_nodes; i++) {
		struct evg_node *node = plan->nodes[i];

		if (node->ops->drain != NULL)
			total += node->ops->drain(node);
	}
	return total;
}

int
evg_lcore_loop(void *arg)
{
	struct evg_lcore_plan *plan = arg;
	unsigned int idle = 0;

	while (!*plan->stop) {
		if (evg_lcore_plan_run_once(plan) != 0)
			idle = 0;
		else if (++idle > IDLE_SPIN_LOOPS)
			rte_pause();
	}
	while (drain_once(plan) != 0)
		;
	return 0;
}
