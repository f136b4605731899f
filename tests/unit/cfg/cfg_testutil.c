/* SPDX-License-Identifier: BSD-3-Clause */
#include <arpa/inet.h>
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "cfg_testutil.h"

static char tmp_dir[] = "/tmp/evg_cfg_test_XXXXXX";

void
tu_make_dir(void)
{
	cr_assert_not_null(mkdtemp(tmp_dir), "mkdtemp: %s", strerror(errno));
}

static int
remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

void
tu_remove_dir(void)
{
	nftw(tmp_dir, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
}

const char *
tu_dir(void)
{
	return tmp_dir;
}

void
tu_write_ini(char *path, const char *name, const char *text)
{
	FILE *f;

	snprintf(path, PATH_MAX, "%s/%s", tmp_dir, name);
	f = fopen(path, "w");
	cr_assert_not_null(f, "%s: %s", path, strerror(errno));
	cr_assert_eq(fwrite(text, 1, strlen(text), f), strlen(text));
	cr_assert_eq(fclose(f), 0);
}

int
tu_load_text(struct evg_cfg *cfg, const char *text, char *err)
{
	char path[PATH_MAX];

	tu_write_ini(path, "t.ini", text);
	cr_assert_eq(evg_cfg_defaults(cfg), 0);
	return evg_cfg_load_file(cfg, path, err, TU_ERR_LEN);
}

char *
tu_slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf;
	long n;

	cr_assert_not_null(f, "%s: %s", path, strerror(errno));
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	buf = calloc(1, (size_t)n + 1);
	cr_assert_not_null(buf);
	cr_assert_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	return buf;
}

void
tu_dump(const struct evg_cfg *cfg, char *buf)
{
	FILE *f = fmemopen(buf, TU_DUMP_LEN, "w");

	cr_assert_not_null(f);
	cr_assert_eq(evg_cfg_dump(cfg, f), 0);
	cr_assert_eq(fclose(f), 0);
}

int
tu_parse(struct evg_cfg *cfg, char **argv, char *err)
{
	int argc = 0;

	while (argv[argc] != NULL)
		argc++;
	return evg_cfg_parse_args(cfg, argc, argv, err, TU_ERR_LEN);
}

rte_be32_t
tu_ip4(const char *s)
{
	struct in_addr a;

	cr_assert_eq(inet_pton(AF_INET, s, &a), 1, "%s", s);
	return a.s_addr;
}

