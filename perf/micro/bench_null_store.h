/* SPDX-License-Identifier: BSD-3-Clause */
/* bench_journal's "null" store: see bench_null_store.c. */
#ifndef BENCH_NULL_STORE_H
#define BENCH_NULL_STORE_H

#include "evg_store.h"

extern const struct evg_store_ops bench_null_store_ops;

#endif /* BENCH_NULL_STORE_H */
