/* RFC 3339 / RFC 6991 date-and-time parsing: see datetime.h. */
#include "proto/datetime.h"

#include "proto/fail.h"

/* n decimal digits at s as a number, or -1 if any is not a digit. */
static int digits(const char *s, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

static bool leap_year(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int y, int m)
{
    static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && leap_year(y) ? 29 : days[m - 1];
}

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar (H. Hinnant's
 * days_from_civil). */
static int64_t days_from_civil(int y, int m, int d)
{
    int64_t era, yoe, doy, doe;
    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = y - era * 400;
    doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

int proto_datetime_parse(const char *s, size_t len, struct proto_instant *out, char *err,
                         size_t errlen)
{
    int y, mo, d, h, mi, sec, oh = 0, om = 0, sign = 0;
    uint32_t nsec = 0;
    size_t i = 19;

    if (len < 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' ||
        s[16] != ':')
        return proto_fail(err, errlen, "not a date-time of the form YYYY-MM-DDTHH:MM:SSZ");
    if ((y = digits(s, 4)) < 0 || (mo = digits(s + 5, 2)) < 0 || (d = digits(s + 8, 2)) < 0 ||
        (h = digits(s + 11, 2)) < 0 || (mi = digits(s + 14, 2)) < 0 ||
        (sec = digits(s + 17, 2)) < 0)
        return proto_fail(err, errlen, "not a date-time of the form YYYY-MM-DDTHH:MM:SSZ");
    if (s[i] == '.') {
        size_t start = ++i;
        uint32_t scale = 100000000;
        while (i < len && s[i] >= '0' && s[i] <= '9') {
            nsec += (uint32_t)(s[i] - '0') * scale; /* digits past nanoseconds count as 0 */
            scale /= 10;
            i++;
        }
        if (i == start)
            return proto_fail(err, errlen, "a '.' must be followed by the fraction's digits");
    }
    if (i < len && s[i] == 'Z') {
        i++;
    } else if (i < len && (s[i] == '+' || s[i] == '-')) {
        sign = s[i] == '+' ? 1 : -1;
        if (len - i != 6 || s[i + 3] != ':' || (oh = digits(s + i + 1, 2)) < 0 ||
            (om = digits(s + i + 4, 2)) < 0)
            return proto_fail(err, errlen, "the offset must be Z or +HH:MM / -HH:MM");
        i += 6;
    } else {
        return proto_fail(err, errlen, "the time must end in Z or an offset +HH:MM / -HH:MM");
    }
    if (i != len)
        return proto_fail(err, errlen, "trailing characters after the offset");
    if (mo < 1 || mo > 12)
        return proto_fail(err, errlen, "month %02d does not exist", mo);
    if (d < 1 || d > days_in_month(y, mo))
        return proto_fail(err, errlen, "%04d-%02d has no day %02d", y, mo, d);
    if (oh > 23 || om > 59)
        return proto_fail(err, errlen, "offset %02d:%02d is out of range", oh, om);
    /* a leap second ends a UTC minute, whatever the offset makes of its local minute */
    if (h > 23 || mi > 59 || sec > 60 || (sec == 60 && ((mi - sign * om) % 60 + 60) % 60 != 59))
        return proto_fail(err, errlen, "%02d:%02d:%02d is not a time of day", h, mi, sec);
    if (sec == 60) { /* a leap second: the end of :59 */
        sec = 59;
        nsec = 999999999;
    }
    out->sec = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec -
               sign * (oh * 3600 + om * 60);
    out->nsec = nsec;
    return 0;
}

int proto_instant_cmp(const struct proto_instant *a, const struct proto_instant *b)
{
    if (a->sec != b->sec)
        return a->sec < b->sec ? -1 : 1;
    return a->nsec < b->nsec ? -1 : a->nsec > b->nsec;
}
