/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * lib/cfg internals: the key table's shape (cfg.c holds the table) and the
 * value parsers and formatters of cfg_value.c.
 */
#ifndef EVG_CFG_PRIV_H
#define EVG_CFG_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_udp.h>

#include "evg_cfg.h"
#include "evg_evf.h"
#include "evg_journal.h"
#include "evg_port.h"

/*
 * The journal appends a frame's events in one batch, so [log] batch_kb
 * must hold the records of the largest frame evgate can take at the
 * port's MTU, or that frame would wait in the journal stage forever
 * (-EMSGSIZE).
 *
 * The largest frame: drivers/port gives every RX mbuf a data room of
 * EVG_PORT_DATA_ROOM(mtu) bytes and lib/net drops frames of more than one
 * mbuf, so the Ethernet, IPv4 and UDP headers and the EVF/1 frame fit in
 * it (a virtual PMD may pass frames above the MTU, never above the room);
 * EVF records fill a frame in multiples of 8. Each EVF record (16 +
 * align8(size) bytes) becomes a journal record of 64 + align8(size)
 * bytes, so the most events (all but one empty) take the most: the
 * frame's record bytes plus 48 a record, plus the batch header.
 * mtu <= 2022, data room 2048: 64 + 1960 + 122 x 48 = 7880 bytes (8 KiB);
 * mtu 9000, data room 9216: 64 + 9128 + 570 x 48 = 36552 bytes (36 KiB).
 */
#define CFG_FRAME_MAX(mtu)                                            \
	((EVG_PORT_DATA_ROOM(mtu) - RTE_ETHER_HDR_LEN -               \
	  sizeof(struct rte_ipv4_hdr) - sizeof(struct rte_udp_hdr)) & \
	 ~(size_t)7)
#define CFG_FRAME_RECS_MAX(mtu) \
	((CFG_FRAME_MAX(mtu) - EVG_EVF_HDR_LEN) / EVG_EVF_REC_HDR_LEN)
#define CFG_BATCH_MIN_BYTES(mtu)                                              \
	(EVG_JOURNAL_BATCH_HDR_LEN + (CFG_FRAME_MAX(mtu) - EVG_EVF_HDR_LEN) + \
	 CFG_FRAME_RECS_MAX(mtu) *                                            \
		 (EVG_JOURNAL_REC_HDR_LEN - EVG_EVF_REC_HDR_LEN))
#define CFG_BATCH_KB_MIN(mtu) ((CFG_BATCH_MIN_BYTES(mtu) + 1023) / 1024)

enum cfg_kind {
	K_UINT,	  /* integer in [lo, hi] */
	K_POW2,	  /* power of two in [lo, hi] */
	K_BOOL,	  /* true/false (yes/no, on/off, 1/0) */
	K_ENUM,	  /* one of names[], stored as its index */
	K_IPV4,	  /* A.B.C.D/P into ip and ip_prefix; empty = unset */
	K_PATH,	  /* non-empty string */
	K_LCORES, /* struct evg_cfg_lcores of at most hi ids; empty = auto */
	K_CPUS,	  /* the same, of CPU ids */
	K_ALLOW,  /* repeatable; each entry adds a rule */
	K_GROUP,  /* repeatable; each entry adds a group NAME:POLICY */
};

struct cfg_key {
	const char *sec;
	const char *name;
	enum cfg_kind kind;
	size_t off; /* of the field in struct evg_cfg */
	size_t size;
	uint32_t lo, hi;
	const char *const *names; /* K_ENUM, NULL-terminated */
	const char *opt;	  /* command-line option, or NULL */
	const char *arg;	  /* its argument in --help */
	const char *help;	  /* its --help line */
	const char *why_lo;	  /* K_UINT: why lo, said when below it */
};

/* Keys given once per entry of a list ([acl] allow, [sub] group). */
static inline bool
cfg_key_is_list(const struct cfg_key *k)
{
	return k->kind == K_ALLOW || k->kind == K_GROUP;
}

/* Entries of a list key, and the most it takes. */
static inline uint32_t *
cfg_list_count(struct evg_cfg *cfg, const struct cfg_key *k)
{
	return k->kind == K_ALLOW ? &cfg->nb_allow : &cfg->nb_groups;
}

static inline uint32_t
cfg_list_n(const struct evg_cfg *cfg, const struct cfg_key *k)
{
	return k->kind == K_ALLOW ? cfg->nb_allow : cfg->nb_groups;
}

static inline uint32_t
cfg_list_max(const struct cfg_key *k)
{
	return k->kind == K_ALLOW ? EVG_CFG_MAX_ALLOW : EVG_CFG_MAX_GROUPS;
}

static inline const char *
cfg_skip_spaces(const char *p)
{
	while (*p == ' ' || *p == '\t')
		p++;
	return p;
}

/* Separator before item i of n in "a, b or c". */
static inline const char *
cfg_list_sep(size_t i, size_t n)
{
	if (i == 0)
		return "";
	return i + 1 < n ? ", " : " or ";
}

/* Write one line to err (control characters masked); returns rc. */
int evg_cfg_fail(char *err, size_t errlen, int rc, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* A value as shown in messages: empty as "". */
const char *evg_cfg_shown(const char *v);

/*
 * Set key k of cfg from its text form s; K_ALLOW appends a rule. Returns
 * 0 or -EINVAL with why = what was expected (no where, no value).
 */
int evg_cfg_value_set(struct evg_cfg *cfg, const struct cfg_key *k,
		      const char *s, char *why, size_t whylen);

/* The text form of key k (K_ALLOW: of rule i) that parses back to it. */
void evg_cfg_value_format(const struct evg_cfg *cfg, const struct cfg_key *k,
			  uint32_t i, char *buf, size_t len);

#endif /* EVG_CFG_PRIV_H */
