/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Configuration values: the text forms of numbers, addresses, lcore lists
 * and allow rules, parsed strictly (digits only, no sign, no trailing
 * junk) and formatted so that they parse back to the same value.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <rte_cfgfile.h>
#include <rte_common.h>

#include "cfg_priv.h"
#include "evg_evf_sub.h"

/* Parse decimal digits at *p into *v (<= UINT32_MAX); advances *p. */
static bool
scan_u32(const char **p, uint32_t *v)
{
	const char *s = *p;
	uint64_t x = 0;

	if (*s < '0' || *s > '9')
		return false;
	for (; *s >= '0' && *s <= '9'; s++) {
		x = x * 10 + (uint64_t)(*s - '0');
		if (x > UINT32_MAX)
			return false;
	}
	*v = (uint32_t)x;
	*p = s;
	return true;
}

/* N or LO-HI at *p; advances *p. */
static bool
scan_range(const char **p, uint32_t *lo, uint32_t *hi)
{
	if (!scan_u32(p, lo))
		return false;
	*hi = *lo;
	if (**p != '-')
		return true;
	(*p)++;
	return scan_u32(p, hi);
}

static bool
parse_u32(const char *s, uint32_t *v)
{
	return scan_u32(&s, v) && *s == '\0';
}

static rte_be32_t
prefix_mask(uint32_t prefix)
{
	return rte_cpu_to_be_32(prefix == 0 ? 0 : UINT32_MAX << (32 - prefix));
}

/* A.B.C.D at the start of s (up to one of stop), network order. */
static bool
scan_ipv4(const char **p, const char *stop, rte_be32_t *ip)
{
	char buf[INET_ADDRSTRLEN];
	size_t n = strcspn(*p, stop);
	struct in_addr a;

	if (n == 0 || n >= sizeof(buf))
		return false;
	memcpy(buf, *p, n);
	buf[n] = '\0';
	if (inet_pton(AF_INET, buf, &a) != 1)
		return false;
	*ip = a.s_addr;
	*p += n;
	return true;
}

static void
format_ipv4(char *buf, size_t len, rte_be32_t ip, uint32_t prefix)
{
	uint32_t h = rte_be_to_cpu_32(ip);

	snprintf(buf, len, "%u.%u.%u.%u/%u", h >> 24, (h >> 16) & 0xff,
		 (h >> 8) & 0xff, h & 0xff, prefix);
}

static int
allow_parse(const char *spec, struct evg_cfg_allow *out, char *why,
	    size_t whylen)
{
	const char *p = spec;
	uint32_t prefix = 32, lo = 0, hi = UINT32_MAX;
	rte_be32_t net;
	char want[32];

	if (!scan_ipv4(&p, "/:", &net))
		goto bad;
	if (*p == '/') {
		p++;
		if (!scan_u32(&p, &prefix) || prefix > 32)
			goto bad;
	}
	if (*p == ':') {
		p++;
		if (!scan_range(&p, &lo, &hi))
			goto bad;
		if (lo == 0 || lo > hi)
			return evg_cfg_fail(why, whylen, -EINVAL,
					    "expected producer ids LO-HI with "
					    "1 <= LO <= HI <= 4294967295");
	}
	if (*p != '\0')
		goto bad;
	if ((net & ~prefix_mask(prefix)) != 0) {
		format_ipv4(want, sizeof(want), net & prefix_mask(prefix),
			    prefix);
		return evg_cfg_fail(
			why, whylen, -EINVAL,
			"expected a network address: host bits are set "
			"(%s?)",
			want);
	}
	*out = (struct evg_cfg_allow){.net = net,
				      .mask = prefix_mask(prefix),
				      .prod_lo = lo,
				      .prod_hi = hi};
	return 0;
bad:
	return evg_cfg_fail(
		why, whylen, -EINVAL,
		"expected A.B.C.D[/P][:LO[-HI]], e.g. 10.74.0.0/24:100-199");
}

