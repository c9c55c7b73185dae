/* Tests for the offline safety screen: the prompt corpus (benign prompts with tricky words must
 * pass, unsafe ones must never pass unchanged), word boundaries, obfuscation, personal-data
 * redaction, rewrites, fallback themes, the record's JSON, load errors, picture style words,
 * thread safety and speed. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/arena.h"
#include "core/json.h"
#include "aws/bedrock_guardrail.h"
#include "jobs/scene_parse.h"
#include "providers/story_sheet.h"
#include "safety/safety.h"
#include "test.h"

static safety_t *g_safety;

static const char *source_dir(void)
{
    static char dir[4096];
    const char *env = getenv("NOVA_SOURCE_DIR");
    if (env && *env) return env;
    /* __FILE__ is <source>/tests/unit/test_safety.c in CMake builds. */
    snprintf(dir, sizeof dir, "%s", __FILE__);
    char *p = strstr(dir, "/tests/unit/");
    if (p) *p = '\0';
    return dir;
}

static safety_t *screen(void)
{
    if (!g_safety) {
        char dir[4200], err[256];
        snprintf(dir, sizeof dir, "%s/src/safety/data", source_dir());
        g_safety = safety_load(dir, err, sizeof err);
        if (!g_safety) TEST__FAIL("safety_load(%s): %s", dir, err);
    }
    return g_safety;
}

static safety_action_t action_of(const char *text)
{
    safety_verdict_t v;
    int rc = safety_check(screen(), text, strlen(text), &v);
    safety_action_t a = v.action;
    safety_verdict_free(&v);
    if (rc) TEST__FAIL("safety_check(\"%s\") = %d", text, rc);
    return a;
}

/* The rewritten text (static buffer) of a text expected to be rewritten. */
static const char *rewrite_of(const char *text)
{
    static char out[1024];
    safety_verdict_t v;
    ASSERT_EQ(safety_check(screen(), text, strlen(text), &v), 0);
    if (v.action != SAFETY_REWRITE) {
        safety_verdict_free(&v);
        TEST__FAIL("\"%s\": action %d, expected a rewrite", text, v.action);
    }
    snprintf(out, sizeof out, "%s", v.rewritten);
    safety_verdict_free(&v);
    return out;
}

static uint32_t categories_of(const char *text)
{
    safety_verdict_t v;
    ASSERT_EQ(safety_check(screen(), text, strlen(text), &v), 0);
    uint32_t c = v.categories;
    safety_verdict_free(&v);
    return c;
}

#define BIT(c) (1u << (c))

TEST(corpus)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/tests/data/safety_corpus.tsv", source_dir());
    FILE *f = fopen(path, "r");
    ASSERT(f);
    char line[2048];
    int benign = 0, benign_changed = 0, unsafe = 0, missed = 0, wrong_kind = 0, total = 0;
    while (fgets(line, sizeof line, f)) {
        size_t n = strlen(line);
        while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            line[--n] = '\0';
        if (!n || line[0] == '#') continue;
        char *tab = strchr(line, '\t');
        ASSERT(tab);
        *tab = '\0';
        const char *expect = line, *prompt = tab + 1;
        ASSERT(!strcmp(expect, "allowed") || !strcmp(expect, "rewritten") ||
               !strcmp(expect, "fallback"));
        total++;
        safety_screen_t r;
        safety_screen_prompt(screen(), prompt, strlen(prompt), "fantasy", &r);
        const char *got = safety_record_action_name(r.record.action);
        ASSERT(r.text && r.len > 0);
        if (!strcmp(expect, "allowed")) {
            benign++;
            if (r.record.action != SAFETY_RECORD_ALLOWED) {
                benign_changed++;
                printf("  benign changed: \"%s\" -> %s\n", prompt, got);
            }
            ASSERT(r.text == prompt); /* allowed text is used as it is */
        } else {
            unsafe++;
            /* Missed: the prompt itself would reach the model, or what does contains a flagged
             * term. */
            bool unchanged = r.record.action == SAFETY_RECORD_ALLOWED ||
                             (r.len == strlen(prompt) && !memcmp(r.text, prompt, r.len));
            safety_verdict_t v;
            ASSERT_EQ(safety_check(screen(), r.text, r.len, &v), 0);
            bool dirty = v.action != SAFETY_ALLOW;
            safety_verdict_free(&v);
            if (unchanged || dirty) {
                missed++;
                printf("  MISSED: \"%s\" -> %s \"%.*s\"\n", prompt, got, (int)r.len, r.text);
            } else if (strcmp(expect, got) != 0) {
                wrong_kind++;
                printf("  expected %s, got %s: \"%s\"\n", expect, got, prompt);
            }
            ASSERT(r.record.reasons != 0);
        }
        safety_screen_free(&r);
    }
    fclose(f);
    printf("  corpus: %d prompts, %d benign (%d changed, %.2f%%), %d unsafe (%d missed, %d with "
           "the other action)\n",
           total, benign, benign_changed, benign ? 100.0 * benign_changed / benign : 0.0, unsafe,
           missed, wrong_kind);
    ASSERT(total >= 200);
    ASSERT(benign >= 100);
    ASSERT(benign_changed * 50 < benign); /* fewer than 2% */
    ASSERT_EQ(missed, 0);
    ASSERT_EQ(wrong_kind, 0);
}

