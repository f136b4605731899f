/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Fuzz target: lib/cfg's INI loading, validation and command line.
 *
 * The input is an INI text, optionally followed by a NUL byte and a
 * command line, one argument a line. The INI text goes into a memfd and
 * through evg_cfg_load_file() on top of the built-in defaults; the command
 * line through evg_cfg_parse_args(), where any argument starting with
 * "--c" (--config and its abbreviations) is replaced by
 * "--config=<that memfd>", so the fuzzer never opens files of its own.
 *
 * Invariants (abort when one breaks):
 * - a failure is a negative errno with one non-empty line in err, and the
 *   config is left unchanged;
 * - a loaded config dumps (evg_cfg_dump) to a text that loads back, on
 *   top of the defaults, to a config that dumps to the same text, and
 *   validates the same way;
 * - parse_args returns RUN, HELP, VERSION or a negative errno.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "evg_cfg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_ARGS 64
#define DUMP_MAX 65536

#define FUZZ_TARGET "fuzz_cfg"
#include "fuzz_check.h"

/* A memfd holding len bytes of text; its /proc path in path. */
static int
memfd_with(const void *text, size_t len, char *path, size_t plen)
{
	int fd = memfd_create("fuzz_cfg", MFD_CLOEXEC);

	CHECK(fd >= 0);
	CHECK(len == 0 || write(fd, text, len) == (ssize_t)len);
	snprintf(path, plen, "/proc/self/fd/%d", fd);
	return fd;
}

static void
check_failure(int rc, const char *err, const struct evg_cfg *before,
	      const struct evg_cfg *after)
{
	CHECK(rc < 0 && rc > -4096);
	CHECK(err[0] != '\0' && strchr(err, '\n') == NULL);
	CHECK(memcmp(before, after, sizeof(*before)) == 0);
}

/* Dump cfg into buf; returns its length, or 0 when a value is too long
 * for an INI line (a path with many '#', each written as "\#"). */
static size_t
dump(const struct evg_cfg *cfg, char *buf)
{
	FILE *f = fmemopen(buf, DUMP_MAX, "w");
	long n;
	int rc;

	CHECK(f != NULL);
	rc = evg_cfg_dump(cfg, f);
	CHECK(rc == 0 || rc == -ERANGE);
	n = ftell(f);
	fclose(f);
	CHECK(n > 0 && n < DUMP_MAX);
	return rc == 0 ? (size_t)n : 0;
}

/* A loaded config must survive dump and load unchanged. */
static void
check_round_trip(const struct evg_cfg *cfg, const struct evg_cfg *defaults)
{
	static char text[DUMP_MAX], again[DUMP_MAX];
	char err[EVG_CFG_ERR_LEN] = "", err2[EVG_CFG_ERR_LEN] = "";
	char path[64];
	struct evg_cfg back = *defaults;
	size_t n = dump(cfg, text), m;
	int fd, rc;

	if (n == 0)
		return;
	fd = memfd_with(text, n, path, sizeof(path));
	rc = evg_cfg_load_file(&back, path, err, sizeof(err));
	close(fd);
	if (rc != 0)
		fprintf(stderr, "fuzz_cfg: dump does not load: %s\n", err);
	CHECK(rc == 0);
	m = dump(&back, again);
	CHECK(m == n && memcmp(text, again, n) == 0);
	CHECK((evg_cfg_validate(cfg, err, sizeof(err)) == 0) ==
	      (evg_cfg_validate(&back, err2, sizeof(err2)) == 0));
}

static void
check_ini(const char *path, const struct evg_cfg *defaults)
{
	char err[EVG_CFG_ERR_LEN] = "";
	struct evg_cfg cfg = *defaults;
	int rc = evg_cfg_load_file(&cfg, path, err, sizeof(err));

	if (rc != 0) {
		check_failure(rc, err, defaults, &cfg);
		return;
	}
	rc = evg_cfg_validate(&cfg, err, sizeof(err));
	CHECK(rc == 0 || (rc == -EINVAL && err[0] != '\0'));
	check_round_trip(&cfg, defaults);
}

static void
check_args(char *args, size_t len, const char *path,
	   const struct evg_cfg *defaults)
{
	static char config_arg[96];
	char *argv[MAX_ARGS + 2], err[EVG_CFG_ERR_LEN] = "";
	struct evg_cfg cfg = *defaults;
	int argc = 0, rc;

	snprintf(config_arg, sizeof(config_arg), "--config=%s", path);
	argv[argc++] = (char *)"evgate";
	for (char *p = args; p < args + len && argc <= MAX_ARGS;) {
		char *nl = memchr(p, '\n', (size_t)(args + len - p));

		if (nl != NULL)
			*nl = '\0';
		argv[argc++] = strncmp(p, "--c", 3) == 0 ? config_arg : p;
		if (nl == NULL)
			break;
		p = nl + 1;
	}
	argv[argc] = NULL;
	rc = evg_cfg_parse_args(&cfg, argc, argv, err, sizeof(err));
	if (rc < 0) {
		check_failure(rc, err, defaults, &cfg);
		return;
	}
	CHECK(rc == EVG_CFG_ARGS_RUN || rc == EVG_CFG_ARGS_HELP ||
	      rc == EVG_CFG_ARGS_VERSION);
	if (rc != EVG_CFG_ARGS_RUN) {
		CHECK(memcmp(&cfg, defaults, sizeof(cfg)) == 0);
		return;
	}
	rc = evg_cfg_validate(&cfg, err, sizeof(err));
	CHECK(rc == 0 || (rc == -EINVAL && err[0] != '\0'));
	check_round_trip(&cfg, defaults);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* The built-in defaults never change: load them once. */
	static struct evg_cfg defaults;
	static bool have_defaults;
	const uint8_t *nul = memchr(data, '\0', size);
	size_t ini_len = nul != NULL ? (size_t)(nul - data) : size;
	char path[64], *args;
	int fd;

	if (!have_defaults) {
		CHECK(evg_cfg_defaults(&defaults) == 0);
		have_defaults = true;
	}
	fd = memfd_with(data, ini_len, path, sizeof(path));
	check_ini(path, &defaults);
	if (nul != NULL) {
		size_t alen = size - ini_len - 1;

		/* A NUL-terminated heap copy, so ASan sees any overrun. */
		args = malloc(alen + 1);
		CHECK(args != NULL);
		memcpy(args, nul + 1, alen);
		args[alen] = '\0';
		check_args(args, alen, path, &defaults);
		free(args);
	}
	close(fd);
	return 0;
}