static void
format_allow(char *buf, size_t len, const struct evg_cfg_allow *a)
{
	uint32_t m = rte_be_to_cpu_32(a->mask);
	uint32_t prefix = 0;
	size_t n;

	while (prefix < 32 && (m & (1u << (31 - prefix))) != 0)
		prefix++;
	format_ipv4(buf, len, a->net, prefix);
	n = strlen(buf);
	if (a->prod_lo == 0 && a->prod_hi == UINT32_MAX)
		return;
	if (a->prod_lo == a->prod_hi)
		snprintf(buf + n, len - n, ":%u", a->prod_lo);
	else
		snprintf(buf + n, len - n, ":%u-%u", a->prod_lo, a->prod_hi);
}

/* [sub] group = NAME:POLICY, a name not given before. */
static int
group_parse(struct evg_cfg *cfg, const char *s, char *why, size_t whylen)
{
	const char *colon = strrchr(s, ':');
	struct evg_cfg_group g = {0};
	size_t n = colon != NULL ? (size_t)(colon - s) : 0;
	int policy;

	if (cfg->nb_groups >= EVG_CFG_MAX_GROUPS)
		return evg_cfg_fail(why, whylen, -EINVAL,
				    "expected at most %u groups",
				    EVG_CFG_MAX_GROUPS);
	if (colon == NULL || n == 0 || n >= sizeof(g.name))
		goto bad;
	memcpy(g.name, s, n);
	policy = evg_evf_sub_policy_from_name(colon + 1);
	if (!evg_evf_sub_group_valid(g.name) || policy < 0)
		goto bad;
	g.policy = (uint8_t)policy;
	if (evg_cfg_group_policy(cfg, g.name) != 0)
		return evg_cfg_fail(why, whylen, -EINVAL,
				    "expected each group once, %s is given "
				    "again",
				    g.name);
	cfg->groups[cfg->nb_groups++] = g;
	return 0;
bad:
	return evg_cfg_fail(why, whylen, -EINVAL,
			    "expected NAME:POLICY, NAME 1-31 of A-Z a-z 0-9 . "
			    "_ -, POLICY round-robin, random, weighted, "
			    "least-outstanding or key-hash");
}

unsigned int
evg_cfg_group_policy(const struct evg_cfg *cfg, const char *name)
{
	for (uint32_t i = 0; i < cfg->nb_groups && i < EVG_CFG_MAX_GROUPS; i++)
		if (strcmp(cfg->groups[i].name, name) == 0)
			return cfg->groups[i].policy;
	return 0;
}

/* The interface address: a unicast host address with its prefix. */
static int
ip_parse(const char *s, rte_be32_t *ip, uint8_t *prefix, char *why,
	 size_t whylen)
{
	const char *p = s;
	uint32_t plen, h, host;
	rte_be32_t a;

	if (*s == '\0') {
		*ip = 0;
		*prefix = 0;
		return 0;
	}
	if (!scan_ipv4(&p, "/", &a) || *p++ != '/' || !scan_u32(&p, &plen) ||
	    *p != '\0' || plen < 1 || plen > 32)
		return evg_cfg_fail(
			why, whylen, -EINVAL,
			"expected an IPv4 address and prefix length, "
			"A.B.C.D/1-32");
	h = rte_be_to_cpu_32(a);
	if ((h >> 24) == 0 || (h >> 24) == 127 || (h >> 24) >= 224)
		return evg_cfg_fail(
			why, whylen, -EINVAL,
			"expected a unicast address (not 0/8, 127/8, "
			"multicast or reserved)");
	host = h & ~rte_be_to_cpu_32(prefix_mask(plen));
	if (plen <= 30 && host == 0)
		return evg_cfg_fail(
			why, whylen, -EINVAL,
			"expected a host address, not the network address");
	if (plen <= 30 && host == ~rte_be_to_cpu_32(prefix_mask(plen)))
		return evg_cfg_fail(
			why, whylen, -EINVAL,
			"expected a host address, not the broadcast "
			"address");
	*ip = a;
	*prefix = (uint8_t)plen;
	return 0;
}

