#include "crypto/encode.h"

#include <sodium.h>
#include <string.h>

void cry_hex(char *out, const uint8_t *bin, size_t len)
{
    sodium_bin2hex(out, CRY_HEX_LEN(len), bin, len);
}

int cry_unhex(uint8_t *out, size_t want, const char *hex)
{
    size_t got = 0;
    const char *end = NULL;
    size_t hex_len = strlen(hex);

    if (hex_len != want * 2)
        return TN_ERR_INVALID;
    if (sodium_hex2bin(out, want, hex, hex_len, NULL, &got, &end) != 0 || got != want ||
        end != hex + hex_len)
        return TN_ERR_INVALID;
    return 0;
}

void cry_b64(char *out, const uint8_t *bin, size_t len)
{
    sodium_bin2base64(out, CRY_B64_LEN(len), bin, len, sodium_base64_VARIANT_ORIGINAL);
}

int cry_unb64(uint8_t *out, size_t want, const char *text, size_t text_len)
{
    size_t got = 0;
    const char *end = NULL;

    /* Canonical padded base64 of want bytes has exactly this length; checking it first
     * also refuses trailing garbage, which sodium_base642bin would stop at. */
    if (text_len != CRY_B64_LEN(want) - 1)
        return TN_ERR_INVALID;
    if (sodium_base642bin(out, want, text, text_len, NULL, &got, &end,
                          sodium_base64_VARIANT_ORIGINAL) != 0 ||
        got != want || end != text + text_len)
        return TN_ERR_INVALID;
    return 0;
}
