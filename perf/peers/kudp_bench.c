/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Kernel-socket baseline for evgate: what plain Linux sockets and a file
 * do with the same frames and the same durability.
 *
 *   sender thread --UDP loopback--> sink thread: recvmmsg (batch 64)
 *        ^                                |  pwritev the batch to a file
 *        |                                |  (+ fdatasync in mode fdatasync)
 *        +------------- 40-byte ACK ------+  one cumulative ACK per batch
 *
 * Datagrams have EVF/1 DATA sizes, 40 + N * (16 + align8(S)) bytes, and
 * carry a datagram sequence number where EVF carries seq (offset 24); the
 * ACK carries the next expected sequence number, as an EVF ACK does. The
 * sender keeps at most --window datagrams unacknowledged and times each
 * one from its send to the first ACK that covers it.
 *
 * Both threads are pinned (sched_setaffinity) to --send-cpu and
 * --sink-cpu. The file is created in --dir and unlinked at once, so
 * nothing is left behind however the run ends; it is started again
 * (ftruncate, counted as a roll) before it would pass --file-mb.
 *
 * Prints one JSON object on stdout and a one-line summary on stderr.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "peer_util.h"

#define KUDP_HDR 40u
#define KUDP_SEQ_OFF 24u
#define KUDP_MAX_FRAME 65507u
#define KUDP_BATCH_MAX 64u
#define KUDP_SEND_BURST 32u

enum kudp_mode { KUDP_WRITE, KUDP_FDATASYNC };

struct kudp_opts {
	unsigned int events; /* events per datagram = 8 */
	unsigned int size;   /* event payload bytes = 64 */
	unsigned int batch;  /* recvmmsg batch = 64 */
	unsigned int window; /* unacked datagrams = 256 */
	uint64_t count;	     /* datagrams to send = 10000000 */
	double seconds;	     /* sending time = 3 */
	uint64_t file_bytes; /* file size before a roll = 1 GiB */
	enum kudp_mode mode; /* = write */
	const char *dir;     /* = . */
	int send_cpu;	     /* = 0 */
	int sink_cpu;	     /* = last online CPU */
};

/* Receiver counters; the ones that lose or refuse data say so by name. */
struct kudp_sink_stats {
	uint64_t datagrams;
	uint64_t bytes;
	uint64_t batches;
	uint64_t syncs;
	uint64_t rolls;
	uint64_t rx_bad_size;	  /* dropped: not the expected frame size */
	uint64_t ack_send_errors; /* ACK not sent (socket full or error) */
	int io_error;		  /* first -errno of write/fdatasync */
	int ran_on;
};

struct kudp_send_stats {
	uint64_t sent;
	uint64_t acked;
	uint64_t send_retries; /* sendmmsg refused (ENOBUFS/EAGAIN) */
	uint64_t acks_bad;     /* ACKs out of range, ignored */
	uint64_t nlat;
	uint64_t lat_cap;
	uint64_t *lat_ns; /* one per acknowledged datagram, up to lat_cap */
	double elapsed_s;
	int ran_on;
};

struct kudp_ctx {
	struct kudp_opts o;
	unsigned int frame;
	int sink_sock;
	int send_sock;
	int file;
	atomic_bool stop; /* set by a signal or at the end */
	atomic_bool send_done;
	struct kudp_sink_stats rx;
	struct kudp_send_stats tx;
};

static void
kudp_pin(int cpu, const char *who)
{
	cpu_set_t set;

	if (cpu < 0)
		return;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set) != 0)
		fprintf(stderr, "kudp_bench: %s: cannot pin to CPU %d: %s\n",
			who, cpu, strerror(errno));
}

static int
kudp_roll_or_write(struct kudp_ctx *c, struct iovec *iov, int n, size_t len,
		   uint64_t *off)
{
	ssize_t w;

	if (*off + len > c->o.file_bytes) {
		if (ftruncate(c->file, 0) != 0)
			return -errno;
		*off = 0;
		c->rx.rolls++;
	}
	w = pwritev(c->file, iov, n, (off_t)*off);
	if (w < 0)
		return -errno;
	if ((size_t)w != len)
		return -EIO;
	*off += len;
	if (c->o.mode == KUDP_FDATASYNC) {
		if (fdatasync(c->file) != 0)
			return -errno;
		c->rx.syncs++;
	}
	return 0;
}

