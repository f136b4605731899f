/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Configuration. One table of keys drives everything: the file and the
 * command line set values through it, validation re-parses each value's
 * text form through it, and dump and usage print from it.
 *
 * rte_cfgfile only loads from a path and says nothing about why a load
 * failed (it even skips lines without '=' silently), so text is first
 * checked line by line here, then handed to rte_cfgfile through a memfd:
 * the built-in defaults and a file take the same path, and a file is read
 * once, so --config <(...) works.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <rte_cfgfile.h>
#include <rte_common.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_mbuf_core.h>
#include <rte_mempool.h>
#include <rte_udp.h>

#include "cfg_default.h"
#include "cfg_priv.h"
#include "evg_evf.h"
#include "evg_journal.h"

#define COMMENT_CHAR '#'
#define FILE_MAX (1u << 20)
/* The longest line rte_cfgfile reads whole (its buffer, less "\n\0"). */
#define LINE_MAX_LEN (CFG_NAME_LEN + CFG_VALUE_LEN + 2)
#define FMT_LEN 1024 /* a formatted value; longer than CFG_VALUE_LEN */
#define MBUFS_MIN 1023
#define OPT_KEY 256 /* getopt value of keys[i].opt: OPT_KEY + i */

/* The smallest batch_kb any [port] mtu allows; validation checks the
 * one of the configured MTU (cfg_priv.h says why and how). */
#define BATCH_KB_MIN CFG_BATCH_KB_MIN(RTE_ETHER_MIN_MTU)

_Static_assert(EVG_CFG_VALUE_MAX == CFG_VALUE_LEN, "value limit drifted");
_Static_assert(sizeof(enum evg_cfg_ack) == sizeof(uint32_t), "enum size");
/* DPDK refuses a mempool whose cache exceeds 2/3 of its size; the ranges
 * of mbufs and mbuf_cache rule that out. */
_Static_assert(RTE_MEMPOOL_CACHE_MAX_SIZE * 3 / 2 <= MBUFS_MIN, "mbufs_min");
_Static_assert(RTE_MBUF_DEFAULT_DATAROOM != 2048 ||
		       (CFG_BATCH_MIN_BYTES(1500) == 7880 &&
			CFG_BATCH_MIN_BYTES(9000) == 36552 &&
			BATCH_KB_MIN == 8),
	       "the figures in cfg_priv.h and docs/configuration.md");
_Static_assert(sizeof(enum evg_cfg_ring_full) == sizeof(uint32_t), "enum");
_Static_assert(sizeof(enum evg_cfg_store) == sizeof(uint32_t), "enum");
_Static_assert(sizeof(enum evg_cfg_sync) == sizeof(uint32_t), "enum");

static const char *const ack_names[] = {"received", "written", "synced", NULL};
static const char *const ring_full_names[] = {"drop", "backpressure", NULL};
static const char *const store_names[] = {"uring", "psync", NULL};
static const char *const sync_names[] = {"fdatasync", "dsync", NULL};
static const char *const sections[] = {"net", "port",  "pipeline", "ack",
				       "log", "stats", "acl",	   "sub"};

#define KEY(s, n, k, f)                                                     \
	.sec = s, .name = n, .kind = k, .off = offsetof(struct evg_cfg, f), \
	.size = sizeof(((struct evg_cfg *)0)->f)
#define OPT(o, a, h) .opt = o, .arg = a, .help = h

