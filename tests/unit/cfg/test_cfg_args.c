/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * lib/cfg: the command line, validation across keys, and allow rules.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "cfg_testutil.h"

TestSuite(cfg_args, .init = tu_make_dir, .fini = tu_remove_dir);
TestSuite(cfg_validate);
TestSuite(cfg_allow);

static void
valid_cfg(struct evg_cfg *c)
{
	char err[TU_ERR_LEN] = "";

	cr_assert_eq(evg_cfg_defaults(c), 0);
	cr_assert_eq(tu_parse(c, TU_ARGV("--ip", "10.74.0.2/24"), err), 0, "%s",
		     err);
}

static void
expect_invalid(const struct evg_cfg *c, const char *want)
{
	char err[TU_ERR_LEN] = "";

	cr_assert_eq(evg_cfg_validate(c, err, sizeof(err)), -EINVAL);
	cr_assert_str_eq(err, want);
}

static struct evg_cfg_allow
allow(const char *spec)
{
	struct evg_cfg_allow a;
	char err[TU_ERR_LEN] = "";

	cr_assert_eq(evg_cfg_parse_allow(spec, &a, err, sizeof(err)), 0,
		     "%s: %s", spec, err);
	return a;
}

static bool
allows(const char *const *specs, const char *src, uint32_t producer)
{
	struct evg_cfg c;

	cr_assert_eq(evg_cfg_defaults(&c), 0);
	for (; *specs != NULL; specs++)
		c.allow[c.nb_allow++] = allow(*specs);
	return evg_cfg_allows(&c, tu_ip4(src), producer);
}

#define SPECS(...) ((const char *const[]){__VA_ARGS__, NULL})

Test(cfg_args, every_bad_option_value_names_option_value_and_expectation)
{
	struct evg_cfg c;
	char opt[64], err[TU_ERR_LEN], want[1024];

	for (size_t i = 0; i < tu_nb_bad; i++) {
		const char *v = tu_bad_values[i].val;

		if (tu_bad_values[i].opt == NULL)
			continue;
		snprintf(opt, sizeof(opt), "--%s", tu_bad_values[i].opt);
		snprintf(want, sizeof(want), "--%s %s: ", tu_bad_values[i].opt,
			 *v ? v : "\"\"");
		cr_assert_eq(evg_cfg_defaults(&c), 0);
		err[0] = '\0';
		cr_expect_eq(tu_parse(&c, TU_ARGV(opt, (char *)v), err),
			     -EINVAL, "%s %s", opt, v);
		cr_expect_eq(strncmp(err, want, strlen(want)), 0,
			     "got '%s', want '%s...'", err, want);
		cr_expect_not_null(strstr(err, tu_bad_values[i].want),
				   "got '%s', want '%s'", err,
				   tu_bad_values[i].want);
	}
}

Test(cfg_args, help_returns_1_whatever_else_is_there)
{
	struct evg_cfg c;
	char err[TU_ERR_LEN] = "";

	cr_assert_eq(evg_cfg_defaults(&c), 0);
	cr_assert_eq(tu_parse(&c, TU_ARGV("--help"), err), EVG_CFG_ARGS_HELP);
	cr_assert_eq(tu_parse(&c,
			      TU_ARGV("--udp-port", "0", "--bogus", "-h",
				      "--config", "/nonexistent"),
			      err),
		     1);
	cr_assert_eq(c.udp_port, 7470, "config untouched");
}

Test(cfg_args, version_returns_2)
{
	struct evg_cfg c;
	char err[TU_ERR_LEN] = "";

	cr_assert_eq(evg_cfg_defaults(&c), 0);
	cr_assert_eq(tu_parse(&c, TU_ARGV("--version"), err),
		     EVG_CFG_ARGS_VERSION);
	cr_assert_eq(tu_parse(&c, TU_ARGV("-V"), err), 2);
}

