/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Build the data path from the configuration: one rx node per RX queue,
 * one seq node per shard, one ack and one tx node; an SPSC edge between
 * every producer and consumer; and the lcore plans that run them
 * ([pipeline] *_lcores, by default every stage on the first worker).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <rte_cycles.h>
#include <rte_launch.h>
#include <rte_malloc.h>

#include "app.h"

/* How long shutdown waits for the edges to empty before draining. */
#define STOP_FLUSH_MS 2000u

static const struct evg_stage_ops *const stage_ops[APP_STAGE_MAX] = {
	[APP_STAGE_RX] = &evg_rx_ops,	      [APP_STAGE_SEQ] = &evg_seqst_ops,
	[APP_STAGE_JOURNAL] = &evg_jrnst_ops, [APP_STAGE_ACK] = &evg_ack_ops,
	[APP_STAGE_SUB] = &evg_sub_ops,	      [APP_STAGE_TX] = &evg_tx_ops,
};

const struct evg_stage_ops *
app_stage_ops(enum app_stage s)
{
	return s < APP_STAGE_MAX ? stage_ops[s] : NULL;
}

/* Where each stage runs, resolved against the EAL's lcores. */
struct placement {
	unsigned int rx[RTE_MAX_LCORE], nb_rx;
	unsigned int seq[RTE_MAX_LCORE], nb_seq;
	unsigned int ack, tx, journal, sub;
};

static int
resolve_lcores(const struct evg_cfg_lcores *l, const char *key,
	       unsigned int *out, unsigned int *n, char *err, size_t errlen)
{
	unsigned int first = rte_get_next_lcore(-1, 1, 0);

	if (l->n == 0) {
		out[0] = first;
		*n = 1;
		return 0;
	}
	for (unsigned int i = 0; i < l->n; i++) {
		unsigned int id = l->id[i];

		if (id >= RTE_MAX_LCORE || !rte_lcore_is_enabled(id) ||
		    id == rte_get_main_lcore()) {
			snprintf(err, errlen,
				 "[pipeline] %s: lcore %u is not a worker "
				 "lcore; expected lcores given to the EAL "
				 "(-l/--lcores) other than the main lcore %u",
				 key, id, rte_get_main_lcore());
			return -EINVAL;
		}
		out[i] = id;
	}
	*n = l->n;
	return 0;
}

static int
place(const struct evg_cfg *cfg, struct placement *p, char *err, size_t errlen)
{
	unsigned int one;

	if (rte_get_next_lcore(-1, 1, 0) >= RTE_MAX_LCORE) {
		snprintf(err, errlen,
			 "no worker lcore: the main lcore runs the control "
			 "thread, the stages need at least one more (e.g. "
			 "-l 0-1)");
		return -EINVAL;
	}
	if (resolve_lcores(&cfg->rx_lcores, "rx_lcores", p->rx, &p->nb_rx, err,
			   errlen) < 0 ||
	    resolve_lcores(&cfg->seq_lcores, "seq_lcores", p->seq, &p->nb_seq,
			   err, errlen) < 0 ||
	    resolve_lcores(&cfg->ack_lcore, "ack_lcore", &p->ack, &one, err,
			   errlen) < 0 ||
	    resolve_lcores(&cfg->tx_lcore, "tx_lcore", &p->tx, &one, err,
			   errlen) < 0 ||
	    resolve_lcores(&cfg->journal_lcore, "journal_lcore", &p->journal,
			   &one, err, errlen) < 0 ||
	    resolve_lcores(&cfg->sub_lcore, "sub_lcore", &p->sub, &one, err,
			   errlen) < 0)
		return -EINVAL;
	return 0;
}

static void
cpus_add_lcore(cpu_set_t *set, unsigned int lcore)
{
	rte_cpuset_t cs = rte_lcore_cpuset(lcore);

	CPU_OR(set, set, &cs);
}

int
app_dataplane_check(struct app *app, char *err, size_t errlen)
{
	struct placement *p = calloc(1, sizeof(*p));
	int rc;

	if (p == NULL)
		return -ENOMEM;
	rc = place(&app->cfg, p, err, errlen);
	if (rc == 0) {
		CPU_ZERO(&app->poll_cpus);
		for (unsigned int i = 0; i < p->nb_rx; i++)
			cpus_add_lcore(&app->poll_cpus, p->rx[i]);
		for (unsigned int i = 0; i < p->nb_seq; i++)
			cpus_add_lcore(&app->poll_cpus, p->seq[i]);
		cpus_add_lcore(&app->poll_cpus, p->ack);
		cpus_add_lcore(&app->poll_cpus, p->tx);
		cpus_add_lcore(&app->poll_cpus, p->journal);
		if (app->cfg.sub_max > 0)
			cpus_add_lcore(&app->poll_cpus, p->sub);
	}
	free(p);
	return rc;
}