/* In dump order; docs/configuration.md describes each. */
static const struct cfg_key keys[] = {
	{KEY("net", "ip", K_IPV4, ip),
	 OPT("ip", "ADDR/PREFIX", "IPv4 address of port 0, e.g. 10.74.0.2/24")},
	{KEY("net", "udp_port", K_UINT, udp_port), .lo = 1, .hi = 65535,
	 OPT("udp-port", "N", "UDP port of EVF/1 frames")},
	{KEY("port", "rx_queues", K_UINT, rx_queues), .lo = 1, .hi = 16},
	{KEY("port", "rx_desc", K_UINT, rx_desc), .lo = 32, .hi = 32768},
	{KEY("port", "tx_desc", K_UINT, tx_desc), .lo = 32, .hi = 32768},
	{KEY("port", "mbufs", K_UINT, mbufs), .lo = MBUFS_MIN, .hi = 16777215},
	{KEY("port", "mbuf_cache", K_UINT, mbuf_cache), .lo = 0,
	 .hi = RTE_MEMPOOL_CACHE_MAX_SIZE},
	{KEY("port", "link_wait_ms", K_UINT, link_wait_ms), .lo = 0,
	 .hi = 60000},
	{KEY("port", "promiscuous", K_BOOL, promiscuous)},
	{KEY("port", "mtu", K_UINT, mtu), .lo = RTE_ETHER_MIN_MTU,
	 .hi = EVG_PORT_MTU_MAX,
	 OPT("mtu", "N", "IP MTU of port 0; jumbo frames up to 9000")},
	{KEY("pipeline", "burst", K_UINT, burst), .lo = 1, .hi = 256},
	{KEY("pipeline", "ring_size", K_POW2, ring_size), .lo = 64,
	 .hi = 65536},
	{KEY("pipeline", "ring_full", K_ENUM, ring_full),
	 .names = ring_full_names},
	{KEY("pipeline", "seq_shards", K_UINT, seq_shards), .lo = 1, .hi = 64},
	{KEY("pipeline", "seq_capacity", K_UINT, seq_capacity), .lo = 1024,
	 .hi = 16777216},
	{KEY("pipeline", "rx_lcores", K_LCORES, rx_lcores),
	 .hi = RTE_MAX_LCORE},
	{KEY("pipeline", "seq_lcores", K_LCORES, seq_lcores),
	 .hi = RTE_MAX_LCORE},
	{KEY("pipeline", "ack_lcore", K_LCORES, ack_lcore), .hi = 1},
	{KEY("pipeline", "tx_lcore", K_LCORES, tx_lcore), .hi = 1},
	{KEY("pipeline", "journal_lcore", K_LCORES, journal_lcore), .hi = 1},
	{KEY("pipeline", "sub_lcore", K_LCORES, sub_lcore), .hi = 1},
	{KEY("ack", "level", K_ENUM, ack_level), .names = ack_names,
	 OPT("ack", "LEVEL",
	     "acknowledge events once received, written or "
	     "synced")},
	{KEY("ack", "nak_rate", K_UINT, nak_rate), .lo = 1, .hi = 1000000},
	{KEY("ack", "nak_burst", K_UINT, nak_burst), .lo = 1, .hi = 1000000},
	{KEY("log", "dir", K_PATH, log_dir),
	 OPT("log-dir", "DIR", "directory of the event log")},
	{KEY("log", "partitions", K_UINT, partitions), .lo = 1, .hi = 1024},
	{KEY("log", "segment_mb", K_UINT, segment_mb), .lo = 1, .hi = 65536},
	{KEY("log", "batch_kb", K_UINT, batch_kb), .lo = BATCH_KB_MIN,
	 .hi = 16384,
	 .why_lo = "a batch must hold the records of the largest frame "
		   "evgate can receive"},
	{KEY("log", "retention_mb", K_UINT, retention_mb), .lo = 0,
	 .hi = UINT32_MAX},
	{KEY("log", "retention_hours", K_UINT, retention_hours), .lo = 0,
	 .hi = 876000},
	{KEY("log", "store", K_ENUM, store), .names = store_names},
	{KEY("log", "sync", K_ENUM, sync), .names = sync_names},
	{KEY("log", "io_cpus", K_CPUS, io_cpus), .hi = RTE_MAX_LCORE},
	{KEY("log", "fault_injection", K_BOOL, fault_injection)},
	{KEY("stats", "interval", K_UINT, stats_interval_s), .lo = 0,
	 .hi = 86400,
	 OPT("stats", "SECONDS", "print a summary line every SECONDS, 0: off")},
	{KEY("acl", "allow", K_ALLOW, allow),
	 OPT("allow", "SPEC",
	     "admit only producers, consumers in CIDR[:LO-HI]; repeat")},
	{KEY("sub", "max_subscribers", K_UINT, sub_max), .lo = 0, .hi = 1024},
	{KEY("sub", "max_groups", K_UINT, sub_max_groups), .lo = 1, .hi = 1024},
	{KEY("sub", "mbufs", K_UINT, sub_mbufs), .lo = MBUFS_MIN,
	 .hi = 16777215},
	{KEY("sub", "timeout_ms", K_UINT, sub_timeout_ms), .lo = 100,
	 .hi = 3600000},
	{KEY("sub", "rto_ms", K_UINT, sub_rto_ms), .lo = 1, .hi = 60000},
	{KEY("sub", "max_inflight", K_UINT, sub_max_inflight), .lo = 16,
	 .hi = 1048576},
	{KEY("sub", "group", K_GROUP, groups)},
};

