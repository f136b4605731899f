/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Redis Streams load client for redis_peer.sh: pipelined
 *   XADD <stream> * k <S-byte value>
 * over one TCP connection, at most --pipeline commands in flight, bounded
 * by --count and --seconds. Replies come back in order, so each one
 * completes the oldest command in flight; every command is timed from
 * the write that carried it to its reply (what a producer waits for an
 * ACK). redis-benchmark is not used because it stops only by count and
 * reports no exact p99.9.
 *
 * Prints one JSON object on stdout and a one-line summary on stderr.
 */
#include <arpa/inet.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

#include "peer_util.h"

#define PROG "redis_load"

struct rl_opts {
	unsigned int port;     /* = 6379 */
	const char *stream;    /* = evgpeer */
	unsigned int size;     /* value bytes = 64 */
	unsigned int pipeline; /* commands in flight = 64 */
	uint64_t count;	       /* commands = 2000000 */
	double seconds;	       /* = 3 */
	int cpu;	       /* = -1 (unpinned) */
};

struct rl_ctx {
	struct rl_opts o;
	int sock;
	char *cmd; /* one encoded XADD */
	size_t cmd_len;
	char *out; /* up to pipeline commands */
	char in[1 << 16];
	size_t in_len;
	uint64_t *t_sent; /* ring of pipeline send times */
	uint64_t sent, done;
	uint64_t errors; /* error replies (-ERR ...) */
	uint64_t *lat_ns;
	uint64_t lat_cap, nlat;
	double elapsed_s;
	int ran_on;
};

static int
rl_encode(struct rl_ctx *c)
{
	size_t sl = strlen(c->o.stream);
	size_t cap = 128 + sl + c->o.size;
	int n;

	c->cmd = malloc(cap);
	c->out = malloc(cap * c->o.pipeline);
	c->t_sent = calloc(c->o.pipeline, sizeof(uint64_t));
	c->lat_cap = c->o.count < (1u << 24) ? c->o.count : (1u << 24);
	c->lat_ns = malloc(c->lat_cap * sizeof(uint64_t));
	if (!c->cmd || !c->out || !c->t_sent || !c->lat_ns)
		return -ENOMEM;
	n = snprintf(c->cmd, cap,
		     "*5\r\n$4\r\nXADD\r\n$%zu\r\n%s\r\n$1\r\n*\r\n$1\r\nk\r\n"
		     "$%u\r\n",
		     sl, c->o.stream, c->o.size);
	memset(c->cmd + n, 'v', c->o.size);
	memcpy(c->cmd + n + c->o.size, "\r\n", 2);
	c->cmd_len = (size_t)n + c->o.size + 2;
	return 0;
}

static int
rl_connect(struct rl_ctx *c)
{
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_port = htons((uint16_t)c->o.port),
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	struct timeval tv = {.tv_sec = 5, .tv_usec = 0};
	int one = 1;

	c->sock = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->sock < 0)
		return -errno;
	setsockopt(c->sock, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	/* a server that stops answering ends the run instead of hanging it */
	setsockopt(c->sock, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(c->sock, (struct sockaddr *)&a, sizeof(a)) != 0)
		return -errno;
	return 0;
}

/* Length of the first complete reply in p[0..n), 0 if incomplete, <0 bad. */
static long
rl_reply_len(const char *p, size_t n)
{
	const char *eol = memmem(p, n, "\r\n", 2);
	long body;

	if (eol == NULL)
		return 0;
	if (p[0] == '-' || p[0] == '+' || p[0] == ':')
		return eol + 2 - p;
	if (p[0] != '$')
		return -EPROTO;
	body = strtol(p + 1, NULL, 10);
	if (body < 0)
		return eol + 2 - p; /* nil */
	if ((size_t)(eol + 2 - p) + (size_t)body + 2 > n)
		return 0;
	return (eol + 2 - p) + body + 2;
}

