/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * SIGINT and SIGTERM to one handler, the way every tool here stops
 * gracefully. No SA_RESTART: a blocking call (a poll sleep) ends at the
 * signal, so the loop sees the flag the handler set.
 */
#ifndef EVG_SIGNAL_H
#define EVG_SIGNAL_H

#include <signal.h>
#include <stddef.h>

static inline void
evg_signals_install(void (*handler)(int))
{
	struct sigaction sa = {.sa_handler = handler};

	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

#endif /* EVG_SIGNAL_H */
