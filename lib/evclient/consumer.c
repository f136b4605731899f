/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libevclient's consumer: opening a handle (options, socket, buffers), its
 * getters, and the blocking calls built on the non-blocking core of
 * consumer_proto.c.
 */
#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "cl_sock.h"
#include "consumer_priv.h"

static const char *const stat_names[EVG_CONSUMER_STAT_MAX] = {
#define NAME_(name, desc) [EVG_CONSUMER_STAT_##name] = #name,
	EVG_CONSUMER_STATS_FOREACH(NAME_)
#undef NAME_
};

_Static_assert((int)EVG_CONSUMER_ROUND_ROBIN ==
			       (int)EVG_EVF_SUB_POLICY_ROUND_ROBIN &&
		       (int)EVG_CONSUMER_KEY_HASH ==
			       (int)EVG_EVF_SUB_POLICY_KEY_HASH &&
		       (int)EVG_CONSUMER_TIME == (int)EVG_EVF_SUB_TIME,
	       "the API's codes are the protocol's");
_Static_assert(sizeof(struct evg_consumer_stats) ==
		       EVG_CONSUMER_STAT_MAX * sizeof(uint64_t),
	       "one counter per name");

void
evg_consumer_opts_init(struct evg_consumer_opts *o)
{
	*o = (struct evg_consumer_opts){
		.policy = EVG_CONSUMER_POLICY_DEFAULT,
		.weight = 1,
		.start = EVG_CONSUMER_END,
		.credit_events = 4096,
		.credit_bytes = 4u << 20,
		.auto_commit_ms = 1000,
		.retry_ms = 200,
		.rcvbuf_bytes = 4u << 20,
	};
}

int
evg_consumer_policy_from_name(const char *name)
{
	return evg_evf_sub_policy_from_name(name);
}

const char *
evg_consumer_policy_name(int policy)
{
	return policy <= 0 ? NULL
			   : evg_evf_sub_policy_name((unsigned int)policy);
}

static int
check_opts(const struct evg_consumer_opts *o)
{
	if ((unsigned int)o->start >= EVG_EVF_SUB_START_MAX || o->policy < 0 ||
	    o->policy >= EVG_EVF_SUB_POLICY_MAX ||
	    o->weight > EVG_EVF_SUB_MAX_WEIGHT || o->credit_events == 0 ||
	    o->credit_bytes == 0 || o->retry_ms == 0 ||
	    o->retry_ms > INT_MAX / 2)
		return -EINVAL;
	if (o->group != NULL && !evg_evf_sub_group_valid(o->group))
		return -EINVAL;
	return 0;
}

static int
check_streams(const struct evg_consumer_stream *s, unsigned int n)
{
	if (s == NULL || n == 0 || n > EVG_EVF_SUB_MAX_STREAMS)
		return -EINVAL;
	for (unsigned int i = 0; i < n; i++)
		for (unsigned int k = 0; k < i; k++)
			if (s[k].stream_id == s[i].stream_id)
				return -EINVAL;
	return 0;
}

/* The arena holds what the credit lets evgate send beyond processed:
 * credit_bytes, and the frame overhead of credit_events one-record
 * frames, plus the room a wrap can waste. */
static int
alloc_buffers(struct evg_consumer *c)
{
	uint64_t bytes = c->o.credit_bytes == EVG_EVF_SUB_NO_BYTE_LIMIT
				 ? CS_ARENA_NO_LIMIT
				 : c->o.credit_bytes;
	uint64_t desc;

	bytes += (uint64_t)c->o.credit_events * CS_FRAME_OVERHEAD;
	if (bytes < CS_ARENA_MIN)
		bytes = CS_ARENA_MIN;
	if (bytes > CS_ARENA_MAX)
		bytes = CS_ARENA_MAX;
	bytes += 2u * CS_SLOT_LEN;
	/* Every frame holds >= 1 event, so the credit bounds the frames
	 * held; the smallest frame bounds what fits in the arena. */
	desc = (uint64_t)c->o.credit_events + CS_RX_MAX;
	if (desc > bytes / CS_FRAME_OVERHEAD)
		desc = bytes / CS_FRAME_OVERHEAD;
	c->arena_cap = (size_t)bytes;
	c->nb_desc = (uint32_t)desc;
	c->arena = malloc(c->arena_cap);
	c->frames = calloc(c->nb_desc, sizeof(*c->frames));
	c->scratch = malloc((size_t)CS_RX_BATCH * CS_SLOT_LEN);
	if (c->arena == NULL || c->frames == NULL || c->scratch == NULL)
		return -ENOMEM;
	return 0;
}

