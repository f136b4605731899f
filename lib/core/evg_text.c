/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Text forms of events for the command-line readers (evtail, evsub):
 * base64, printable-or-hex values, times (evg_text.h). libc only.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <string.h>
#include <time.h>

#include "evg_text.h"

#define NS_PER_S UINT64_C(1000000000)
/* Human-readable keys and values show at most this many bytes. */
#define TEXT_MAX 64u

static const char b64_alphabet[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t
evg_text_b64_encode(const void *in, size_t n, char *out)
{
	const uint8_t *s = in;
	size_t o = 0;
	size_t i;

	for (i = 0; i + 3 <= n; i += 3) {
		uint32_t v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8 |
			     s[i + 2];

		out[o++] = b64_alphabet[v >> 18];
		out[o++] = b64_alphabet[(v >> 12) & 0x3f];
		out[o++] = b64_alphabet[(v >> 6) & 0x3f];
		out[o++] = b64_alphabet[v & 0x3f];
	}
	if (i < n) {
		uint32_t v = (uint32_t)s[i] << 16;

		if (i + 1 < n)
			v |= (uint32_t)s[i + 1] << 8;
		out[o++] = b64_alphabet[v >> 18];
		out[o++] = b64_alphabet[(v >> 12) & 0x3f];
		out[o++] = i + 1 < n ? b64_alphabet[(v >> 6) & 0x3f] : '=';
		out[o++] = '=';
	}
	out[o] = '\0';
	return o;
}

/* Values can be large: encode in chunks of whole 3-byte groups. */
void
evg_text_b64_write(FILE *out, const void *in, size_t n)
{
	const uint8_t *s = in;
	char buf[4 * 256 + 1];

	while (n > 0) {
		size_t chunk = n < 3 * 256 ? n : 3 * 256;
		size_t len = evg_text_b64_encode(s, chunk, buf);

		fwrite(buf, 1, len, out);
		s += chunk;
		n -= chunk;
	}
}

void
evg_text_format_time(uint64_t ns, char *buf, size_t len)
{
	time_t secs = (time_t)(ns / NS_PER_S);
	struct tm tm;
	char date[24];

	if (gmtime_r(&secs, &tm) == NULL ||
	    strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm) == 0) {
		snprintf(buf, len, "%" PRIu64 "ns", ns);
		return;
	}
	snprintf(buf, len, "%s.%09" PRIu64 "Z", date, ns % NS_PER_S);
}

/* Length of the UTF-8 sequence at s (n > 0 bytes left) when it encodes a
 * printable character, 0 when it is a control character or not UTF-8
 * (overlong forms, surrogates and code points past U+10FFFF included). */
static size_t
utf8_printable(const uint8_t *s, size_t n)
{
	uint32_t c;
	size_t len;

	if (s[0] < 0x80)
		return s[0] >= 0x20 && s[0] < 0x7f ? 1 : 0;
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		len = 2;
		c = s[0] & 0x1f;
	} else if ((s[0] & 0xf0) == 0xe0) {
		len = 3;
		c = s[0] & 0x0f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		len = 4;
		c = s[0] & 0x07;
	} else {
		return 0;
	}
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = c << 6 | (s[i] & 0x3f);
	}
	if ((len == 3 && c < 0x800) || (len == 4 && c < 0x10000) ||
	    c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	return c >= 0xa0 ? len : 0; /* U+0080..U+009F: C1 controls */
}

static bool
is_printable(const uint8_t *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		size_t len = utf8_printable(s + i, n - i);

		if (len == 0)
			return false;
		i += len;
	}
	return true;
}

/* Quoted, with '"' and '\' escaped; cut at a character boundary. */
static void
print_text(FILE *out, const uint8_t *s, size_t n)
{
	size_t i = 0;

	fputc('"', out);
	while (i < n) {
		size_t len = utf8_printable(s + i, n - i);

		if (i + len > TEXT_MAX)
			break;
		if (s[i] == '"' || s[i] == '\\')
			fputc('\\', out);
		fwrite(s + i, 1, len, out);
		i += len;
	}
	fputc('"', out);
	if (i < n)
		fputs("...", out);
}

void
evg_text_print_bytes(FILE *out, const void *p, size_t n)
{
	const uint8_t *s = p;
	size_t shown = n < TEXT_MAX ? n : TEXT_MAX;

	if (is_printable(s, n)) {
		print_text(out, s, n);
		return;
	}
	fputs("0x", out);
	for (size_t i = 0; i < shown; i++)
		fprintf(out, "%02x", s[i]);
	if (shown < n)
		fputs("...", out);
}

/* n decimal digits at *s, advancing it; -1 when they are not there. */
static int
digits(const char **s, int n)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if ((*s)[i] < '0' || (*s)[i] > '9')
			return -1;
		v = v * 10 + ((*s)[i] - '0');
	}
	*s += n;
	return v;
}

static bool
expect(const char **s, char c)
{
	if (**s != c)
		return false;
	(*s)++;
	return true;
}

static int
days_in_month(int year, int month)
{
	static const int days[] = {31, 28, 31, 30, 31, 30,
				   31, 31, 30, 31, 30, 31};
	bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;

	return month == 2 && leap ? 29 : days[month - 1];
}

/* YYYY-MM-DDTHH:MM:SS[.fraction]Z */
static int
parse_iso(const char *s, uint64_t *ns)
{
	struct tm tm = {0};
	uint64_t frac = 0, scale = NS_PER_S;
	time_t secs;

	tm.tm_year = digits(&s, 4);
	if (tm.tm_year < 0 || !expect(&s, '-') ||
	    (tm.tm_mon = digits(&s, 2)) < 1 || tm.tm_mon > 12 ||
	    !expect(&s, '-') || (tm.tm_mday = digits(&s, 2)) < 1 ||
	    tm.tm_mday > days_in_month(tm.tm_year, tm.tm_mon) ||
	    !expect(&s, 'T') || (tm.tm_hour = digits(&s, 2)) < 0 ||
	    tm.tm_hour > 23 || !expect(&s, ':') ||
	    (tm.tm_min = digits(&s, 2)) < 0 || tm.tm_min > 59 ||
	    !expect(&s, ':') || (tm.tm_sec = digits(&s, 2)) < 0 ||
	    tm.tm_sec > 59)
		return -EINVAL;
	if (expect(&s, '.')) {
		if (*s < '0' || *s > '9')
			return -EINVAL;
		for (; *s >= '0' && *s <= '9'; s++) {
			scale /= 10;
			frac += (uint64_t)(*s - '0') * scale; /* past 1 ns: 0 */
		}
	}
	if (!expect(&s, 'Z') || *s != '\0')
		return -EINVAL;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	secs = timegm(&tm);
	if (secs < 0)
		return -ERANGE;
	if ((uint64_t)secs > (UINT64_MAX - frac) / NS_PER_S)
		return -ERANGE;
	*ns = (uint64_t)secs * NS_PER_S + frac;
	return 0;
}

int
evg_text_parse_time(const char *s, uint64_t *ns)
{
	uint64_t v = 0;

	if (*s == '\0')
		return -EINVAL;
	if (strchr(s, 'T') != NULL)
		return parse_iso(s, ns);
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9')
			return -EINVAL;
		if (v > (UINT64_MAX - (uint64_t)(*s - '0')) / 10)
			return -ERANGE;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	*ns = v;
	return 0;
}
