/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Store backends by name, for configuration.
 */
#include <stddef.h>
#include <string.h>

#include "evg_store.h"

const struct evg_store_ops *
evg_store_find(const char *name)
{
	static const struct evg_store_ops *const backends[] = {
		&evg_store_uring_ops,
		&evg_store_psync_ops,
		&evg_store_mem_ops,
		&evg_store_fault_uring_ops,
		&evg_store_fault_psync_ops,
		&evg_store_fault_mem_ops,
	};

	if (name == NULL)
		return NULL;
	for (size_t i = 0; i < sizeof(backends) / sizeof(backends[0]); i++)
		if (strcmp(backends[i]->name, name) == 0)
			return backends[i];
	return NULL;
}