static void
free_consumer(struct evg_consumer *c)
{
	if (c->fd >= 0)
		close(c->fd);
	cs_free_joins(c);
	free(c->arena);
	free(c->frames);
	free(c->scratch);
	free(c);
}

static int
setup(struct evg_consumer *c, uint32_t consumer_id, const char *server,
      const struct evg_consumer_stream *streams, unsigned int nb_streams)
{
	int rc = check_opts(&c->o);

	if (rc == 0)
		rc = check_streams(streams, nb_streams);
	if (rc < 0)
		return rc;
	if (c->o.group != NULL)
		snprintf(c->group, sizeof(c->group), "%s", c->o.group);
	c->o.group = NULL; /* not the caller's memory past open */
	memcpy(c->streams, streams, nb_streams * sizeof(*streams));
	c->nb_streams = nb_streams;
	c->consumer_id = consumer_id;
	c->session = c->o.session != 0 ? c->o.session : cl_realtime_ns();
	rc = cl_connect_server(server, &c->fd);
	if (rc < 0)
		return rc;
	if (c->o.rcvbuf_bytes != 0) {
		int v = c->o.rcvbuf_bytes > INT_MAX ? INT_MAX
						    : (int)c->o.rcvbuf_bytes;

		setsockopt(c->fd, SOL_SOCKET, SO_RCVBUF, &v, sizeof(v));
	}
	return alloc_buffers(c);
}

int
evg_consumer_open(struct evg_consumer **out, uint32_t consumer_id,
		  const char *server, const struct evg_consumer_stream *streams,
		  unsigned int nb_streams, const struct evg_consumer_opts *opts)
{
	struct evg_consumer *c;
	int rc;

	if (out == NULL || server == NULL || consumer_id == 0)
		return -EINVAL;
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return -ENOMEM;
	c->fd = -1;
	if (opts != NULL)
		c->o = *opts;
	else
		evg_consumer_opts_init(&c->o);
	rc = setup(c, consumer_id, server, streams, nb_streams);
	if (rc < 0) {
		free_consumer(c);
		return rc;
	}
	cs_send_subscribe(c, cs_now());
	if (c->err != 0) {
		rc = c->err;
		free_consumer(c);
		return rc;
	}
	*out = c;
	return 0;
}

/* ---- getters ---------------------------------------------------------- */

unsigned int
evg_consumer_positions(const struct evg_consumer *c,
		       struct evg_consumer_position *pos, unsigned int max)
{
	unsigned int n = 0;

	if (c->epoch == 0)
		return 0;
	for (unsigned int i = 0; i < c->nb_streams && n < max; i++)
		if (c->have_pos[i])
			pos[n++] = c->pos[i];
	return n;
}

int
evg_consumer_resumed(const struct evg_consumer *c)
{
	return c->epoch != 0 && (c->sflags & EVG_EVF_SUB_F_RESUMED) != 0;
}

unsigned int
evg_consumer_members(const struct evg_consumer *c)
{
	return c->members;
}

int
evg_consumer_committed(const struct evg_consumer *c, uint32_t stream_id,
		       uint64_t *offset)
{
	int idx = cs_stream_index(c, stream_id);

	if (idx < 0 || !c->committed[idx].valid)
		return -ENOENT;
	*offset = c->committed[idx].offset;
	return 0;
}

int
evg_consumer_fd(const struct evg_consumer *c)
{
	return c->fd;
}

unsigned int
evg_consumer_pending(const struct evg_consumer *c)
{
	return c->pending > UINT_MAX ? UINT_MAX : (unsigned int)c->pending;
}

void
evg_consumer_stats(const struct evg_consumer *c, struct evg_consumer_stats *s)
{
	*s = c->st;
}

const char *
evg_consumer_stat_name(enum evg_consumer_stat s)
{
	if ((unsigned int)s >= EVG_CONSUMER_STAT_MAX)
		return NULL;
	return stat_names[s];
}

const char *
evg_consumer_errmsg(const struct evg_consumer *c)
{
	return c->err != 0 ? c->errmsg : "";
}

uint64_t
evg_consumer_session(const struct evg_consumer *c)
{
	return c->session;
}

/* ---- blocking calls --------------------------------------------------- */

static uint64_t
deadline_of(int timeout_ms)
{
	if (timeout_ms < 0)
		return UINT64_MAX;
	return cs_now() + (uint64_t)timeout_ms * CS_NS_PER_MS;
}