static int
edge_make(struct app *app, unsigned int i, enum app_edge_kind kind,
	  const char *name, unsigned int producer, unsigned int consumer,
	  enum evg_edge_policy policy, char *err, size_t errlen)
{
	struct app_edge *ae = &app->edges[i];
	int rc;

	rc = evg_edge_init(&ae->e, name, app->cfg.ring_size,
			   (int)rte_lcore_to_socket_id(consumer), false, false,
			   policy);
	if (rc < 0) {
		snprintf(err, errlen, "ring %s (%u slots): %s", name,
			 app->cfg.ring_size, strerror(-rc));
		return rc;
	}
	ae->e.stop = &app->stop;
	ae->kind = kind;
	ae->lcore = producer;
	return 0;
}

static void *
ctx_alloc(size_t size, unsigned int lcore)
{
	return rte_zmalloc_socket("evg_stage", size, RTE_CACHE_LINE_SIZE,
				  (int)rte_lcore_to_socket_id(lcore));
}

static struct app_node *
node_add(struct app *app, enum app_stage stage, unsigned int lcore,
	 size_t ctx_size)
{
	struct app_node *n = &app->nodes[app->nb_nodes];

	n->node.ctx = ctx_alloc(ctx_size, lcore);
	if (n->node.ctx == NULL)
		return NULL;
	n->node.ops = stage_ops[stage];
	n->stage = stage;
	n->lcore = lcore;
	app->nb_nodes++;
	return n;
}

/* Edge indexes: rx x shard, then rx -> tx, then seq -> journal, then
 * journal -> ack, then ack -> tx; with subscribers, then rx -> sub and
 * sub -> tx. */
static unsigned int
e_rx_seq(const struct app *app, unsigned int q, unsigned int s)
{
	return q * app->nb_shards + s;
}

static unsigned int
e_rx_tx(const struct app *app, unsigned int q)
{
	return app->port.rx_queues * app->nb_shards + q;
}

static unsigned int
e_seq_jrn(const struct app *app, unsigned int s)
{
	return app->port.rx_queues * (app->nb_shards + 1) + s;
}

static unsigned int
e_jrn_ack(const struct app *app)
{
	return app->port.rx_queues * (app->nb_shards + 1) + app->nb_shards;
}

static unsigned int
e_ack_tx(const struct app *app)
{
	return e_jrn_ack(app) + 1;
}

static unsigned int
e_rx_sub(const struct app *app, unsigned int q)
{
	return e_ack_tx(app) + 1 + q;
}

static unsigned int
e_sub_tx(const struct app *app)
{
	return e_rx_sub(app, app->port.rx_queues);
}

