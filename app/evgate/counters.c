/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The counters of every stage instance, edge and the port, summed by the
 * control thread. Names are built once from the stages' own lists:
 * "<stage>_<counter>", "<stage>_busy_polls", "ring_<edge>_<counter>",
 * "port_<counter>" (docs/telemetry.md); DPDK 22.11 telemetry accepts only
 * letters, digits, '_' and '/' in names.
 */
#include <ctype.h>
#include <inttypes.h>
#include <stdarg.h>
#include <string.h>

#include "app.h"

static const char *const edge_kind_name[APP_EDGE_KIND_MAX] = {
	[APP_EDGE_RX_SEQ] = "rx_seq",	[APP_EDGE_RX_TX] = "rx_tx",
	[APP_EDGE_SEQ_JRN] = "seq_jrn", [APP_EDGE_JRN_ACK] = "jrn_ack",
	[APP_EDGE_ACK_TX] = "ack_tx",	[APP_EDGE_RX_SUB] = "rx_sub",
	[APP_EDGE_SUB_TX] = "sub_tx",
};

#define EDGE_CTRS 4u /* enq, full, dropped, retries */

static void __rte_format_printf(2, 3)
	add_name(struct app *app, const char *fmt, ...)
{
	va_list ap;

	/* The lists are fixed at build time; running out is a bug. */
	RTE_VERIFY(app->nb_ctr < APP_CTR_MAX);
	va_start(ap, fmt);
	vsnprintf(app->ctr_name[app->nb_ctr], APP_CTR_NAME_LEN, fmt, ap);
	va_end(ap);
	/* DPDK 22.11 telemetry drops names with other characters. */
	for (const char *c = app->ctr_name[app->nb_ctr]; *c != '\0'; c++)
		RTE_VERIFY(isalnum((unsigned char)*c) || *c == '_');
	app->nb_ctr++;
}

void
app_counters_init(struct app *app)
{
	static const char *const edge_ctr[EDGE_CTRS] = {"enq", "full",
							"dropped", "retries"};

	app->nb_ctr = 0;
	for (unsigned int s = 0; s < APP_STAGE_MAX; s++) {
		const struct evg_stage_ops *ops = app_stage_ops(s);

		app->ctr_stage_base[s] = app->nb_ctr;
		for (unsigned int i = 0; i < ops->nb_counters; i++)
			add_name(app, "%s_%s", ops->name,
				 ops->counter_names[i]);
	}
	app->ctr_polls_base = app->nb_ctr;
	for (unsigned int s = 0; s < APP_STAGE_MAX; s++) {
		add_name(app, "%s_busy_polls", app_stage_ops(s)->name);
		add_name(app, "%s_idle_polls", app_stage_ops(s)->name);
	}
	app->ctr_edge_base = app->nb_ctr;
	for (unsigned int k = 0; k < APP_EDGE_KIND_MAX; k++)
		for (unsigned int i = 0; i < EDGE_CTRS; i++)
			add_name(app, "ring_%s_%s", edge_kind_name[k],
				 edge_ctr[i]);
	app->ctr_port_base = app->nb_ctr;
	for (unsigned int i = 0; i < EVG_PORT_STAT_MAX; i++)
		add_name(app, "port_%s", evg_port_stat_name(i));
	app->ctr_log_base = app->nb_ctr;
	for (unsigned int i = 0; i < EVG_JOURNAL_STAT_MAX; i++)
		add_name(app, "log_%s", evg_journal_stat_name(i));
}

