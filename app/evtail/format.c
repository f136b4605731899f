/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * evtail: printing records (JSON lines, human-readable lines) and the
 * times on the command line.
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <time.h>

#include "evg_text.h"
#include "evtail.h"

void
evtail_print_json(FILE *out, const struct evg_journal_entry *e)
{
	const struct evg_journal_rec *r = &e->rec;

	fprintf(out,
		"{\"partition\":%" PRIu32 ",\"offset\":%" PRIu64
		",\"stream\":%" PRIu32 ",\"producer\":%" PRIu32
		",\"session\":%" PRIu64 ",\"seq\":%" PRIu64
		",\"ts_ns\":%" PRIu64 ",\"ingest_ns\":%" PRIu64
		",\"key_b64\":\"",
		e->partition, e->offset, r->stream_id, r->producer_id,
		r->session, r->seq, r->ts_ns, r->ingest_ns);
	evg_text_b64_write(out, r->key, r->key_size);
	fputs("\",\"value_b64\":\"", out);
	evg_text_b64_write(out, r->value, r->value_size);
	fputs("\"}\n", out);
}

void
evtail_print_text(FILE *out, const struct evg_journal_entry *e)
{
	const struct evg_journal_rec *r = &e->rec;
	char ts[48];

	evg_text_format_time(r->ts_ns, ts, sizeof(ts));
	fprintf(out,
		"%" PRIu32 "/%" PRIu64 " stream=%" PRIu32 " producer=%" PRIu32
		" session=%" PRIu64 " seq=%" PRIu64 " ts=%s key=",
		e->partition, e->offset, r->stream_id, r->producer_id,
		r->session, r->seq, ts);
	evg_text_print_bytes(out, r->key, r->key_size);
	fputs(" value=", out);
	evg_text_print_bytes(out, r->value, r->value_size);
	fputc('\n', out);
}
