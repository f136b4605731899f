/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * lib/cfg: the built-in defaults, INI files, dump, and the documentation's
 * agreement with them. Test files go into a fresh directory per test.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "cfg_testutil.h"

TestSuite(cfg_defaults);
TestSuite(cfg_file, .init = tu_make_dir, .fini = tu_remove_dir);
TestSuite(cfg_dump, .init = tu_make_dir, .fini = tu_remove_dir);
TestSuite(cfg_docs, .init = tu_make_dir, .fini = tu_remove_dir);

static const char full_ini[] =
	"[net]\nip = 192.168.7.9/20\nudp_port = 9000\n"
	"[port]\nrx_queues = 4\nrx_desc = 512\ntx_desc = 2048\n"
	"mbufs = 65535\nmbuf_cache = 128\nlink_wait_ms = 0\n"
	"promiscuous = yes\nmtu = 9000\n"
	"[pipeline]\nburst = 64\nring_size = 4096\nring_full = backpressure\n"
	"seq_shards = 8\nseq_capacity = 1048576\nrx_lcores = 1-3,5\n"
	"seq_lcores = 7,6\nack_lcore = 9\ntx_lcore = 127\n"
	"[ack]\nlevel = synced\nnak_rate = 5000\nnak_burst = 50\n"
	"[log]\ndir = /srv/evgate log\n"
	"[stats]\ninterval = 10\n"
	"[acl]\nallow = 10.74.0.0/24:100-199\nallow = 10.75.1.2\n"
	"allow = 0.0.0.0/0:7\n";

/* Lines rte_cfgfile would reject without a reason, or skip silently. */
static const struct {
	const char *text;
	const char *err; /* what err must contain */
} bad_lines[] = {
	{"[net]\nudp_port 7471\n",
	 "t.ini:2: udp_port 7471: expected [section] or key = value"},
	{"udp_port = 7471\n[net]\n",
	 "t.ini:1: udp_port = 7471: expected a [section] line before it"},
	{"[net\nudp_port = 1\n", "t.ini:1: [net: expected [section]"},
	{"[net] x\n", "t.ini:1: [net] x: expected [section]"},
	{"[]\n", "t.ini:1: []: expected [section]"},
	{"[net]\n = 7471\n",
	 "t.ini:2: = 7471: expected [section] or key = value"},
};

Test(cfg_defaults, defaults_are_the_documented_values)
{
	struct evg_cfg c;

	cr_assert_eq(evg_cfg_defaults(&c), 0);
	cr_assert_eq(c.ip, 0, "no default address");
	cr_assert_eq(c.udp_port, 7470);
	cr_assert_eq(c.rx_queues, 1);
	cr_assert_eq(c.rx_desc, 1024);
	cr_assert_eq(c.tx_desc, 1024);
	cr_assert_eq(c.mbufs, 16383);
	cr_assert_eq(c.mbuf_cache, 256);
	cr_assert_eq(c.link_wait_ms, 3000);
	cr_assert_not(c.promiscuous);
	cr_assert_eq(c.mtu, 1500);
	cr_assert_eq(c.burst, 32);
	cr_assert_eq(c.ring_size, 1024);
	cr_assert_eq(c.ring_full, EVG_CFG_RING_FULL_DROP);
	cr_assert_eq(c.seq_shards, 1);
	cr_assert_eq(c.seq_capacity, 65536);
	cr_assert_eq(c.rx_lcores.n + c.seq_lcores.n + c.ack_lcore.n +
			     c.tx_lcore.n,
		     0, "lcore maps are automatic");
	cr_assert_eq(c.ack_level, EVG_CFG_ACK_RECEIVED);
	cr_assert_eq(c.nak_rate, 100);
	cr_assert_eq(c.nak_burst, 10);
	cr_assert_str_eq(c.log_dir, "/var/lib/evgate");
	cr_assert_eq(c.stats_interval_s, 0);
	cr_assert_eq(c.nb_allow, 0);
	cr_assert_not(c.fault_injection, "fault injection is off");
}

