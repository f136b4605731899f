/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Producer states and checkpoints (docs/storage.md, "Checkpoint").
 *
 * Each partition keeps, for the (producer, stream) keys of its streams,
 * the highest session and the next seq in it, folded in at append. A
 * checkpoint is a snapshot of that table and the offset it covers; it is
 * written only once every record it covers is durable, alternately to
 * checkpoint.0 and checkpoint.1 (the store has no rename), so the older
 * one survives a torn write. Recovery loads the newest valid one and
 * folds in the records after it.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "journal_priv.h"

#define PT_MIN_CAP 64u

/* Checkpoint header offsets; the CRC sits at byte 60, as in a batch. */
#define C_MAGIC 0
#define C_VERSION 4
#define C_HDR_LEN 6
#define C_COUNT 8
#define C_PARTITION 12
#define C_GEN 16
#define C_SEG_BASE 24
#define C_SEG_POS 32
#define C_NEXT 40
#define C_LENGTH 48
#define C_CRC 60

_Static_assert(C_CRC == JRN_B_CRC, "checkpoint CRC shares the batch's");

static inline uint32_t
pt_slot(const struct jrn_ptable *pt, uint64_t key)
{
	return (uint32_t)((key * 0x9E3779B97F4A7C15ull) >> 32) & (pt->cap - 1);
}

static struct jrn_pstate *
pt_find(struct jrn_ptable *pt, uint64_t key)
{
	uint32_t i = pt_slot(pt, key);

	while (pt->t[i].used && pt->t[i].key != key)
		i = (i + 1) & (pt->cap - 1);
	if (!pt->t[i].used) {
		pt->t[i].used = 1;
		pt->t[i].key = key;
		pt->t[i].session = 0;
		pt->t[i].next_seq = 0;
		pt->n++;
	}
	return &pt->t[i];
}

int
evg_jrn_ptable_init(struct jrn_ptable *pt)
{
	pt->t = calloc(PT_MIN_CAP, sizeof(*pt->t));
	pt->cap = PT_MIN_CAP;
	pt->n = 0;
	return pt->t == NULL ? -ENOMEM : 0;
}

void
evg_jrn_ptable_free(struct jrn_ptable *pt)
{
	free(pt->t);
	pt->t = NULL;
	pt->cap = pt->n = 0;
}

/* Keeps the load at most one half, so probes stay short. */
int
evg_jrn_ptable_reserve(struct jrn_ptable *pt, uint32_t more)
{
	struct jrn_ptable grown;
	uint64_t need = ((uint64_t)pt->n + more) * 2;
	uint64_t cap = pt->cap;

	if (need <= cap)
		return 0;
	while (cap < need)
		cap *= 2;
	if (cap > UINT32_MAX)
		return -ENOMEM;
	grown.t = calloc(cap, sizeof(*grown.t));
	if (grown.t == NULL)
		return -ENOMEM;
	grown.cap = (uint32_t)cap;
	grown.n = 0;
	for (uint32_t i = 0; i < pt->cap; i++)
		if (pt->t[i].used)
			*pt_find(&grown, pt->t[i].key) = pt->t[i];
	free(pt->t);
	*pt = grown;
	return 0;
}

void
evg_jrn_ptable_update(struct jrn_ptable *pt, uint32_t producer, uint32_t stream,
		      uint64_t session, uint64_t seq)
{
	struct jrn_pstate *s = pt_find(pt, (uint64_t)producer << 32 | stream);
	uint64_t next = seq == UINT64_MAX ? seq : seq + 1;

	if (session > s->session) {
		s->session = session;
		s->next_seq = next;
	} else if (session == s->session && next > s->next_seq) {
		s->next_seq = next;
	}
}

void
evg_jrn_ptable_set(struct jrn_ptable *pt, uint32_t producer, uint32_t stream,
		   uint64_t session, uint64_t next_seq)
{
	struct jrn_pstate *s = pt_find(pt, (uint64_t)producer << 32 | stream);

	s->session = session;
	s->next_seq = next_seq;
}

int
evg_jrn_ckpt_name(char *buf, size_t len, uint32_t p, unsigned int slot)
{
	return snprintf(buf, len, "p%04" PRIu32 "/checkpoint.%u", p, slot);
}