Test(cfg_args, no_options_leave_the_config_as_it_is)
{
	struct evg_cfg c, d;
	char *argv[] = {"evgate", NULL};
	char err[TU_ERR_LEN] = "";

	cr_assert_eq(evg_cfg_defaults(&c), 0);
	d = c;
	cr_assert_eq(evg_cfg_parse_args(&c, 1, argv, err, sizeof(err)), 0);
	cr_assert_arr_eq(&c, &d, sizeof(c));
}

Test(cfg_args, command_line_overrides_the_file_regardless_of_order)
{
	struct evg_cfg c;
	char err[TU_ERR_LEN] = "", path[PATH_MAX];

	tu_write_ini(path, "f.ini",
		     "[net]\nip = 10.1.1.1/16\nudp_port = 7000\n"
		     "[ack]\nlevel = written\n[log]\ndir = /file\n"
		     "[stats]\ninterval = 5\n");
	cr_assert_eq(evg_cfg_defaults(&c), 0);
	cr_assert_eq(tu_parse(&c,
			      TU_ARGV("--udp-port", "7001", "--stats", "9",
				      "--config", path, "--ip", "10.2.2.2/24"),
			      err),
		     0, "%s", err);
	cr_assert_eq(c.udp_port, 7001, "option before --config still wins");
	cr_assert_eq(c.stats_interval_s, 9);
	cr_assert_eq(c.ip, tu_ip4("10.2.2.2"));
	cr_assert_eq(c.ip_prefix, 24);
	cr_assert_eq(c.ack_level, EVG_CFG_ACK_WRITTEN, "from the file");
	cr_assert_str_eq(c.log_dir, "/file");
	cr_assert_eq(c.ring_size, 1024, "from the defaults");
}

Test(cfg_args, every_option_sets_its_key)
{
	struct evg_cfg c;
	char err[TU_ERR_LEN] = "";

	cr_assert_eq(evg_cfg_defaults(&c), 0);
	cr_assert_eq(
		tu_parse(&c,
			 TU_ARGV("--ip=10.74.0.2/24", "--udp-port=7000",
				 "--ack", "synced", "--log-dir", "/data/ev",
				 "--stats", "1", "--allow", "10.74.0.0/24"),
			 err),
		0, "%s", err);
	cr_assert_eq(c.ip, tu_ip4("10.74.0.2"));
	cr_assert_eq(c.udp_port, 7000);
	cr_assert_eq(c.ack_level, EVG_CFG_ACK_SYNCED);
	cr_assert_str_eq(c.log_dir, "/data/ev");
	cr_assert_eq(c.stats_interval_s, 1);
	cr_assert_eq(c.nb_allow, 1);
}

Test(cfg_args, repeated_allow_replaces_the_files_rules)
{
	struct evg_cfg c;
	char err[TU_ERR_LEN] = "", path[PATH_MAX];

	tu_write_ini(path, "f.ini", "[acl]\nallow = 192.168.0.0/16\n");
	cr_assert_eq(evg_cfg_defaults(&c), 0);
	cr_assert_eq(tu_parse(&c,
			      TU_ARGV("--allow", "10.0.0.0/8:1-9", "--config",
				      path, "--allow", "10.1.2.3:5"),
			      err),
		     0, "%s", err);
	cr_assert_eq(c.nb_allow, 2);
	cr_assert_eq(c.allow[0].net, tu_ip4("10.0.0.0"));
	cr_assert_eq(c.allow[0].prod_hi, 9);
	cr_assert_eq(c.allow[1].net, tu_ip4("10.1.2.3"));
	cr_assert_eq(c.allow[1].prod_lo, 5);
	cr_assert_eq(c.allow[1].prod_hi, 5);
}