Test(cfg_defaults, defaults_fail_only_for_the_missing_ip)
{
	struct evg_cfg c;
	char err[TU_ERR_LEN];

	cr_assert_eq(evg_cfg_defaults(&c), 0);
	cr_assert_eq(evg_cfg_validate(&c, err, sizeof(err)), -EINVAL);
	cr_assert_not_null(strstr(err, "[net] ip is not set"), "%s", err);
	cr_assert_not_null(strstr(err, "--ip"), "says how to fix it: %s", err);
}

Test(cfg_defaults, defaults_validate_once_ip_is_given)
{
	struct evg_cfg c;
	char err[TU_ERR_LEN] = "";

	cr_assert_eq(evg_cfg_defaults(&c), 0);
	cr_assert_eq(tu_parse(&c, TU_ARGV("--ip", "10.74.0.2/24"), err), 0,
		     "%s", err);
	cr_assert_eq(c.ip, tu_ip4("10.74.0.2"), "network byte order");
	cr_assert_eq(c.ip_prefix, 24);
	cr_assert_eq(evg_cfg_validate(&c, err, sizeof(err)), 0, "%s", err);
}

Test(cfg_dump, embedded_defaults_are_the_committed_ini_file)
{
	struct evg_cfg a, b;
	char err[TU_ERR_LEN] = "";

	cr_assert_eq(evg_cfg_defaults(&a), 0);
	memset(&b, 0, sizeof(b));
	cr_assert_eq(evg_cfg_load_file(&b, CFG_DEFAULT_INI, err, sizeof(err)),
		     0, "%s", err);
	cr_assert_arr_eq(&a, &b, sizeof(a));
}

Test(cfg_dump, embedded_defaults_survive_dump_and_load)
{
	static char d1[TU_DUMP_LEN], d2[TU_DUMP_LEN];
	struct evg_cfg def, back;
	char path[PATH_MAX], err[TU_ERR_LEN] = "";

	cr_assert_eq(evg_cfg_defaults(&def), 0);
	tu_dump(&def, d1);
	tu_write_ini(path, "dump.ini", d1);
	/* Onto a zeroed config: the dump alone must restore every field. */
	memset(&back, 0, sizeof(back));
	cr_assert_eq(evg_cfg_load_file(&back, path, err, sizeof(err)), 0,
		     "%s\n%s", err, d1);
	cr_assert_arr_eq(&back, &def, sizeof(def));
	tu_dump(&back, d2);
	cr_assert_str_eq(d2, d1);
}

Test(cfg_file, every_key_loads_from_a_file)
{
	struct evg_cfg c;
	char err[TU_ERR_LEN] = "";

	cr_assert_eq(tu_load_text(&c, full_ini, err), 0, "%s", err);
	cr_assert_eq(c.ip, tu_ip4("192.168.7.9"));
	cr_assert_eq(c.ip_prefix, 20);
	cr_assert_eq(c.udp_port, 9000);
	cr_assert_eq(c.rx_queues, 4);
	cr_assert_eq(c.rx_desc, 512);
	cr_assert_eq(c.tx_desc, 2048);
	cr_assert_eq(c.mbufs, 65535);
	cr_assert_eq(c.mbuf_cache, 128);
	cr_assert_eq(c.link_wait_ms, 0);
	cr_assert(c.promiscuous);
	cr_assert_eq(c.mtu, 9000);
	cr_assert_eq(c.burst, 64);
	cr_assert_eq(c.ring_size, 4096);
	cr_assert_eq(c.ring_full, EVG_CFG_RING_FULL_BACKPRESSURE);
	cr_assert_eq(c.seq_shards, 8);
	cr_assert_eq(c.seq_capacity, 1048576);
	cr_assert_eq(c.rx_lcores.n, 4);
	cr_assert_arr_eq(c.rx_lcores.id, ((uint16_t[]){1, 2, 3, 5}),
			 4 * sizeof(uint16_t));
	cr_assert_eq(c.seq_lcores.n, 2);
	cr_assert_eq(c.seq_lcores.id[0], 7, "order kept");
	cr_assert_eq(c.seq_lcores.id[1], 6);
	cr_assert_eq(c.ack_lcore.n, 1);
	cr_assert_eq(c.ack_lcore.id[0], 9);
	cr_assert_eq(c.tx_lcore.id[0], 127);
	cr_assert_eq(c.ack_level, EVG_CFG_ACK_SYNCED);
	cr_assert_eq(c.nak_rate, 5000);
	cr_assert_eq(c.nak_burst, 50);
	cr_assert_str_eq(c.log_dir, "/srv/evgate log");
	cr_assert_eq(c.stats_interval_s, 10);
	cr_assert_eq(c.nb_allow, 3, "rte_cfgfile keeps repeated keys");
	cr_assert_eq(c.allow[1].net, tu_ip4("10.75.1.2"),
		     "bare address is /32");
	cr_assert_eq(c.allow[1].mask, UINT32_MAX);
	cr_assert_eq(evg_cfg_validate(&c, err, sizeof(err)), 0, "%s", err);
}

