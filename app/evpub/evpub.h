/* SPDX-License-Identifier: BSD-3-Clause */
/* evpub: publishes events to evgate through libevclient. */
#ifndef EVPUB_H
#define EVPUB_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "evg_client.h"

#define EVPUB_BATCH 256u

struct evpub_opts {
	const char *server;
	uint32_t producer;
	uint32_t stream;
	const char *file;      /* NULL: stdin, unless generating */
	uint64_t count;	       /* > 0: generate this many events */
	uint32_t size;	       /* generated value size */
	double rate;	       /* generated events per second; 0 = unlimited */
	double timeout_s;      /* wait for window room and for the last ACKs */
	double ack_timeout_ms; /* an ACK later than this is late; 0 = off */
	uint32_t mtu;	       /* 0: the path MTU */
	uint64_t session;      /* 0: the clock */
	uint32_t window;       /* unacknowledged events at most */
	uint32_t linger_us;
	bool json;
};

/* ACK latencies, one (latency, events) pair per ACKed run. */
struct evpub_lat {
	uint64_t *ns;
	uint32_t *n;
	size_t len, cap;
	uint64_t events;
	uint64_t late;	  /* events over the ACK timeout */
	uint64_t late_ns; /* the ACK timeout in ns; 0 = off */
	bool oom;
};

/* An input of lines (stdin or a file), read in chunks. */
struct evpub_lines {
	int fd;
	char *buf;
	size_t cap, start, end;
	bool eof;
	uint64_t lineno;
};

struct evpub {
	struct evpub_opts o;
	struct evg_client *c;
	struct evpub_lat lat;
	struct evpub_lines in;
	uint64_t sent;	    /* events queued */
	uint64_t t0, t_end; /* CLOCK_MONOTONIC ns */
	const volatile sig_atomic_t *stop;
	int err; /* first error of a send or flush */
};

int evpub_parse(int argc, char **argv, struct evpub_opts *o);

/* Feed the events of the input into the client; 0 or a negative errno
 * (the reason already printed). */
int evpub_run_lines(struct evpub *p);
int evpub_run_generated(struct evpub *p);

void evpub_lat_add(void *arg, uint64_t first_seq, uint32_t n, uint64_t ns);
void evpub_lat_free(struct evpub_lat *l);
/* The summary line, and the JSON line with --json. */
void evpub_report(struct evpub *p, bool all_acked, bool interrupted);

#endif