const struct tu_bad_value tu_bad_values[] = {
	{"net", "ip", "ip", "10.74.0.2",
	 "expected an IPv4 address and prefix length, A.B.C.D/1-32"},
	{"net", "ip", "ip", "10.74.0.256/24", "A.B.C.D/1-32"},
	{"net", "ip", "ip", "10.74.0.2/0", "A.B.C.D/1-32"},
	{"net", "ip", "ip", "10.74.0.2/33", "A.B.C.D/1-32"},
	{"net", "ip", "ip", "10.74.0.0/24", "not the network address"},
	{"net", "ip", "ip", "10.74.0.255/24", "not the broadcast address"},
	{"net", "ip", "ip", "127.0.0.1/8", "expected a unicast address"},
	{"net", "ip", "ip", "224.0.0.1/4", "expected a unicast address"},
	{"net", "udp_port", "udp-port", "0", "expected an integer 1-65535"},
	{"net", "udp_port", "udp-port", "65536", "expected an integer 1-65535"},
	{"net", "udp_port", "udp-port", "-1", "expected an integer 1-65535"},
	{"net", "udp_port", "udp-port", "7470x", "expected an integer 1-65535"},
	{"net", "udp_port", "udp-port", "0x1d2e",
	 "expected an integer 1-65535"},
	{"net", "udp_port", "udp-port", "", "expected an integer 1-65535"},
	{"port", "rx_queues", NULL, "0", "expected an integer 1-16"},
	{"port", "rx_queues", NULL, "17", "expected an integer 1-16"},
	{"port", "rx_desc", NULL, "16", "expected an integer 32-32768"},
	{"port", "tx_desc", NULL, "32769", "expected an integer 32-32768"},
	{"port", "mbufs", NULL, "1000", "expected an integer 1023-16777215"},
	{"port", "mbuf_cache", NULL, "513", "expected an integer 0-512"},
	{"port", "link_wait_ms", NULL, "60001", "expected an integer 0-60000"},
	{"port", "promiscuous", NULL, "maybe", "expected true or false"},
	{"port", "mtu", "mtu", "67", "expected an integer 68-9000"},
	{"port", "mtu", "mtu", "9001", "expected an integer 68-9000"},
	{"pipeline", "burst", NULL, "0", "expected an integer 1-256"},
	{"pipeline", "burst", NULL, "257", "expected an integer 1-256"},
	{"pipeline", "ring_size", NULL, "1000",
	 "expected a power of two between 64 and 65536"},
	{"pipeline", "ring_size", NULL, "32",
	 "expected a power of two between 64 and 65536"},
	{"pipeline", "ring_size", NULL, "131072",
	 "expected a power of two between 64 and 65536"},
	{"pipeline", "ring_full", NULL, "block",
	 "expected drop or backpressure"},
	{"pipeline", "seq_shards", NULL, "65", "expected an integer 1-64"},
	{"pipeline", "seq_capacity", NULL, "1000",
	 "expected an integer 1024-16777216"},
	{"pipeline", "rx_lcores", NULL, "128", "expected lcore ids 0-127"},
	{"pipeline", "rx_lcores", NULL, "3-1", "expected lcore ids 0-127"},
	{"pipeline", "rx_lcores", NULL, "1,", "expected lcore ids 0-127"},
	{"pipeline", "rx_lcores", NULL, "1,,2", "expected lcore ids 0-127"},
	{"pipeline", "rx_lcores", NULL, "1,2-3,2",
	 "expected each lcore once, 2 is listed twice"},
	{"pipeline", "seq_lcores", NULL, "1-200", "expected lcore ids 0-127"},
	{"pipeline", "ack_lcore", NULL, "1,2", "expected one lcore id 0-127"},
	{"pipeline", "tx_lcore", NULL, "x", "expected one lcore id 0-127"},
	{"pipeline", "journal_lcore", NULL, "2-3",
	 "expected one lcore id 0-127"},
	{"ack", "level", "ack", "durable",
	 "expected received, written or synced"},
	{"ack", "nak_rate", NULL, "0", "expected an integer 1-1000000"},
	{"ack", "nak_burst", NULL, "0", "expected an integer 1-1000000"},
	{"log", "dir", "log-dir", "", "expected a path"},
	{"log", "partitions", NULL, "0", "expected an integer 1-1024"},
	{"log", "segment_mb", NULL, "65537", "expected an integer 1-65536"},
	{"log", "batch_kb", NULL, "2", "expected an integer 8-16384"},
	{"log", "retention_mb", NULL, "-1", "expected an integer 0-4294967295"},
	{"log", "retention_hours", NULL, "876001",
	 "expected an integer 0-876000"},
	{"log", "store", NULL, "aio", "expected uring or psync"},
	{"log", "sync", NULL, "fsync", "expected fdatasync or dsync"},
	{"log", "io_cpus", NULL, "0-128", "expected CPU ids 0-127"},
	{"log", "io_cpus", NULL, "0,0",
	 "expected each CPU once, 0 is listed twice"},
	{"log", "fault_injection", NULL, "eio", "expected true or false"},
	{"stats", "interval", "stats", "86401", "expected an integer 0-86400"},
	{"acl", "allow", "allow", "10.74.0.1/24",
	 "host bits are set (10.74.0.0/24?)"},
	{"acl", "allow", "allow", "10.74.0.0/24:200-100", "1 <= LO <= HI"},
	{"acl", "allow", "allow", "10.74.0.0/24:0", "1 <= LO <= HI"},
	{"acl", "allow", "allow", "10.0.0.0/8:x",
	 "expected A.B.C.D[/P][:LO[-HI]]"},
	{"acl", "allow", "allow", "", "expected A.B.C.D[/P][:LO[-HI]]"},
	{"pipeline", "sub_lcore", NULL, "1,2", "expected one lcore id 0-127"},
	{"sub", "max_subscribers", NULL, "1025", "expected an integer 0-1024"},
	{"sub", "max_groups", NULL, "0", "expected an integer 1-1024"},
	{"sub", "mbufs", NULL, "100", "expected an integer 1023-16777215"},
	{"sub", "timeout_ms", NULL, "99", "expected an integer 100-3600000"},
	{"sub", "rto_ms", NULL, "0", "expected an integer 1-60000"},
	{"sub", "max_inflight", NULL, "8", "expected an integer 16-1048576"},
	{"sub", "group", NULL, "billing", "expected NAME:POLICY"},
	{"sub", "group", NULL, "billing:fifo", "expected NAME:POLICY"},
	{"sub", "group", NULL, "bad name:random", "expected NAME:POLICY"},
	{"sub", "group", NULL, "a23456789012345678901234567890123:random",
	 "expected NAME:POLICY"},
};

const size_t tu_nb_bad = sizeof(tu_bad_values) / sizeof(tu_bad_values[0]);