Test(cfg_dump, a_full_config_survives_dump_and_load)
{
	static char d1[TU_DUMP_LEN], d2[TU_DUMP_LEN];
	struct evg_cfg c, back;
	char path[PATH_MAX], err[TU_ERR_LEN] = "";

	cr_assert_eq(tu_load_text(&c, full_ini, err), 0, "%s", err);
	tu_dump(&c, d1);
	cr_assert_not_null(strstr(d1, "rx_lcores = 1-3,5\n"), "%s", d1);
	cr_assert_not_null(strstr(d1, "allow = 10.74.0.0/24:100-199\n"
				      "allow = 10.75.1.2/32\n"
				      "allow = 0.0.0.0/0:7\n"),
			   "%s", d1);
	tu_write_ini(path, "dump.ini", d1);
	memset(&back, 0, sizeof(back));
	cr_assert_eq(evg_cfg_load_file(&back, path, err, sizeof(err)), 0, "%s",
		     err);
	cr_assert_arr_eq(&back, &c, sizeof(c));
	tu_dump(&back, d2);
	cr_assert_str_eq(d2, d1);
}

Test(cfg_dump, value_too_long_for_rte_cfgfile_is_refused)
{
	static char buf[TU_DUMP_LEN];
	struct evg_cfg c;
	FILE *f = fmemopen(buf, sizeof(buf), "w");

	cr_assert_eq(evg_cfg_defaults(&c), 0);
	c.rx_lcores.n = RTE_MAX_LCORE;
	for (int i = 0; i < RTE_MAX_LCORE; i++)
		c.rx_lcores.id[i] = (uint16_t)(RTE_MAX_LCORE - 1 - i);
	cr_assert_eq(evg_cfg_dump(&c, f), -ERANGE);
	fclose(f);
}

Test(cfg_file, keys_missing_from_the_file_keep_their_values)
{
	struct evg_cfg c;
	char err[TU_ERR_LEN] = "";

	cr_assert_eq(tu_load_text(&c, "[ack]\nlevel = written\n", err), 0, "%s",
		     err);
	cr_assert_eq(c.ack_level, EVG_CFG_ACK_WRITTEN);
	cr_assert_eq(c.udp_port, 7470);
	cr_assert_eq(c.ring_size, 1024);
}

Test(cfg_file, comments_blank_lines_and_crlf_are_ignored)
{
	struct evg_cfg c;
	char err[TU_ERR_LEN] = "";

	cr_assert_eq(tu_load_text(&c,
				  "# evgate\r\n\r\n[net]   \r\n"
				  "  udp_port   =  7471   # test port\r\n"
				  "\t# ; not a comment character here\r\n"
				  "[ log ]\r\ndir = /srv/a\\#b\r\n",
				  err),
		     0, "%s", err);
	cr_assert_eq(c.udp_port, 7471);
	cr_assert_str_eq(c.log_dir, "/srv/a#b", "\\# escapes the comment");
}