#define NB_KEYS RTE_DIM(keys)
_Static_assert(RTE_DIM(keys) <= 64, "keys seen are tracked in a uint64_t");

static const char *
errno_str(int e, char *buf, size_t len)
{
	return strerror_r(e, buf, len); /* GNU: may return a static string */
}

static const struct cfg_key *
find_key(const char *sec, const char *name)
{
	for (size_t i = 0; i < NB_KEYS; i++)
		if (strcmp(keys[i].sec, sec) == 0 &&
		    strcmp(keys[i].name, name) == 0)
			return &keys[i];
	return NULL;
}

static bool
known_section(const char *sec)
{
	for (size_t i = 0; i < RTE_DIM(sections); i++)
		if (strcmp(sections[i], sec) == 0)
			return true;
	return false;
}

/* "a, b or c": the keys of a section, or the sections. */
static void
list_names(char *buf, size_t len, const char *sec)
{
	const char *names[NB_KEYS];
	size_t nb = 0, n = 0;

	for (size_t i = 0; i < (sec ? NB_KEYS : RTE_DIM(sections)); i++) {
		if (sec == NULL)
			names[nb++] = sections[i];
		else if (strcmp(keys[i].sec, sec) == 0)
			names[nb++] = keys[i].name;
	}
	buf[0] = '\0';
	for (size_t i = 0; i < nb && n < len; i++)
		n += (size_t)snprintf(buf + n, len - n, "%s%s",
				      cfg_list_sep(i, nb), names[i]);
}

/* Check the line structure rte_cfgfile would accept or skip silently. */
static int
check_line(const char *origin, unsigned int lineno, char *line,
	   bool *in_section, char *err, size_t errlen)
{
	char *pos = strchr(line, COMMENT_CHAR), *end, *eq;
	size_t len, klen;

	/* rte_cfgfile's rule: the first comment character starts a
	 * comment unless escaped with a backslash. */
	if (pos != NULL && (pos == line || pos[-1] != '\\'))
		*pos = '\0';
	while (*line == ' ' || *line == '\t' || *line == '\r')
		line++;
	len = strlen(line);
	while (len > 0 && strchr(" \t\r", line[len - 1]) != NULL)
		line[--len] = '\0';
	if (len == 0)
		return 0;
	if (line[0] == '[') {
		end = strchr(line, ']');
		if (end == NULL || end[1] != '\0' || end - line - 1 <= 0 ||
		    end - line - 1 >= CFG_NAME_LEN)
			return evg_cfg_fail(err, errlen, -EINVAL,
					    "%s:%u: %s: expected [section]",
					    origin, lineno, line);
		*in_section = true;
		return 0;
	}
	eq = strchr(line, '=');
	if (eq == NULL || eq == line)
		return evg_cfg_fail(
			err, errlen, -EINVAL,
			"%s:%u: %s: expected [section] or key = value", origin,
			lineno, line);
	if (!*in_section)
		return evg_cfg_fail(
			err, errlen, -EINVAL,
			"%s:%u: %s: expected a [section] line before it",
			origin, lineno, line);
	klen = (size_t)(eq - line);
	while (klen > 0 && (line[klen - 1] == ' ' || line[klen - 1] == '\t'))
		klen--;
	if (klen >= CFG_NAME_LEN ||
	    strlen(cfg_skip_spaces(eq + 1)) >= CFG_VALUE_LEN)
		return evg_cfg_fail(
			err, errlen, -EINVAL,
			"%s:%u: expected a key of at most %d and a value "
			"of at most %d characters",
			origin, lineno, CFG_NAME_LEN - 1, CFG_VALUE_LEN - 1);
	return 0;
}