Test(cfg_args, more_than_64_allow_rules_is_an_error)
{
	struct evg_cfg c;
	char *argv[2 + 2 * 65], spec[65][24], err[TU_ERR_LEN] = "";
	int argc = 1;

	argv[0] = "evgate";
	for (int i = 0; i < 65; i++) {
		snprintf(spec[i], sizeof(spec[i]), "10.0.%d.0/24", i);
		argv[argc++] = "--allow";
		argv[argc++] = spec[i];
	}
	argv[argc] = NULL;
	cr_assert_eq(evg_cfg_defaults(&c), 0);
	cr_assert_eq(evg_cfg_parse_args(&c, argc, argv, err, sizeof(err)),
		     -EINVAL);
	cr_assert_str_eq(err, "--allow 10.0.64.0/24: expected at most 64 "
			      "allow rules");
	cr_assert_eq(evg_cfg_parse_args(&c, argc - 2, argv, err, sizeof(err)),
		     0, "64 are fine: %s", err);
	cr_assert_eq(c.nb_allow, 64);
}

Test(cfg_args, syntax_errors_name_the_offending_argument)
{
	static const struct {
		char *a, *b;
		const char *want;
	} cases[] = {
		{"--bogus", NULL,
		 "--bogus: unknown or ambiguous option (see --help)"},
		{"--udp-port=1", "-x", "-x: unknown option (see --help)"},
		{"--help=1", NULL, "--help=1: unexpected value (see --help)"},
		{"--udp-port", NULL, "--udp-port: missing value"},
		{"--ip", "10.74.0.2/24x", "--ip 10.74.0.2/24x: expected"},
		{"--stats", "1", NULL},
		{"extra", NULL, "extra: unexpected argument (see --help)"},
		{"--stats=1", "extra", "extra: unexpected argument"},
	};
	struct evg_cfg c;
	char err[TU_ERR_LEN];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *argv[] = {"evgate", cases[i].a, cases[i].b, NULL};
		int argc = cases[i].b ? 3 : 2;

		cr_assert_eq(evg_cfg_defaults(&c), 0);
		err[0] = '\0';
		if (cases[i].want == NULL) {
			cr_expect_eq(evg_cfg_parse_args(&c, argc, argv, err,
							sizeof(err)),
				     0, "%s", err);
			continue;
		}
		cr_expect_eq(
			evg_cfg_parse_args(&c, argc, argv, err, sizeof(err)),
			-EINVAL, "case %zu", i);
		cr_expect_eq(strncmp(err, cases[i].want, strlen(cases[i].want)),
			     0, "got '%s', want '%s'", err, cases[i].want);
	}
}

Test(cfg_args, second_config_option_is_an_error)
{
	struct evg_cfg c;
	char err[TU_ERR_LEN] = "", path[PATH_MAX];

	tu_write_ini(path, "f.ini", "[net]\nudp_port = 1\n");
	cr_assert_eq(evg_cfg_defaults(&c), 0);
	cr_assert_eq(
		tu_parse(&c, TU_ARGV("--config", path, "--config", path), err),
		-EINVAL);
	cr_assert_not_null(strstr(err, "expected one --config"), "%s", err);
}

Test(cfg_args, config_errors_come_back_from_parse_args)
{
	struct evg_cfg c;
	char err[TU_ERR_LEN] = "", path[PATH_MAX], want[PATH_MAX + 128];

	cr_assert_eq(evg_cfg_defaults(&c), 0);
	cr_assert_eq(tu_parse(&c, TU_ARGV("--config", "/nonexistent.ini"), err),
		     -ENOENT);
	cr_assert_str_eq(err, "/nonexistent.ini: cannot open: No such file or "
			      "directory");
	tu_write_ini(path, "f.ini", "[pipeline]\nring_size = 1000\n");
	cr_assert_eq(
		tu_parse(&c, TU_ARGV("--udp-port", "7", "--config", path), err),
		-EINVAL);
	snprintf(want, sizeof(want),
		 "%s: [pipeline] ring_size = 1000: "
		 "expected a power of two between 64 and 65536",
		 path);
	cr_assert_str_eq(err, want);
	cr_assert_eq(c.udp_port, 7470, "config unchanged after an error");
}