Test(cfg_file, missing_file_is_enoent_naming_the_path)
{
	struct evg_cfg c;
	char err[TU_ERR_LEN] = "";

	cr_assert_eq(evg_cfg_defaults(&c), 0);
	cr_assert_eq(evg_cfg_load_file(&c, "/nonexistent/evgate.ini", err,
				       sizeof(err)),
		     -ENOENT);
	cr_assert_str_eq(err, "/nonexistent/evgate.ini: cannot open: No such "
			      "file or directory");
}

Test(cfg_file, directory_is_an_error)
{
	struct evg_cfg c;
	char err[TU_ERR_LEN] = "";

	cr_assert_eq(evg_cfg_defaults(&c), 0);
	cr_assert_eq(evg_cfg_load_file(&c, tu_dir(), err, sizeof(err)), -EISDIR,
		     "%s", err);
	cr_assert_not_null(strstr(err, "Is a directory"), "%s", err);
}

Test(cfg_file, file_over_1_mib_is_efbig)
{
	struct evg_cfg c;
	char err[TU_ERR_LEN] = "", path[PATH_MAX];
	char *big = malloc((1u << 20) + 2);

	cr_assert_not_null(big);
	memset(big, '#', (1u << 20) + 1);
	big[(1u << 20) + 1] = '\0';
	tu_write_ini(path, "big.ini", big);
	free(big);
	cr_assert_eq(evg_cfg_defaults(&c), 0);
	cr_assert_eq(evg_cfg_load_file(&c, path, err, sizeof(err)), -EFBIG,
		     "%s", err);
}

Test(cfg_file, config_from_a_pipe_is_read_once)
{
	static const char text[] = "[net]\nudp_port = 7001\n";
	struct evg_cfg c;
	char err[TU_ERR_LEN] = "", path[64];
	int fds[2];

	/* What --config <(generate) hands over. */
	cr_assert_eq(pipe(fds), 0);
	cr_assert_eq(write(fds[1], text, strlen(text)), (ssize_t)strlen(text));
	close(fds[1]);
	snprintf(path, sizeof(path), "/dev/fd/%d", fds[0]);
	cr_assert_eq(evg_cfg_defaults(&c), 0);
	cr_assert_eq(evg_cfg_load_file(&c, path, err, sizeof(err)), 0, "%s",
		     err);
	cr_assert_eq(c.udp_port, 7001);
	close(fds[0]);
}

Test(cfg_file, unknown_section_is_an_error_naming_it)
{
	struct evg_cfg c;
	char err[TU_ERR_LEN] = "";

	cr_assert_eq(tu_load_text(&c, "[nte]\nip = 10.0.0.1/8\n", err),
		     -EINVAL);
	cr_assert_not_null(strstr(err, "t.ini: [nte]: unknown section, "
				       "expected net, port, pipeline, ack, "
				       "log, stats, acl or sub"),
			   "%s", err);
}

Test(cfg_file, unknown_key_is_an_error_naming_it)
{
	struct evg_cfg c;
	char err[TU_ERR_LEN] = "";

	cr_assert_eq(tu_load_text(&c, "[net]\nudp_prot = 7471\n", err),
		     -EINVAL);
	cr_assert_not_null(strstr(err, "t.ini: [net] udp_prot = 7471: unknown "
				       "key, expected ip or udp_port"),
			   "%s", err);
}

Test(cfg_file, key_set_twice_is_an_error_even_in_a_repeated_section)
{
	struct evg_cfg c;
	char err[TU_ERR_LEN] = "";

	cr_assert_eq(
		tu_load_text(&c, "[net]\nudp_port = 1\nudp_port = 2\n", err),
		-EINVAL);
	cr_assert_not_null(strstr(err, "[net] udp_port = 2: expected the key "
				       "once"),
			   "%s", err);
	cr_assert_eq(tu_load_text(&c,
				  "[net]\nudp_port = 1\n[log]\ndir=/x\n"
				  "[net]\nudp_port = 2\n",
				  err),
		     -EINVAL);
	cr_assert_not_null(strstr(err, "udp_port = 2"), "%s", err);
}

