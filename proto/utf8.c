/* UTF-8 checks: see utf8.h. */
#include "proto/utf8.h"

#include <string.h>

size_t proto_utf8_char_len(const uint8_t *s, size_t n)
{
    uint32_t cp;
    size_t len;

    if (n == 0)
        return 0;
    if (s[0] < 0x80)
        return 1;
    if (s[0] >= 0xC2 && s[0] <= 0xDF)
        len = 2, cp = s[0] & 0x1Fu;
    else if (s[0] >= 0xE0 && s[0] <= 0xEF)
        len = 3, cp = s[0] & 0x0Fu;
    else if (s[0] >= 0xF0 && s[0] <= 0xF4)
        len = 4, cp = s[0] & 0x07u;
    else
        return 0;
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = cp << 6 | (s[i] & 0x3Fu);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
        (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return len;
}

bool proto_utf8_ok(const char *s, size_t n)
{
    const uint8_t *p = (const uint8_t *)s;

    for (size_t i = 0; i < n;) {
        size_t l = proto_utf8_char_len(p + i, n - i);
        if (l == 0 || (l == 1 && ((p[i] < 0x20 && p[i] != '\t' && p[i] != '\n' &&
                                   p[i] != '\r') || p[i] == 0x7f)))
            return false;
        i += l;
    }
    return true;
}

void proto_utf8_trim(char *s)
{
    size_t n = strlen(s), start = n;

    /* back to the first byte of the last character */
    while (start > 0 && ((uint8_t)s[start - 1] & 0xC0) == 0x80 && n - start < 3)
        start--;
    if (start > 0 && (uint8_t)s[start - 1] >= 0xC0)
        start--;
    else if (start == n)
        return;
    if (proto_utf8_char_len((const uint8_t *)s + start, n - start) != n - start)
        s[start] = '\0';
}
