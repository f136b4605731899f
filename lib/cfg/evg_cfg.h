/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * evgate configuration: built-in defaults < INI file < command line.
 *
 * - evg_cfg_defaults() parses the built-in default config (cfg_default.ini,
 *   compiled in) through the same rte_cfgfile path as a file.
 * - evg_cfg_load_file() applies an INI file on top of a config.
 * - evg_cfg_parse_args() applies the options after "--", loading --config
 *   first wherever it stands.
 * - evg_cfg_validate() rechecks every value and what no single key can:
 *   ip is set, lcore counts fit queue and shard counts, pools fill rings,
 *   batch_kb holds the largest frame at the MTU.
 *
 * Failures return a negative errno and write exactly one line to err
 * naming where (file: [section] key, or --option), the value given and
 * what was expected. Nothing here needs the EAL, logs or keeps state
 * between calls; docs/configuration.md describes every key.
 *
 * IPv4 addresses and masks are in network byte order (rte_be32_t, as in
 * packets and lib/net); everything else is host order.
 */
#ifndef EVG_CFG_H
#define EVG_CFG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <rte_byteorder.h>
#include <rte_config.h>

#define EVG_CFG_MAX_ALLOW 64u /* [acl] allow rules */
#define EVG_CFG_MAX_GROUPS 64u /* [sub] group entries */
#define EVG_CFG_GROUP_LEN 32u  /* a group name with its NUL */
#define EVG_CFG_VALUE_MAX 256 /* values are shorter (rte_cfgfile's limit) */
#define EVG_CFG_ERR_LEN 512   /* a comfortable size for err buffers */

enum evg_cfg_ack {
	EVG_CFG_ACK_RECEIVED, /* validated and sequenced */
	EVG_CFG_ACK_WRITTEN,  /* written to the log file */
	EVG_CFG_ACK_SYNCED,   /* durable on the device */
};

/* What the RX stage does when an RX->sequencer ring is full. */
enum evg_cfg_ring_full {
	EVG_CFG_RING_FULL_DROP,		/* drop and count (NAK BUSY) */
	EVG_CFG_RING_FULL_BACKPRESSURE, /* retry; the NIC queue fills */
};

/* Where the journal writes ([log] store). */
enum evg_cfg_store {
	EVG_CFG_STORE_URING, /* io_uring with O_DIRECT */
	EVG_CFG_STORE_PSYNC, /* pwrite + fdatasync (no O_DIRECT needed) */
};

/* How level synced is reached ([log] sync). */
enum evg_cfg_sync {
	EVG_CFG_SYNC_FDATASYNC, /* write, then fdatasync */
	EVG_CFG_SYNC_DSYNC,	/* each write with RWF_DSYNC */
};

/* An lcore list in the order given; n == 0 means automatic. */
struct evg_cfg_lcores {
	uint16_t n;
	uint16_t id[RTE_MAX_LCORE];
};

/* Frames from (src_ip & mask) == net with prod_lo <= producer_id <=
 * prod_hi are allowed. */
struct evg_cfg_allow {
	rte_be32_t net;
	rte_be32_t mask;
	uint32_t prod_lo;
	uint32_t prod_hi;
};

/* A consumer group with a configured policy ([sub] group = NAME:POLICY). */
struct evg_cfg_group {
	char name[EVG_CFG_GROUP_LEN]; /* 1..31 of [A-Za-z0-9._-] */
	uint8_t policy;		      /* enum evg_evf_sub_policy, not 0 */
};