Test(cfg_file, repeated_sections_merge)
{
	struct evg_cfg c;
	char err[TU_ERR_LEN] = "";

	cr_assert_eq(
		tu_load_text(
			&c,
			"[acl]\nallow = 10.0.0.0/8\n[net]\nudp_port = 9\n"
			"[acl]\nallow = 10.1.0.0/16\n[net]\nip = 1.2.3.4/8\n",
			err),
		0, "%s", err);
	cr_assert_eq(c.nb_allow, 2);
	cr_assert_eq(c.udp_port, 9);
	cr_assert_eq(c.ip, tu_ip4("1.2.3.4"));
}

Test(cfg_file, sub_groups_carry_their_policy_and_are_given_once)
{
	struct evg_cfg c;
	char err[TU_ERR_LEN] = "";

	cr_assert_eq(tu_load_text(&c,
				  "[sub]\ngroup = billing:key-hash\n"
				  "group = audit.v2:weighted\n",
				  err),
		     0, "%s", err);
	cr_assert_eq(c.nb_groups, 2);
	cr_assert_eq(evg_cfg_group_policy(&c, "billing"), 5);
	cr_assert_eq(evg_cfg_group_policy(&c, "audit.v2"), 3);
	cr_assert_eq(evg_cfg_group_policy(&c, "other"), 0);
	cr_assert_eq(tu_load_text(&c,
				  "[sub]\ngroup = a:random\ngroup = "
				  "a:weighted\n",
				  err),
		     -EINVAL);
	cr_assert_not_null(strstr(err, "a is given again"), "%s", err);
}

Test(cfg_file, malformed_lines_are_errors_with_their_line_number)
{
	struct evg_cfg c;
	char err[TU_ERR_LEN];

	for (size_t i = 0; i < sizeof(bad_lines) / sizeof(bad_lines[0]); i++) {
		err[0] = '\0';
		cr_expect_eq(tu_load_text(&c, bad_lines[i].text, err), -EINVAL,
			     "case %zu", i);
		cr_expect_not_null(strstr(err, bad_lines[i].err),
				   "case %zu: got '%s', want '%s'", i, err,
				   bad_lines[i].err);
	}
}

Test(cfg_file, overlong_lines_and_nul_bytes_are_errors)
{
	struct evg_cfg c;
	char err[TU_ERR_LEN] = "", path[PATH_MAX], text[512];
	FILE *f;

	snprintf(text, sizeof(text), "[log]\ndir = /%0300d\n", 0);
	cr_assert_eq(tu_load_text(&c, text, err), -EINVAL);
	cr_assert_not_null(strstr(err, "t.ini:2: expected a key of at most 63 "
				       "and a value of at most 255 characters"),
			   "%s", err);

	snprintf(path, sizeof(path), "%s/nul.ini", tu_dir());
	f = fopen(path, "w");
	cr_assert_not_null(f);
	fwrite("[net]\nudp_port = 1\0\n", 1, 20, f);
	fclose(f);
	cr_assert_eq(evg_cfg_load_file(&c, path, err, sizeof(err)), -EINVAL);
	cr_assert_not_null(strstr(err, "contains a NUL byte"), "%s", err);
}

/* evgate's own line check and rte_cfgfile's buffer agree on the limit. */
Test(cfg_file, longest_line_rte_cfgfile_reads_whole_is_accepted)
{
	struct evg_cfg c;
	char text[512], err[TU_ERR_LEN] = "";
	int n;

	n = snprintf(text, sizeof(text), "[log]\ndir = /srv #");
	memset(text + n, 'x', 322 - (size_t)(n - 6));
	strcpy(text + 6 + 322, "\n");
	cr_assert_eq(tu_load_text(&c, text, err), 0, "%s", err);
	cr_assert_str_eq(c.log_dir, "/srv");
	strcpy(text + 6 + 322, "x\n");
	cr_assert_eq(tu_load_text(&c, text, err), -EINVAL);
	cr_assert_str_eq(strstr(err, "t.ini:2:"),
			 "t.ini:2: expected lines of at most 322 characters");
}