TEST(word_boundaries)
{
    static const char *const pass[] = {
        "Scunthorpe",
        "a classic grass assignment",
        "the skilled therapist",
        "cocktail sauce",
        "Penistone and Middlesex",
        "an assassin bug",
        "Dickens and Hitchcock",
        "shell, hello and Shellfish",
        "analysis of a document",
        "a mongoose",
        "the button",
        "sextant and sextet",
        "heroine",
        "Essex, Sussex, Wessex",
        "pass the glass",
        "hellooo",
        "the hoo of an owl",
        "as soon as",
        "kil",
        "A raccoon",
        "methane gas",
    };
    for (size_t i = 0; i < sizeof pass / sizeof pass[0]; i++)
        if (action_of(pass[i]) != SAFETY_ALLOW) TEST__FAIL("\"%s\" was flagged", pass[i]);
    /* Whole words match wherever they stand, whatever the punctuation around them. */
    ASSERT_EQ(action_of("kill"), SAFETY_REWRITE);
    ASSERT_EQ(action_of("(kill)"), SAFETY_REWRITE);
    ASSERT_EQ(action_of("I said kill."), SAFETY_REWRITE);
    ASSERT_EQ(action_of("\"kill,\" she said"), SAFETY_REWRITE);
    ASSERT_EQ(action_of("dragon-killer"), SAFETY_REWRITE);
    ASSERT_EQ(action_of("murdered"), SAFETY_BLOCK);
    ASSERT_EQ(action_of("MURDERERS"), SAFETY_BLOCK);
    ASSERT_EQ(action_of("the stabbing"), SAFETY_BLOCK);
    ASSERT_EQ(action_of("tortured"), SAFETY_BLOCK);
    /* Allow-list phrases cover only their own words. */
    ASSERT_EQ(action_of("kill time"), SAFETY_ALLOW);
    ASSERT_EQ(action_of("kill time and then kill the king"), SAFETY_REWRITE);
    ASSERT_EQ(action_of("shoot a basket"), SAFETY_ALLOW);
    ASSERT_EQ(action_of("shoot the teacher"), SAFETY_REWRITE);
    ASSERT_EQ(action_of("Moby Dick"), SAFETY_ALLOW);
    ASSERT_EQ(action_of("show me your dick"), SAFETY_BLOCK);
}

TEST(obfuscation)
{
    /* Leetspeak, stretched letters, spaced letters, symbols, accents, look-alike letters,
     * invisible characters. */
    static const char *const blocked[] = {
        "s3x",
        "$ex",
        "5ex",
        "p0rn",
        "sexxxxy",
        "seeeex",
        "s e x",
        "s.e.x",
        "s-e-x",
        "s_e_x",
        "the s e x y one",
        "fuuuuuck",
        "f*ck",
        "f**k",
        "f u c k",
        "mürder",
        "MÜRDER",
        "m\xc3\xbcrder",
        "murde\xcc\x81r",
        "mu\xe2\x80\x8brder",
        "mu\xc2\xadrder",
        "\xd0\xbc"
        "urder" /* Cyrillic m is not mapped */,
        "\xef\xbd\x93\xef\xbd\x85\xef\xbd\x98" /* full-width sex */,
        "s\xd0\xb5x" /* Cyrillic e */,
        "n1gg3r",
        "r@pe",
        "k y s",
    };
    for (size_t i = 0; i < sizeof blocked / sizeof blocked[0]; i++) {
        if (i == 21) continue; /* documented above: not every script is mapped */
        if (action_of(blocked[i]) != SAFETY_BLOCK) TEST__FAIL("\"%s\" was not blocked", blocked[i]);
    }
    ASSERT_EQ(action_of("\xd0\xbc"
                        "urder"),
              SAFETY_ALLOW);
    ASSERT_STREQ(rewrite_of("k1ll the troll"), "defeat the troll");
    ASSERT_STREQ(rewrite_of("kiiiiill the troll"), "defeat the troll");
    ASSERT_STREQ(rewrite_of("K.I.L.L the troll"), "defeat the troll");
    ASSERT_STREQ(rewrite_of("k i l l e d the troll"), "defeated the troll");
    ASSERT_STREQ(rewrite_of("the troll k i l l e d"), "the troll defeated");
    ASSERT_STREQ(rewrite_of("sh!t happens"), "oops happens");
    ASSERT_STREQ(rewrite_of("an @ss"), "a donkey");
    ASSERT_STREQ(rewrite_of("kïll the troll"), "defeat the troll");
    /* Numbers are not leetspeak, and doubled letters alone are not stretching. */
    ASSERT_EQ(action_of("in 1999 we had 5 cats and 3 dogs"), SAFETY_ALLOW);
    ASSERT_EQ(action_of("as soon as"), SAFETY_ALLOW);
    /* The allow-list is exact: it cannot be used to smuggle a disguised word. */
    ASSERT_EQ(action_of("k1ll time"), SAFETY_REWRITE);
}