/* Reads what is there (blocking for the first bytes); completes replies. */
static int
rl_read(struct rl_ctx *c)
{
	ssize_t r = read(c->sock, c->in + c->in_len, sizeof(c->in) - c->in_len);
	size_t off = 0;
	uint64_t now = peer_now_ns();

	if (r <= 0)
		return r == 0 ? -ECONNRESET : -errno;
	c->in_len += (size_t)r;
	for (;;) {
		long len = rl_reply_len(c->in + off, c->in_len - off);

		if (len < 0)
			return (int)len;
		if (len == 0)
			break;
		if (c->in[off] == '-')
			c->errors++;
		else if (c->nlat < c->lat_cap)
			c->lat_ns[c->nlat++] =
				now - c->t_sent[c->done % c->o.pipeline];
		c->done++;
		off += (size_t)len;
	}
	memmove(c->in, c->in + off, c->in_len - off);
	c->in_len -= off;
	return 0;
}

static int
rl_send(struct rl_ctx *c, unsigned int n)
{
	size_t len = (size_t)n * c->cmd_len, off = 0;
	uint64_t now = peer_now_ns();

	for (unsigned int i = 0; i < n; i++) {
		memcpy(c->out + (size_t)i * c->cmd_len, c->cmd, c->cmd_len);
		c->t_sent[(c->sent + i) % c->o.pipeline] = now;
	}
	while (off < len) {
		ssize_t w = write(c->sock, c->out + off, len - off);

		if (w < 0)
			return -errno;
		off += (size_t)w;
	}
	c->sent += n;
	return 0;
}


static int
rl_run(struct rl_ctx *c, const sigset_t *sigs)
{
	uint64_t t0 = peer_now_ns();
	uint64_t deadline = t0 + (uint64_t)(c->o.seconds * 1e9);
	unsigned int iter = 0;
	bool stop = false;
	int err = 0;

	while (err == 0 && (c->done < c->sent || !stop)) {
		uint64_t room = c->o.pipeline - (c->sent - c->done);

		if (!stop &&
		    (c->sent >= c->o.count || peer_now_ns() >= deadline ||
		     ((++iter & 15) == 0 && peer_signalled(PROG, sigs))))
			stop = true;
		if (!stop && room > c->o.count - c->sent)
			room = c->o.count - c->sent;
		if (!stop && room > 0)
			err = rl_send(c, (unsigned int)room);
		if (err == 0 && c->done < c->sent)
			err = rl_read(c);
	}
	c->elapsed_s = (double)(peer_now_ns() - t0) * 1e-9;
	c->ran_on = sched_getcpu();
	return err;
}

static void
rl_usage(FILE *f)
{
	fprintf(f,
		"Usage: redis_load --port P [options]\n"
		"Pipelined XADD <stream> * k <value> to redis on 127.0.0.1.\n"
		"  --port P       redis port on 127.0.0.1 (default 6379)\n"
		"  --size S       value bytes, 1..1048576 (default 64)\n"
		"  --pipeline N   commands in flight, 1..65536 (default 64)\n"
		"  --seconds T    sending time, (0, 600] (default 3)\n"
		"  --count C      at most C commands (default 2000000)\n"
		"  --stream NAME  stream key (default evgpeer)\n"
		"  --cpu C        pin the client (default unpinned)\n"
		"Prints one JSON object on stdout, a summary line on "
		"stderr.\n");
}

static int
rl_bad(const char *opt, const char *val, const char *want)
{
	return peer_bad(PROG, opt, val, want);
}

static int
rl_opt(void *arg, int opt, const char *v)
{
	struct rl_opts *o = arg;
	uint64_t x;

	switch (opt) {
	case 'P':
		if (peer_parse_u64(v, 1, 65535, &x))
			return rl_bad("--port", v, "1..65535");
		o->port = (unsigned int)x;
		return 0;
	case 's':
		if (peer_parse_u64(v, 1, 1 << 20, &x))
			return rl_bad("--size", v, "1..1048576");
		o->size = (unsigned int)x;
		return 0;
	case 'p':
		if (peer_parse_u64(v, 1, 65536, &x))
			return rl_bad("--pipeline", v, "1..65536");
		o->pipeline = (unsigned int)x;
		return 0;
	case 't':
		if (peer_parse_seconds(v, &o->seconds))
			return rl_bad("--seconds", v, "a number in (0, 600]");
		return 0;
	case 'c':
		if (peer_parse_u64(v, 1, UINT64_MAX, &o->count))
			return rl_bad("--count", v, "a number >= 1");
		return 0;
	case 'n':
		if (*v == '\0' || strlen(v) > 64)
			return rl_bad("--stream", v, "1..64 characters");
		o->stream = v;
		return 0;
	case 'C':
		if (peer_parse_u64(v, 0, CPU_SETSIZE - 1, &x))
			return rl_bad("--cpu", v, "a CPU number");
		o->cpu = (int)x;
		return 0;
	}
	return -1;
}