Test(cfg_file, failed_load_leaves_the_config_unchanged)
{
	static char before[TU_DUMP_LEN], after[TU_DUMP_LEN];
	struct evg_cfg c;
	char err[TU_ERR_LEN] = "", path[PATH_MAX];

	cr_assert_eq(evg_cfg_defaults(&c), 0);
	tu_dump(&c, before);
	tu_write_ini(path, "t.ini",
		     "[net]\nudp_port = 9\n[acl]\nallow = 10.0.0.0/8\n"
		     "[pipeline]\nring_size = 1000\n");
	cr_assert_eq(evg_cfg_load_file(&c, path, err, sizeof(err)), -EINVAL);
	tu_dump(&c, after);
	cr_assert_str_eq(after, before);
}

Test(cfg_file, every_bad_value_names_file_key_value_and_expectation)
{
	struct evg_cfg c;
	char text[512], err[TU_ERR_LEN], want[1024];

	for (size_t i = 0; i < tu_nb_bad; i++) {
		const char *v = tu_bad_values[i].val;

		snprintf(text, sizeof(text), "[%s]\n%s = %s\n",
			 tu_bad_values[i].sec, tu_bad_values[i].key, v);
		snprintf(want, sizeof(want),
			 "/t.ini: [%s] %s = %s: ", tu_bad_values[i].sec,
			 tu_bad_values[i].key, *v ? v : "\"\"");
		err[0] = '\0';
		cr_expect_eq(tu_load_text(&c, text, err), -EINVAL, "%s", text);
		cr_expect_not_null(strstr(err, want), "got '%s', want '%s'",
				   err, want);
		cr_expect_not_null(strstr(err, tu_bad_values[i].want),
				   "got '%s', want '%s'", err,
				   tu_bad_values[i].want);
		cr_expect_null(strchr(err, '\n'), "one line: '%s'", err);
	}
}

/* Every key a dump shows has a bad-value case above. */
Test(cfg_dump, every_key_has_a_bad_value_case)
{
	static char d[TU_DUMP_LEN];
	char sec[64] = "", *line, *save = NULL;
	struct evg_cfg c;
	int keys = 0;

	cr_assert_eq(evg_cfg_defaults(&c), 0);
	c.nb_allow = 1; /* so that allow and group are dumped */
	c.allow[0] = (struct evg_cfg_allow){0, 0, 1, 1};
	c.nb_groups = 1;
	c.groups[0] = (struct evg_cfg_group){"g", 1};
	tu_dump(&c, d);
	for (line = strtok_r(d, "\n", &save); line != NULL;
	     line = strtok_r(NULL, "\n", &save)) {
		char key[64];
		bool found = false;

		if (sscanf(line, "[%63[^]]]", sec) == 1 || line[0] == '#')
			continue;
		cr_assert_eq(sscanf(line, "%63s =", key), 1, "%s", line);
		keys++;
		for (size_t i = 0; i < tu_nb_bad && !found; i++)
			found = strcmp(tu_bad_values[i].sec, sec) == 0 &&
				strcmp(tu_bad_values[i].key, key) == 0;
		cr_expect(found, "[%s] %s has no bad-value case", sec, key);
	}
	cr_assert_eq(keys, 43);
}

Test(cfg_file, lcore_lists_take_ids_ranges_and_mixes)
{
	struct evg_cfg c;
	char err[TU_ERR_LEN] = "";

	cr_assert_eq(tu_load_text(&c,
				  "[pipeline]\nrx_lcores = 0-2, 5 ,7\n"
				  "seq_lcores = 127\nack_lcore = 0\n",
				  err),
		     0, "%s", err);
	cr_assert_eq(c.rx_lcores.n, 5);
	cr_assert_arr_eq(c.rx_lcores.id, ((uint16_t[]){0, 1, 2, 5, 7}),
			 5 * sizeof(uint16_t));
	cr_assert_eq(c.seq_lcores.n, 1);
	cr_assert_eq(c.seq_lcores.id[0], 127);
	cr_assert_eq(c.ack_lcore.n, 1);
	cr_assert_eq(c.ack_lcore.id[0], 0);
	cr_assert_eq(c.tx_lcore.n, 0, "empty: automatic");
}

