// SPDX-License-Identifier: Apache-2.0
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "jsonw.h"
#include "textesc.h"

bool textesc_format_char(uint32_t cp)
{
	return cp == 0x00ad || cp == 0x034f || cp == 0x061c || cp == 0x115f || cp == 0x1160 ||
	       cp == 0x180e || (cp >= 0x200b && cp <= 0x200f) || (cp >= 0x2028 && cp <= 0x202e) ||
	       (cp >= 0x2060 && cp <= 0x206f) || cp == 0x3164 || cp == 0xfeff ||
	       (cp >= 0xfff9 && cp <= 0xfffb) || (cp >= 0xe0000 && cp <= 0xe007f);
}

uint32_t textesc_utf8_cp(const unsigned char *s, size_t l)
{
	uint32_t cp = l == 1 ? s[0] : l == 2 ? s[0] & 0x1fu : l == 3 ? s[0] & 0x0fu : s[0] & 0x07u;
	size_t i;

	for (i = 1; i < l; i++)
		cp = cp << 6 | (s[i] & 0x3fu);
	return cp;
}

const char *textesc_term(const char *s, size_t n, char *buf, size_t bufsz)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, o = 0, l;

	if (!bufsz)
		return buf;
	/* 12 bytes: the longest unit, \u plus 5 hex digits, or 4 UTF-8 bytes */
	while (i < n && o + 12 < bufsz) {
		unsigned char c = p[i];
		uint32_t cp;

		if (c == '\\') {
			buf[o++] = '\\';
			buf[o++] = '\\';
			i++;
		} else if (c >= 0x20 && c < 0x7f) {
			buf[o++] = (char)c;
			i++;
		} else if (c >= 0x80 && (l = utf8_seq_len(p + i, n - i)) > 0) {
			cp = textesc_utf8_cp(p + i, l);
			if (cp < 0xa0) { /* C1 controls (0xc2 0x80..0x9f): the bytes */
				o += (size_t)snprintf(buf + o, bufsz - o, "\\x%02x", c);
				i++;
				continue;
			}
			if (textesc_format_char(cp)) {
				o += (size_t)snprintf(buf + o, bufsz - o, "\\u%04" PRIx32, cp);
			} else {
				memcpy(buf + o, p + i, l);
				o += l;
			}
			i += l;
		} else {
			o += (size_t)snprintf(buf + o, bufsz - o, "\\x%02x", c);
			i++;
		}
	}
	buf[o] = '\0';
	return buf;
}