/* An id list: of lcores, or of CPUs (noun "CPU"). */
static int
lcores_parse(const char *s, struct evg_cfg_lcores *out, uint32_t max_n,
	     const char *noun, char *why, size_t whylen)
{
	struct evg_cfg_lcores l = {.n = 0};
	bool seen[RTE_MAX_LCORE] = {false};
	const char *p = cfg_skip_spaces(s);
	uint32_t lo, hi;

	while (*p != '\0') {
		if (!scan_range(&p, &lo, &hi))
			goto bad;
		if (lo > hi || hi >= RTE_MAX_LCORE)
			goto bad;
		for (uint32_t v = lo; v <= hi; v++) {
			if (seen[v])
				return evg_cfg_fail(why, whylen, -EINVAL,
						    "expected each %s once, "
						    "%u is listed twice",
						    noun, v);
			if (l.n == max_n)
				goto bad;
			seen[v] = true;
			l.id[l.n++] = (uint16_t)v;
		}
		p = cfg_skip_spaces(p);
		if (*p == ',' && *cfg_skip_spaces(p + 1) != '\0')
			p = cfg_skip_spaces(p + 1);
		else if (*p != '\0')
			goto bad;
	}
	*out = l;
	return 0;
bad:
	if (max_n == 1)
		return evg_cfg_fail(why, whylen, -EINVAL,
				    "expected one %s id 0-%u, or nothing for "
				    "automatic",
				    noun, RTE_MAX_LCORE - 1);
	return evg_cfg_fail(
		why, whylen, -EINVAL,
		"expected %s ids 0-%u like 1 or 1,2 or 1-3, or nothing "
		"for automatic",
		noun, RTE_MAX_LCORE - 1);
}

static void
format_lcores(char *buf, size_t len, const struct evg_cfg_lcores *l)
{
	size_t n = 0;

	buf[0] = '\0';
	for (uint32_t i = 0; i < l->n && i < RTE_MAX_LCORE && n < len; i++) {
		uint32_t j = i;

		while (j + 1 < l->n && j + 1 < RTE_MAX_LCORE &&
		       l->id[j + 1] == l->id[j] + 1)
			j++;
		if (j > i)
			n += (size_t)snprintf(buf + n, len - n, "%s%u-%u",
					      i ? "," : "", l->id[i], l->id[j]);
		else
			n += (size_t)snprintf(buf + n, len - n, "%s%u",
					      i ? "," : "", l->id[i]);
		i = j;
	}
}

static uint32_t
get_uint(const struct evg_cfg *cfg, const struct cfg_key *k)
{
	const char *p = (const char *)cfg + k->off;
	uint16_t v16;
	uint32_t v32;
	uint8_t v8;

	switch (k->size) {
	case 1:
		memcpy(&v8, p, 1);
		return v8;
	case 2:
		memcpy(&v16, p, 2);
		return v16;
	default:
		memcpy(&v32, p, 4);
		return v32;
	}
}

static void
put_uint(struct evg_cfg *cfg, const struct cfg_key *k, uint32_t v)
{
	char *p = (char *)cfg + k->off;
	uint16_t v16 = (uint16_t)v;
	uint8_t v8 = (uint8_t)v;

	if (k->size == 1)
		memcpy(p, &v8, 1);
	else if (k->size == 2)
		memcpy(p, &v16, 2);
	else
		memcpy(p, &v, 4);
}