uint64_t
evg_jrn_ckpt_len(const struct jrn_ptable *pt)
{
	return JRN_CKPT_HDR_LEN + (uint64_t)pt->n * JRN_CKPT_ENTRY;
}

uint64_t
evg_jrn_ckpt_encode(const struct jrn_ptable *pt, uint32_t p,
		    const struct jrn_ckpt_pos *pos, void *buf)
{
	uint64_t len = evg_jrn_ckpt_len(pt);
	uint8_t *b = buf, *e = b + JRN_CKPT_HDR_LEN;

	memset(b, 0, jrn_align(len));
	evg_st32(b + C_MAGIC, JRN_CKPT_MAGIC);
	evg_st16(b + C_VERSION, JRN_FORMAT_VERSION);
	evg_st16(b + C_HDR_LEN, JRN_CKPT_HDR_LEN);
	evg_st32(b + C_COUNT, pt->n);
	evg_st32(b + C_PARTITION, p);
	evg_st64(b + C_GEN, pos->gen);
	evg_st64(b + C_SEG_BASE, pos->seg_base);
	evg_st64(b + C_SEG_POS, pos->seg_pos);
	evg_st64(b + C_NEXT, pos->next_offset);
	evg_st64(b + C_LENGTH, len);
	for (uint32_t i = 0; i < pt->cap; i++) {
		const struct jrn_pstate *s = &pt->t[i];

		if (!s->used)
			continue;
		evg_st32(e, (uint32_t)(s->key >> 32));
		evg_st32(e + 4, (uint32_t)s->key);
		evg_st64(e + 8, s->session);
		evg_st64(e + 16, s->next_seq);
		e += JRN_CKPT_ENTRY;
	}
	evg_st32(b + C_CRC, evg_jrn_batch_crc(b, (uint32_t)len));
	return len;
}

/* Read and check one checkpoint file into *raw (malloc'd); its length,
 * 0 when missing or invalid, < 0 on errors. */
static int64_t
ckpt_read(const struct jrn_fs *fs, uint32_t p, unsigned int slot, uint8_t **raw,
	  struct jrn_ckpt_pos *pos)
{
	struct jrn_file f;
	char name[64];
	int64_t size, n = 0;
	uint64_t len;
	uint8_t *b;

	*raw = NULL;
	evg_jrn_ckpt_name(name, sizeof(name), p, slot);
	if (evg_jrn_file_open(fs, name, &f) < 0)
		return 0; /* missing or unreadable: rebuild from the log */
	size = evg_jrn_file_size(&f);
	if (size < (int64_t)JRN_CKPT_HDR_LEN || size > UINT32_MAX) {
		evg_jrn_file_close(&f);
		return size < 0 ? size : 0;
	}
	b = malloc((size_t)size);
	if (b != NULL)
		n = evg_jrn_file_read(&f, b, (uint64_t)size, 0);
	evg_jrn_file_close(&f);
	if (b == NULL || n < 0) {
		free(b);
		return b == NULL ? -ENOMEM : n;
	}
	len = evg_ld64(b + C_LENGTH);
	if (n != size || evg_ld32(b + C_MAGIC) != JRN_CKPT_MAGIC ||
	    evg_ld16(b + C_VERSION) != JRN_FORMAT_VERSION ||
	    evg_ld32(b + C_PARTITION) != p || len > (uint64_t)size ||
	    len != JRN_CKPT_HDR_LEN +
			    (uint64_t)evg_ld32(b + C_COUNT) * JRN_CKPT_ENTRY ||
	    evg_jrn_batch_crc(b, (uint32_t)len) != evg_ld32(b + C_CRC)) {
		free(b);
		return 0;
	}
	pos->gen = evg_ld64(b + C_GEN);
	pos->seg_base = evg_ld64(b + C_SEG_BASE);
	pos->seg_pos = evg_ld64(b + C_SEG_POS);
	pos->next_offset = evg_ld64(b + C_NEXT);
	*raw = b;
	return (int64_t)len;
}