Test(cfg_args, parse_args_can_run_twice_in_one_process)
{
	struct evg_cfg c;
	char err[TU_ERR_LEN] = "";

	cr_assert_eq(evg_cfg_defaults(&c), 0);
	cr_assert_eq(
		tu_parse(&c, TU_ARGV("--udp-port", "1", "--stats", "2"), err),
		0);
	cr_assert_eq(tu_parse(&c, TU_ARGV("--stats", "3"), err), 0, "%s", err);
	cr_assert_eq(c.udp_port, 1);
	cr_assert_eq(c.stats_interval_s, 3);
	cr_assert_eq(tu_parse(&c, TU_ARGV("--udp-port", "0"), err), -EINVAL);
}

Test(cfg_args, control_characters_never_break_the_error_line)
{
	struct evg_cfg c;
	char err[TU_ERR_LEN] = "";

	cr_assert_eq(evg_cfg_defaults(&c), 0);
	cr_assert_eq(tu_parse(&c, TU_ARGV("--udp-port", "1\n2"), err), -EINVAL);
	cr_assert_str_eq(err, "--udp-port 1?2: expected an integer 1-65535");
}

Test(cfg_args, short_err_buffer_is_truncated_not_overrun)
{
	struct evg_cfg c;
	char err[16];

	memset(err, 'X', sizeof(err));
	cr_assert_eq(evg_cfg_defaults(&c), 0);
	cr_assert_eq(evg_cfg_parse_args(&c, 3, TU_ARGV("--udp-port", "0"), err,
					sizeof(err)),
		     -EINVAL);
	cr_assert_str_eq(err, "--udp-port 0: e");
	cr_assert_eq(
		evg_cfg_parse_args(&c, 3, TU_ARGV("--udp-port", "0"), NULL, 0),
		-EINVAL, "err may be NULL");
}

Test(cfg_args, usage_lists_every_option_with_its_default)
{
	static const char *const want[] = {
		"Usage: evgate [EAL options] -- [options]",
		"--config FILE",
		"--ip ADDR/PREFIX",
		"(default: none, required)",
		"--udp-port N",
		"(default: 7470)",
		"--ack LEVEL",
		"(default: received)",
		"--log-dir DIR",
		"(default: /var/lib/evgate)",
		"--stats SECONDS",
		"(default: 0)",
		"--allow SPEC",
		"(default: allow all)",
		"-h, --help",
		"-V, --version",
	};
	char *buf = NULL, *line, *save = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	cr_assert_not_null(f);
	evg_cfg_usage(f, "evgate");
	fclose(f);
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		cr_expect_not_null(strstr(buf, want[i]), "missing '%s' in\n%s",
				   want[i], buf);
	for (line = strtok_r(buf, "\n", &save); line != NULL;
	     line = strtok_r(NULL, "\n", &save))
		cr_expect_leq(strlen(line), 79, "too wide: '%s'", line);
	free(buf);
}

Test(cfg_validate, more_rx_lcores_than_rx_queues_is_an_error)
{
	struct evg_cfg c;

	valid_cfg(&c);
	c.rx_lcores = (struct evg_cfg_lcores){.n = 2, .id = {1, 2}};
	expect_invalid(&c, "[pipeline] rx_lcores: 2 lcores, expected at most "
			   "[port] rx_queues = 1 (one queue per RX lcore)");
	c.rx_queues = 2;
	cr_assert_eq(evg_cfg_validate(&c, NULL, 0), 0);
}

Test(cfg_validate, more_seq_lcores_than_seq_shards_is_an_error)
{
	struct evg_cfg c;

	valid_cfg(&c);
	c.seq_lcores = (struct evg_cfg_lcores){.n = 2, .id = {3, 4}};
	expect_invalid(&c, "[pipeline] seq_lcores: 2 lcores, expected at most "
			   "seq_shards = 1 (one shard per sequencer lcore)");
}