static void
kudp_sink_ack(struct kudp_ctx *c, uint64_t next, const struct sockaddr_in *to)
{
	uint8_t ack[KUDP_HDR] = {0};

	ack[4] = 2; /* EVF type ACK */
	peer_store_le64(ack + KUDP_SEQ_OFF, next);
	if (sendto(c->sink_sock, ack, sizeof(ack), MSG_DONTWAIT,
		   (const struct sockaddr *)to, sizeof(*to)) != sizeof(ack))
		c->rx.ack_send_errors++;
}

struct kudp_rxbuf {
	struct mmsghdr msgs[KUDP_BATCH_MAX];
	struct iovec iov[KUDP_BATCH_MAX];
	struct iovec out[KUDP_BATCH_MAX];
	struct sockaddr_in from[KUDP_BATCH_MAX];
	uint8_t *data;
};

static void
kudp_rx_reset(struct kudp_ctx *c, struct kudp_rxbuf *b)
{
	for (unsigned int i = 0; i < c->o.batch; i++) {
		b->iov[i].iov_base = b->data + (size_t)i * c->frame;
		b->iov[i].iov_len = c->frame;
		memset(&b->msgs[i].msg_hdr, 0, sizeof(b->msgs[i].msg_hdr));
		b->msgs[i].msg_hdr.msg_iov = &b->iov[i];
		b->msgs[i].msg_hdr.msg_iovlen = 1;
		b->msgs[i].msg_hdr.msg_name = &b->from[i];
		b->msgs[i].msg_hdr.msg_namelen = sizeof(b->from[i]);
	}
}

static void *
kudp_sink_run(void *arg)
{
	struct kudp_ctx *c = arg;
	struct kudp_rxbuf b;
	uint64_t off = 0, next = 0;

	kudp_pin(c->o.sink_cpu, "sink");
	b.data = malloc((size_t)c->frame * c->o.batch);
	if (b.data == NULL) {
		c->rx.io_error = -ENOMEM;
		return NULL;
	}
	while (!atomic_load(&c->stop)) {
		size_t len = 0;
		int k = 0, n;

		kudp_rx_reset(c, &b);
		/* SO_RCVTIMEO bounds the wait, so stop is seen */
		n = recvmmsg(c->sink_sock, b.msgs, c->o.batch, MSG_WAITFORONE,
			     NULL);
		if (n <= 0)
			continue;
		for (int i = 0; i < n; i++) {
			uint64_t seq;

			if (b.msgs[i].msg_len != c->frame) {
				c->rx.rx_bad_size++;
				continue;
			}
			seq = peer_load_le64((uint8_t *)b.iov[i].iov_base +
					     KUDP_SEQ_OFF);
			if (seq + 1 > next)
				next = seq + 1;
			b.out[k++] = b.iov[i];
			len += c->frame;
		}
		if (k == 0)
			continue;
		c->rx.io_error = kudp_roll_or_write(c, b.out, k, len, &off);
		if (c->rx.io_error != 0)
			break;
		c->rx.datagrams += (uint64_t)k;
		c->rx.bytes += len;
		c->rx.batches++;
		kudp_sink_ack(c, next, &b.from[n - 1]);
	}
	c->rx.ran_on = sched_getcpu();
	free(b.data);
	return NULL;
}

/* Takes every ACK waiting (after up to wait_ms for the first). */
static void
kudp_send_reap(struct kudp_ctx *c, uint64_t *t_send, int wait_ms)
{
	struct kudp_send_stats *s = &c->tx;
	uint8_t ack[KUDP_HDR];
	struct pollfd pfd = {.fd = c->send_sock, .events = POLLIN};

	if (wait_ms > 0 && poll(&pfd, 1, wait_ms) <= 0)
		return;
	for (;;) {
		ssize_t r = recv(c->send_sock, ack, sizeof(ack), MSG_DONTWAIT);
		uint64_t next, now;

		if (r < 0)
			return;
		next = peer_load_le64(ack + KUDP_SEQ_OFF);
		if (r != sizeof(ack) || next > s->sent) {
			s->acks_bad++;
			continue;
		}
		now = peer_now_ns();
		for (; s->acked < next; s->acked++)
			if (s->nlat < s->lat_cap)
				s->lat_ns[s->nlat++] =
					now - t_send[s->acked % c->o.window];
	}
}