static int
make_edges(struct app *app, const struct placement *p, char *err, size_t errlen)
{
	unsigned int nb_rx = app->port.rx_queues, ns = app->nb_shards;
	enum evg_edge_policy rx_policy =
		app->cfg.ring_full == EVG_CFG_RING_FULL_DROP
			? EVG_EDGE_DROP
			: EVG_EDGE_BACKPRESSURE;
	char name[RTE_RING_NAMESIZE];
	int rc;

	for (unsigned int q = 0; q < nb_rx; q++) {
		unsigned int rxl = p->rx[q % p->nb_rx];

		for (unsigned int s = 0; s < ns; s++) {
			snprintf(name, sizeof(name), "evg_rs%u_%u", q, s);
			rc = edge_make(app, e_rx_seq(app, q, s),
				       APP_EDGE_RX_SEQ, name, rxl,
				       p->seq[s % p->nb_seq], rx_policy, err,
				       errlen);
			if (rc < 0)
				return rc;
		}
		snprintf(name, sizeof(name), "evg_rt%u", q);
		rc = edge_make(app, e_rx_tx(app, q), APP_EDGE_RX_TX, name, rxl,
			       p->tx, EVG_EDGE_DROP, err, errlen);
		if (rc < 0)
			return rc;
	}
	for (unsigned int s = 0; s < ns; s++) {
		snprintf(name, sizeof(name), "evg_sj%u", s);
		rc = edge_make(app, e_seq_jrn(app, s), APP_EDGE_SEQ_JRN, name,
			       p->seq[s % p->nb_seq], p->journal,
			       EVG_EDGE_BACKPRESSURE, err, errlen);
		if (rc < 0)
			return rc;
	}
	rc = edge_make(app, e_jrn_ack(app), APP_EDGE_JRN_ACK, "evg_ja",
		       p->journal, p->ack, EVG_EDGE_BACKPRESSURE, err, errlen);
	if (rc < 0)
		return rc;
	rc = edge_make(app, e_ack_tx(app), APP_EDGE_ACK_TX, "evg_at", p->ack,
		       p->tx, EVG_EDGE_DROP, err, errlen);
	if (rc < 0 || app->cfg.sub_max == 0)
		return rc;
	for (unsigned int q = 0; q < nb_rx; q++) {
		snprintf(name, sizeof(name), "evg_rb%u", q);
		rc = edge_make(app, e_rx_sub(app, q), APP_EDGE_RX_SUB, name,
			       p->rx[q % p->nb_rx], p->sub, EVG_EDGE_DROP, err,
			       errlen);
		if (rc < 0)
			return rc;
	}
	/* DELIVER frames a full ring refuses are still held: the
	 * consumer's NAK or the rto sends them again. */
	return edge_make(app, e_sub_tx(app), APP_EDGE_SUB_TX, "evg_bt", p->sub,
			 p->tx, EVG_EDGE_DROP, err, errlen);
}

static int
make_rx(struct app *app, const struct placement *p)
{
	for (unsigned int q = 0; q < app->port.rx_queues; q++) {
		struct evg_rx_conf c = {
			.port_id = app->port_id,
			.queue_id = (uint16_t)q,
			.burst = app->cfg.burst,
			.ifc = &app->ifc,
			.cfg = &app->cfg,
			.nb_shards = app->nb_shards,
			.tx_out = &app->edges[e_rx_tx(app, q)].e,
			.sub_out = app->cfg.sub_max > 0
					   ? &app->edges[e_rx_sub(app, q)].e
					   : NULL,
			.stop_rx = &app->stop_rx,
			.tsc_hz = app->tsc_hz,
		};
		struct app_node *n;

		for (unsigned int s = 0; s < app->nb_shards; s++)
			c.seq_out[s] = &app->edges[e_rx_seq(app, q, s)].e;
		n = node_add(app, APP_STAGE_RX, p->rx[q % p->nb_rx],
			     sizeof(struct evg_rx_ctx));
		if (n == NULL)
			return -ENOMEM;
		if (evg_rx_init(n->node.ctx, &c) < 0)
			return -EINVAL;
	}
	return 0;
}

static int
make_seq(struct app *app, const struct placement *p)
{
	char name[EVG_SEQ_NAME_MAX + 1];

	for (unsigned int s = 0; s < app->nb_shards; s++) {
		unsigned int lc = p->seq[s % p->nb_seq];
		struct evg_seqst_conf c = {
			.nb_in = app->port.rx_queues,
			.out = &app->edges[e_seq_jrn(app, s)].e,
			.burst = app->cfg.burst,
			.storage_failing = &app->storage_failing,
		};
		struct app_node *n;

		snprintf(name, sizeof(name), "shard%u", s);
		app->tables[s] =
			evg_seq_table_create(name, app->cfg.seq_capacity,
					     (int)rte_lcore_to_socket_id(lc));
		if (app->tables[s] == NULL)
			return -ENOMEM;
		c.table = app->tables[s];
		for (unsigned int q = 0; q < app->port.rx_queues; q++)
			c.in[q] = &app->edges[e_rx_seq(app, q, s)].e;
		n = node_add(app, APP_STAGE_SEQ, lc,
			     sizeof(struct evg_seqst_ctx));
		if (n == NULL)
			return -ENOMEM;
		if (evg_seqst_init(n->node.ctx, &c) < 0)
			return -EINVAL;
	}
	return 0;
}