/* Each field: [section] key = built-in default. */
struct evg_cfg {
	rte_be32_t ip;			  /* [net] ip = (none; 0 = unset) */
	uint8_t ip_prefix;		  /*   its prefix length, 1-32 */
	bool promiscuous;		  /* [port] promiscuous = false */
	uint16_t mtu;			  /* [port] mtu = 1500 */
	uint16_t udp_port;		  /* [net] udp_port = 7470 */
	uint16_t rx_queues;		  /* [port] rx_queues = 1 */
	uint16_t rx_desc;		  /* [port] rx_desc = 1024 */
	uint16_t tx_desc;		  /* [port] tx_desc = 1024 */
	uint16_t mbuf_cache;		  /* [port] mbuf_cache = 256 */
	uint32_t mbufs;			  /* [port] mbufs = 16383 */
	uint32_t link_wait_ms;		  /* [port] link_wait_ms = 3000 */
	uint16_t burst;			  /* [pipeline] burst = 32 */
	uint16_t seq_shards;		  /* [pipeline] seq_shards = 1 */
	uint32_t ring_size;		  /* [pipeline] ring_size = 1024 */
	enum evg_cfg_ring_full ring_full; /* [pipeline] ring_full = drop */
	uint32_t seq_capacity;		  /* [pipeline] seq_capacity = 65536 */
	struct evg_cfg_lcores rx_lcores;  /* [pipeline] rx_lcores = (auto) */
	struct evg_cfg_lcores seq_lcores; /* [pipeline] seq_lcores = (auto) */
	struct evg_cfg_lcores ack_lcore;  /* [pipeline] ack_lcore = (auto) */
	struct evg_cfg_lcores tx_lcore;	  /* [pipeline] tx_lcore = (auto) */
	struct evg_cfg_lcores journal_lcore; /* [pipeline] journal_lcore */
	struct evg_cfg_lcores sub_lcore;     /* [pipeline] sub_lcore */
	enum evg_cfg_ack ack_level;	  /* [ack] level = received */
	uint32_t nak_rate;  /* [ack] nak_rate = 100 (per s, per source) */
	uint32_t nak_burst; /* [ack] nak_burst = 10 */
	uint32_t stats_interval_s;	 /* [stats] interval = 0 (off) */
	char log_dir[EVG_CFG_VALUE_MAX]; /* [log] dir = /var/lib/evgate */
	uint32_t partitions;		 /* [log] partitions = 4 */
	uint32_t segment_mb;		 /* [log] segment_mb = 256 */
	uint32_t batch_kb;		 /* [log] batch_kb = 256 */
	uint32_t retention_mb;		 /* [log] retention_mb = 0 (none) */
	uint32_t retention_hours;	 /* [log] retention_hours = 0 */
	enum evg_cfg_store store;	 /* [log] store = uring */
	enum evg_cfg_sync sync;		 /* [log] sync = dsync */
	/* [log] io_cpus = (auto: the CPUs evgate may use that run no
	 * worker lcore); an evg_cfg_lcores of CPU ids. */
	struct evg_cfg_lcores io_cpus;
	bool fault_injection;		 /* [log] fault_injection = off */
	uint32_t nb_allow;		 /* [acl] allow = (none: allow all) */
	struct evg_cfg_allow allow[EVG_CFG_MAX_ALLOW];
	/* The consumer side (docs/configuration.md, [sub]). */
	uint32_t sub_max;	   /* [sub] max_subscribers = 64 (0: off) */
	uint32_t sub_max_groups;   /* [sub] max_groups = 32 */
	uint32_t sub_mbufs;	   /* [sub] mbufs = 8191 (DELIVER frames) */
	uint32_t sub_timeout_ms;   /* [sub] timeout_ms = 3000 */
	uint32_t sub_rto_ms;	   /* [sub] rto_ms = 100 */
	uint32_t sub_max_inflight; /* [sub] max_inflight = 4096 */
	uint32_t nb_groups;	   /* [sub] group = (none) */
	struct evg_cfg_group groups[EVG_CFG_MAX_GROUPS];
};

/* evg_cfg_parse_args() results other than errors. */
enum {
	EVG_CFG_ARGS_RUN = 0,
	EVG_CFG_ARGS_HELP = 1,
	EVG_CFG_ARGS_VERSION = 2,
};

/*
 * Fill cfg with the built-in defaults. Returns 0, or -errno when the
 * embedded text cannot be loaded (out of memory, no /proc); cfg is then
 * zeroed, which evg_cfg_validate() rejects.
 */
int evg_cfg_defaults(struct evg_cfg *cfg);

/*
 * Apply the INI file at path on top of cfg. Unknown sections and keys,
 * keys given twice and malformed lines are errors. Returns 0, -EINVAL,
 * or the errno of opening or reading the file (-ENOENT, -EACCES, ...);
 * cfg is unchanged on error.
 */
int evg_cfg_load_file(struct evg_cfg *cfg, const char *path, char *err,
		      size_t errlen);

/*
 * Apply the application's command line (what follows "--"; argv[0] is
 * skipped, as getopt does). --config is loaded first, then the other
 * options override it whatever their order; a repeated --allow replaces
 * the file's [acl] list. Returns EVG_CFG_ARGS_RUN, EVG_CFG_ARGS_HELP or
 * EVG_CFG_ARGS_VERSION (cfg unchanged), or a negative errno with err set
 * (cfg unchanged). Resets getopt's global state; not thread-safe.
 */
int evg_cfg_parse_args(struct evg_cfg *cfg, int argc, char **argv, char *err,
		       size_t errlen);

/* Check every value's range and the rules between keys. 0 or -EINVAL. */
int evg_cfg_validate(const struct evg_cfg *cfg, char *err, size_t errlen);

/* The --help text: every option with its built-in default. */
void evg_cfg_usage(FILE *f, const char *prog);

/* Write cfg as an INI file that loads back to the same config. Returns 0,
 * -ERANGE for a value too long for rte_cfgfile, -EIO on a write error. */
int evg_cfg_dump(const struct evg_cfg *cfg, FILE *f);

/* Parse one allow rule, "CIDR", "CIDR:N" or "CIDR:LO-HI" (a bare address
 * is a /32; no range is every producer). 0 or -EINVAL with err set. */
int evg_cfg_parse_allow(const char *spec, struct evg_cfg_allow *out, char *err,
			size_t errlen);

/* True when cfg has no allow rule or one matches (src_ip in network
 * order, as in the packet). */
bool evg_cfg_allows(const struct evg_cfg *cfg, rte_be32_t src_ip,
		    uint32_t producer_id);

/* The configured policy of a group (enum evg_evf_sub_policy), or 0 when
 * [sub] group does not name it. */
unsigned int evg_cfg_group_policy(const struct evg_cfg *cfg, const char *name);

/* The smallest [log] batch_kb that holds the journal records of the
 * largest frame a port of IP MTU mtu receives (8 at 1500, 36 at 9000);
 * 0 for an MTU outside [port] mtu's range. */
uint32_t evg_cfg_batch_kb_min(uint32_t mtu);

/* "received", "written", "synced"; NULL when out of range. */
const char *evg_cfg_ack_name(enum evg_cfg_ack level);

#endif /* EVG_CFG_H */