int
evg_jrn_ckpt_load(const struct jrn_fs *fs, uint32_t p, uint64_t end,
		  struct jrn_ptable *pt, struct jrn_ckpt_pos *pos,
		  unsigned int *stale)
{
	struct jrn_ckpt_pos cand[2];
	uint8_t *raw[2];
	int64_t len[2];
	int best = -1, rc = 0;
	uint32_t count;

	*stale = 0;
	for (unsigned int s = 0; s < 2; s++) {
		len[s] = ckpt_read(fs, p, s, &raw[s], &cand[s]);
		if (len[s] < 0)
			rc = (int)len[s];
		else if (len[s] > 0 && cand[s].next_offset > end)
			*stale |= 1u << s;
		else if (len[s] > 0 &&
			 (best < 0 || cand[s].gen > cand[best].gen))
			best = (int)s;
	}
	if (rc == 0 && best >= 0) {
		count = evg_ld32(raw[best] + C_COUNT);
		rc = evg_jrn_ptable_reserve(pt, count);
		for (uint32_t i = 0; rc == 0 && i < count; i++) {
			const uint8_t *e = raw[best] + JRN_CKPT_HDR_LEN +
					   (uint64_t)i * JRN_CKPT_ENTRY;

			evg_jrn_ptable_set(pt, evg_ld32(e), evg_ld32(e + 4),
					   evg_ld64(e + 8), evg_ld64(e + 16));
		}
		*pos = cand[best];
	}
	free(raw[0]);
	free(raw[1]);
	return rc < 0 ? rc : best >= 0;
}

/* ---- writer side ---- */

void
evg_jrn_ckpt_snapshot(struct jrn_part *pt, uint64_t t)
{
	struct jrn_ckpt *ck = &pt->ckpt;
	const struct jrn_seg *sg = &pt->seg[pt->cur];
	struct jrn_ckpt_pos pos;
	uint64_t need = jrn_align(evg_jrn_ckpt_len(&pt->states));

	if (ck->state != CK_IDLE)
		return; /* the previous one is still being written */
	if (need > ck->mem.len) {
		/* Rare: the table outgrew the buffer. */
		evg_jrn_mem_free(&ck->mem);
		if (evg_jrn_mem_alloc(&ck->mem, need * 2,
				      pt->j->conf.socket_id) < 0)
			return;
	}
	pos.gen = ck->gen + 1;
	pos.seg_base = sg->base;
	pos.seg_pos = sg->pos;
	pos.next_offset = pt->next_offset;
	evg_jrn_ckpt_encode(&pt->states, pt->id, &pos, ck->mem.p);
	ck->gen = pos.gen;
	ck->len = need;
	ck->ticket = t;
	ck->failed = false;
	ck->bytes_since = 0;
	ck->state = CK_READY;
}

void
evg_jrn_ckpt_poll(struct jrn_part *pt)
{
	struct jrn_ckpt *ck = &pt->ckpt;
	unsigned int free_aux = 0;
	int fid;

	if (ck->state != CK_READY || pt->durable < ck->ticket)
		return;
	for (unsigned int i = 0; i < JRN_NAUX; i++)
		free_aux += pt->aux[i].what == JA_FREE;
	if (free_aux < 2)
		return;
	fid = ck->fid[ck->gen & 1];
	evg_jrn_aux_add(pt, JA_CKPT, 0, fid, ck->mem.p, (uint32_t)ck->len, 0,
			false);
	evg_jrn_aux_add(pt, JA_CKPT, 0, fid, NULL, 0, 0, true);
	ck->ops = 2;
	ck->state = CK_WRITING;
}

void
evg_jrn_ckpt_done(struct jrn_part *pt, int32_t res)
{
	struct jrn_ckpt *ck = &pt->ckpt;

	if (res < 0)
		ck->failed = true;
	if (--ck->ops > 0)
		return;
	/* A torn slot must not take the turn of the good one. */
	if (ck->failed)
		ck->gen--;
	ck->state = CK_IDLE;
}

int
evg_jrn_ckpt_write_now(struct jrn_part *pt)
{
	const struct evg_store_ops *ops = pt->j->conf.store;
	struct jrn_ckpt *ck = &pt->ckpt;
	int fid, rc;

	if (ck->state != CK_IDLE)
		return -EBUSY;
	evg_jrn_ckpt_snapshot(pt, pt->last_ticket);
	if (ck->state != CK_READY)
		return -ENOMEM;
	fid = ck->fid[ck->gen & 1];
	rc = evg_jrn_write_wait(pt->st, ops, fid, ck->mem.p, (uint32_t)ck->len,
				0);
	if (rc == 0)
		rc = ops->sync_now(pt->st, fid);
	if (rc < 0)
		ck->gen--;
	ck->state = CK_IDLE;
	return rc;
}
