/* range: Range / conditional request helpers. See range.h for the policy. */
#include "http/range.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static bool is_ows(char c)
{
    return c == ' ' || c == '\t';
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static int lower(int c)
{
    return (c >= 'A' && c <= 'Z') ? c + 32 : c;
}

/* Reads one or more digits, saturating at UINT64_MAX. Returns false when no digit is present. */
static bool read_u64(const char **sp, uint64_t *out)
{
    const char *s = *sp;
    uint64_t v = 0;
    if (!is_digit(*s)) return false;
    for (; is_digit(*s); s++) {
        unsigned d = (unsigned)(*s - '0');
        v = (v > (UINT64_MAX - d) / 10) ? UINT64_MAX : v * 10 + d;
    }
    *sp = s;
    *out = v;
    return true;
}

typedef struct {
    bool suffix;
    bool open; /* "first-" */
    uint64_t first, last;
} spec_t;

range_result_t range_parse(const char *h, uint64_t size, range_t *out)
{
    range_t dummy;
    if (!out) out = &dummy;
    memset(out, 0, sizeof *out);
    if (!h) return RANGE_FULL;
    while (is_ows(*h))
        h++;
    static const char unit[] = "bytes";
    for (size_t i = 0; i < sizeof unit - 1; i++)
        if (lower((unsigned char)h[i]) != unit[i]) return RANGE_FULL;
    h += sizeof unit - 1;
    if (*h++ != '=') return RANGE_FULL;

    spec_t first = {0};
    unsigned count = 0;
    for (;;) {
        while (is_ows(*h) || *h == ',')
            h++; /* empty list elements are allowed */
        if (!*h) break;
        spec_t sp = {0};
        if (*h == '-') {
            h++;
            sp.suffix = true;
            if (!read_u64(&h, &sp.last)) return RANGE_FULL;
        } else {
            if (!read_u64(&h, &sp.first) || *h++ != '-') return RANGE_FULL;
            if (!read_u64(&h, &sp.last)) sp.open = true;
            if (!sp.open && sp.last < sp.first) return RANGE_FULL; /* invalid range-spec */
        }
        while (is_ows(*h))
            h++;
        if (*h && *h != ',') return RANGE_FULL;
        if (count++ == 0) first = sp;
    }
    if (count != 1) return RANGE_FULL; /* none, or several: see policy in range.h */

    if (first.suffix) {
        if (first.last == 0 || size == 0) return RANGE_UNSATISFIABLE;
        out->start = first.last >= size ? 0 : size - first.last;
        out->end = size - 1;
        return RANGE_PARTIAL;
    }
    if (first.first >= size) return RANGE_UNSATISFIABLE;
    out->start = first.first;
    out->end = (first.open || first.last >= size) ? size - 1 : first.last;
    return RANGE_PARTIAL;
}

int range_content_range(char *out, size_t cap, const range_t *r, uint64_t size)
{
    int n;
    if (r)
        n = snprintf(out, cap, "bytes %llu-%llu/%llu", (unsigned long long)r->start,
                     (unsigned long long)r->end, (unsigned long long)size);
    else
        n = snprintf(out, cap, "bytes */%llu", (unsigned long long)size);
    if (n < 0 || (size_t)n >= cap) return -ENOSPC;
    return n;
}

int range_etag_make(char *out, size_t cap, uint64_t size, int64_t mtime_ns, uint64_t inode)
{
    int n = snprintf(out, cap, "\"%llx-%llx-%llx\"", (unsigned long long)size,
                     (unsigned long long)mtime_ns, (unsigned long long)inode);
    if (n < 0 || (size_t)n >= cap) return -ENOSPC;
    return n;
}

/* Parses one entity-tag at *sp: [W/] DQUOTE *etagc DQUOTE. Sets the opaque-tag span (quotes
 * included) and weakness. */
static bool read_etag(const char **sp, const char **opaque, size_t *olen, bool *weak)
{
    const char *s = *sp;
    *weak = false;
    if (s[0] == 'W' && s[1] == '/') {
        *weak = true;
        s += 2;
    }
    if (*s != '"') return false;
    const char *o = s++;
    for (; *s != '"'; s++) {
        unsigned char c = (unsigned char)*s;
        if (c < 0x21 || c == 0x7f) return false; /* includes NUL: unterminated */
    }
    s++;
    *opaque = o;
    *olen = (size_t)(s - o);
    *sp = s;
    return true;
}

bool range_if_range_ok(const char *if_range, const char *etag, time_t last_modified)
{
    if (!if_range) return true;
    const char *s = if_range;
    while (is_ows(*s))
        s++;
    if (*s == '"' || (s[0] == 'W' && s[1] == '/')) {
        const char *o, *eo;
        size_t ol, eol;
        bool weak, eweak;
        if (!read_etag(&s, &o, &ol, &weak)) return false;
        while (is_ows(*s))
            s++;
        if (*s || weak || !etag) return false;
        const char *e = etag;
        if (!read_etag(&e, &eo, &eol, &eweak) || eweak) return false;
        return ol == eol && memcmp(o, eo, ol) == 0;
    }
    time_t t;
    if (range_http_date_parse(s, &t) != 0) return false;
    return t == last_modified;
}

bool range_if_none_match(const char *header, const char *etag)
{
    if (!header || !etag) return false;
    const char *s = header;
    while (is_ows(*s))
        s++;
    if (*s == '*') {
        s++;
        while (is_ows(*s))
            s++;
        return *s == '\0';
    }
    const char *eo, *e = etag;
    size_t eol;
    bool eweak;
    if (!read_etag(&e, &eo, &eol, &eweak)) return false;
    bool match = false, any = false;
    for (;;) {
        while (is_ows(*s) || *s == ',')
            s++;
        if (!*s) break;
        const char *o;
        size_t ol;
        bool weak;
        if (!read_etag(&s, &o, &ol, &weak)) return false;
        any = true;
        if (ol == eol && memcmp(o, eo, ol) == 0) match = true;
        while (is_ows(*s))
            s++;
        if (*s && *s != ',') return false;
    }
    return any && match;
}

/* ---- HTTP-date ---- */

static const char *const wday_short[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
static const char *const wday_long[] = {"Sunday",   "Monday", "Tuesday", "Wednesday",
                                        "Thursday", "Friday", "Saturday"};
static const char *const month_short[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                          "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

/* Days since 1970-01-01 of a proleptic Gregorian date, using 400-year eras starting in March so
 * that the leap day is the last day of the shifted year. */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned mp = (m + 9) % 12; /* March = 0 */
    unsigned doy = (153 * mp + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

int range_http_date_format(time_t t, char out[RANGE_HTTP_DATE_LEN])
{
    int64_t secs = (int64_t)t;
    int64_t days = secs / 86400, rem = secs % 86400;
    if (rem < 0) {
        rem += 86400;
        days--;
    }
    int64_t y;
    unsigned m, d;
    civil_from_days(days, &y, &m, &d);
    if (y < 0 || y > 9999) return -ERANGE;
    int64_t wd = (days + 4) % 7; /* 1970-01-01 was a Thursday */
    if (wd < 0) wd += 7;
    snprintf(out, RANGE_HTTP_DATE_LEN, "%s, %02u %s %04d %02d:%02d:%02d GMT", wday_short[wd], d,
             month_short[m - 1], (int)y, (int)(rem / 3600), (int)(rem / 60 % 60), (int)(rem % 60));
    return 0;
}

/* Reads exactly n digits. */
static bool digits(const char **sp, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!is_digit((*sp)[i])) return false;
        v = v * 10 + ((*sp)[i] - '0');
    }
    *sp += n;
    *out = v;
    return true;
}

static bool lit(const char **sp, const char *l)
{
    size_t n = strlen(l);
    if (strncmp(*sp, l, n) != 0) return false;
    *sp += n;
    return true;
}

/* Matches one name of a table (case-sensitive, as RFC 9110 requires). Returns its index. */
static int name_of(const char **sp, const char *const *tab, int n)
{
    for (int i = 0; i < n; i++)
        if (lit(sp, tab[i])) return i;
    return -1;
}

static bool hms(const char **sp, int *h, int *mi, int *se)
{
    return digits(sp, 2, h) && lit(sp, ":") && digits(sp, 2, mi) && lit(sp, ":") &&
           digits(sp, 2, se);
}

static int current_year(void)
{
    int64_t days = (int64_t)time(NULL) / 86400, y;
    unsigned m, d;
    civil_from_days(days, &y, &m, &d);
    return (int)y;
}

static int finish_date(int64_t y, int mon, int d, int h, int mi, int se, time_t *out)
{
    static const unsigned char mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    int dim = mdays[mon] + (mon == 1 && leap);
    if (d < 1 || d > dim || h > 23 || mi > 59 || se > 60) return -EINVAL;
    int64_t days = days_from_civil(y, (unsigned)mon + 1, (unsigned)d);
    *out = (time_t)(days * 86400 + h * 3600 + mi * 60 + se);
    return 0;
}

int range_http_date_parse(const char *s, time_t *out)
{
    if (!s || !out) return -EINVAL;
    while (is_ows(*s))
        s++;
    int d, mon, y, h, mi, se;
    const char *p = s;
    /* IMF-fixdate: Sun, 06 Nov 1994 08:49:37 GMT */
    if (name_of(&p, wday_short, 7) >= 0 && lit(&p, ", ")) {
        if (!digits(&p, 2, &d) || !lit(&p, " ") || (mon = name_of(&p, month_short, 12)) < 0 ||
            !lit(&p, " ") || !digits(&p, 4, &y) || !lit(&p, " ") || !hms(&p, &h, &mi, &se) ||
            !lit(&p, " GMT"))
            return -EINVAL;
        goto end;
    }
    /* RFC 850: Sunday, 06-Nov-94 08:49:37 GMT */
    p = s;
    if (name_of(&p, wday_long, 7) >= 0 && lit(&p, ", ")) {
        if (!digits(&p, 2, &d) || !lit(&p, "-") || (mon = name_of(&p, month_short, 12)) < 0 ||
            !lit(&p, "-") || !digits(&p, 2, &y) || !lit(&p, " ") || !hms(&p, &h, &mi, &se) ||
            !lit(&p, " GMT"))
            return -EINVAL;
        /* RFC 9110 5.6.7: a year more than 50 years in the future means the previous century. */
        int cur = current_year();
        y += cur - cur % 100;
        if (y > cur + 50) y -= 100;
        goto end;
    }
    /* asctime: Sun Nov  6 08:49:37 1994 */
    p = s;
    if (name_of(&p, wday_short, 7) >= 0 && lit(&p, " ")) {
        if ((mon = name_of(&p, month_short, 12)) < 0 || !lit(&p, " ")) return -EINVAL;
        if (*p == ' ') {
            p++;
            if (!digits(&p, 1, &d)) return -EINVAL;
        } else if (!digits(&p, 2, &d)) {
            return -EINVAL;
        }
        if (!lit(&p, " ") || !hms(&p, &h, &mi, &se) || !lit(&p, " ") || !digits(&p, 4, &y))
            return -EINVAL;
        goto end;
    }
    return -EINVAL;
end:
    while (is_ows(*p))
        p++;
    if (*p) return -EINVAL;
    return finish_date(y, mon, d, h, mi, se, out);
}