/* Wait for a frame or the next timer, not past the deadline, then run
 * the protocol. 0, -ETIMEDOUT once the deadline has passed, -EINTR, or
 * the sticky error. */
static int
wait_once(struct evg_consumer *c, uint64_t deadline)
{
	uint64_t now = cs_now();
	struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
	int t, rc;

	if (now >= deadline)
		return -ETIMEDOUT;
	t = evg_consumer_next_timeout_ms(c, now);
	if (deadline != UINT64_MAX) {
		uint64_t left =
			(deadline - now + CS_NS_PER_MS - 1) / CS_NS_PER_MS;

		if (t < 0 || (uint64_t)t > left)
			t = left > INT_MAX ? INT_MAX : (int)left;
	}
	if (poll(&pfd, 1, t) < 0) {
		if (errno == EINTR)
			return -EINTR;
		return cs_fail(c, -errno, "poll failed: %s", strerror(errno));
	}
	rc = evg_consumer_process(c, cs_now());
	return rc < 0 ? rc : 0;
}

int
evg_consumer_wait_subscribed(struct evg_consumer *c, int timeout_ms)
{
	uint64_t deadline = deadline_of(timeout_ms);
	int rc = evg_consumer_process(c, cs_now());

	while (rc >= 0 && !c->subscribed)
		rc = wait_once(c, deadline);
	if (rc == -ETIMEDOUT && c->busy_reason != 0)
		return -EBUSY;
	return rc < 0 ? rc : 0;
}

/* The previous events are processed; run the protocol, then wait until
 * an event is buffered. 1 with events, 0 on the timeout, or an error. */
static int
wait_events(struct evg_consumer *c, int timeout_ms)
{
	uint64_t deadline = deadline_of(timeout_ms);
	int rc;

	cs_mark_processed(c);
	rc = evg_consumer_process(c, cs_now());
	while (rc >= 0 && c->pending == 0)
		rc = wait_once(c, deadline);
	if (rc == -ETIMEDOUT)
		return 0;
	return rc < 0 ? rc : 1;
}

int
evg_consumer_poll(struct evg_consumer *c, struct evg_consumer_event *evs,
		  unsigned int max, int timeout_ms)
{
	unsigned int n = 0;
	int rc;

	if (max == 0) {
		cs_mark_processed(c);
		return evg_consumer_process(c, cs_now()) < 0 ? c->err : 0;
	}
	rc = wait_events(c, timeout_ms);
	if (rc <= 0)
		return rc;
	while (n < max && n < INT_MAX && cs_take(c, &evs[n]))
		n++;
	return (int)n;
}

int
evg_consumer_dispatch(struct evg_consumer *c, evg_consumer_event_cb fn,
		      void *arg, unsigned int max, int timeout_ms)
{
	struct evg_consumer_event ev;
	unsigned int n = 0;
	int rc = wait_events(c, max == 0 ? 0 : timeout_ms);

	if (rc <= 0)
		return rc;
	while (n < max && n < INT_MAX && cs_take(c, &ev)) {
		n++;
		if (fn(arg, &ev) != 0)
			break;
	}
	return (int)n;
}

int
evg_consumer_commit(struct evg_consumer *c, int timeout_ms)
{
	uint64_t deadline = deadline_of(timeout_ms);
	uint64_t seen;
	int rc;

	if (c->err != 0)
		return c->err;
	if (c->group[0] == '\0')
		return -ENOTSUP;
	cs_mark_processed(c);
	cs_ask_commit(c);
	seen = c->st.committed;
	rc = evg_consumer_process(c, cs_now());
	/* Done when a COMMITTED that came after the request covers it. */
	while (rc >= 0 && (c->commit_pending || c->st.committed == seen))
		rc = wait_once(c, deadline);
	return rc < 0 ? rc : 0;
}

void
evg_consumer_close(struct evg_consumer *c, int timeout_ms)
{
	if (c == NULL)
		return;
	cs_mark_processed(c);
	/* Nothing to commit when the last COMMITTED covers it already. */
	if (c->err == 0 && c->subscribed && c->group[0] != '\0' &&
	    (c->commit_pending || !c->have_committed ||
	     c->committed_epoch != c->epoch || c->committed_seq < c->processed))
		evg_consumer_commit(c, timeout_ms);
	if (c->err == 0 && c->subscribed)
		cs_send_unsubscribe(c);
	free_consumer(c);
}
