/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * /evgate/... telemetry commands (docs/telemetry.md). They run on DPDK's
 * telemetry thread and only read: counters are summed on demand, exactly
 * as for the --stats line. The one exception, /evgate/fault (testing
 * only), writes the fault stores' atomic arm words, nothing else.
 */
#include <ctype.h>
#include <inttypes.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
	rte_tel_data_add_dict_string(d, "fault_injection",
				     cfg->fault_injection ? "on" : "off");
	return 0;
}

static void
add_ip_port(struct rte_tel_data *d, rte_be32_t ip, rte_be16_t port)
{
	const uint8_t *b = (const uint8_t *)&ip;
	char buf[32];

	snprintf(buf, sizeof(buf), "%u.%u.%u.%u:%u", b[0], b[1], b[2], b[3],
		 rte_be_to_cpu_16(port));
	rte_tel_data_add_dict_string(d, "address", buf);
}

static struct rte_tel_data *
sub_entry(const struct evg_sub_info *in)
{
	struct rte_tel_data *e = rte_tel_data_alloc();
	struct rte_tel_data *st = rte_tel_data_alloc();

	if (e == NULL || st == NULL) {
		rte_tel_data_free(e);
		rte_tel_data_free(st);
		return NULL;
	}
	rte_tel_data_start_dict(e);
	rte_tel_data_add_dict_u64(e, "consumer", in->consumer_id);
	rte_tel_data_add_dict_u64(e, "session", in->session);
	add_ip_port(e, in->ip, in->port);
	rte_tel_data_add_dict_string(e, "group", in->group);
	rte_tel_data_add_dict_string(
		e, "policy",
		in->group[0] != '\0' && evg_evf_sub_policy_name(in->policy)
			? evg_evf_sub_policy_name(in->policy)
			: "");
	rte_tel_data_start_array(st, RTE_TEL_U64_VAL);
	for (uint8_t i = 0; i < in->nb_streams; i++)
		rte_tel_data_add_array_u64(st, in->streams[i]);
	rte_tel_data_add_dict_container(e, "streams", st, 0);
	rte_tel_data_add_dict_u64(e, "sent_dseq", in->next_dseq);
	rte_tel_data_add_dict_u64(e, "received", in->received);
	rte_tel_data_add_dict_u64(e, "processed", in->processed);
	rte_tel_data_add_dict_u64(e, "inflight", in->next_dseq - in->processed);
	rte_tel_data_add_dict_u64(e, "credit_events", in->credit_events);
	rte_tel_data_add_dict_u64(e, "credit_bytes", in->credit_bytes);
	rte_tel_data_add_dict_u64(e, "held_frames", in->held_frames);
	rte_tel_data_add_dict_u64(e, "held_bytes", in->held_bytes);
	rte_tel_data_add_dict_u64(e, "lag", in->lag);
	rte_tel_data_add_dict_u64(e, "events", in->events);
	rte_tel_data_add_dict_u64(e, "frames", in->frames);
	rte_tel_data_add_dict_u64(e, "bytes", in->bytes);
	rte_tel_data_add_dict_u64(e, "frames_resent", in->frames_resent);
	rte_tel_data_add_dict_u64(e, "redelivered", in->redelivered);
	rte_tel_data_add_dict_u64(e, "stalls", in->stalls);
	rte_tel_data_add_dict_u64(e, "age_ms", in->age_ms);
	rte_tel_data_add_dict_u64(e, "idle_ms", in->idle_ms);
	return e;
}

/* Every subscription: "<consumer id>" -> its state and counters. */
static int
cmd_subscribers(const char *cmd __rte_unused, const char *params __rte_unused,
		struct rte_tel_data *d)
{
	unsigned int max = tel_app->cfg.sub_max, n;
	struct evg_sub_info *info;
	char name[24];

	rte_tel_data_start_dict(d);
	if (tel_app->sub == NULL)
		return 0;
	info = calloc(max, sizeof(*info));
	if (info == NULL)
		return -ENOMEM;
	n = RTE_MIN(evg_sub_list(tel_app->sub, info, max), max);
	/* A telemetry dict holds RTE_TEL_MAX_DICT_ENTRIES: the first. */
	for (unsigned int i = 0; i < n && i < RTE_TEL_MAX_DICT_ENTRIES; i++) {
		struct rte_tel_data *e = sub_entry(&info[i]);

		if (e == NULL) {
			free(info);
			return -ENOMEM;
		}
		snprintf(name, sizeof(name), "%" PRIu32, info[i].consumer_id);
		rte_tel_data_add_dict_container(d, name, e, 0);
	}
	free(info);
	return 0;
}