static int
check_text(const char *origin, const char *text, size_t len, char *err,
	   size_t errlen)
{
	char line[LINE_MAX_LEN + 1];
	bool in_section = false;
	unsigned int lineno = 0;
	int rc;

	if (memchr(text, '\0', len) != NULL)
		return evg_cfg_fail(
			err, errlen, -EINVAL,
			"%s: contains a NUL byte: expected a text file",
			origin);
	for (size_t pos = 0; pos < len;) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - text) - pos : len - pos;

		lineno++;
		if (n > LINE_MAX_LEN)
			return evg_cfg_fail(
				err, errlen, -EINVAL,
				"%s:%u: expected lines of at most %d "
				"characters",
				origin, lineno, LINE_MAX_LEN);
		memcpy(line, text + pos, n);
		line[n] = '\0';
		rc = check_line(origin, lineno, line, &in_section, err, errlen);
		if (rc < 0)
			return rc;
		pos += n + 1;
	}
	return 0;
}

/* Load text through rte_cfgfile: a memfd stands in for the file. */
static struct rte_cfgfile *
cfgfile_from_text(const char *text, size_t len, int *rc)
{
	static const struct rte_cfgfile_parameters params = {
		.comment_character = COMMENT_CHAR,
	};
	struct rte_cfgfile *cf;
	char path[32];
	size_t done = 0;
	int fd;

	fd = memfd_create("evg_cfg", MFD_CLOEXEC);
	if (fd < 0) {
		*rc = -errno;
		return NULL;
	}
	while (done < len) {
		ssize_t w = write(fd, text + done, len - done);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			*rc = -errno;
			close(fd);
			return NULL;
		}
		done += (size_t)w;
	}
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	errno = 0;
	cf = rte_cfgfile_load_with_params(path, CFG_FLAG_EMPTY_VALUES, &params);
	*rc = cf != NULL ? 0 : errno != 0 ? -errno : -EINVAL;
	close(fd);
	return cf;
}

static int
apply_entry(struct evg_cfg *cfg, const char *origin, const char *sec,
	    const struct rte_cfgfile_entry *e, uint64_t *seen, char *err,
	    size_t errlen)
{
	const struct cfg_key *k = find_key(sec, e->name);
	char why[EVG_CFG_ERR_LEN], names[EVG_CFG_ERR_LEN];
	uint64_t bit;

	if (k == NULL) {
		list_names(names, sizeof(names), sec);
		return evg_cfg_fail(
			err, errlen, -EINVAL,
			"%s: [%s] %s = %s: unknown key, expected %s", origin,
			sec, e->name, evg_cfg_shown(e->value), names);
	}
	bit = UINT64_C(1) << (k - keys);
	if ((*seen & bit) != 0 && !cfg_key_is_list(k))
		return evg_cfg_fail(
			err, errlen, -EINVAL,
			"%s: [%s] %s = %s: expected the key once, it is "
			"set again",
			origin, sec, e->name, evg_cfg_shown(e->value));
	if (cfg_key_is_list(k) && (*seen & bit) == 0)
		*cfg_list_count(cfg, k) = 0; /* the file's list replaces the
					      * defaults' */
	*seen |= bit;
	if (evg_cfg_value_set(cfg, k, e->value, why, sizeof(why)) < 0)
		return evg_cfg_fail(err, errlen, -EINVAL,
				    "%s: [%s] %s = %s: %s", origin, sec,
				    e->name, evg_cfg_shown(e->value), why);
	return 0;
}