Test(cfg_validate, burst_must_be_below_ring_size)
{
	struct evg_cfg c;

	valid_cfg(&c);
	c.burst = 128;
	c.ring_size = 128;
	expect_invalid(&c, "[pipeline] burst = 128: expected less than "
			   "ring_size = 128");
}

Test(cfg_validate, mbufs_must_fill_one_ports_rings)
{
	struct evg_cfg c;

	valid_cfg(&c);
	c.rx_queues = 4;
	c.mbufs = 4095;
	expect_invalid(&c, "[port] mbufs = 4095: expected at least rx_queues x "
			   "rx_desc + tx_desc = 5120 to fill one port's rings");
}

Test(cfg_validate, out_of_range_fields_set_in_code_are_caught)
{
	struct evg_cfg c;

	valid_cfg(&c);
	c.ring_size = 1000;
	expect_invalid(&c, "[pipeline] ring_size = 1000: expected a power of "
			   "two between 64 and 65536");
	valid_cfg(&c);
	c.ack_level = (enum evg_cfg_ack)7;
	expect_invalid(&c, "[ack] level = 7: expected received, written or "
			   "synced");
	valid_cfg(&c);
	c.nb_allow = 1;
	c.allow[0] = (struct evg_cfg_allow){tu_ip4("10.0.0.1"),
					    tu_ip4("255.0.0.0"), 1, 1};
	expect_invalid(&c, "[acl] allow = 10.0.0.1/8:1: expected a network "
			   "address: host bits are set (10.0.0.0/8?)");
	valid_cfg(&c);
	c.tx_lcore.n = 2;
	expect_invalid(&c,
		       "[pipeline] tx_lcore: 2 lcore ids, expected at most 1");
	valid_cfg(&c);
	c.nb_allow = 1;
	c.allow[0] = (struct evg_cfg_allow){
		tu_ip4("10.0.0.0"), tu_ip4("255.0.255.0"), 0, UINT32_MAX};
	expect_invalid(&c, "[acl] allow = 10.0.0.0/8: expected a prefix mask, "
			   "not one with holes");
}

Test(cfg_validate, zeroed_config_is_invalid)
{
	struct evg_cfg c;
	char err[TU_ERR_LEN] = "";

	memset(&c, 0, sizeof(c));
	cr_assert_eq(evg_cfg_validate(&c, err, sizeof(err)), -EINVAL);
	cr_assert_str_eq(err, "[net] udp_port = 0: expected an integer "
			      "1-65535");
}

Test(cfg_validate, ack_levels_have_names)
{
	cr_assert_str_eq(evg_cfg_ack_name(EVG_CFG_ACK_RECEIVED), "received");
	cr_assert_str_eq(evg_cfg_ack_name(EVG_CFG_ACK_WRITTEN), "written");
	cr_assert_str_eq(evg_cfg_ack_name(EVG_CFG_ACK_SYNCED), "synced");
	cr_assert_null(evg_cfg_ack_name((enum evg_cfg_ack)3));
}

Test(cfg_allow, spec_forms_parse)
{
	struct evg_cfg_allow a;

	a = allow("10.74.0.0/24");
	cr_assert_eq(a.net, tu_ip4("10.74.0.0"));
	cr_assert_eq(a.mask, tu_ip4("255.255.255.0"));
	cr_assert_eq(a.prod_lo, 0);
	cr_assert_eq(a.prod_hi, UINT32_MAX);
	a = allow("10.74.0.0/24:100-199");
	cr_assert_eq(a.prod_lo, 100);
	cr_assert_eq(a.prod_hi, 199);
	a = allow("10.74.0.0/24:42");
	cr_assert_eq(a.prod_lo, 42);
	cr_assert_eq(a.prod_hi, 42);
	a = allow("10.74.0.9");
	cr_assert_eq(a.mask, UINT32_MAX, "bare address is a /32");
	a = allow("0.0.0.0/0:1-4294967295");
	cr_assert_eq(a.mask, 0);
	cr_assert_eq(a.prod_hi, UINT32_MAX);
}