Test(cfg_docs, docs_quote_the_embedded_default_config_verbatim)
{
	char *docs = tu_slurp(CFG_DOCS), *ini = tu_slurp(CFG_DEFAULT_INI);

	cr_assert_not_null(strstr(docs, ini),
			   "docs/configuration.md must contain "
			   "lib/cfg/cfg_default.ini verbatim");
	free(docs);
	free(ini);
}

Test(cfg_docs, docs_example_config_loads_and_validates)
{
	char *docs = tu_slurp(CFG_DOCS), *start, *end, path[PATH_MAX];
	char err[TU_ERR_LEN] = "";
	struct evg_cfg c;

	start = strstr(docs, "## Example");
	cr_assert_not_null(start);
	start = strstr(start, "```ini\n");
	cr_assert_not_null(start);
	start += strlen("```ini\n");
	end = strstr(start, "```");
	cr_assert_not_null(end);
	*end = '\0';
	tu_write_ini(path, "example.ini", start);
	free(docs);
	cr_assert_eq(evg_cfg_defaults(&c), 0);
	cr_assert_eq(evg_cfg_load_file(&c, path, err, sizeof(err)), 0, "%s",
		     err);
	cr_assert_eq(evg_cfg_validate(&c, err, sizeof(err)), 0, "%s", err);
}

Test(cfg_docs, every_key_and_option_is_documented)
{
	static char d[TU_DUMP_LEN];
	char sec[64] = "", want[128], *line, *save = NULL;
	char *docs = tu_slurp(CFG_DOCS);
	struct evg_cfg c;

	cr_assert_eq(evg_cfg_defaults(&c), 0);
	c.nb_allow = 1;
	c.allow[0] = (struct evg_cfg_allow){0, 0, 1, 1};
	c.nb_groups = 1;
	c.groups[0] = (struct evg_cfg_group){"g", 1};
	tu_dump(&c, d);
	for (line = strtok_r(d, "\n", &save); line != NULL;
	     line = strtok_r(NULL, "\n", &save)) {
		char key[64];

		if (line[0] == '#')
			continue;
		if (sscanf(line, "[%63[^]]]", sec) == 1) {
			snprintf(want, sizeof(want), "### [%s]", sec);
			cr_expect_not_null(strstr(docs, want), "no '%s'", want);
			continue;
		}
		sscanf(line, "%63s =", key);
		snprintf(want, sizeof(want), "| `%s` |", key);
		cr_expect_not_null(strstr(docs, want), "[%s] %s undocumented",
				   sec, key);
	}
	for (size_t i = 0; i < tu_nb_bad; i++) {
		if (tu_bad_values[i].opt == NULL)
			continue;
		snprintf(want, sizeof(want), "`--%s ", tu_bad_values[i].opt);
		cr_expect_not_null(strstr(docs, want), "no '%s'", want);
	}
	free(docs);
}

/*
 * The journal appends a frame's events in one batch: batch_kb must hold
 * the records of the largest frame evgate can receive (lib/cfg/cfg.c
 * works it out: 7880 bytes, so 8 KiB), or that frame would wait in the
 * journal stage forever. 8 loads and validates, 7 is refused by both, in
 * one line naming the key, the value and the minimum.
 */
