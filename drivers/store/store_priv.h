/* SPDX-License-Identifier: BSD-3-Clause */
/* What every store backend checks the same way (evg_store.h). */
#ifndef EVG_STORE_PRIV_H
#define EVG_STORE_PRIV_H

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "evg_store.h"

/* Linux's largest single write (MAX_RW_COUNT); its count fits cqe.res. */
#define STORE_WRITE_MAX 0x7ffff000u

/* A file name: 0, -EINVAL (NULL) or -ENAMETOOLONG. */
static inline int
store_check_name(const char *name)
{
	if (name == NULL)
		return -EINVAL;
	if (strlen(name) >= EVG_STORE_NAME_MAX)
		return -ENAMETOOLONG;
	return 0;
}

/* A data-path write every backend accepts: buffer, offset and length
 * multiples of EVG_STORE_ALIGN (what O_DIRECT demands, enforced by all so
 * that tests on mem catch it), a length of 1 .. STORE_WRITE_MAX, and an
 * end that fits in off_t. */
static inline bool
store_write_ok(const void *buf, uint32_t len, uint64_t off)
{
	return (((uintptr_t)buf | off | len) & (EVG_STORE_ALIGN - 1)) == 0 &&
	       buf != NULL && len != 0 && len <= STORE_WRITE_MAX &&
	       off <= (uint64_t)INT64_MAX - len;
}

#endif /* EVG_STORE_PRIV_H */