static int
enum_parse(const struct cfg_key *k, const char *s, uint32_t *v, char *why,
	   size_t whylen)
{
	size_t n = 0, nb = 0;

	for (uint32_t i = 0; k->names[i] != NULL; i++)
		if (strcmp(s, k->names[i]) == 0) {
			*v = i;
			return 0;
		}
	n += (size_t)snprintf(why, whylen, "expected ");
	while (k->names[nb] != NULL)
		nb++;
	for (size_t i = 0; i < nb && n < whylen; i++)
		n += (size_t)snprintf(why + n, whylen - n, "%s%s",
				      cfg_list_sep(i, nb), k->names[i]);
	return -EINVAL;
}

static int
bool_parse(const char *s, uint32_t *v)
{
	static const char *const t[] = {"true", "yes", "on", "1"};
	static const char *const f[] = {"false", "no", "off", "0"};

	for (size_t i = 0; i < RTE_DIM(t); i++) {
		if (strcmp(s, t[i]) == 0) {
			*v = 1;
			return 0;
		}
		if (strcmp(s, f[i]) == 0) {
			*v = 0;
			return 0;
		}
	}
	return -EINVAL;
}

/* A path that an INI line can hold: the loader strips blanks at either
 * end and a line ends at a control character. */
static bool
path_ok(const char *s)
{
	size_t n = strlen(s);

	if (s[0] == ' ' || s[0] == '\t' || s[n - 1] == ' ' || s[n - 1] == '\t')
		return false;
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return false;
	return true;
}

/* A path as an INI value: '#' escaped as "\#", or it would start a
 * comment (found by fuzz_cfg: a --log-dir with '#' did not load back
 * from evg_cfg_dump()). */
static void
format_path(char *buf, size_t len, const char *s, size_t max)
{
	size_t o = 0;

	for (size_t i = 0; i < max && s[i] != '\0' && o + 2 < len; i++) {
		if (s[i] == '#')
			buf[o++] = '\\';
		buf[o++] = s[i];
	}
	if (len > 0)
		buf[o] = '\0';
}

/*
 * Set key k from its text form s. On error, why gets what was expected
 * (without where or the value). K_ALLOW appends a rule.
 */
int
evg_cfg_value_set(struct evg_cfg *cfg, const struct cfg_key *k, const char *s,
		  char *why, size_t whylen)
{
	char *field = (char *)cfg + k->off;
	uint32_t v;

	if (strlen(s) >= CFG_VALUE_LEN)
		return evg_cfg_fail(why, whylen, -EINVAL,
				    "expected at most %d characters",
				    CFG_VALUE_LEN - 1);
	switch (k->kind) {
	case K_UINT:
		if (!parse_u32(s, &v) || v < k->lo || v > k->hi)
			return evg_cfg_fail(why, whylen, -EINVAL,
					    "expected an integer %u-%u%s%s%s",
					    k->lo, k->hi,
					    k->why_lo != NULL ? " (" : "",
					    k->why_lo != NULL ? k->why_lo : "",
					    k->why_lo != NULL ? ")" : "");
		put_uint(cfg, k, v);
		return 0;
	case K_POW2:
		if (!parse_u32(s, &v) || v < k->lo || v > k->hi ||
		    !rte_is_power_of_2(v))
			return evg_cfg_fail(why, whylen, -EINVAL,
					    "expected a power of two between "
					    "%u and %u",
					    k->lo, k->hi);
		put_uint(cfg, k, v);
		return 0;
	case K_BOOL:
		if (bool_parse(s, &v) < 0)
			return evg_cfg_fail(why, whylen, -EINVAL,
					    "expected true or false");
		put_uint(cfg, k, v);
		return 0;
	case K_ENUM:
		if (enum_parse(k, s, &v, why, whylen) < 0)
			return -EINVAL;
		put_uint(cfg, k, v);
		return 0;
	case K_IPV4:
		return ip_parse(s, &cfg->ip, &cfg->ip_prefix, why, whylen);
	case K_PATH:
		if (*s == '\0')
			return evg_cfg_fail(why, whylen, -EINVAL,
					    "expected a path");
		if (!path_ok(s))
			return evg_cfg_fail(why, whylen, -EINVAL,
					    "expected a path without control "
					    "characters or blanks at either "
					    "end");
		strcpy(field, s); /* fits: shorter than CFG_VALUE_LEN */
		return 0;
	case K_LCORES:
	case K_CPUS:
		return lcores_parse(s, (struct evg_cfg_lcores *)field, k->hi,
				    k->kind == K_CPUS ? "CPU" : "lcore", why,
				    whylen);
	case K_ALLOW:
		if (cfg->nb_allow >= EVG_CFG_MAX_ALLOW)
			return evg_cfg_fail(why, whylen, -EINVAL,
					    "expected at most %u allow rules",
					    EVG_CFG_MAX_ALLOW);
		if (allow_parse(s, &cfg->allow[cfg->nb_allow], why, whylen) < 0)
			return -EINVAL;
		cfg->nb_allow++;
		return 0;
	case K_GROUP:
		return group_parse(cfg, s, why, whylen);
	}
	return -EINVAL;
}