/* Every section in file order (a section may appear more than once). */
static int
apply_cfgfile(struct evg_cfg *cfg, struct rte_cfgfile *cf, const char *origin,
	      char *err, size_t errlen)
{
	struct rte_cfgfile_entry *entries;
	char sec[CFG_NAME_LEN], names[EVG_CFG_ERR_LEN];
	int nsec = rte_cfgfile_num_sections(cf, NULL, 0);
	uint64_t seen = 0;
	int n, rc = 0;

	for (int i = 0; i < nsec && rc == 0; i++) {
		n = rte_cfgfile_section_num_entries_by_index(cf, sec, i);
		if (!known_section(sec)) {
			list_names(names, sizeof(names), NULL);
			return evg_cfg_fail(
				err, errlen, -EINVAL,
				"%s: [%s]: unknown section, expected %s",
				origin, sec, names);
		}
		if (n <= 0)
			continue;
		entries = calloc((size_t)n, sizeof(*entries));
		if (entries == NULL)
			return evg_cfg_fail(err, errlen, -ENOMEM,
					    "%s: out of memory", origin);
		n = rte_cfgfile_section_entries_by_index(cf, i, sec, entries,
							 n);
		for (int j = 0; j < n && rc == 0; j++)
			rc = apply_entry(cfg, origin, sec, &entries[j], &seen,
					 err, errlen);
		free(entries);
	}
	return rc;
}

/* Apply INI text on top of cfg; cfg changes only on success. */
static int
load_text(struct evg_cfg *cfg, const char *origin, const char *text, size_t len,
	  char *err, size_t errlen)
{
	struct evg_cfg work;
	struct rte_cfgfile *cf;
	char ebuf[64];
	int rc;

	rc = check_text(origin, text, len, err, errlen);
	if (rc < 0)
		return rc;
	cf = cfgfile_from_text(text, len, &rc);
	if (cf == NULL)
		return evg_cfg_fail(err, errlen, rc,
				    "%s: rte_cfgfile cannot load it: %s",
				    origin, errno_str(-rc, ebuf, sizeof(ebuf)));
	memcpy(&work, cfg, sizeof(work));
	rc = apply_cfgfile(&work, cf, origin, err, errlen);
	rte_cfgfile_close(cf);
	if (rc == 0)
		memcpy(cfg, &work, sizeof(work));
	return rc;
}

int
evg_cfg_defaults(struct evg_cfg *cfg)
{
	static const char text[] = EVG_CFG_DEFAULT_INI;
	char err[EVG_CFG_ERR_LEN];

	memset(cfg, 0, sizeof(*cfg));
	return load_text(cfg, "built-in defaults", text, sizeof(text) - 1, err,
			 sizeof(err));
}