/* "eio", "enospc" or "off", optionally ",N" (N >= 1 operations): the
 * -errno (0 for off) and count (0: until off); -EINVAL otherwise. */
static int
fault_parse(const char *params, int *err, uint32_t *count)
{
	const char *comma = strchr(params, ',');
	size_t len = comma ? (size_t)(comma - params) : strlen(params);
	unsigned long n = 0;
	char *end;

	if (len == 3 && strncmp(params, "eio", 3) == 0)
		*err = -EIO;
	else if (len == 6 && strncmp(params, "enospc", 6) == 0)
		*err = -ENOSPC;
	else if (len == 3 && strncmp(params, "off", 3) == 0 && comma == NULL)
		*err = 0;
	else
		return -EINVAL;
	if (comma != NULL) {
		errno = 0;
		n = strtoul(comma + 1, &end, 10);
		if (!isdigit((unsigned char)comma[1]) || *end != '\0' ||
		    errno != 0 || n == 0 || n > UINT32_MAX)
			return -EINVAL;
	}
	*count = (uint32_t)n;
	return 0;
}

/* The fault state summed over the partitions' stores: the error of the
 * first armed one, operations left (-1: until off), failures so far. */
static void
fault_answer(struct evg_journal *j, struct rte_tel_data *d)
{
	struct evg_store_fault_state s;
	int err = 0;
	int64_t left = 0;
	uint64_t injected = 0;

	for (uint32_t p = 0; p < tel_app->cfg.partitions; p++) {
		if (evg_store_fault_get(evg_journal_store(j, p), &s) < 0)
			continue;
		injected += s.injected;
		if (s.err == 0)
			continue;
		err = err != 0 ? err : s.err;
		left = left < 0 || s.left == 0 ? -1 : left + s.left;
	}
	rte_tel_data_add_dict_string(d, "fault",
				     err == -EIO      ? "eio"
				     : err == -ENOSPC ? "enospc"
				     : err == 0	      ? "off"
						      : "other");
	rte_tel_data_add_dict_int(d, "left",
				  left > INT_MAX ? INT_MAX : (int)left);
	rte_tel_data_add_dict_u64(d, "injected", injected);
	rte_tel_data_add_dict_int(d, "partitions",
				  (int)tel_app->cfg.partitions);
}

/* Arms (or disarms) every partition's store with the same fault, each
 * for N operations of its own; no parameter only answers the state. */
static int
cmd_fault(const char *cmd __rte_unused, const char *params,
	  struct rte_tel_data *d)
{
	struct evg_journal *j = tel_app->journal;
	uint32_t count = 0;
	int err = 0;

	rte_tel_data_start_dict(d);
	if (!tel_app->cfg.fault_injection || j == NULL) {
		rte_tel_data_add_dict_string(
			d, "error",
			"[log] fault_injection = off: the log has no fault "
			"injection (a key for testing only)");
		return 0;
	}
	if (params != NULL && *params != '\0') {
		if (fault_parse(params, &err, &count) < 0) {
			rte_tel_data_add_dict_string(
				d, "error",
				"expected eio, enospc or off, eio and enospc "
				"optionally followed by ,N (N >= 1 "
				"operations)");
			return 0;
		}
		for (uint32_t p = 0; p < tel_app->cfg.partitions; p++)
			if (evg_store_fault_set(evg_journal_store(j, p), err,
						count) < 0)
				return -EINVAL; /* a bug: not a fault store */
	}
	fault_answer(j, d);
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
		{"/evgate/subscribers", cmd_subscribers,
		 "Every subscription: address, group, streams, delivery seqs, "
		 "credit, lag and counters. No parameters"},
		{"/evgate/fault", cmd_fault,
		 "Testing ([log] fault_injection): fail log writes. "
		 "Parameter: eio, enospc, off, eio,N, enospc,N; none: state"},
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