static int
kudp_send_burst(struct kudp_ctx *c, uint8_t *bufs, uint64_t *t_send,
		unsigned int n)
{
	struct mmsghdr m[KUDP_SEND_BURST];
	struct iovec iov[KUDP_SEND_BURST];
	uint64_t now = peer_now_ns();
	int r;

	memset(m, 0, sizeof(m));
	for (unsigned int i = 0; i < n; i++) {
		uint64_t seq = c->tx.sent + i;

		iov[i].iov_base = bufs + (size_t)i * c->frame;
		iov[i].iov_len = c->frame;
		peer_store_le64((uint8_t *)iov[i].iov_base + KUDP_SEQ_OFF, seq);
		m[i].msg_hdr.msg_iov = &iov[i];
		m[i].msg_hdr.msg_iovlen = 1;
		t_send[seq % c->o.window] = now;
	}
	r = sendmmsg(c->send_sock, m, n, 0);
	if (r < 0) {
		if (errno != ENOBUFS && errno != EAGAIN && errno != EINTR)
			return -errno;
		r = 0;
	}
	if ((unsigned int)r < n)
		c->tx.send_retries++;
	c->tx.sent += (uint64_t)r;
	return 0;
}

static void *
kudp_send_run(void *arg)
{
	struct kudp_ctx *c = arg;
	struct kudp_send_stats *s = &c->tx;
	uint64_t *t_send = calloc(c->o.window, sizeof(*t_send));
	uint8_t *bufs = calloc(KUDP_SEND_BURST, c->frame);
	uint64_t t0, deadline, drain_end;

	kudp_pin(c->o.send_cpu, "sender");
	if (t_send == NULL || bufs == NULL)
		goto out;
	for (unsigned int i = 0; i < KUDP_SEND_BURST; i++) {
		uint8_t *f = bufs + (size_t)i * c->frame;

		memset(f, 0xa5, c->frame);
		memcpy(f, "EVF1", 4);
		f[4] = 1; /* DATA */
		f[6] = (uint8_t)c->o.events;
		f[7] = (uint8_t)(c->o.events >> 8);
	}
	t0 = peer_now_ns();
	deadline = t0 + (uint64_t)(c->o.seconds * 1e9);
	while (s->sent < c->o.count && !atomic_load(&c->stop) &&
	       peer_now_ns() < deadline) {
		uint64_t room = c->o.window - (s->sent - s->acked);
		uint64_t n = room < KUDP_SEND_BURST ? room : KUDP_SEND_BURST;

		if (n > c->o.count - s->sent)
			n = c->o.count - s->sent;
		if (n > 0 && kudp_send_burst(c, bufs, t_send, (unsigned int)n))
			break;
		kudp_send_reap(c, t_send, room == 0 ? 10 : 0);
	}
	/* the last ACKs: at most one second */
	drain_end = peer_now_ns() + 1000000000ull;
	while (s->acked < s->sent && !atomic_load(&c->stop) &&
	       peer_now_ns() < drain_end)
		kudp_send_reap(c, t_send, 10);
	s->elapsed_s = (double)(peer_now_ns() - t0) * 1e-9;
out:
	s->ran_on = sched_getcpu();
	free(t_send);
	free(bufs);
	atomic_store(&c->send_done, true);
	return NULL;
}

static int
kudp_sockets(struct kudp_ctx *c)
{
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t alen = sizeof(a);
	struct timeval tv = {.tv_sec = 0, .tv_usec = 50000};
	int buf = 8 << 20;

	c->sink_sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	c->send_sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (c->sink_sock < 0 || c->send_sock < 0)
		return -errno;
	/* FORCE passes rmem_max as root; the plain call is the fallback */
	if (setsockopt(c->sink_sock, SOL_SOCKET, SO_RCVBUFFORCE, &buf,
		       sizeof(buf)) != 0)
		setsockopt(c->sink_sock, SOL_SOCKET, SO_RCVBUF, &buf,
			   sizeof(buf));
	setsockopt(c->sink_sock, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (bind(c->sink_sock, (struct sockaddr *)&a, sizeof(a)) != 0 ||
	    getsockname(c->sink_sock, (struct sockaddr *)&a, &alen) != 0 ||
	    connect(c->send_sock, (struct sockaddr *)&a, sizeof(a)) != 0)
		return -errno;
	return 0;
}

static int
kudp_file(struct kudp_ctx *c)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/kudp_bench.%ld.tmp", c->o.dir,
		 (long)getpid());
	c->file = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (c->file < 0)
		return -errno;
	/* nameless from now on: nothing to clean up however we end */
	unlink(path);
	return 0;
}

