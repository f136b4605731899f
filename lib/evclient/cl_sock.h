/* SPDX-License-Identifier: BSD-3-Clause */
/* What the producer and the consumer handles of libevclient share: the
 * appliance's address, a connected non-blocking UDP socket, the clock
 * a session starts from. */
#ifndef EVG_CL_SOCK_H
#define EVG_CL_SOCK_H

#include <stdint.h>

/* A UDP socket connected to server: "host:port", or "host" for port
 * 7470 (the last ':' separates the port). 0 and *fd, -EINVAL for a bad
 * address, or the -errno of socket()/connect(). */
int cl_connect_server(const char *server, int *fd);
/* CLOCK_REALTIME in ns: the default session. */
uint64_t cl_realtime_ns(void);

#endif /* EVG_CL_SOCK_H */