static int
read_text(const char *path, char **text, size_t *len, char *err, size_t errlen)
{
	char *buf = NULL, *nbuf, ebuf[64];
	size_t n = 0, cap = 0;
	ssize_t r;
	int fd, e = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		e = errno;
		return evg_cfg_fail(err, errlen, -e, "%s: cannot open: %s",
				    path, errno_str(e, ebuf, sizeof(ebuf)));
	}
	for (;;) {
		if (n > FILE_MAX) {
			e = EFBIG;
			break;
		}
		if (n == cap) {
			cap = cap ? cap * 2 : 4096;
			nbuf = realloc(buf, cap);
			if (nbuf == NULL) {
				e = ENOMEM;
				break;
			}
			buf = nbuf;
		}
		r = read(fd, buf + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		e = r < 0 ? errno : 0;
		if (r <= 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	if (e != 0) {
		free(buf);
		return evg_cfg_fail(
			err, errlen, -e, "%s: cannot read: %s", path,
			e == EFBIG ? "larger than 1 MiB"
				   : errno_str(e, ebuf, sizeof(ebuf)));
	}
	*text = buf;
	*len = n;
	return 0;
}

int
evg_cfg_load_file(struct evg_cfg *cfg, const char *path, char *err,
		  size_t errlen)
{
	char *text = NULL;
	size_t len = 0;
	int rc;

	if (path == NULL || *path == '\0')
		return evg_cfg_fail(err, errlen, -EINVAL,
				    "config file: expected a path");
	rc = read_text(path, &text, &len, err, errlen);
	if (rc < 0)
		return rc;
	rc = load_text(cfg, path, text != NULL ? text : "", len, err, errlen);
	free(text);
	return rc;
}

static int
build_options(struct option *opts)
{
	int n = 0;

	opts[n++] = (struct option){"config", required_argument, NULL, 'c'};
	for (size_t i = 0; i < NB_KEYS; i++)
		if (keys[i].opt != NULL)
			opts[n++] =
				(struct option){keys[i].opt, required_argument,
						NULL, OPT_KEY + (int)i};
	opts[n++] = (struct option){"help", no_argument, NULL, 'h'};
	opts[n++] = (struct option){"version", no_argument, NULL, 'V'};
	opts[n] = (struct option){NULL, 0, NULL, 0};
	return n;
}

/* getopt's verdict on arg as one error line. */
static int
arg_error(int c, const char *arg, char *err, size_t errlen)
{
	if (c == ':')
		return evg_cfg_fail(err, errlen, -EINVAL, "%s: missing value",
				    arg);
	if (strncmp(arg, "--", 2) != 0)
		return evg_cfg_fail(err, errlen, -EINVAL,
				    "-%c: unknown option (see --help)", optopt);
	if (optopt != 0) /* a known option given a value it does not take */
		return evg_cfg_fail(err, errlen, -EINVAL,
				    "%s: unexpected value (see --help)", arg);
	return evg_cfg_fail(err, errlen, -EINVAL,
			    "%s: unknown or ambiguous option (see --help)",
			    arg);
}

/*
 * First pass: --help, --version, --config and every syntax error.
 * --help and --version win over errors, so they always work.
 */
static int
scan_args(int argc, char **argv, const struct option *opts, const char **config,
	  char *err, size_t errlen)
{
	bool help = false, version = false;
	int c, rc = 0;

	optind = 0; /* glibc: full reinitialisation */
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:hV", opts, NULL)) != -1) {
		if (c == 'h')
			help = true;
		else if (c == 'V')
			version = true;
		else if (rc != 0)
			continue;
		else if (c == 'c' && *config != NULL)
			rc = evg_cfg_fail(err, errlen, -EINVAL,
					  "--config %s: expected one --config, "
					  "the first was %s",
					  optarg, *config);
		else if (c == 'c')
			*config = optarg;
		else if (c == ':' || c == '?')
			rc = arg_error(c, argv[optind - 1], err, errlen);
	}
	if (rc == 0 && optind < argc)
		rc = evg_cfg_fail(err, errlen, -EINVAL,
				  "%s: unexpected argument (see --help)",
				  argv[optind]);
	if (help)
		return EVG_CFG_ARGS_HELP;
	if (version)
		return EVG_CFG_ARGS_VERSION;
	return rc;
}

/* Second pass: every option but --config, in order, on top of the file. */
static int
apply_args(struct evg_cfg *cfg, int argc, char **argv,
	   const struct option *opts, char *err, size_t errlen)
{
	char why[EVG_CFG_ERR_LEN];
	bool allow_seen = false;
	const struct cfg_key *k;
	int c;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:hV", opts, NULL)) != -1) {
		if (c < OPT_KEY)
			continue;
		k = &keys[c - OPT_KEY];
		/* --allow replaces the file's list */
		if (k->kind == K_ALLOW && !allow_seen) {
			cfg->nb_allow = 0;
			allow_seen = true;
		}
		if (evg_cfg_value_set(cfg, k, optarg, why, sizeof(why)) < 0)
			return evg_cfg_fail(err, errlen, -EINVAL, "--%s %s: %s",
					    k->opt, evg_cfg_shown(optarg), why);
	}
	return 0;
}

int
evg_cfg_parse_args(struct evg_cfg *cfg, int argc, char **argv, char *err,
		   size_t errlen)
{
	struct option opts[NB_KEYS + 4];
	const char *config = NULL;
	struct evg_cfg work;
	int rc;

	build_options(opts);
	rc = scan_args(argc, argv, opts, &config, err, errlen);
	if (rc != 0)
		return rc;
	memcpy(&work, cfg, sizeof(work));
	if (config != NULL) {
		rc = evg_cfg_load_file(&work, config, err, errlen);
		if (rc < 0)
			return rc;
	}
	rc = apply_args(&work, argc, argv, opts, err, errlen);
	if (rc == 0)
		memcpy(cfg, &work, sizeof(work));
	return rc;
}

