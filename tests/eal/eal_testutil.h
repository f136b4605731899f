/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * EAL set-up for Criterion tests. Criterion runs each test in a process of
 * its own, so a suite's .init starts the EAL there and .fini stops it:
 *
 *   TestSuite(seq_table, .init = tu_eal_setup, .fini = tu_eal_teardown);
 *
 * The EAL runs with EVG_EAL_ARGS (--no-huge --no-pci --no-shconf
 * --no-telemetry -m 256, set by meson) and a --file-prefix unique to the
 * process, plus any extra arguments (e.g. --vdev=net_ring0) given to
 * tu_eal_setup_args().
 */
#ifndef EAL_TESTUTIL_H
#define EAL_TESTUTIL_H

void tu_eal_setup(void);
/* NULL-terminated list of extra EAL arguments. */
void tu_eal_setup_args(const char *const *extra);
void tu_eal_teardown(void);

#endif
