/* SPDX-License-Identifier: BSD-3-Clause */
/* Helpers shared by the lib/cfg tests. */
#ifndef CFG_TESTUTIL_H
#define CFG_TESTUTIL_H

#include <stddef.h>

#include "evg_cfg.h"

#define TU_ERR_LEN EVG_CFG_ERR_LEN
#define TU_DUMP_LEN 8192

/* An argv for evg_cfg_parse_args(), program name first. */
#define TU_ARGV(...) ((char *[]){"evgate", __VA_ARGS__, NULL})

/* Suite fixture: a fresh temporary directory per test, then removed. */
void tu_make_dir(void);
void tu_remove_dir(void);
/* That directory. */
const char *tu_dir(void);

/* Write text to name in tu_dir(); path (PATH_MAX) gets its full name. */
void tu_write_ini(char *path, const char *name, const char *text);
/* Load text as tu_dir()/t.ini on top of the defaults. */
int tu_load_text(struct evg_cfg *cfg, const char *text, char *err);
/* A whole file, NUL-terminated; free() it. */
char *tu_slurp(const char *path);
/* evg_cfg_dump() into buf (TU_DUMP_LEN bytes), asserting success. */
void tu_dump(const struct evg_cfg *cfg, char *buf);
/* evg_cfg_parse_args() over a NULL-terminated argv (see TU_ARGV). */
int tu_parse(struct evg_cfg *cfg, char **argv, char *err);
/* A dotted-quad address in network byte order. */
rte_be32_t tu_ip4(const char *s);

/* Bad values for every key: in a file as [sec] key = val, and on the
 * command line as --opt val when the key has an option; want is part of
 * the expected error. */
struct tu_bad_value {
	const char *sec, *key, *opt, *val, *want;
};
extern const struct tu_bad_value tu_bad_values[];
extern const size_t tu_nb_bad;

#endif
