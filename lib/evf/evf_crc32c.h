/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * CRC-32C without DPDK, for the DPDK-free build of the codec
 * (EVG_EVF_NO_DPDK, linked into libevclient): SSE4.2's crc32 instruction
 * when the CPU has it, a 256-entry table otherwise. Raw updates: no init,
 * no final xor (evf.c applies the protocol's 0xFFFFFFFF both ways).
 * Internal to lib/evf and its tests; not installed.
 */
#ifndef EVG_EVF_CRC32C_H
#define EVG_EVF_CRC32C_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The table implementation; any CPU. */
uint32_t evg_evf_crc32c_update_sw(uint32_t crc, const void *data, size_t len);
/* True when the CPU has SSE4.2, so evg_evf_crc32c_update_hw() may run. */
bool evg_evf_crc32c_hw_available(void);
/* The SSE4.2 implementation; only when evg_evf_crc32c_hw_available(). */
uint32_t evg_evf_crc32c_update_hw(uint32_t crc, const void *data, size_t len);
/* The hardware implementation when available, else the table. */
uint32_t evg_evf_crc32c_update(uint32_t crc, const void *data, size_t len);

#endif /* EVG_EVF_CRC32C_H */