static void
kudp_usage(FILE *f)
{
	fprintf(f,
		"Usage: kudp_bench [options]\n"
		"Kernel-socket baseline: UDP loopback -> recvmmsg -> file, "
		"ACK per batch.\n"
		"  --mode write|fdatasync  write() per batch, or write() + "
		"fdatasync() (default write)\n"
		"  --events N     events per datagram, 1..1024 (default 8)\n"
		"  --size S       event bytes, 0..65000 (default 64); datagram "
		"= "
		"40 + N*(16+align8(S))\n"
		"  --seconds T    sending time, (0, 600] (default 3)\n"
		"  --count C      at most C datagrams (default 10000000)\n"
		"  --window W     unacknowledged datagrams, 1..65536 (default "
		"256)\n"
		"  --batch B      recvmmsg batch, 1..64 (default 64)\n"
		"  --dir D        directory of the (unlinked) file (default "
		".)\n"
		"  --file-mb M    file size before it starts again (default "
		"1024)\n"
		"  --send-cpu C   CPU of the sender (default 0; -1 unpinned)\n"
		"  --sink-cpu C   CPU of the receiver (default: last online)\n"
		"Prints one JSON object on stdout, a summary line on "
		"stderr.\n");
}

static int
kudp_bad(const char *opt, const char *val, const char *want)
{
	fprintf(stderr, "kudp_bench: %s '%s': expected %s\n", opt, val, want);
	return -EINVAL;
}

static int
kudp_parse_cpu(const char *opt, const char *val, int *cpu)
{
	uint64_t v;

	if (strcmp(val, "-1") == 0) {
		*cpu = -1;
		return 0;
	}
	if (peer_parse_u64(val, 0, CPU_SETSIZE - 1, &v) != 0)
		return kudp_bad(opt, val, "a CPU number or -1");
	*cpu = (int)v;
	return 0;
}

static int
kudp_opt(struct kudp_opts *o, int opt, const char *v)
{
	uint64_t x;

	switch (opt) {
	case 'm':
		if (strcmp(v, "write") == 0)
			o->mode = KUDP_WRITE;
		else if (strcmp(v, "fdatasync") == 0)
			o->mode = KUDP_FDATASYNC;
		else
			return kudp_bad("--mode", v, "write or fdatasync");
		return 0;
	case 'e':
		if (peer_parse_u64(v, 1, 1024, &x))
			return kudp_bad("--events", v, "1..1024");
		o->events = (unsigned int)x;
		return 0;
	case 's':
		if (peer_parse_u64(v, 0, 65000, &x))
			return kudp_bad("--size", v, "0..65000");
		o->size = (unsigned int)x;
		return 0;
	case 't':
		if (peer_parse_seconds(v, &o->seconds))
			return kudp_bad("--seconds", v, "a number in (0, 600]");
		return 0;
	case 'c':
		if (peer_parse_u64(v, 1, UINT64_MAX, &o->count))
			return kudp_bad("--count", v, "a number >= 1");
		return 0;
	case 'w':
		if (peer_parse_u64(v, 1, 65536, &x))
			return kudp_bad("--window", v, "1..65536");
		o->window = (unsigned int)x;
		return 0;
	case 'b':
		if (peer_parse_u64(v, 1, KUDP_BATCH_MAX, &x))
			return kudp_bad("--batch", v, "1..64");
		o->batch = (unsigned int)x;
		return 0;
	case 'd':
		o->dir = v;
		return 0;
	case 'f':
		if (peer_parse_u64(v, 1, 1 << 20, &x))
			return kudp_bad("--file-mb", v, "1..1048576");
		o->file_bytes = x << 20;
		return 0;
	case 'S':
		return kudp_parse_cpu("--send-cpu", v, &o->send_cpu);
	case 'R':
		return kudp_parse_cpu("--sink-cpu", v, &o->sink_cpu);
	}
	return -EINVAL;
}

