/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * evsub's event lines: JSON with evtail --json's fields (no ingest_ns,
 * which is not delivered; dseq and redelivered added) and evtail's
 * human-readable form, through the same helpers (lib/core/evg_text.h).
 */
#include <inttypes.h>

#include "evg_text.h"
#include "evsub.h"

void
evsub_print_json(FILE *out, const struct evg_consumer_event *ev)
{
	fprintf(out,
		"{\"partition\":%" PRIu32 ",\"offset\":%" PRIu64
		",\"stream\":%" PRIu32 ",\"producer\":%" PRIu32
		",\"session\":%" PRIu64 ",\"seq\":%" PRIu64
		",\"ts_ns\":%" PRIu64 ",\"dseq\":%" PRIu64
		",\"redelivered\":%s,\"key_b64\":\"",
		ev->partition, ev->offset, ev->stream_id, ev->producer_id,
		ev->session, ev->seq, ev->ts_ns, ev->dseq,
		ev->redelivered ? "true" : "false");
	evg_text_b64_write(out, ev->key, ev->key_size);
	fputs("\",\"value_b64\":\"", out);
	evg_text_b64_write(out, ev->value, ev->value_size);
	fputs("\"}\n", out);
}

void
evsub_print_text(FILE *out, const struct evg_consumer_event *ev)
{
	char ts[48];

	evg_text_format_time(ev->ts_ns, ts, sizeof(ts));
	fprintf(out,
		"%" PRIu32 "/%" PRIu64 " stream=%" PRIu32 " producer=%" PRIu32
		" session=%" PRIu64 " seq=%" PRIu64 " dseq=%" PRIu64
		" ts=%s key=",
		ev->partition, ev->offset, ev->stream_id, ev->producer_id,
		ev->session, ev->seq, ev->dseq, ts);
	evg_text_print_bytes(out, ev->key, ev->key_size);
	fputs(" value=", out);
	evg_text_print_bytes(out, ev->value, ev->value_size);
	fputs(ev->redelivered ? " redelivered\n" : "\n", out);
}