Test(cfg_file, batch_kb_must_hold_the_largest_frame_records)
{
	char err[TU_ERR_LEN] = "";
	struct evg_cfg c;

	cr_assert_eq(tu_load_text(&c,
				  "[net]\nip = 10.0.0.1/8\n"
				  "[log]\nbatch_kb = 8\n",
				  err),
		     0, "%s", err);
	cr_assert_eq(c.batch_kb, 8);
	cr_assert_eq(evg_cfg_validate(&c, err, sizeof(err)), 0, "%s", err);

	err[0] = '\0';
	cr_assert_eq(tu_load_text(&c, "[log]\nbatch_kb = 7\n", err), -EINVAL);
	cr_assert_not_null(strstr(err, "[log] batch_kb = 7: expected an "
				       "integer 8-16384 (a batch must hold "
				       "the records of the largest frame"),
			   "%s", err);
	cr_assert_null(strchr(err, '\n'), "one line: %s", err);

	err[0] = '\0';
	c.batch_kb = 7; /* set directly: validation must catch it too */
	cr_assert_eq(evg_cfg_validate(&c, err, sizeof(err)), -EINVAL);
	cr_assert_not_null(strstr(err, "[log] batch_kb = 7: expected an "
				       "integer 8-16384"),
			   "%s", err);
}

/*
 * The minimum follows [port] mtu: at 9000 the mbuf data room is 9216
 * bytes, a frame carries up to 9128 bytes of EVF/1 records, 570 events,
 * 36552 bytes as journal records, so 36 KiB. The key's own range stays
 * 8-16384 (a file may set batch_kb before mtu, and an option may change
 * mtu after), so validation checks the pair: 36 passes, 35 is refused in
 * one line naming both keys.
 */
Test(cfg_file, batch_kb_minimum_follows_the_port_mtu)
{
	char err[TU_ERR_LEN] = "";
	struct evg_cfg c;

	cr_assert_eq(evg_cfg_batch_kb_min(1500), 8);
	cr_assert_eq(evg_cfg_batch_kb_min(9000), 36);
	cr_assert_eq(evg_cfg_batch_kb_min(9001), 0, "outside [port] mtu");
	cr_assert_eq(tu_load_text(&c,
				  "[net]\nip = 10.0.0.1/8\n[port]\nmtu = 9000\n"
				  "[log]\nbatch_kb = 36\n",
				  err),
		     0, "%s", err);
	cr_assert_eq(evg_cfg_validate(&c, err, sizeof(err)), 0, "%s", err);

	c.batch_kb = 35;
	cr_assert_eq(evg_cfg_validate(&c, err, sizeof(err)), -EINVAL);
	cr_assert_not_null(strstr(err, "[log] batch_kb = 35: expected at least "
				       "36 with [port] mtu = 9000 (a batch "
				       "must hold the records of the largest "
				       "frame"),
			   "%s", err);
	cr_assert_null(strchr(err, '\n'), "one line: %s", err);

	c.mtu = 1500; /* 35 is plenty for standard frames, but ... */
	cr_assert_eq(evg_cfg_validate(&c, err, sizeof(err)), -EINVAL);
	cr_assert_not_null(strstr(err, "[log] batch_kb = 35: expected a "
				       "multiple of 4"),
			   "... not whole 4 KiB blocks: %s", err);
	cr_assert_null(strchr(err, '\n'), "one line: %s", err);
	c.batch_kb = 36;
	cr_assert_eq(evg_cfg_validate(&c, err, sizeof(err)), 0, "%s", err);
}

/* --mtu overrides the file, as every option does; its bounds are the
 * key's. */
Test(cfg_file, mtu_option_overrides_the_file_within_68_to_9000)
{
	char err[TU_ERR_LEN] = "";
	char path[PATH_MAX];
	struct evg_cfg c;

	tu_write_ini(path, "mtu.ini", "[port]\nmtu = 1500\n");
	cr_assert_eq(evg_cfg_defaults(&c), 0);
	cr_assert_eq(
		tu_parse(&c, TU_ARGV("--config", path, "--mtu", "9000"), err),
		EVG_CFG_ARGS_RUN, "%s", err);
	cr_assert_eq(c.mtu, 9000);

	cr_assert_eq(tu_parse(&c, TU_ARGV("--mtu", "9001"), err), -EINVAL);
	cr_assert_not_null(strstr(err, "--mtu 9001: expected an integer "
				       "68-9000"),
			   "%s", err);
	cr_assert_eq(c.mtu, 9000, "unchanged on error");
}