/* Text form of key k; K_ALLOW: of rule i. */
void
evg_cfg_value_format(const struct evg_cfg *cfg, const struct cfg_key *k,
		     uint32_t i, char *buf, size_t len)
{
	uint32_t v = get_uint(cfg, k);
	uint32_t n = 0;

	switch (k->kind) {
	case K_UINT:
	case K_POW2:
		snprintf(buf, len, "%u", v);
		break;
	case K_BOOL:
		snprintf(buf, len, "%s", v ? "true" : "false");
		break;
	case K_ENUM:
		while (k->names[n] != NULL && n < v)
			n++;
		if (k->names[n] != NULL)
			snprintf(buf, len, "%s", k->names[n]);
		else
			snprintf(buf, len, "%u", v);
		break;
	case K_IPV4:
		if (cfg->ip == 0)
			buf[0] = '\0';
		else
			format_ipv4(buf, len, cfg->ip, cfg->ip_prefix);
		break;
	case K_PATH:
		format_path(buf, len, (const char *)cfg + k->off, k->size);
		break;
	case K_LCORES:
	case K_CPUS:
		format_lcores(
			buf, len,
			(const struct evg_cfg_lcores *)((const char *)cfg +
							k->off));
		break;
	case K_ALLOW:
		format_allow(buf, len, &cfg->allow[i]);
		break;
	case K_GROUP:
		snprintf(
			buf, len, "%s:%s", cfg->groups[i].name,
			evg_evf_sub_policy_name(cfg->groups[i].policy)
				? evg_evf_sub_policy_name(cfg->groups[i].policy)
				: "?");
		break;
	}
}

int
evg_cfg_fail(char *err, size_t errlen, int rc, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return rc;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	for (char *p = err; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	return rc;
}

const char *
evg_cfg_shown(const char *v)
{
	return *v == '\0' ? "\"\"" : v;
}

int
evg_cfg_parse_allow(const char *spec, struct evg_cfg_allow *out, char *err,
		    size_t errlen)
{
	char why[EVG_CFG_ERR_LEN];

	if (spec == NULL || out == NULL)
		return evg_cfg_fail(err, errlen, -EINVAL,
				    "allow rule: missing");
	if (allow_parse(spec, out, why, sizeof(why)) < 0)
		return evg_cfg_fail(err, errlen, -EINVAL, "%s: %s",
				    evg_cfg_shown(spec), why);
	return 0;
}

bool
evg_cfg_allows(const struct evg_cfg *cfg, rte_be32_t src_ip,
	       uint32_t producer_id)
{
	if (cfg->nb_allow == 0)
		return true;
	for (uint32_t i = 0; i < cfg->nb_allow && i < EVG_CFG_MAX_ALLOW; i++) {
		const struct evg_cfg_allow *a = &cfg->allow[i];

		if ((src_ip & a->mask) == a->net && producer_id >= a->prod_lo &&
		    producer_id <= a->prod_hi)
			return true;
	}
	return false;
}