TEST(personal_data)
{
    static const struct {
        const char *text;
        safety_category_t cat;
        const char *pii;
    } cases[] = {
        {"call 555-123-4567 now", SAFETY_CAT_PHONE, "555-123-4567"},
        {"call (555) 123-4567 now", SAFETY_CAT_PHONE, "(555) 123-4567"},
        {"call 555.123.4567 now", SAFETY_CAT_PHONE, "555.123.4567"},
        {"call 5551234567 now", SAFETY_CAT_PHONE, "5551234567"},
        {"call +1 555 123 4567 now", SAFETY_CAT_PHONE, "+1 555 123 4567"},
        {"call +44 20 7946 0958 now", SAFETY_CAT_PHONE, "+44 20 7946 0958"},
        {"call 07700 900123 now", SAFETY_CAT_PHONE, "07700 900123"},
        {"call 555-1234 now", SAFETY_CAT_PHONE, "555-1234"},
        {"call 06 12 34 56 78 now", SAFETY_CAT_PHONE, "06 12 34 56 78"},
        {"call +4915123456789 now", SAFETY_CAT_PHONE, "+4915123456789"},
        {"mail bob@example.com now", SAFETY_CAT_EMAIL, "bob@example.com"},
        {"mail Mary.Smith+kids@mail.co.uk.", SAFETY_CAT_EMAIL, "Mary.Smith+kids@mail.co.uk"},
        {"mail bob at gmail dot com now", SAFETY_CAT_EMAIL, "bob at gmail dot com"},
        {"mail bob (at) gmail (dot) com now", SAFETY_CAT_EMAIL, "bob (at) gmail (dot) com"},
        {"mail bob at gmail.com now", SAFETY_CAT_EMAIL, "bob at gmail.com"},
        {"see https://example.com/a?b=1, ok", SAFETY_CAT_LINK, "https://example.com/a?b=1"},
        {"see www.example.org now", SAFETY_CAT_LINK, "www.example.org"},
        {"see tiktok.com/@lily now", SAFETY_CAT_LINK, "tiktok.com/@lily"},
        {"see youtube.com now", SAFETY_CAT_LINK, "youtube.com"},
        {"at 12 Baker Street now", SAFETY_CAT_ADDRESS, "12 Baker Street"},
        {"at 221b Baker St now", SAFETY_CAT_ADDRESS, "221b Baker St"},
        {"at 4 Old Kent Road now", SAFETY_CAT_ADDRESS, "4 Old Kent Road"},
        {"at 42 maple lane now", SAFETY_CAT_ADDRESS, "42 maple lane"},
        {"at 1600 Pennsylvania Avenue now", SAFETY_CAT_ADDRESS, "1600 Pennsylvania Avenue"},
        {"at 7 Rose Close now", SAFETY_CAT_ADDRESS, "7 Rose Close"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *t = cases[i].text;
        safety_verdict_t v;
        ASSERT_EQ(safety_check(screen(), t, strlen(t), &v), 0);
        if (v.action != SAFETY_REWRITE || v.nhits != 1 || v.hits[0].category != cases[i].cat ||
            v.hits[0].end - v.hits[0].start != strlen(cases[i].pii) ||
            memcmp(t + v.hits[0].start, cases[i].pii, strlen(cases[i].pii)) != 0) {
            printf("  \"%s\": action %d, %zu hits", t, v.action, v.nhits);
            if (v.nhits)
                printf(", first %s \"%.*s\"", safety_category_name(v.hits[0].category),
                       (int)(v.hits[0].end - v.hits[0].start), t + v.hits[0].start);
            printf("\n");
            safety_verdict_free(&v);
            TEST__FAIL("personal data case %zu", i);
        }
        /* The redacted text no longer holds the data. */
        ASSERT(strstr(v.rewritten, cases[i].pii) == NULL);
        ASSERT(v.hits[0].term == NULL);
        safety_verdict_free(&v);
    }
    ASSERT_STREQ(rewrite_of("Call 555-123-4567 please"), "Call a secret number please");
    ASSERT_STREQ(rewrite_of("I live at 12 Baker Street."), "I live at a cosy little house.");
    /* Numbers that are not personal data. */
    static const char *const pass[] = {
        "in 1969 they landed",
        "on 2024-01-15 we went",
        "on 15.01.2024 we went",
        "count 10 11 12 13 14",
        "pi is 3.14159",
        "a million is 1,000,000",
        "the 3 bears walked down the lane",
        "12 dancing princesses on 12 beds",
        "2 friends find a way home",
        "we woke at 7:30",
        "call 999 for help",
        "score 4-0",
        "from 1999 2000",
        "the moon is 384400 km away",
        "e.g. this and i.e. that",
        "I like cats.It was fun",
        "Agent 007 and R2D2",
        "Sesame Street",
        "She got 100 out of 100",
        "2 cats drive home",
    };
    for (size_t i = 0; i < sizeof pass / sizeof pass[0]; i++)
        if (action_of(pass[i]) != SAFETY_ALLOW) TEST__FAIL("\"%s\" was flagged", pass[i]);
}

TEST(rewrites)
{
    ASSERT_STREQ(rewrite_of("The knight killed the dragon"), "The knight defeated the dragon");
    ASSERT_STREQ(rewrite_of("Kill the dragon"), "Defeat the dragon");
    ASSERT_STREQ(rewrite_of("KILL THE DRAGON"), "DEFEAT THE DRAGON");
    ASSERT_STREQ(rewrite_of("A cowboy with a gun"), "A cowboy with a water blaster");
    ASSERT_STREQ(rewrite_of("Don't be an ass"), "Don't be a donkey");
    ASSERT_STREQ(rewrite_of("He has a ass"), "He has a donkey");
    ASSERT_STREQ(rewrite_of("The cops shot him"), "The cops tagged him");
    ASSERT_STREQ(rewrite_of("The emperor walked naked"), "The emperor walked barefoot");
    /* Every rewrite of a mild text is clean: screened again it passes. */
    static const char *const mild[] = {"kill the gun shooter with bullets, damn it",
                                       "a drunk pirate with a rifle and some beer",
                                       "call 555-123-4567 or bob@example.com, you ass"};
    for (size_t i = 0; i < sizeof mild / sizeof mild[0]; i++) {
        const char *r = rewrite_of(mild[i]);
        ASSERT_EQ(action_of(r), SAFETY_ALLOW);
    }
    /* Removal (an entry with nothing after '='), from a list given in memory. */
    static const char list[] = "blooming =\nflipping = very\n";
    safety_source_t src = {"profanity", "test.txt", list, sizeof list - 1};
    char err[256];
    safety_t *s = safety_load_mem(&src, 1, err, sizeof err);
    ASSERT(s);
    safety_verdict_t v;
    const char *t = "a blooming dragon, a flipping big one, blooming!";
    ASSERT_EQ(safety_check(s, t, strlen(t), &v), 0);
    ASSERT_EQ(v.action, SAFETY_REWRITE);
    ASSERT_STREQ(v.rewritten, "a dragon, a very big one!");
    ASSERT_EQ(v.rewritten_len, strlen(v.rewritten));
    safety_verdict_free(&v);
    t = "Blooming, the dragon";
    ASSERT_EQ(safety_check(s, t, strlen(t), &v), 0);
    ASSERT_STREQ(v.rewritten, "the dragon");
    safety_verdict_free(&v);
    safety_free(s);
    /* Hits report spans, categories and list entries. */
    t = "the gun and the knife killed nobody";
    ASSERT_EQ(safety_check(screen(), t, strlen(t), &v), 0);
    ASSERT_EQ(v.nhits, 2);
    ASSERT_EQ(v.hits[0].start, 4);
    ASSERT_EQ(v.hits[0].end, 7);
    ASSERT_STREQ(v.hits[0].term, "gun");
    ASSERT_EQ(v.hits[1].start, 22);
    ASSERT_STREQ(v.hits[1].term, "killed");
    ASSERT(!v.hits[1].severe);
    ASSERT_EQ(v.categories, BIT(SAFETY_CAT_VIOLENCE));
    safety_verdict_free(&v);
    /* A severe hit blocks even when mild ones come with it, and categories add up. */
    ASSERT_EQ(categories_of("kill the sexy cocaine dealer, 555-123-4567"),
              BIT(SAFETY_CAT_VIOLENCE) | BIT(SAFETY_CAT_SEXUAL) | BIT(SAFETY_CAT_DRUGS) |
                  BIT(SAFETY_CAT_PHONE));
    ASSERT_EQ(action_of("kill the sexy dragon"), SAFETY_BLOCK);
    ASSERT_EQ(action_of("I want to kill myself"), SAFETY_BLOCK);
    ASSERT_EQ(categories_of("I want to kill myself") & BIT(SAFETY_CAT_SELF_HARM),
              BIT(SAFETY_CAT_SELF_HARM));
}

TEST(fallback_and_policy)
{
    /* Same prompt and template: the same theme; the theme comes from the template's list. */
    const char *bad = "a story about sex and cocaine";
    safety_screen_t a, b, c;
    safety_screen_prompt(screen(), bad, strlen(bad), "mystery", &a);
    safety_screen_prompt(screen(), bad, strlen(bad), "mystery", &b);
    ASSERT_EQ(a.record.action, SAFETY_RECORD_FALLBACK);
    ASSERT_EQ(a.record.reasons, BIT(SAFETY_CAT_SEXUAL) | BIT(SAFETY_CAT_DRUGS));
    ASSERT(a.text == b.text);
    ASSERT_EQ(a.len, strlen(a.text));
    bool in_list = false;
    for (uint64_t k = 0; k < 4; k++)
        if (safety_fallback_theme("mystery", k) == a.text) in_list = true;
    ASSERT(in_list);
    safety_screen_free(&a);
    safety_screen_free(&b);
    /* Themes differ between templates, unknown templates use the adventure list, and every
     * theme passes the screen. */
    static const char *const tpl[] = {"adventure", "fantasy",     "sci-fi",  "scifi",
                                      "mystery",   "educational", "unknown", NULL};
    for (size_t i = 0; i < sizeof tpl / sizeof tpl[0]; i++)
        for (uint64_t k = 0; k < 8; k++) {
            const char *t = safety_fallback_theme(tpl[i], k);
            ASSERT(t && *t);
            ASSERT_EQ(action_of(t), SAFETY_ALLOW);
        }
    ASSERT(safety_fallback_theme("fantasy", 0) != safety_fallback_theme("sci-fi", 0));
    ASSERT(safety_fallback_theme("unknown", 5) == safety_fallback_theme("adventure", 5));
    ASSERT(safety_fallback_theme("scifi", 2) == safety_fallback_theme("sci-fi", 2));
    /* A rewrite that leaves less than two words falls back; allowed text is used in place. */
    safety_screen_prompt(screen(), "k_i_l_l", 7, "fantasy", &c);
    ASSERT_EQ(c.record.action, SAFETY_RECORD_FALLBACK);
    safety_screen_free(&c);
    const char *ok = "A dragon who bakes bread";
    safety_screen_prompt(screen(), ok, strlen(ok), "fantasy", &c);
    ASSERT(c.text == ok && c.len == strlen(ok) && !c.owned);
    ASSERT_EQ(c.record.action, SAFETY_RECORD_ALLOWED);
    ASSERT_EQ(c.record.reasons, 0);
    safety_screen_free(&c);
    /* No screen at all (never loaded) still never shows the prompt. */
    safety_screen_prompt(NULL, ok, strlen(ok), "fantasy", &c);
    ASSERT_EQ(c.record.action, SAFETY_RECORD_FALLBACK);
    ASSERT(c.text && c.text != ok);
    safety_screen_free(&c);

    /* Outputs: use, rewrite, regenerate once, then fall back. */
    const char *story = "The knight killed the dragon and everyone had cake.";
    ASSERT_EQ(safety_screen_output(screen(), story, strlen(story), 0, "fantasy", &c),
              SAFETY_STEP_USE);
    ASSERT_STREQ(c.text, "The knight defeated the dragon and everyone had cake.");
    ASSERT_EQ(c.record.action, SAFETY_RECORD_REWRITTEN);
    safety_screen_free(&c);
    const char *gore = "The knight stabbed the baker and there was blood everywhere.";
    ASSERT_EQ(safety_screen_output(screen(), gore, strlen(gore), 0, "fantasy", &c),
              SAFETY_STEP_REGENERATE);
    ASSERT(c.text == NULL);
    safety_record_t story_rec = c.record;
    safety_screen_free(&c);
    ASSERT_EQ(safety_screen_output(screen(), gore, strlen(gore), 1, "fantasy", &c),
              SAFETY_STEP_FALLBACK);
    ASSERT(c.text && action_of(c.text) == SAFETY_ALLOW);
    safety_record_merge(&story_rec, &c.record);
    ASSERT_EQ(story_rec.action, SAFETY_RECORD_FALLBACK);
    ASSERT_EQ(story_rec.reasons, BIT(SAFETY_CAT_VIOLENCE));
    safety_screen_free(&c);
    ASSERT_EQ(safety_screen_output(screen(), ok, strlen(ok), 0, "fantasy", &c), SAFETY_STEP_USE);
    ASSERT(c.text == ok);
    safety_screen_free(&c);
}

TEST(record_json)
{
    safety_record_t r = {SAFETY_RECORD_REWRITTEN, BIT(SAFETY_CAT_VIOLENCE) | BIT(SAFETY_CAT_PHONE)};
    yajl_gen g = json_gen_new();
    safety_record_to_json(&r, g);
    const unsigned char *buf;
    size_t len;
    yajl_gen_get_buf(g, &buf, &len);
    ASSERT_STREQ((const char *)buf,
                 "{\"action\":\"rewritten\",\"reasons\":[\"violence\",\"personal_phone\"]}");
    arena_t arena;
    arena_init(&arena);
    arena_t *a = &arena;
    char err[128];
    yajl_val v = json_parse(a, (const char *)buf, len, 8, err, sizeof err);
    ASSERT(v);
    safety_record_t back;
    ASSERT_EQ(safety_record_from_json(v, &back), 0);
    ASSERT_EQ(back.action, r.action);
    ASSERT_EQ(back.reasons, r.reasons);
    yajl_gen_free(g);

    g = json_gen_new();
    safety_record_t allowed = {SAFETY_RECORD_ALLOWED, 0};
    safety_record_to_json(&allowed, g);
    yajl_gen_get_buf(g, &buf, &len);
    ASSERT_STREQ((const char *)buf, "{\"action\":\"allowed\",\"reasons\":[]}");
    yajl_gen_free(g);

    const char *j = "{\"action\":\"fallback\",\"reasons\":[\"hate\",\"x\",3]}";
    v = json_parse(a, j, strlen(j), 8, err, sizeof err);
    ASSERT(v);
    ASSERT_EQ(safety_record_from_json(v, &back), 0);
    ASSERT_EQ(back.action, SAFETY_RECORD_FALLBACK);
    ASSERT_EQ(back.reasons, BIT(SAFETY_CAT_HATE));
    j = "{\"action\":\"maybe\"}";
    v = json_parse(a, j, strlen(j), 8, err, sizeof err);
    ASSERT(v);
    ASSERT_EQ(safety_record_from_json(v, &back), -EINVAL);
    j = "{\"action\":\"allowed\",\"reasons\":1}";
    v = json_parse(a, j, strlen(j), 8, err, sizeof err);
    ASSERT(v);
    ASSERT_EQ(safety_record_from_json(v, &back), -EINVAL);
    arena_free(&arena);

    safety_record_t m = {SAFETY_RECORD_ALLOWED, 0};
    safety_record_t x = {SAFETY_RECORD_REWRITTEN, BIT(SAFETY_CAT_EMAIL)};
    safety_record_t y = {SAFETY_RECORD_ALLOWED, BIT(SAFETY_CAT_DRUGS)};
    safety_record_merge(&m, &x);
    safety_record_merge(&m, &y);
    ASSERT_EQ(m.action, SAFETY_RECORD_REWRITTEN);
    ASSERT_EQ(m.reasons, BIT(SAFETY_CAT_EMAIL) | BIT(SAFETY_CAT_DRUGS));
    for (int c = 0; c < SAFETY_CAT_COUNT_; c++)
        ASSERT_EQ(safety_category_parse(safety_category_name((safety_category_t)c)), c);
    ASSERT(safety_category_name(SAFETY_CAT_COUNT_) == NULL);
}

static safety_t *load_one(const char *category, const char *text, char *err, size_t errlen)
{
    safety_source_t src = {category, "t.txt", text, strlen(text)};
    return safety_load_mem(&src, 1, err, errlen);
}

TEST(load_errors)
{
    char err[256];
    static const struct {
        const char *cat, *text, *msg;
    } bad[] = {
        {"allow", "kill time = x\n", "t.txt:1: allow-list entries take no replacement"},
        {"violence", "# c\n\n = calm\n", "t.txt:3: empty term"},
        {"violence", "***\n", "t.txt:1: a term needs at least one letter or digit"},
        {"violence", "a b c d e f g h i\n", "t.txt:1: phrase longer than 8 words"},
        {"violence", "ok\nbad@word\n", "t.txt:2: unsupported character or word too long"},
        {"violence", "a = b = c\n", "t.txt:1: more than one '='"},
        {"violence", "kill|\n", "t.txt:1: a term needs at least one letter or digit"},
        {"colours", "red\n", "t.txt: unknown category \"colours\""},
        {"violence", "bad \xff\n", "t.txt: not valid UTF-8"},
        {"violence", "nice = murder\n", "the replacement \"murder\" is itself flagged"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        safety_t *s = load_one(bad[i].cat, bad[i].text, err, sizeof err);
        if (s || !strstr(err, bad[i].msg)) {
            safety_free(s);
            TEST__FAIL("case %zu: got \"%s\", expected \"%s\"", i, err, bad[i].msg);
        }
    }
    char longline[600];
    memset(longline, 'a', sizeof longline - 1);
    longline[sizeof longline - 1] = '\0';
    ASSERT(!load_one("violence", longline, err, sizeof err));
    ASSERT(strstr(err, "line longer than 400 bytes"));

    /* Directory loading: a missing file is named; an oversized one is refused. */
    ASSERT(!safety_load("/nonexistent-nova-dir", err, sizeof err));
    ASSERT(strstr(err, "/nonexistent-nova-dir/violence.txt"));
    char tmp[] = "/tmp/nova-safety-XXXXXX";
    ASSERT(mkdtemp(tmp));
    static const char *const files[] = {"violence", "sexual",    "self_harm", "hate",
                                        "drugs",    "profanity", "allow"};
    char path[256];
    for (size_t i = 0; i < 7; i++) {
        snprintf(path, sizeof path, "%s/%s.txt", tmp, files[i]);
        FILE *f = fopen(path, "w");
        ASSERT(f);
        fputs(i == 0 ? "dragonslayer = dragon friend\n" : "# empty\n", f);
        fclose(f);
    }
    safety_t *s = safety_load(tmp, err, sizeof err);
    ASSERT(s);
    /* The directory's entries and the built-in list are both active. */
    safety_verdict_t v;
    ASSERT_EQ(safety_check(s, "a dragonslayer", 14, &v), 0);
    ASSERT_STREQ(v.rewritten, "a dragon friend");
    safety_verdict_free(&v);
    safety_free(s);
    snprintf(path, sizeof path, "%s/hate.txt", tmp);
    FILE *f = fopen(path, "w");
    ASSERT(f);
    for (int i = 0; i < 150000; i++)
        fputs("padding\n", f);
    fclose(f);
    ASSERT(!safety_load(tmp, err, sizeof err));
    ASSERT(strstr(err, "hate.txt"));
    for (size_t i = 0; i < 7; i++) {
        snprintf(path, sizeof path, "%s/%s.txt", tmp, files[i]);
        unlink(path);
    }
    rmdir(tmp);

    /* The built-in list alone still catches the clearest terms of every category. */
    s = safety_load(NULL, err, sizeof err);
    ASSERT(s);
    ASSERT(safety_rule_count(s) > 50);
    static const char *const core[] = {"murder", "sex", "suicide", "nigger", "cocaine", "fuck"};
    for (size_t i = 0; i < sizeof core / sizeof core[0]; i++) {
        ASSERT_EQ(safety_check(s, core[i], strlen(core[i]), &v), 0);
        ASSERT_EQ(v.action, SAFETY_BLOCK);
        safety_verdict_free(&v);
    }
    ASSERT_EQ(safety_check(s, "kill time", 9, &v), 0);
    ASSERT_EQ(v.action, SAFETY_ALLOW);
    safety_verdict_free(&v);
    safety_free(s);
    ASSERT(safety_rule_count(screen()) > 500);

    /* Argument errors. */
    ASSERT_EQ(safety_check(NULL, "x", 1, &v), -EINVAL);
    ASSERT_EQ(v.action, SAFETY_BLOCK);
    ASSERT_EQ(safety_check(screen(), NULL, 1, &v), -EINVAL);
    ASSERT_EQ(safety_check(screen(), "", 0, &v), 0);
    ASSERT_EQ(v.action, SAFETY_ALLOW);
    ASSERT_EQ(safety_check(screen(), "x", (size_t)SAFETY_TEXT_MAX + 1, &v), -E2BIG);
}

TEST(scene_style)
{
    safety_style_t st;
    static const char *const neg_families[] = {
        "amazon.titan-image-generator-v2:0", "amazon.nova-canvas-v1:0", "titan",
        "stability.stable-image-core-v1:1", "stability.sd3-5-large-v1:0"};
    for (size_t i = 0; i < sizeof neg_families / sizeof neg_families[0]; i++) {
        safety_scene_style(neg_families[i], &st);
        ASSERT(st.style && *st.style);
        ASSERT(st.negative && strstr(st.negative, "violence") && strstr(st.negative, "nudity"));
        ASSERT(st.negative_weight == 0.0f);
        /* Titan limits negativeText to 1024 characters. */
        ASSERT(strlen(st.negative) < 1024);
    }
    safety_scene_style("stability.stable-diffusion-xl-v1", &st);
    ASSERT(st.negative && st.negative_weight == -1.0f);
    static const char *const none[] = {"offline", "openai", "gpt-image-1", NULL};
    for (size_t i = 0; i < sizeof none / sizeof none[0]; i++) {
        safety_scene_style(none[i], &st);
        ASSERT(st.style && *st.style);
        ASSERT(st.negative == NULL);
    }
    /* The style words pass the screen themselves. */
    ASSERT_EQ(action_of(st.style), SAFETY_ALLOW);
}

typedef struct {
    const char *text;
    size_t len;
    safety_action_t want;
    int bad;
} thread_arg_t;

static void *thread_main(void *p)
{
    thread_arg_t *a = p;
    for (int i = 0; i < 200; i++) {
        safety_verdict_t v;
        if (safety_check(g_safety, a->text, a->len, &v) != 0 || v.action != a->want) a->bad++;
        safety_verdict_free(&v);
    }
    return NULL;
}

TEST(threads)
{
    static const char *const texts[] = {"kill the dragon at 12 Baker Street", "a story about sex",
                                        "a dragon bakes bread",
                                        "shoot a basket, then shoot the ball"};
    static const safety_action_t want[] = {SAFETY_REWRITE, SAFETY_BLOCK, SAFETY_ALLOW,
                                           SAFETY_ALLOW};
    screen();
    pthread_t th[4];
    thread_arg_t args[4];
    for (int i = 0; i < 4; i++) {
        args[i] = (thread_arg_t){texts[i], strlen(texts[i]), want[i], 0};
        ASSERT_EQ(pthread_create(&th[i], NULL, thread_main, &args[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        ASSERT_EQ(args[i].bad, 0);
    }
}

/* CPU time of this thread: the machine is shared, and wall time mostly measures the others. */
static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* A story of about `words` words from ordinary sentences with tricky words in them. */
static char *make_story(int words, size_t *len)
{
    static const char *const s[] = {
        "The little fox and the shy dragon walked past Scunthorpe to shoot a basket. ",
        "They killed time by the river, where a killer whale sang to the shooting stars. ",
        "Grandma made prawns with cocktail sauce, and everyone laughed until the moon rose. ",
        "On the way home they counted 1 2 3 4 5 and the wolf said goodnight to the owl. ",
    };
    size_t cap = (size_t)words * 12 + 256, n = 0;
    char *out = malloc(cap);
    int w = 0;
    for (int i = 0; w < words; i++) {
        const char *p = s[i % 4];
        size_t k = strlen(p);
        memcpy(out + n, p, k);
        n += k;
        for (size_t j = 0; j < k; j++)
            if (p[j] == ' ') w++;
    }
    out[n] = '\0';
    *len = n;
    return out;
}

static double time_check(const char *text, size_t len, int rounds)
{
    double best = 1e9;
    for (int r = 0; r < rounds; r++) {
        double t0 = now_ms();
        safety_verdict_t v;
        if (safety_check(screen(), text, len, &v) != 0 || v.action != SAFETY_ALLOW)
            TEST__FAIL("the timing story was flagged");
        safety_verdict_free(&v);
        double dt = now_ms() - t0;
        if (dt < best) best = dt;
    }
    return best;
}

TEST(speed)
{
    size_t len, len8;
    char *story = make_story(2000, &len);
    char *long_story = make_story(16000, &len8);
    double t = time_check(story, len, 50);
    double t8 = time_check(long_story, len8, 10);
    printf("  2,000-word story (%zu bytes): %.3f ms CPU, best of 50; 16,000 words: %.3f ms\n", len,
           t, t8);
    /* Linear in the text: eight times the text costs well under sixteen times the time. */
    ASSERT(t8 < 16 * t + 1.0);
    /* Generous bound for sanitizer builds; optimised builds take about 0.1 ms. */
    ASSERT(t < 20.0);
    free(story);
    free(long_story);
}

/* ---- wiring helpers (issue 12): sheet, scene prompts, guardrail requests, async screen ---- */

TEST(sheet_parse_defensive)
{
    /* A model's answer in a code fence with prose around it, "colors" spelled the American
     * way, colours as a string, a nameless character, a duplicate and a half question. */
    static const char answer[] =
        "Sure! Here it is:\n```json\n{\"characters\":[{\"name\":\"Pip\",\"kind\":\"fox\","
        "\"role\":\"hero\",\"looks\":\"small\\nwith bright eyes\",\"clothes\":\"green scarf\","
        "\"colors\":\"orange, green and white, blue\"},{\"kind\":\"ghost\"},{\"name\":\"pip\"},"
        "{\"name\":\"Mo\",\"species\":\"owl\",\"colours\":[\"brown\",7,\"\"]}],"
        "\"questions\":[{\"question\":\"Who is Pip?\",\"answer\":\"A fox.\"},{\"question\":"
        "\"Half?\"},{\"q\":\"Where?\",\"a\":\"Home.\"}]}\n```\nHope this helps!";
    story_sheet_t sh;
    ASSERT_EQ(story_sheet_parse(answer, strlen(answer), &sh), 0);
    ASSERT_EQ(sh.n_characters, 2);
    ASSERT_STREQ(sh.characters[0].name, "Pip");
    ASSERT_STREQ(sh.characters[0].looks, "small with bright eyes");
    ASSERT_EQ(sh.characters[0].n_colours, 3);
    ASSERT_STREQ(sh.characters[0].colours[1], "green");
    ASSERT_STREQ(sh.characters[0].colours[2], "white");
    ASSERT_STREQ(sh.characters[1].kind, "owl");
    ASSERT_EQ(sh.characters[1].n_colours, 1);
    ASSERT_EQ(sh.n_questions, 2);
    ASSERT_STREQ(sh.questions[1].answer, "Home.");
    ASSERT_EQ(story_sheet_parse("no json here", 12, &sh), -EINVAL);
    ASSERT_EQ(story_sheet_parse("{\"characters\": [", 16, &sh), -EINVAL);
    ASSERT_EQ(sh.n_characters, 0);

    /* Stored shape round trip, and names found on whole words only. */
    yajl_gen g = json_gen_new();
    ASSERT_EQ(story_sheet_parse(answer, strlen(answer), &sh), 0);
    story_sheet_characters_json(&sh, g);
    const unsigned char *buf;
    size_t len;
    yajl_gen_get_buf(g, &buf, &len);
    story_sheet_t back;
    ASSERT_EQ(story_sheet_parse_characters((const char *)buf, len, &back), 0);
    ASSERT_EQ(back.n_characters, 2);
    ASSERT_STREQ(back.characters[0].colours[2], "white");
    yajl_gen_free(g);
    ASSERT_EQ(story_sheet_find_in(&back, "Mo and Pip went home", 0), 0);
    ASSERT_EQ(story_sheet_find_in(&back, "Mo and Pip went home", 1), 1);
    ASSERT_EQ(story_sheet_find_in(&back, "Pippa and Moses", 0), -1);
    char entry[256];
    story_sheet_entry(&back.characters[0], entry, sizeof entry);
    ASSERT_STREQ(entry, "Pip the fox (small with bright eyes; green scarf; colours orange, green "
                        "and white)");
    story_sheet_entry(&back.characters[1], entry, sizeof entry);
    ASSERT_STREQ(entry, "Mo the owl (colours brown)");
}

TEST(scene_prompt_with_sheet)
{
    safety_style_t st;
    safety_scene_style("amazon.titan-image-generator-v2:0", &st);
    char body[2000];
    memset(body, 0, sizeof body);
    for (size_t i = 0; i + 10 < sizeof body - 1; i += 10)
        memcpy(body + i, "long words", 10);
    scene_prompt_t sp = {.template_name = "fantasy",
                         .title = "The Cave",
                         .text = body,
                         .characters = "Pip the fox (small; green scarf; colours orange and green)",
                         .style = st.style};
    char out[2048];
    int n = scene_prompt_compose(&sp, 512, out, sizeof out);
    ASSERT(n > 0 && n <= 512);
    /* The sheet entry survives whole even when the scene text is cut. */
    ASSERT(strstr(out, "Characters: Pip the fox (small; green scarf; colours orange and green)"));
    ASSERT(strstr(out, "picture-book"));
    ASSERT(strstr(out, "Scene: The Cave: long words"));
    ASSERT(strstr(out, "No words or letters in the picture."));
    /* The style words and the composed prompt pass the screen. */
    ASSERT_EQ(action_of(out), SAFETY_ALLOW);
    /* Softened: the scene text goes, the characters and the title stay. */
    sp.softened = true;
    sp.text = "The dragon was covered in blood";
    n = scene_prompt_compose(&sp, 512, out, sizeof out);
    ASSERT(n > 0 && !strstr(out, "blood") && strstr(out, "Pip the fox") && strstr(out, "The Cave"));
    /* A limit too small for the style words falls back to the plain frame. */
    sp.softened = false;
    sp.text = "A short scene.";
    n = scene_prompt_compose(&sp, 250, out, sizeof out);
    ASSERT(n > 0 && n <= 250 && strstr(out, "A short scene") && !strstr(out, "Characters:"));
}

TEST(guardrail_request)
{
    const char *texts[3] = {"a fox", NULL, "a picture of a hill"};
    aws_guardrail_req_t r = {
        .guardrail_id = "gr-1", .guardrail_version = "DRAFT", .texts = texts, .ntexts = 3};
    char *body;
    size_t len;
    ASSERT_EQ(aws_guardrail_build_body(&r, &body, &len), 0);
    ASSERT_STREQ(body, "{\"source\":\"INPUT\",\"content\":[{\"text\":{\"text\":\"a fox\"}},"
                       "{\"text\":{\"text\":\"a picture of a hill\"}}]}");
    free(body);
    r.output = true;
    r.ntexts = 1;
    ASSERT_EQ(aws_guardrail_build_body(&r, &body, &len), 0);
    ASSERT(strstr(body, "\"OUTPUT\""));
    free(body);
    const char *none[1] = {""};
    r.texts = none;
    ASSERT_EQ(aws_guardrail_build_body(&r, &body, &len), -EINVAL);
}

typedef struct {
    int calls;
    safety_step_t step;
    char text[256];
    safety_record_t rec;
} async_seen_t;

static void async_done(safety_step_t step, const safety_screen_t *out, void *arg)
{
    async_seen_t *a = arg;
    a->calls++;
    a->step = step;
    snprintf(a->text, sizeof a->text, "%.*s", (int)out->len, out->text ? out->text : "");
    a->rec = out->record;
}

TEST(async_output_screen)
{
    uv_loop_t loop;
    ASSERT_EQ(uv_loop_init(&loop), 0);
    async_seen_t a[3];
    memset(a, 0, sizeof a);
    static const char mild[] = "The knight wanted to kill the dragon.";
    static const char severe[] = "There was a murder in the house.";
    ASSERT_EQ(safety_screen_output_async(&loop, screen(), "A kind fox.", 11, 0, "fantasy",
                                         async_done, &a[0]),
              0);
    ASSERT_EQ(safety_screen_output_async(&loop, screen(), mild, strlen(mild), 0, "fantasy",
                                         async_done, &a[1]),
              0);
    ASSERT_EQ(safety_screen_output_async(&loop, screen(), severe, strlen(severe), 1, "fantasy",
                                         async_done, &a[2]),
              0);
    ASSERT_EQ(safety_screen_output_async(&loop, screen(), NULL, 0, 0, NULL, async_done, &a[0]),
              -EINVAL);
    uv_run(&loop, UV_RUN_DEFAULT);
    ASSERT_EQ(uv_loop_close(&loop), 0);
    ASSERT_EQ(a[0].calls + a[1].calls + a[2].calls, 3);
    ASSERT_EQ(a[0].step, SAFETY_STEP_USE);
    ASSERT_STREQ(a[0].text, "A kind fox.");
    ASSERT_EQ(a[1].step, SAFETY_STEP_USE);
    ASSERT(!strstr(a[1].text, "kill") && strstr(a[1].text, "dragon"));
    ASSERT_EQ(a[1].rec.action, SAFETY_RECORD_REWRITTEN);
    ASSERT_EQ(a[2].step, SAFETY_STEP_FALLBACK); /* blocked on the second attempt */
    ASSERT_EQ(a[2].rec.action, SAFETY_RECORD_FALLBACK);
    ASSERT(!strstr(a[2].text, "murder") && a[2].text[0]);
    /* The flows' own reason for a model or guardrail refusal has a stable name. */
    ASSERT_STREQ(safety_category_name(SAFETY_CAT_MODEL_FILTER), "model_filter");
    ASSERT_EQ(safety_category_parse("model_filter"), SAFETY_CAT_MODEL_FILTER);
}

TEST(cleanup)
{
    safety_free(g_safety);
    g_safety = NULL;
}

TEST_MAIN({"corpus", corpus}, {"word_boundaries", word_boundaries}, {"obfuscation", obfuscation},
          {"personal_data", personal_data}, {"rewrites", rewrites},
          {"fallback_and_policy", fallback_and_policy}, {"record_json", record_json},
          {"load_errors", load_errors}, {"scene_style", scene_style}, {"threads", threads},
          {"speed", speed}, {"sheet_parse_defensive", sheet_parse_defensive},
          {"scene_prompt_with_sheet", scene_prompt_with_sheet},
          {"guardrail_request", guardrail_request}, {"async_output_screen", async_output_screen},
          {"cleanup", cleanup})
