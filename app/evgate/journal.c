/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The log: open and recover it at start, hand the rebuilt sequencing
 * state to the sequencer shards, close it at exit (docs/storage.md).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <rte_lcore.h>

#include "app.h"

/* Bytes between sparse offset-index entries. */
#define LOG_INDEX_INTERVAL (64u << 10)
/* Store operations in flight at most. */
#define LOG_DEPTH 64u

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
