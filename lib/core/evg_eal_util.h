/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * What every EAL program here does around rte_eal_init(): find where its
 * own options start, and on the way out stop the EAL and remove the
 * runtime directory (/var/run/dpdk/<prefix>) that the EAL leaves behind.
 * A static library of its own (evg_eal_util_dep), so the other lib/core
 * headers stay free of DPDK.
 */
#ifndef EVG_EAL_UTIL_H
#define EVG_EAL_UTIL_H

/* The index of the first "--" in argv: the EAL's options are before it,
 * the program's own after. 0 when there is none (all options are the
 * program's). */
int evg_eal_args_start(int argc, char **argv);

/* rte_eal_cleanup(), then remove the runtime directory and the files in
 * it. Returns rte_eal_cleanup()'s result. */
int evg_eal_cleanup(void);

#endif /* EVG_EAL_UTIL_H */