static int
make_journal(struct app *app, const struct placement *p)
{
	struct evg_jrnst_conf jc = {
		.journal = app->journal,
		.partitions = app->cfg.partitions,
		.nb_in = app->nb_shards,
		.out = &app->edges[e_jrn_ack(app)].e,
		.burst = app->cfg.burst,
		.storage_failing = &app->storage_failing,
		.ack_received = app->cfg.ack_level == EVG_CFG_ACK_RECEIVED,
	};
	struct app_node *n;

	for (unsigned int s = 0; s < app->nb_shards; s++)
		jc.in[s] = &app->edges[e_seq_jrn(app, s)].e;
	n = node_add(app, APP_STAGE_JOURNAL, p->journal,
		     sizeof(struct evg_jrnst_ctx));
	if (n == NULL)
		return -ENOMEM;
	return evg_jrnst_init(n->node.ctx, &jc);
}

static int
make_ack_tx(struct app *app, const struct placement *p)
{
	struct evg_ack_conf ac = {
		.ifc = &app->ifc,
		.nb_ports = 1,
		.nb_in = 1,
		.in = {&app->edges[e_jrn_ack(app)].e},
		.out = &app->edges[e_ack_tx(app)].e,
		.burst = app->cfg.burst,
		.nak_rate = app->cfg.nak_rate,
		.nak_burst = app->cfg.nak_burst,
		.tsc_hz = app->tsc_hz,
	};
	struct evg_tx_conf tc = {
		.port_id = app->port_id,
		.queue_id = 0,
		.nb_in = app->port.rx_queues + 1u + (app->cfg.sub_max > 0),
		.burst = app->cfg.burst,
	};
	struct app_node *n;

	n = node_add(app, APP_STAGE_ACK, p->ack, sizeof(struct evg_ack_ctx));
	if (n == NULL)
		return -ENOMEM;
	if (evg_ack_init(n->node.ctx, &ac) < 0)
		return -EINVAL;

	for (unsigned int q = 0; q < app->port.rx_queues; q++)
		tc.in[q] = &app->edges[e_rx_tx(app, q)].e;
	tc.in[app->port.rx_queues] = &app->edges[e_ack_tx(app)].e;
	if (app->cfg.sub_max > 0)
		tc.in[app->port.rx_queues + 1] = &app->edges[e_sub_tx(app)].e;
	n = node_add(app, APP_STAGE_TX, p->tx, sizeof(struct evg_tx_ctx));
	if (n == NULL)
		return -ENOMEM;
	return evg_tx_init(n->node.ctx, &tc) < 0 ? -EINVAL : 0;
}

/* The subscriber node; its context is the stage's own allocation. */
static int
make_sub(struct app *app, const struct placement *p)
{
	struct evg_sub_conf sc = {
		.ifc = &app->ifc,
		.cfg = &app->cfg,
		.journal = app->journal,
		.log_dir = app->cfg.log_dir,
		.partitions = app->cfg.partitions,
		.nb_in = app->port.rx_queues,
		.out = &app->edges[e_sub_tx(app)].e,
		.pool = app->sub_pool,
		.frame_max = (uint16_t)(app->cfg.mtu - 28u),
		.burst = app->cfg.burst,
		.commits = app->commits,
		.stop = &app->stop_rx,
		.tsc_hz = app->tsc_hz,
		.socket_id = (int)rte_lcore_to_socket_id(p->sub),
	};
	struct app_node *n = &app->nodes[app->nb_nodes];
	int rc;

	if (app->cfg.sub_max == 0)
		return 0;
	for (unsigned int q = 0; q < app->port.rx_queues; q++)
		sc.in[q] = &app->edges[e_rx_sub(app, q)].e;
	rc = evg_sub_create(&sc, &app->sub);
	if (rc < 0)
		return rc;
	n->node.ctx = app->sub;
	n->node.ops = stage_ops[APP_STAGE_SUB];
	n->stage = APP_STAGE_SUB;
	n->lcore = p->sub;
	app->nb_nodes++;
	return 0;
}

static int
make_plans(struct app *app, char *err, size_t errlen)
{
	for (unsigned int i = 0; i < app->nb_nodes; i++) {
		struct app_node *n = &app->nodes[i];
		struct evg_lcore_plan *plan = &app->plans[n->lcore];

		if (evg_lcore_plan_add(plan, &n->node) < 0) {
			snprintf(err, errlen,
				 "[pipeline]: lcore %u would run more than %u "
				 "stage instances; spread them over more "
				 "lcores (rx_lcores, seq_lcores)",
				 n->lcore, EVG_LCORE_NODES_MAX);
			return -ENOSPC;
		}
		plan->stop = &app->stop;
		app->lcore_used[n->lcore] = true;
	}
	return 0;
}