/* Each value in range: its text form must parse back. */
static int
check_key(const struct evg_cfg *cfg, const struct cfg_key *k, char *err,
	  size_t errlen)
{
	const char *field = (const char *)cfg + k->off;
	char val[FMT_LEN], why[EVG_CFG_ERR_LEN];
	uint32_t n = 1, max = 1;
	struct evg_cfg scratch;

	if (cfg_key_is_list(k)) {
		n = cfg_list_n(cfg, k);
		max = cfg_list_max(k);
	} else if (k->kind == K_LCORES || k->kind == K_CPUS) {
		n = ((const struct evg_cfg_lcores *)field)->n;
		max = k->hi;
	}
	if (n > max)
		return evg_cfg_fail(err, errlen, -EINVAL,
				    "[%s] %s: %u %s, expected at most %u",
				    k->sec, k->name, n,
				    k->kind == K_ALLOW	 ? "rules"
				    : k->kind == K_GROUP ? "groups"
				    : k->kind == K_CPUS	 ? "CPU ids"
							 : "lcore ids",
				    max);
	if (k->kind == K_PATH && memchr(field, '\0', k->size) == NULL)
		return evg_cfg_fail(err, errlen, -EINVAL,
				    "[%s] %s: expected a NUL-terminated string",
				    k->sec, k->name);
	if (!cfg_key_is_list(k))
		n = 1; /* a list of lcores is one value */
	for (uint32_t i = 0; i < n; i++) {
		evg_cfg_value_format(cfg, k, i, val, sizeof(val));
		memset(&scratch, 0, sizeof(scratch));
		if (evg_cfg_value_set(&scratch, k, val, why, sizeof(why)) < 0)
			return evg_cfg_fail(err, errlen, -EINVAL,
					    "[%s] %s = %s: %s", k->sec, k->name,
					    evg_cfg_shown(val), why);
		/* The text form of a rule shows a prefix length, not the
		 * mask: a mask with holes comes back different. */
		if (k->kind == K_ALLOW &&
		    scratch.allow[0].mask != cfg->allow[i].mask)
			return evg_cfg_fail(err, errlen, -EINVAL,
					    "[acl] allow = %s: expected a "
					    "prefix mask, not one with holes",
					    val);
	}
	return 0;
}

int
evg_cfg_validate(const struct evg_cfg *cfg, char *err, size_t errlen)
{
	uint64_t ring_mbufs;
	int rc;

	for (size_t i = 0; i < NB_KEYS; i++) {
		rc = check_key(cfg, &keys[i], err, errlen);
		if (rc < 0)
			return rc;
	}
	if (cfg->ip == 0)
		return evg_cfg_fail(
			err, errlen, -EINVAL,
			"[net] ip is not set: expected --ip A.B.C.D/P or "
			"[net] ip = A.B.C.D/P in the config file");
	if (cfg->rx_lcores.n > cfg->rx_queues)
		return evg_cfg_fail(
			err, errlen, -EINVAL,
			"[pipeline] rx_lcores: %u lcores, expected at most "
			"[port] rx_queues = %u (one queue per RX lcore)",
			cfg->rx_lcores.n, cfg->rx_queues);
	if (cfg->seq_lcores.n > cfg->seq_shards)
		return evg_cfg_fail(
			err, errlen, -EINVAL,
			"[pipeline] seq_lcores: %u lcores, expected at most "
			"seq_shards = %u (one shard per sequencer lcore)",
			cfg->seq_lcores.n, cfg->seq_shards);
	if (cfg->batch_kb < evg_cfg_batch_kb_min(cfg->mtu))
		return evg_cfg_fail(
			err, errlen, -EINVAL,
			"[log] batch_kb = %u: expected at least %u with [port] "
			"mtu = %u (a batch must hold the records of the "
			"largest frame evgate can receive)",
			cfg->batch_kb, evg_cfg_batch_kb_min(cfg->mtu),
			cfg->mtu);
	if (cfg->batch_kb % 4 != 0)
		return evg_cfg_fail(err, errlen, -EINVAL,
				    "[log] batch_kb = %u: expected a multiple "
				    "of 4 (batches are written in whole 4 KiB "
				    "blocks)",
				    cfg->batch_kb);
	if (cfg->burst >= cfg->ring_size)
		return evg_cfg_fail(err, errlen, -EINVAL,
				    "[pipeline] burst = %u: expected less than "
				    "ring_size = %u",
				    cfg->burst, cfg->ring_size);
	ring_mbufs = (uint64_t)cfg->rx_queues * cfg->rx_desc + cfg->tx_desc;
	if (cfg->mbufs < ring_mbufs)
		return evg_cfg_fail(
			err, errlen, -EINVAL,
			"[port] mbufs = %u: expected at least rx_queues x "
			"rx_desc + tx_desc = %" PRIu64 " to fill one "
			"port's rings",
			cfg->mbufs, ring_mbufs);
	return 0;
}

