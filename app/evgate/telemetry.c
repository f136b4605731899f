/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * /evgate/... telemetry commands (docs/telemetry.md). They run on DPDK's
 * telemetry thread and only read: counters are summed on demand, exactly
 * as for the --stats line.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include <rte_ether.h>
#include <rte_telemetry.h>

#include "app.h"
#include "evg_version.h"

/*
 * DPDK 22.11's telemetry callbacks take no user argument, so the context
 * they read is kept here: set once before the first command can arrive,
 * never written again.
 */
static const struct app *tel_app;

/* Fails (a bug) when a name has characters telemetry refuses. */
static int
add_counters(struct rte_tel_data *d, const struct app_counters *c,
	     bool drops_only)
{
	rte_tel_data_start_dict(d);
	for (unsigned int i = 0; i < tel_app->nb_ctr; i++) {
		if (drops_only && !app_counter_is_drop(tel_app, i))
			continue;
		if (rte_tel_data_add_dict_u64(d, tel_app->ctr_name[i],
					      c->v[i]) != 0)
			return -EINVAL;
	}
	return 0;
}

static int
cmd_stats(const char *cmd __rte_unused, const char *params __rte_unused,
	  struct rte_tel_data *d)
{
	struct app_counters c;

	app_counters_collect(tel_app, -1, &c);
	return add_counters(d, &c, false);
}

static int
cmd_drops(const char *cmd __rte_unused, const char *params __rte_unused,
	  struct rte_tel_data *d)
{
	struct app_counters c;

	app_counters_collect(tel_app, -1, &c);
	return add_counters(d, &c, true);
}

static int
cmd_lcores(const char *cmd __rte_unused, const char *params __rte_unused,
	   struct rte_tel_data *d)
{
	rte_tel_data_start_array(d, RTE_TEL_INT_VAL);
	for (unsigned int lc = 0; lc < RTE_MAX_LCORE; lc++)
		if (tel_app->lcore_used[lc])
			rte_tel_data_add_array_int(d, (int)lc);
	return 0;
}

static int
cmd_lcore(const char *cmd __rte_unused, const char *params,
	  struct rte_tel_data *d)
{
	struct app_counters c;
	char *end;
	unsigned long lc;

	if (params == NULL || *params == '\0')
		return -EINVAL;
	lc = strtoul(params, &end, 10);
	if (*end != '\0' || lc >= RTE_MAX_LCORE || !tel_app->lcore_used[lc])
		return -EINVAL;
	app_counters_collect(tel_app, (int)lc, &c);
	return add_counters(d, &c, false);
}

static int
cmd_stages(const char *cmd __rte_unused, const char *params __rte_unused,
	   struct rte_tel_data *d)
{
	unsigned int count[APP_STAGE_MAX] = {0};
	char name[32];

	rte_tel_data_start_dict(d);
	for (unsigned int i = 0; i < tel_app->nb_nodes; i++) {
		const struct app_node *an = &tel_app->nodes[i];
		struct rte_tel_data *n = rte_tel_data_alloc();

		if (n == NULL)
			return -ENOMEM;
		rte_tel_data_start_dict(n);
		rte_tel_data_add_dict_int(n, "lcore", (int)an->lcore);
		rte_tel_data_add_dict_u64(n, "busy_polls",
					  an->node.stats.busy_polls);
		rte_tel_data_add_dict_u64(n, "idle_polls",
					  an->node.stats.idle_polls);
		rte_tel_data_add_dict_u64(n, "items", an->node.stats.items);
		snprintf(name, sizeof(name), "%s%u", an->node.ops->name,
			 count[an->stage]++);
		rte_tel_data_add_dict_container(d, name, n, 0);
	}
	return 0;
}

static int
cmd_seq(const char *cmd __rte_unused, const char *params __rte_unused,
	struct rte_tel_data *d)
{
	char name[32];

	rte_tel_data_start_dict(d);
	rte_tel_data_add_dict_u64(d, "capacity_per_shard",
				  tel_app->cfg.seq_capacity);
	for (unsigned int s = 0; s < tel_app->nb_shards; s++) {
		snprintf(name, sizeof(name), "shard%u_keys", s);
		rte_tel_data_add_dict_u64(
			d, name, evg_seq_table_count(tel_app->tables[s]));
	}
	return 0;
}

