/* Server-sent events wire format (no field can be split or forged by line breaks in the data,
 * ids and types as the spec reads them) and the catch-up coalescing of a slow client's backlog
 * (text deltas merged without losing or reordering a byte, superseded progress dropped). */
#include "core/json.h"
#include "jobs/sse.h"
#include "test.h"

/* Parses one event the way the WHATWG algorithm does: returns the data buffer. */
static char *sse_data(const char *wire, char *type, size_t tcap, long long *id)
{
    static char data[4096];
    data[0] = type[0] = '\0';
    *id = -1;
    size_t dl = 0;
    const char *p = wire;
    while (*p && *p != '\n') {
        const char *e = strchr(p, '\n');
        size_t n = (size_t)(e - p);
        if (n >= 6 && strncmp(p, "data: ", 6) == 0) {
            memcpy(data + dl, p + 6, n - 6);
            dl += n - 6;
            data[dl++] = '\n';
        } else if (n >= 7 && strncmp(p, "event: ", 7) == 0) {
            snprintf(type, tcap, "%.*s", (int)(n - 7), p + 7);
        } else if (n >= 4 && strncmp(p, "id: ", 4) == 0) {
            *id = strtoll(p + 4, NULL, 10);
        }
        p = e + 1;
    }
    if (dl) dl--; /* the final line feed is removed */
    data[dl] = '\0';
    return data;
}

TEST(format_round_trips_every_line_ending)
{
    const char *cases[] = {"{\"a\":1}", "", "a\nb", "a\r\nb", "a\rb", "a\n", "\n\n"};
    const char *expect[] = {"{\"a\":1}", "", "a\nb", "a\nb", "a\nb", "a\n", "\n\n"};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        buf_t b;
        buf_init(&b, 1 << 16);
        ASSERT_EQ(jobs_sse_format(&b, 42, "job.progress", cases[i], strlen(cases[i])), 0);
        /* An event ends with exactly one blank line and contains no other. */
        ASSERT(b.len >= 2 && b.data[b.len - 1] == '\n' && b.data[b.len - 2] == '\n');
        ASSERT(strstr(b.data, "\n\n") == b.data + b.len - 2);
        ASSERT(strchr(b.data, '\r') == NULL);
        char type[64];
        long long id;
        const char *d = sse_data(b.data, type, sizeof type, &id);
        ASSERT_STREQ(d, expect[i]);
        ASSERT_STREQ(type, "job.progress");
        ASSERT_EQ(id, 42);
        buf_free(&b);
    }
}

TEST(data_cannot_forge_fields)
{
    buf_t b;
    buf_init(&b, 1 << 16);
    const char *evil = "x\n\nevent: hacked\nid: 999\n";
    ASSERT_EQ(jobs_sse_format(&b, 7, "story.delta", evil, strlen(evil)), 0);
    /* Every line of the payload is a data field: no bare "event:" or "id:" line. */
    ASSERT(strstr(b.data, "\nevent: hacked") == NULL);
    ASSERT(strstr(b.data, "\nid: 999") == NULL);
    ASSERT(strstr(b.data, "data: event: hacked\n") != NULL);
    buf_free(&b);
    buf_init(&b, 1 << 16);
    ASSERT_EQ(jobs_sse_format(&b, 1, "bad\ntype", "{}", 2), -22);
    ASSERT_EQ(jobs_sse_format(&b, 0, NULL, "{}", 2), 0);
    ASSERT_STREQ(b.data, "data: {}\n\n"); /* no id, no event: a plain message */
    buf_free(&b);
    buf_init(&b, 256);
    ASSERT_EQ(jobs_sse_retry(&b, 3000, "connected"), 0);
    ASSERT_STREQ(b.data, "retry: 3000\n: connected\n\n");
    buf_free(&b);
}

static jobs_sse_event_t ev(int64_t id, const char *job, const char *type, const char *data)
{
    jobs_sse_event_t e = {
        .id = id, .job_id = job, .type = type, .data = data, .data_len = strlen(data)};
    return e;
}

TEST(coalesce_merges_contiguous_deltas_and_drops_old_progress)
{
    jobs_sse_event_t e[8] = {
        ev(1, "j1", "job.queued", "{}"),
        ev(2, "j1", "job.progress", "{\"percent\":1}"),
        ev(3, "j1", "story.delta", "{\"text\":\"Once \",\"offset\":0,\"story_id\":\"s\"}"),
        ev(4, "j1", "story.delta", "{\"text\":\"upon \\\"a\\\"\",\"offset\":5}"),
        ev(5, "j1", "story.delta", "{\"text\":\" time\",\"offset\":13}"),
        ev(6, "j1", "job.progress", "{\"percent\":50}"),
        ev(7, "j2", "job.progress", "{\"percent\":9}"),
        ev(8, "j1", "story.ready", "{}"),
    };
    arena_t a;
    arena_init(&a);
    size_t left = jobs_sse_coalesce(e, 8, &a);
    ASSERT_EQ(left, 5);
    ASSERT(e[1].skip);  /* superseded by id 6 */
    ASSERT(!e[5].skip); /* the last progress of j1 */
    ASSERT(!e[6].skip); /* another job's progress stays */
    ASSERT(e[2].skip && e[3].skip && !e[4].skip);
    char err[64];
    yajl_val v = json_parse(&a, e[4].data, e[4].data_len, 8, err, sizeof err);
    ASSERT(v);
    ASSERT_STREQ(json_get_str(v, "text"), "Once upon \"a\" time");
    int64_t off = -1;
    ASSERT(json_get_int(v, "offset", &off));
    ASSERT_EQ(off, 0);
    ASSERT_STREQ(json_get_str(v, "job_id"), "j1");
    ASSERT_STREQ(json_get_str(v, "story_id"), "s");
    ASSERT_EQ(e[4].id, 5); /* Last-Event-ID after it covers every merged delta */
    arena_free(&a);
}

TEST(coalesce_keeps_gaps_and_other_jobs_apart)
{
    jobs_sse_event_t e[4] = {
        ev(1, "j1", "story.delta", "{\"text\":\"ab\",\"offset\":0}"),
        ev(2, "j1", "story.delta", "{\"text\":\"cd\",\"offset\":7}"), /* a gap: not merged */
        ev(3, "j2", "story.delta", "{\"text\":\"ef\",\"offset\":9}"),
        ev(4, "j2", "story.delta", "{\"text\":\"gh\",\"offset\":11}"),
    };
    arena_t a;
    arena_init(&a);
    ASSERT_EQ(jobs_sse_coalesce(e, 4, &a), 3);
    ASSERT(!e[0].skip && !e[1].skip && e[2].skip && !e[3].skip);
    ASSERT(strstr(e[3].data, "\"efgh\"") != NULL);
    arena_free(&a);
}

TEST_MAIN({"format_round_trips_every_line_ending", format_round_trips_every_line_ending},
          {"data_cannot_forge_fields", data_cannot_forge_fields},
          {"coalesce_merges_contiguous_deltas_and_drops_old_progress",
           coalesce_merges_contiguous_deltas_and_drops_old_progress},
          {"coalesce_keeps_gaps_and_other_jobs_apart", coalesce_keeps_gaps_and_other_jobs_apart})