int
evg_cfg_dump(const struct evg_cfg *cfg, FILE *f)
{
	char val[FMT_LEN];
	int rc = 0;

	fprintf(f, "# evgate configuration; load it with --config FILE.\n");
	for (size_t s = 0; s < RTE_DIM(sections); s++) {
		fprintf(f, "\n[%s]\n", sections[s]);
		for (size_t i = 0; i < NB_KEYS; i++) {
			const struct cfg_key *k = &keys[i];
			uint32_t n = !cfg_key_is_list(k)
					     ? 1
					     : RTE_MIN(cfg_list_n(cfg, k),
						       cfg_list_max(k));

			if (strcmp(k->sec, sections[s]) != 0)
				continue;
			for (uint32_t j = 0; j < n; j++) {
				evg_cfg_value_format(cfg, k, j, val,
						     sizeof(val));
				if (strlen(val) >= CFG_VALUE_LEN)
					rc = -ERANGE;
				fprintf(f, "%s =%s%s\n", k->name,
					*val ? " " : "", val);
			}
		}
	}
	if (ferror(f))
		return -EIO;
	return rc;
}

void
evg_cfg_usage(FILE *f, const char *prog)
{
	struct evg_cfg def;
	char val[FMT_LEN], left[64];

	(void)evg_cfg_defaults(&def);
	fprintf(f,
		"Usage: %s [EAL options] -- [options]\n"
		"\n"
		"Options override the config file, which overrides the "
		"built-in defaults\n"
		"(docs/configuration.md):\n"
		"  --config FILE         INI config file\n",
		prog);
	for (size_t i = 0; i < NB_KEYS; i++) {
		const struct cfg_key *k = &keys[i];

		if (k->opt == NULL)
			continue;
		evg_cfg_value_format(&def, k, 0, val, sizeof(val));
		if (k->kind == K_ALLOW)
			snprintf(val, sizeof(val), "%s",
				 def.nb_allow ? "see the file" : "allow all");
		else if (*val == '\0')
			snprintf(val, sizeof(val), "none, required");
		snprintf(left, sizeof(left), "--%s %s", k->opt, k->arg);
		fprintf(f, "  %-20s  %s\n  %-20s  (default: %s)\n", left,
			k->help, "", val);
	}
	fprintf(f,
		"  -h, --help            show this help and exit\n"
		"  -V, --version         show the version and exit\n"
		"\n"
		"EAL options are DPDK's (see `%s -h --`); for example\n"
		"  %s -l 0-1 --vdev=net_af_packet0,iface=veth0 -- "
		"--ip 10.74.0.2/24\n",
		prog, prog);
}

uint32_t
evg_cfg_batch_kb_min(uint32_t mtu)
{
	if (mtu < RTE_ETHER_MIN_MTU || mtu > EVG_PORT_MTU_MAX)
		return 0;
	return CFG_BATCH_KB_MIN(mtu);
}

const char *
evg_cfg_ack_name(enum evg_cfg_ack level)
{
	if ((unsigned int)level >= RTE_DIM(ack_names) - 1)
		return NULL;
	return ack_names[level];
}
