/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * evgate's application context: the configuration, the port, the stage
 * instances and edges built from it (dataplane.c), the counters summed
 * from them (counters.c) and their telemetry export (telemetry.c).
 */
#ifndef EVGATE_APP_H
#define EVGATE_APP_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <rte_lcore.h>

#include "evg_cfg.h"
#include "evg_journal.h"
#include "evg_net.h"
#include "evg_pipeline.h"
#include "evg_port.h"
#include "evg_stages.h"
#include "evg_sub.h"

/* The stage kinds, in the order an lcore polls them: upstream first, so
 * one round moves a frame all the way through on a single lcore. */
enum app_stage {
	APP_STAGE_RX,
	APP_STAGE_SEQ,
	APP_STAGE_JOURNAL,
	APP_STAGE_ACK,
	APP_STAGE_SUB,
	APP_STAGE_TX,
	APP_STAGE_MAX,
};

/* The kinds of edge, for counters: "ring.<kind>.<counter>". */
enum app_edge_kind {
	APP_EDGE_RX_SEQ,
	APP_EDGE_RX_TX,
	APP_EDGE_SEQ_JRN,
	APP_EDGE_JRN_ACK,
	APP_EDGE_ACK_TX,
	APP_EDGE_RX_SUB,
	APP_EDGE_SUB_TX,
	APP_EDGE_KIND_MAX,
};

struct app_node {
	struct evg_node node;
	enum app_stage stage;
	unsigned int lcore;
};

struct app_edge {
	struct evg_edge e;
	enum app_edge_kind kind;
	unsigned int lcore; /* the producer's lcore, whose counters these are */
};

/* Counters are exported as one flat list of names: each stage's own
 * (prefixed "<stage>."), busy and idle polls per stage, the edges' and the
 * port's. APP_CTR_MAX bounds it (telemetry dicts hold 256 entries). */
#define APP_CTR_MAX 256u
#define APP_CTR_NAME_LEN 48u

struct app_counters {
	uint64_t v[APP_CTR_MAX];
};

struct app {
	const char *prog;
	struct evg_cfg cfg;
	uint16_t port_id;
	struct evg_port_info port;
	struct rte_mempool *pool;
	struct evg_net_if ifc;
	uint64_t tsc_hz;

	struct evg_journal *journal;
	struct evg_journal_recovery recovery;
	/* CPUs: evgate's at start (before the EAL pins the main thread),
	 * those of the worker lcores (busy-polling), and those the kernel's
	 * io workers of the journal get ([log] io_cpus); io_cpus_n == 0:
	 * none chosen, the workers keep the journal lcore's CPUs. */
	cpu_set_t start_cpus;
	cpu_set_t poll_cpus;
	cpu_set_t io_cpus;
	unsigned int io_cpus_n;
	/* Written by the journal stage, read by the sequencers. */
	volatile bool storage_failing;

	/* The consumer side ([sub] max_subscribers > 0): its stage, the
	 * DELIVER pool, the groups' commits and their writer thread
	 * (offsets.c). */
	struct evg_sub *sub;
	struct rte_mempool *sub_pool;
	struct evg_sub_commits *commits;
	struct evg_sub_offsets *offsets;
	pthread_t offsets_thread;
	bool offsets_running;
	uint64_t offsets_stored; /* table gen last stored (the thread's) */
	volatile bool offsets_stop;

	unsigned int nb_shards;
	struct evg_seq_table *tables[EVG_STAGES_MAX_SHARDS];
	struct app_node *nodes; /* rx..., seq..., ack, tx */
	unsigned int nb_nodes;
	struct app_edge *edges;
	unsigned int nb_edges;
	struct evg_lcore_plan plans[RTE_MAX_LCORE];
	bool lcore_used[RTE_MAX_LCORE];

	/* Written by the control thread, read by the lcores. */
	volatile bool stop_rx; /* sources stop polling the port */
	volatile bool stop;    /* loops drain and return */

	/* Counter names, built once at start. */
	unsigned int nb_ctr;
	char ctr_name[APP_CTR_MAX][APP_CTR_NAME_LEN];
	unsigned int ctr_stage_base[APP_STAGE_MAX]; /* first stage counter */
	unsigned int ctr_polls_base;		    /* busy, idle per stage */
	unsigned int ctr_edge_base; /* enq, full, dropped, retries per kind */
	unsigned int ctr_port_base;
	unsigned int ctr_log_base; /* the journal's, summed over partitions */
};

/* journal.c: open the log (recovering it) from app->cfg, and put the
 * rebuilt producer states into the sequencer tables; close it. 0 or
 * -errno with err set. */
int app_journal_open(struct app *app, char *err, size_t errlen);
int app_journal_restore(struct app *app, char *err, size_t errlen);
void app_journal_close(struct app *app);

/* offsets.c: open the groups' offsets beside the log and load them into
 * the commits table; start, stop the thread that stores the table.
 * 0 or -errno with err set. */
int app_offsets_open(struct app *app, char *err, size_t errlen);
int app_offsets_start(struct app *app, char *err, size_t errlen);
void app_offsets_close(struct app *app);

/* dataplane.c: check the lcore map against the EAL (before the port
 * starts) and note the worker lcores' CPUs in app->poll_cpus; 0 or
 * -EINVAL with err set. */
int app_dataplane_check(struct app *app, char *err, size_t errlen);
/* dataplane.c: build every stage instance, edge and lcore plan from
 * app->cfg and app->port; undo it. 0 or -errno with err set. */
int app_dataplane_build(struct app *app, char *err, size_t errlen);
void app_dataplane_free(struct app *app);
/* Launch the lcore loops; then stop them: sources first, wait (bounded)
 * for every edge to empty, then drain. */
int app_dataplane_launch(struct app *app);
void app_dataplane_stop(struct app *app);
/* The stage ops of a kind, and its name ("rx", ...). */
const struct evg_stage_ops *app_stage_ops(enum app_stage s);

/* counters.c */
void app_counters_init(struct app *app);
/* Sum counters: of every node and edge (lcore < 0, port included), or of
 * those on one lcore. */
void app_counters_collect(const struct app *app, int lcore,
			  struct app_counters *out);
/* Index of a counter by name, or -1. */
int app_counter_index(const struct app *app, const char *name);
/* True for counters of frames dropped (any stage, edge or the port). */
bool app_counter_is_drop(const struct app *app, unsigned int i);
/* The summary line printed every --stats seconds. */
void app_stats_line(const struct app *app, FILE *f,
		    const struct app_counters *now,
		    const struct app_counters *prev, double seconds);
/* Every non-zero counter, one "name value" a line. */
void app_counters_print(const struct app *app, FILE *f,
			const struct app_counters *c);

/* telemetry.c: register the /evgate/... commands; app must outlive the
 * EAL (the telemetry thread keeps a pointer to it). */
int app_telemetry_register(const struct app *app);

#endif /* EVGATE_APP_H */
