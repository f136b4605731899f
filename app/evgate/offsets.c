/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The consumer groups' offsets: loaded from the log directory at start
 * into the commits table the subscriber stage writes, and stored by a
 * control thread of their own whenever the table changes (each store is
 * a write and an fdatasync, off the data-path lcores; storage.md,
 * "Consumer offsets"). A commit is acknowledged (COMMITTED) only once the
 * generation that holds it is durable.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_cycles.h>
#include <rte_lcore.h>
#include <rte_malloc.h>

#include "app.h"

/* How often the thread looks for a new generation. */
#define OFFSETS_POLL_US 500u

int
app_offsets_open(struct app *app, char *err, size_t errlen)
{
	struct evg_sub_offsets_info info;
	int rc;

	if (app->cfg.sub_max == 0)
		return 0;
	app->commits = rte_zmalloc("evg_commits", sizeof(*app->commits),
				   RTE_CACHE_LINE_SIZE);
	if (app->commits == NULL) {
		snprintf(err, errlen, "consumer offsets: out of memory");
		return -ENOMEM;
	}
	err[0] = '\0';
	rc = evg_sub_offsets_open(app->cfg.log_dir, &app->offsets, &info, err,
				  errlen);
	if (rc < 0)
		return rc;
	/* A slot that was not valid: the note says which and why. */
	if (err[0] != '\0')
		fprintf(stderr, "%s: warning: %s\n", app->prog, err);
	err[0] = '\0';
	evg_sub_commits_load(app->commits, app->offsets);
	app->offsets_stored = app->commits->gen;
	printf("evgate: consumer offsets: %" PRIu32
	       " commit point(s), generation %" PRIu64 "\n",
	       info.count, info.gen);
	return 0;
}

/* Store the table whenever its generation moves; the stage reads
 * durable_gen to answer COMMITTED. */
static void *
offsets_thread(void *arg)
{
	struct app *app = arg;
	struct evg_sub_offset *e = malloc(sizeof(*e) * EVG_SUB_OFFSETS_MAX);
	int last_err = 0;

	if (e == NULL)
		return NULL;
	while (!app->offsets_stop) {
		uint32_t n;
		uint64_t gen = evg_sub_commits_snapshot(app->commits, e, &n);
		int rc;

		if (gen == app->offsets_stored) {
			rte_delay_us_sleep(OFFSETS_POLL_US);
			continue;
		}
		rc = evg_sub_offsets_store(app->offsets, e, n);
		evg_sub_commits_stored(app->commits, gen, rc);
		if (rc == 0)
			app->offsets_stored = gen;
		else
			rte_delay_us_sleep(10 * 1000); /* retried; COMMITTED
							* waits */
		if (rc != last_err)
			fprintf(stderr, "%s: consumer offsets: %s%s\n",
				app->prog,
				rc == 0 ? "stored again" : "store failed: ",
				rc == 0 ? "" : strerror(-rc));
		last_err = rc;
	}
	free(e);
	return NULL;
}

int
app_offsets_start(struct app *app, char *err, size_t errlen)
{
	int rc;

	if (app->offsets == NULL)
		return 0;
	rc = rte_ctrl_thread_create(&app->offsets_thread, "evg-offsets", NULL,
				    offsets_thread, app);
	if (rc != 0) {
		snprintf(err, errlen, "consumer offsets: thread: %s",
			 strerror(rc));
		return -rc;
	}
	app->offsets_running = true;
	return 0;
}

/* After the lcores stopped: the last commits are stored, then closed. */
void
app_offsets_close(struct app *app)
{
	if (app->offsets_running) {
		app->offsets_stop = true;
		pthread_join(app->offsets_thread, NULL);
		app->offsets_running = false;
	}
	if (app->offsets != NULL && app->commits != NULL) {
		struct evg_sub_offset *e =
			malloc(sizeof(*e) * EVG_SUB_OFFSETS_MAX);
		uint32_t n;

		if (e == NULL ||
		    (evg_sub_commits_snapshot(app->commits, e, &n) !=
			     app->offsets_stored &&
		     evg_sub_offsets_store(app->offsets, e, n) != 0))
			fprintf(stderr,
				"%s: consumer offsets: the last commits could "
				"not be stored\n",
				app->prog);
		free(e);
	}
	evg_sub_offsets_close(app->offsets);
	app->offsets = NULL;
	rte_free(app->commits);
	app->commits = NULL;
}
