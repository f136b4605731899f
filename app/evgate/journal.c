/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The log: open and recover it at start, hand the rebuilt sequencing
 * state to the sequencer shards, close it at exit (docs/storage.md).
 */
#include <errno.h>
#include <inttypes.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>

#include <rte_lcore.h>

#include "app.h"

/* Bytes between sparse offset-index entries. */
#define LOG_INDEX_INTERVAL (64u << 10)
/* Store operations in flight at most. */
#define LOG_DEPTH 64u

/* "0-3,6" */
static void
cpus_format(char *buf, size_t len, const cpu_set_t *set)
{
	size_t n = 0;

	buf[0] = '\0';
	for (unsigned int c = 0; c < CPU_SETSIZE && n < len; c++) {
		unsigned int e = c;

		if (!CPU_ISSET(c, set))
			continue;
		while (e + 1 < CPU_SETSIZE && CPU_ISSET(e + 1, set))
			e++;
		n += (size_t)(e > c ? snprintf(buf + n, len - n, "%s%u-%u",
					       n ? "," : "", c, e)
				    : snprintf(buf + n, len - n, "%s%u",
					       n ? "," : "", c));
		c = e;
	}
}

/*
 * The CPUs of the kernel's io workers for the journal's writes: [log]
 * io_cpus, each one evgate may run on; or, empty, evgate's CPUs at start
 * that run no worker lcore. Sharing a busy-polling CPU, the workers (and
 * so every fdatasync) wait for the poller's time slice: a warning then.
 */
static int
choose_io_cpus(struct app *app, char *err, size_t errlen)
{
	const struct evg_cfg_lcores *l = &app->cfg.io_cpus;
	char list[256], allowed[256];
	cpu_set_t shared;

	CPU_ZERO(&app->io_cpus);
	cpus_format(allowed, sizeof(allowed), &app->start_cpus);
	for (unsigned int i = 0; i < l->n; i++) {
		if (!CPU_ISSET(l->id[i], &app->start_cpus)) {
			snprintf(err, errlen,
				 "[log] io_cpus: CPU %u is not one evgate may "
				 "run on (%s)",
				 l->id[i], allowed);
			return -EINVAL;
		}
		CPU_SET(l->id[i], &app->io_cpus);
	}
	if (l->n == 0)
		for (unsigned int c = 0; c < CPU_SETSIZE; c++)
			if (CPU_ISSET(c, &app->start_cpus) &&
			    !CPU_ISSET(c, &app->poll_cpus))
				CPU_SET(c, &app->io_cpus);
	app->io_cpus_n = (unsigned int)CPU_COUNT(&app->io_cpus);
	if (app->cfg.store != EVG_CFG_STORE_URING)
		return 0;
	CPU_AND(&shared, &app->io_cpus, &app->poll_cpus);
	cpus_format(list, sizeof(list), &app->io_cpus);
	if (app->io_cpus_n == 0)
		printf("evgate: warning: every CPU evgate may use (%s) runs a "
		       "worker lcore: the kernel's io workers share them, and "
		       "synced ACKs wait milliseconds for them ([log] io_cpus, "
		       "docs/storage.md)\n",
		       allowed);
	else if (CPU_COUNT(&shared) > 0)
		printf("evgate: warning: [log] io_cpus = %s shares CPUs with "
		       "worker lcores: synced ACKs wait for their time "
		       "slices (docs/storage.md)\n",
		       list);
	else
		printf("evgate: log io workers on CPU(s) %s%s\n", list,
		       l->n == 0 ? " (automatic)" : "");
	return 0;
}

int
app_journal_open(struct app *app, char *err, size_t errlen)
{
	const struct evg_cfg *cfg = &app->cfg;
	/* [log] fault_injection (testing): the same store behind the
	 * wrapper that /evgate/fault arms; off, the wrapper is not there. */
	const char *store =
		cfg->store == EVG_CFG_STORE_URING
			? (cfg->fault_injection ? "fault-uring" : "uring")
			: (cfg->fault_injection ? "fault-psync" : "psync");
	struct evg_journal_conf jc = {
		.dir = cfg->log_dir,
		.store = evg_store_find(store),
		.partitions = cfg->partitions,
		.segment_bytes = (uint64_t)cfg->segment_mb << 20,
		.batch_bytes = cfg->batch_kb << 10,
		.index_interval = LOG_INDEX_INTERVAL,
		.retention_bytes = (uint64_t)cfg->retention_mb << 20,
		.retention_ms = (uint64_t)cfg->retention_hours * 3600000u,
		.level = cfg->ack_level == EVG_CFG_ACK_SYNCED
				 ? EVG_JOURNAL_SYNCED
				 : EVG_JOURNAL_WRITTEN,
		.sync_mode = cfg->sync == EVG_CFG_SYNC_DSYNC
				     ? EVG_JOURNAL_SYNC_DSYNC
				     : EVG_JOURNAL_SYNC_FDATASYNC,
		.depth = LOG_DEPTH,
		.socket_id = (int)rte_socket_id(),
	};
	const struct evg_journal_recovery *r = &app->recovery;
	int rc;

	if (jc.store == NULL) {
		snprintf(err, errlen, "[log] store = %s: not built in", store);
		return -ENOTSUP;
	}
	rc = choose_io_cpus(app, err, errlen);
	if (rc < 0)
		return rc;
	if (app->io_cpus_n > 0)
		jc.io_cpus = &app->io_cpus;
	rc = evg_journal_open(&jc, &app->journal, &app->recovery, err, errlen);
	if (rc < 0)
		return rc;
	printf("evgate: log %s: %u partition(s), %" PRIu64
	       " segment(s), %" PRIu64 " record(s), %" PRIu64
	       " producer state(s); torn tails cut: %" PRIu64 " (%" PRIu64
	       " bytes); recovered in %.3f s\n",
	       cfg->log_dir, cfg->partitions, r->segments, r->records,
	       r->producers, r->torn_tails, r->torn_bytes, r->seconds);
	return 0;
}

struct restore {
	struct app *app;
	int rc;
	uint32_t producer_id, stream_id;
};

static int
restore_one(void *arg, uint32_t producer_id, uint32_t stream_id,
	    uint64_t session, uint64_t next_seq)
{
	struct restore *r = arg;
	struct evg_seq_state st = {.session = session, .next_seq = next_seq};
	unsigned int s =
		evg_seq_shard(producer_id, stream_id, r->app->nb_shards);

	r->rc = evg_seq_table_set(r->app->tables[s], producer_id, stream_id,
				  &st);
	r->producer_id = producer_id;
	r->stream_id = stream_id;
	return r->rc;
}

int
app_journal_restore(struct app *app, char *err, size_t errlen)
{
	struct restore r = {.app = app};

	(void)evg_journal_producers(app->journal, restore_one, &r);
	if (r.rc == -ENOSPC)
		snprintf(err, errlen,
			 "[pipeline] seq_capacity = %u: too small for the "
			 "producers in the log (%" PRIu64 ")",
			 app->cfg.seq_capacity, app->recovery.producers);
	else if (r.rc < 0)
		snprintf(err, errlen,
			 "log: producer %u stream %u: bad state (%s)",
			 r.producer_id, r.stream_id, strerror(-r.rc));
	return r.rc;
}

void
app_journal_close(struct app *app)
{
	int rc;

	if (app->journal == NULL)
		return;
	rc = evg_journal_close(app->journal);
	if (rc < 0)
		fprintf(stderr, "%s: closing the log: %s\n", app->prog,
			strerror(-rc));
	app->journal = NULL;
}