void
app_counters_collect(const struct app *app, int lcore, struct app_counters *out)
{
	uint64_t tmp[APP_CTR_MAX];

	memset(out, 0, sizeof(*out));
	for (unsigned int n = 0; n < app->nb_nodes; n++) {
		const struct app_node *an = &app->nodes[n];
		const struct evg_stage_ops *ops = an->node.ops;
		uint64_t *v = &out->v[app->ctr_stage_base[an->stage]];
		uint64_t *polls = &out->v[app->ctr_polls_base + 2 * an->stage];

		if (lcore >= 0 && an->lcore != (unsigned int)lcore)
			continue;
		ops->read_counters(&an->node, tmp);
		for (unsigned int i = 0; i < ops->nb_counters; i++)
			v[i] += tmp[i];
		polls[0] += an->node.stats.busy_polls;
		polls[1] += an->node.stats.idle_polls;
	}
	for (unsigned int i = 0; i < app->nb_edges; i++) {
		const struct app_edge *ae = &app->edges[i];
		uint64_t *v =
			&out->v[app->ctr_edge_base + EDGE_CTRS * ae->kind];

		if (lcore >= 0 && ae->lcore != (unsigned int)lcore)
			continue;
		v[0] += ae->e.stats.enq;
		v[1] += ae->e.stats.full;
		v[2] += ae->e.stats.dropped;
		v[3] += ae->e.stats.retries;
	}
	if (lcore >= 0)
		return;
	(void)evg_port_stats_read(app->port_id, &out->v[app->ctr_port_base]);
	for (uint32_t p = 0; app->journal != NULL && p < app->cfg.partitions;
	     p++) {
		evg_journal_stats(app->journal, p, tmp);
		for (unsigned int i = 0; i < EVG_JOURNAL_STAT_MAX; i++)
			out->v[app->ctr_log_base + i] += tmp[i];
	}
}

int
app_counter_index(const struct app *app, const char *name)
{
	for (unsigned int i = 0; i < app->nb_ctr; i++)
		if (strcmp(app->ctr_name[i], name) == 0)
			return (int)i;
	return -1;
}

static uint64_t
get(const struct app *app, const struct app_counters *c, const char *name)
{
	int i = app_counter_index(app, name);

	return i < 0 ? 0 : c->v[i];
}

/* Frames dropped anywhere: every counter whose name says so. */
bool
app_counter_is_drop(const struct app *app, unsigned int i)
{
	static const char *const drops[] = {
		"rx_rejected",	  "seq_overflow",   "tx_dropped",
		"port_rx_missed", "port_rx_nombuf", "rx_sub_off",
		"sub_bad_token",
	};
	const char *n = app->ctr_name[i];
	size_t len = strlen(n);

	if (strncmp(n, "rx_net_", 7) == 0)
		return strcmp(n, "rx_net_evf") != 0 &&
		       strcmp(n, "rx_net_arp") != 0 &&
		       strcmp(n, "rx_net_icmp_echo") != 0;
	if (strncmp(n, "rx_evf_", 7) == 0)
		return strcmp(n, "rx_evf_ok") != 0;
	if (strncmp(n, "ring_", 5) == 0)
		return len > 8 && strcmp(n + len - 8, "_dropped") == 0;
	for (unsigned int d = 0; d < RTE_DIM(drops); d++)
		if (strcmp(n, drops[d]) == 0)
			return true;
	return false;
}

static uint64_t
sum_drops(const struct app *app, const struct app_counters *c)
{
	uint64_t sum = 0;

	for (unsigned int i = 0; i < app->nb_ctr; i++)
		if (app_counter_is_drop(app, i))
			sum += c->v[i];
	return sum;
}

static uint64_t
sum_naks(const struct app *app, const struct app_counters *c)
{
	return get(app, c, "rx_naks_rejected") + get(app, c, "rx_naks_busy") +
	       get(app, c, "ack_naks_gap") + get(app, c, "ack_naks_fenced") +
	       get(app, c, "ack_naks_busy");
}

void
app_stats_line(const struct app *app, FILE *f, const struct app_counters *now,
	       const struct app_counters *prev, double seconds)
{
	const char *rx = "rx_packets", *ev = "seq_events_accepted";
	double dt = seconds > 0 ? seconds : 1;

	fprintf(f,
		"evgate: stats rx %" PRIu64
		" (%.0f/s) frames, accepted %" PRIu64
		" (%.0f/s) events, dup %" PRIu64 ", acks %" PRIu64
		", naks %" PRIu64 ", drops %" PRIu64 ", tx %" PRIu64 "\n",
		get(app, now, rx),
		(get(app, now, rx) - get(app, prev, rx)) / dt,
		get(app, now, ev),
		(get(app, now, ev) - get(app, prev, ev)) / dt,
		get(app, now, "seq_events_duplicate"),
		get(app, now, "ack_acks"), sum_naks(app, now),
		sum_drops(app, now), get(app, now, "tx_packets"));
}

void
app_counters_print(const struct app *app, FILE *f, const struct app_counters *c)
{
	for (unsigned int i = 0; i < app->nb_ctr; i++)
		if (c->v[i] != 0)
			fprintf(f, "  %-28s %" PRIu64 "\n", app->ctr_name[i],
				c->v[i]);
}