/* 0: run; 1: --help printed; -1: bad options (already said why). */
static int
rl_parse(int argc, char **argv, struct rl_opts *o)
{
	static const struct option lo[] = {
		{"port", required_argument, NULL, 'P'},
		{"size", required_argument, NULL, 's'},
		{"pipeline", required_argument, NULL, 'p'},
		{"seconds", required_argument, NULL, 't'},
		{"count", required_argument, NULL, 'c'},
		{"stream", required_argument, NULL, 'n'},
		{"cpu", required_argument, NULL, 'C'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};

	return peer_getopt(PROG, argc, argv, lo, rl_usage, rl_opt, o);
}

static void
rl_report(struct rl_ctx *c, int err)
{
	struct peer_lat l = peer_lat_summary(c->lat_ns, c->nlat);
	uint64_t ok = c->done - c->errors;
	double ev_s = c->elapsed_s > 0 ? (double)ok / c->elapsed_s : 0;

	printf("{\"bench\": \"redis_xadd\", \"port\": %u, \"event_bytes\": %u, "
	       "\"pipeline\": %u,\n \"cpus\": {\"client\": %d, "
	       "\"client_ran_on\": %d, \"online\": %ld},\n"
	       " \"seconds\": %.3f, \"sent\": %llu, \"acked\": %llu, "
	       "\"events_per_s\": %.0f, \"mb_per_s\": %.2f,\n"
	       " \"latency_us\": {\"samples\": %llu, \"p50\": %.1f, \"p99\": "
	       "%.1f, \"p99_9\": %.1f, \"max\": %.1f},\n"
	       " \"counters\": {\"error_replies\": %llu}, \"error\": \"%s\"}\n",
	       c->o.port, c->o.size, c->o.pipeline, c->o.cpu, c->ran_on,
	       sysconf(_SC_NPROCESSORS_ONLN), c->elapsed_s,
	       (unsigned long long)c->sent, (unsigned long long)ok, ev_s,
	       ev_s * c->o.size / 1e6, (unsigned long long)l.n, l.p50_us,
	       l.p99_us, l.p999_us, l.max_us, (unsigned long long)c->errors,
	       err ? strerror(-err) : "none");
	fprintf(stderr,
		"redis XADD: %u B, pipeline %u, %.0f events/s, "
		"latency p50 %.1f p99 %.1f p99.9 %.1f us, errors %llu "
		"(client CPU %d)\n",
		c->o.size, c->o.pipeline, ev_s, l.p50_us, l.p99_us, l.p999_us,
		(unsigned long long)c->errors, c->ran_on);
}

int
main(int argc, char **argv)
{
	struct rl_ctx c = {
		.o = {.port = 6379,
		      .stream = "evgpeer",
		      .size = 64,
		      .pipeline = 64,
		      .count = 2000000,
		      .seconds = 3,
		      .cpu = -1},
		.sock = -1,
	};
	sigset_t sigs;
	int rc = rl_parse(argc, argv, &c.o), err;

	if (rc != 0)
		return rc > 0 ? 0 : 2;
	if (peer_pin(PROG, c.o.cpu) != 0)
		return 2;
	peer_block_signals(&sigs);
	err = rl_encode(&c);
	if (err == 0)
		err = rl_connect(&c);
	if (err != 0) {
		fprintf(stderr, "redis_load: 127.0.0.1:%u: %s\n", c.o.port,
			strerror(-err));
		rc = 1;
	} else {
		err = rl_run(&c, &sigs);
		rl_report(&c, err);
		rc = err != 0 || c.errors != 0 ? 1 : 0;
	}
	if (c.sock >= 0)
		close(c.sock);
	free(c.cmd);
	free(c.out);
	free(c.t_sent);
	free(c.lat_ns);
	return rc;
}