int
app_dataplane_build(struct app *app, char *err, size_t errlen)
{
	struct placement *p;
	unsigned int nb_rx = app->port.rx_queues;
	int rc;

	app->nb_shards = app->cfg.seq_shards;
	if (nb_rx + 1u > EVG_STAGES_MAX_INPUTS) {
		snprintf(err, errlen, "%u RX queues: at most %u", nb_rx,
			 EVG_STAGES_MAX_INPUTS - 1);
		return -EINVAL;
	}
	p = calloc(1, sizeof(*p));
	if (p == NULL)
		return -ENOMEM;
	rc = place(&app->cfg, p, err, errlen);
	if (rc < 0)
		goto out;
	app->nb_edges = nb_rx * app->nb_shards + nb_rx + app->nb_shards + 2 +
			(app->cfg.sub_max > 0 ? nb_rx + 1 : 0);
	app->edges =
		rte_zmalloc("evg_edges", app->nb_edges * sizeof(*app->edges),
			    RTE_CACHE_LINE_SIZE);
	app->nodes = rte_zmalloc(
		"evg_nodes", (nb_rx + app->nb_shards + 4) * sizeof(*app->nodes),
		RTE_CACHE_LINE_SIZE);
	rc = -ENOMEM;
	if (app->edges == NULL || app->nodes == NULL)
		goto nomem;
	rc = make_edges(app, p, err, errlen);
	if (rc < 0)
		goto out;
	rc = make_rx(app, p);
	if (rc == 0)
		rc = make_seq(app, p);
	if (rc == 0)
		rc = make_journal(app, p);
	if (rc == 0)
		rc = make_ack_tx(app, p);
	if (rc == 0)
		rc = make_sub(app, p);
	if (rc < 0)
		goto nomem;
	rc = app_journal_restore(app, err, errlen);
	if (rc < 0)
		goto out;
	rc = make_plans(app, err, errlen);
	goto out;
nomem:
	snprintf(err, errlen, "setting up the stages: %s", strerror(-rc));
out:
	free(p);
	return rc;
}

void
app_dataplane_free(struct app *app)
{
	for (unsigned int i = 0; i < app->nb_edges && app->edges != NULL; i++)
		evg_edge_fini(&app->edges[i].e);
	for (unsigned int i = 0; i < app->nb_nodes; i++) {
		if (app->nodes[i].stage == APP_STAGE_JOURNAL)
			evg_jrnst_fini(app->nodes[i].node.ctx);
		if (app->nodes[i].stage == APP_STAGE_SUB)
			evg_sub_free(app->nodes[i].node.ctx);
		else
			rte_free(app->nodes[i].node.ctx);
	}
	for (unsigned int s = 0; s < app->nb_shards; s++) {
		evg_seq_table_free(app->tables[s]);
		app->tables[s] = NULL;
	}
	app->sub = NULL;
	rte_free(app->edges);
	rte_free(app->nodes);
	app->edges = NULL;
	app->nodes = NULL;
	app->nb_edges = app->nb_nodes = 0;
}

int
app_dataplane_launch(struct app *app)
{
	unsigned int lc;
	int rc;

	RTE_LCORE_FOREACH_WORKER (lc) {
		if (!app->lcore_used[lc])
			continue;
		rc = rte_eal_remote_launch(evg_lcore_loop, &app->plans[lc], lc);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* Nothing in flight: every edge empty, the journal holding no frame. */
static bool
edges_empty(const struct app *app)
{
	for (unsigned int i = 0; i < app->nb_edges; i++)
		if (evg_edge_count(&app->edges[i].e) != 0)
			return false;
	for (unsigned int i = 0; i < app->nb_nodes; i++)
		if (app->nodes[i].stage == APP_STAGE_JOURNAL &&
		    evg_jrnst_held(app->nodes[i].node.ctx) != 0)
			return false;
	return true;
}

void
app_dataplane_stop(struct app *app)
{
	unsigned int quiet = 0;

	/* Sources first; a poll already under way may still push, so the
	 * edges must be seen empty twice in a row, a millisecond apart. */
	app->stop_rx = true;
	for (unsigned int ms = 0; ms < STOP_FLUSH_MS && quiet < 2; ms++) {
		rte_delay_us_sleep(1000);
		quiet = edges_empty(app) ? quiet + 1 : 0;
	}
	app->stop = true;
	rte_eal_mp_wait_lcore();
}