static int
cmd_config(const char *cmd __rte_unused, const char *params __rte_unused,
	   struct rte_tel_data *d)
{
	const struct evg_cfg *cfg = &tel_app->cfg;
	char buf[64];

	rte_tel_data_start_dict(d);
	rte_tel_data_add_dict_string(d, "version", EVG_VERSION);
	snprintf(buf, sizeof(buf), "%u.%u.%u.%u/%u",
		 ((const uint8_t *)&cfg->ip)[0], ((const uint8_t *)&cfg->ip)[1],
		 ((const uint8_t *)&cfg->ip)[2], ((const uint8_t *)&cfg->ip)[3],
		 cfg->ip_prefix);
	rte_tel_data_add_dict_string(d, "ip", buf);
	rte_tel_data_add_dict_int(d, "udp_port", cfg->udp_port);
	rte_ether_format_addr(buf, sizeof(buf), &tel_app->ifc.mac);
	rte_tel_data_add_dict_string(d, "mac", buf);
	rte_tel_data_add_dict_int(d, "port", tel_app->port_id);
	rte_tel_data_add_dict_string(d, "driver", tel_app->port.driver);
	rte_tel_data_add_dict_int(d, "rx_queues", tel_app->port.rx_queues);
	rte_tel_data_add_dict_int(d, "rss", tel_app->port.rss);
	rte_tel_data_add_dict_int(d, "seq_shards", (int)tel_app->nb_shards);
	rte_tel_data_add_dict_int(d, "burst", cfg->burst);
	rte_tel_data_add_dict_int(d, "ring_size", (int)cfg->ring_size);
	rte_tel_data_add_dict_string(d, "ring_full",
				     cfg->ring_full == EVG_CFG_RING_FULL_DROP
					     ? "drop"
					     : "backpressure");
	rte_tel_data_add_dict_string(d, "ack",
				     evg_cfg_ack_name(cfg->ack_level));
	rte_tel_data_add_dict_int(d, "nak_rate", (int)cfg->nak_rate);
	rte_tel_data_add_dict_int(d, "nak_burst", (int)cfg->nak_burst);
	rte_tel_data_add_dict_int(d, "allow_rules", (int)cfg->nb_allow);
	rte_tel_data_add_dict_string(d, "log_dir", cfg->log_dir);
	rte_tel_data_add_dict_int(d, "partitions", (int)cfg->partitions);
	rte_tel_data_add_dict_string(
		d, "store",
		cfg->store == EVG_CFG_STORE_URING ? "uring" : "psync");
	rte_tel_data_add_dict_string(
		d, "sync",
		cfg->sync == EVG_CFG_SYNC_DSYNC ? "dsync" : "fdatasync");
	return 0;
}

int
app_telemetry_register(const struct app *app)
{
	static const struct {
		const char *cmd;
		telemetry_cb fn;
		const char *help;
	} cmds[] = {
		{"/evgate/stats", cmd_stats,
		 "Every evgate counter, summed over lcores. No parameters"},
		{"/evgate/drops", cmd_drops,
		 "The counters of dropped frames. No parameters"},
		{"/evgate/lcores", cmd_lcores,
		 "The lcores that run stages. No parameters"},
		{"/evgate/lcore", cmd_lcore,
		 "The counters of one lcore. Parameter: lcore id"},
		{"/evgate/stages", cmd_stages,
		 "Each stage instance: lcore, busy and idle polls, items. "
		 "No parameters"},
		{"/evgate/seq", cmd_seq,
		 "Sequencer keys per shard. No parameters"},
		{"/evgate/config", cmd_config,
		 "The running configuration. No parameters"},
	};
	int rc;

	tel_app = app;
	for (unsigned int i = 0; i < RTE_DIM(cmds); i++) {
		rc = rte_telemetry_register_cmd(cmds[i].cmd, cmds[i].fn,
						cmds[i].help);
		if (rc < 0)
			return rc;
	}
	return 0;
}
