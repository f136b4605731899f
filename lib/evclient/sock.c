/* SPDX-License-Identifier: BSD-3-Clause */
/* The producer's and the consumer's socket set-up (cl_sock.h). */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "cl_sock.h"

int
cl_connect_server(const char *server, int *fd_out)
{
	struct addrinfo hints = {.ai_family = AF_INET,
				 .ai_socktype = SOCK_DGRAM};
	struct addrinfo *ai = NULL;
	char host[256], port[8] = "7470";
	const char *colon = strrchr(server, ':');
	size_t hlen = colon ? (size_t)(colon - server) : strlen(server);
	int fd, rc;

	if (hlen == 0 || hlen >= sizeof(host))
		return -EINVAL;
	memcpy(host, server, hlen);
	host[hlen] = '\0';
	if (colon != NULL) {
		char *end;
		unsigned long p = strtoul(colon + 1, &end, 10);

		if (colon[1] == '\0' || *end != '\0' || p == 0 || p > 65535)
			return -EINVAL;
		snprintf(port, sizeof(port), "%lu", p);
	}
	if (getaddrinfo(host, port, &hints, &ai) != 0 || ai == NULL)
		return -EINVAL;
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		rc = -errno;
		freeaddrinfo(ai);
		return rc;
	}
	rc = connect(fd, ai->ai_addr, ai->ai_addrlen) == 0 ? 0 : -errno;
	freeaddrinfo(ai);
	if (rc < 0) {
		close(fd);
		return rc;
	}
	*fd_out = fd;
	return 0;
}

uint64_t
cl_realtime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}