Test(cfg_allow, bad_specs_are_errors_naming_the_spec)
{
	static const char *const bad[] = {
		"10.74.0.1/24",
		"10.74.0.0/33",
		"10.74.0.0/24:0",
		"10.74.0.0/24:5-4",
		"10.74.0.0/24:1-2-3",
		"10.74.0/24",
		"10.74.0.0/24 ",
		"10.74.0.0/24:4294967296",
		"",
		"any",
	};
	struct evg_cfg_allow a;
	char err[TU_ERR_LEN];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		cr_expect_eq(evg_cfg_parse_allow(bad[i], &a, err, sizeof(err)),
			     -EINVAL, "'%s' accepted", bad[i]);
		cr_expect_not_null(strstr(err, ": expected"), "%s", err);
		if (*bad[i] != '\0')
			cr_expect_eq(strncmp(err, bad[i], strlen(bad[i])), 0,
				     "names the spec: %s", err);
	}
	evg_cfg_parse_allow("10.74.0.1/24", &a, err, sizeof(err));
	cr_assert_str_eq(err, "10.74.0.1/24: expected a network address: host "
			      "bits are set (10.74.0.0/24?)");
}

Test(cfg_allow, no_rules_allow_everything)
{
	struct evg_cfg c;

	cr_assert_eq(evg_cfg_defaults(&c), 0);
	cr_assert(evg_cfg_allows(&c, tu_ip4("203.0.113.9"), 1));
	cr_assert(evg_cfg_allows(&c, 0, UINT32_MAX));
}

Test(cfg_allow, cidr_boundaries_are_inclusive)
{
	const char *const *s = SPECS("10.74.0.0/24");

	cr_assert(allows(s, "10.74.0.0", 1));
	cr_assert(allows(s, "10.74.0.255", 1));
	cr_assert_not(allows(s, "10.73.255.255", 1));
	cr_assert_not(allows(s, "10.74.1.0", 1));
	cr_assert(allows(SPECS("10.74.0.0/23"), "10.74.1.255", 1));
}

Test(cfg_allow, slash_0_matches_every_address)
{
	cr_assert(allows(SPECS("0.0.0.0/0"), "255.255.255.255", 9));
	cr_assert(allows(SPECS("0.0.0.0/0"), "0.0.0.0", 9));
}

Test(cfg_allow, slash_32_matches_one_address)
{
	const char *const *s = SPECS("10.74.0.7/32");

	cr_assert(allows(s, "10.74.0.7", 1));
	cr_assert_not(allows(s, "10.74.0.6", 1));
	cr_assert_not(allows(s, "10.74.0.8", 1));
}

Test(cfg_allow, producer_ranges_are_inclusive)
{
	const char *const *s = SPECS("10.74.0.0/24:100-199");

	cr_assert(allows(s, "10.74.0.1", 100));
	cr_assert(allows(s, "10.74.0.1", 199));
	cr_assert_not(allows(s, "10.74.0.1", 99));
	cr_assert_not(allows(s, "10.74.0.1", 200));
	cr_assert_not(allows(s, "10.75.0.1", 150), "range and address both");
	cr_assert(allows(SPECS("10.74.0.0/24:7"), "10.74.0.1", 7));
	cr_assert_not(allows(SPECS("10.74.0.0/24:7"), "10.74.0.1", 8));
}

Test(cfg_allow, any_matching_rule_allows)
{
	const char *const *s = SPECS("10.74.0.0/24:100-199", "10.80.0.0/16:5");

	cr_assert(allows(s, "10.80.3.4", 5));
	cr_assert(allows(s, "10.74.0.4", 150));
	cr_assert_not(allows(s, "10.80.3.4", 150));
}