/* 0: run; 1: --help printed; -EINVAL: bad options (already said why). */
static int
kudp_parse(int argc, char **argv, struct kudp_opts *o)
{
	static const struct option lo[] = {
		{"mode", required_argument, NULL, 'm'},
		{"events", required_argument, NULL, 'e'},
		{"size", required_argument, NULL, 's'},
		{"seconds", required_argument, NULL, 't'},
		{"count", required_argument, NULL, 'c'},
		{"window", required_argument, NULL, 'w'},
		{"batch", required_argument, NULL, 'b'},
		{"dir", required_argument, NULL, 'd'},
		{"file-mb", required_argument, NULL, 'f'},
		{"send-cpu", required_argument, NULL, 'S'},
		{"sink-cpu", required_argument, NULL, 'R'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int opt;

	while ((opt = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		if (opt == 'h') {
			kudp_usage(stdout);
			return 1;
		}
		if (opt == '?' || kudp_opt(o, opt, optarg) != 0) {
			if (opt == '?')
				kudp_usage(stderr);
			return -EINVAL;
		}
	}
	if (optind < argc)
		return kudp_bad("argument", argv[optind], "no arguments");
	return 0;
}

static void
kudp_report(struct kudp_ctx *c, double mb_s)
{
	const struct kudp_opts *o = &c->o;
	struct peer_fs fs = peer_fs_of(o->dir);
	struct peer_lat l = peer_lat_summary(c->tx.lat_ns, c->tx.nlat);
	double el = c->tx.elapsed_s > 0 ? c->tx.elapsed_s : 1e-9;
	double dg_s = (double)c->rx.datagrams / el;
	uint64_t drops = c->tx.sent - c->rx.datagrams;

	printf("{\"bench\": \"kudp\", \"mode\": \"%s\", "
	       "\"events_per_datagram\": "
	       "%u, \"event_bytes\": %u, \"datagram_bytes\": %u, "
	       "\"recv_batch\": %u, \"window\": %u,\n"
	       " \"cpus\": {\"sender\": %d, \"sink\": %d, \"sender_ran_on\": "
	       "%d, "
	       "\"sink_ran_on\": %d, \"online\": %ld},\n"
	       " \"dir\": \"%s\", \"fs\": \"%s\", \"device\": \"%s\",\n"
	       " \"seconds\": %.3f, \"sent\": %llu, \"received\": %llu, "
	       "\"drops\": %llu, \"acked\": %llu,\n"
	       " \"events_per_s\": %.0f, \"datagrams_per_s\": %.0f, "
	       "\"mb_per_s\": %.2f,\n"
	       " \"ack_latency_us\": {\"samples\": %llu, \"p50\": %.1f, "
	       "\"p99\": %.1f, \"p99_9\": %.1f, \"max\": %.1f},\n"
	       " \"counters\": {\"batches\": %llu, \"syncs\": %llu, "
	       "\"rolls\": %llu, \"rx_bad_size\": %llu, \"ack_send_errors\": "
	       "%llu, \"send_retries\": %llu, \"acks_bad\": %llu},\n"
	       " \"io_error\": \"%s\"}\n",
	       o->mode == KUDP_WRITE ? "write" : "fdatasync", o->events,
	       o->size, c->frame, o->batch, o->window, o->send_cpu, o->sink_cpu,
	       c->tx.ran_on, c->rx.ran_on, sysconf(_SC_NPROCESSORS_ONLN),
	       o->dir, fs.type, fs.dev, el, (unsigned long long)c->tx.sent,
	       (unsigned long long)c->rx.datagrams, (unsigned long long)drops,
	       (unsigned long long)c->tx.acked, dg_s * o->events, dg_s, mb_s,
	       (unsigned long long)l.n, l.p50_us, l.p99_us, l.p999_us, l.max_us,
	       (unsigned long long)c->rx.batches,
	       (unsigned long long)c->rx.syncs, (unsigned long long)c->rx.rolls,
	       (unsigned long long)c->rx.rx_bad_size,
	       (unsigned long long)c->rx.ack_send_errors,
	       (unsigned long long)c->tx.send_retries,
	       (unsigned long long)c->tx.acks_bad,
	       c->rx.io_error ? strerror(-c->rx.io_error) : "none");
	fprintf(stderr,
		"kudp %s: %u x %u B/datagram, %.0f events/s, %.1f MB/s, "
		"ACK p50 %.1f p99 %.1f p99.9 %.1f us, drops %llu "
		"(sender CPU %d, sink CPU %d, %s on %s)\n",
		o->mode == KUDP_WRITE ? "write" : "fdatasync", o->events,
		o->size, dg_s * o->events, mb_s, l.p50_us, l.p99_us, l.p999_us,
		(unsigned long long)drops, c->tx.ran_on, c->rx.ran_on, fs.type,
		fs.dev);
}

/* Waits for the sender, or a signal that stops both threads. */
static void
kudp_wait(struct kudp_ctx *c, const sigset_t *sigs)
{
	struct timespec tick = {.tv_sec = 0, .tv_nsec = 100000000};

	while (!atomic_load(&c->send_done)) {
		int sig = sigtimedwait(sigs, NULL, &tick);

		if (sig == SIGINT || sig == SIGTERM) {
			fprintf(stderr, "kudp_bench: signal %d, stopping\n",
				sig);
			atomic_store(&c->stop, true);
		}
	}
}

/* The datagram size of --events and --size; -EINVAL when too large. */
static int
kudp_frame(struct kudp_ctx *c)
{
	unsigned int rec = 16 + ((c->o.size + 7u) & ~7u);
	uint64_t frame = KUDP_HDR + (uint64_t)c->o.events * rec;

	if (frame > KUDP_MAX_FRAME) {
		fprintf(stderr,
			"kudp_bench: --events %u --size %u: a %llu-byte "
			"datagram; expected at most %u\n",
			c->o.events, c->o.size, (unsigned long long)frame,
			KUDP_MAX_FRAME);
		return -EINVAL;
	}
	c->frame = (unsigned int)frame;
	return 0;
}

static int
kudp_setup(struct kudp_ctx *c)
{
	int err;

	c->tx.lat_cap = c->o.count < (1u << 24) ? c->o.count : (1u << 24);
	c->tx.lat_ns = malloc(c->tx.lat_cap * sizeof(uint64_t));
	if (c->tx.lat_ns == NULL)
		return -ENOMEM;
	err = kudp_sockets(c);
	if (err != 0) {
		fprintf(stderr, "kudp_bench: UDP loopback sockets: %s\n",
			strerror(-err));
		return err;
	}
	err = kudp_file(c);
	if (err != 0)
		fprintf(stderr,
			"kudp_bench: --dir %s: cannot create a file: "
			"%s\n",
			c->o.dir, strerror(-err));
	return err;
}

int
main(int argc, char **argv)
{
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	struct kudp_ctx c = {
		.o = {.events = 8,
		      .size = 64,
		      .batch = 64,
		      .window = 256,
		      .count = 10000000,
		      .seconds = 3,
		      .file_bytes = 1ull << 30,
		      .mode = KUDP_WRITE,
		      .dir = ".",
		      .send_cpu = 0,
		      .sink_cpu = ncpu > 1 ? (int)ncpu - 1 : 0},
		.sink_sock = -1,
		.send_sock = -1,
		.file = -1,
	};
	pthread_t sink, send;
	sigset_t sigs;
	uint64_t bytes0;
	int rc = kudp_parse(argc, argv, &c.o);

	if (rc == 0)
		rc = kudp_frame(&c);
	if (rc != 0)
		return rc > 0 ? 0 : 2;
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL); /* threads inherit it */
	rc = kudp_setup(&c) != 0 ? 1 : 0;
	if (rc == 0 && pthread_create(&sink, NULL, kudp_sink_run, &c) != 0)
		rc = 1;
	if (rc == 0) {
		if (pthread_create(&send, NULL, kudp_send_run, &c) == 0) {
			kudp_wait(&c, &sigs);
			pthread_join(send, NULL);
		} else {
			rc = 1;
		}
		atomic_store(&c.stop, true);
		pthread_join(sink, NULL);
		bytes0 = c.rx.bytes;
		kudp_report(&c, c.tx.elapsed_s > 0
					? (double)bytes0 / c.tx.elapsed_s / 1e6
					: 0);
		if (c.rx.io_error != 0)
			rc = 1;
	}
	free(c.tx.lat_ns);
	if (c.file >= 0)
		close(c.file);
	if (c.sink_sock >= 0)
		close(c.sink_sock);
	if (c.send_sock >= 0)
		close(c.send_sock);
	return rc;
}
