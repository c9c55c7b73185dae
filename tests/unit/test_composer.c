/* Unit tests for the offline story composer: determinism, every setting honoured, word targets,
 * headings, variety across the prompt set, streaming, the plan and its JSON, bad input. */
#include "providers/composer.h"
#include "providers/composer_internal.h"

#include <errno.h>
#include <pthread.h>
#include <time.h>
#include <yajl/yajl_tree.h>

#include "test.h"

static const char *PROMPTS[] = {
    "A shy dragon named Ember who is afraid of the dark",
    "Lily finds a tiny door at the bottom of her garden", "A robot who wants to learn how to dance",
    "The mystery of the missing red bicycle", "How do butterflies grow from caterpillars"};

static composer_story_t *write_ok(const composer_input_t *in)
{
    composer_story_t *s = NULL;
    int rc = composer_write(in, &s);
    if (rc != 0) TEST__FAIL("composer_write failed: %d for prompt \"%s\"", rc, in->prompt);
    ASSERT(s != NULL);
    ASSERT(composer_story_text(s) != NULL);
    return s;
}

static size_t count_words(const char *s)
{
    size_t n = 0;
    int in = 0;
    for (; *s; s++) {
        int sp = *s == ' ' || *s == '\n' || *s == '\t';
        if (!sp && !in) n++;
        in = !sp;
    }
    return n;
}

/* A heading is a whole line "Part <digits>: <at least one char>". Returns its number or 0. */
static int heading_number(const char *line, size_t len)
{
    if (len < 8 || strncmp(line, "Part ", 5) != 0) return 0;
    size_t i = 5;
    int num = 0;
    if (line[i] < '0' || line[i] > '9') return 0;
    while (i < len && line[i] >= '0' && line[i] <= '9')
        num = num * 10 + (line[i++] - '0');
    if (i + 2 >= len || line[i] != ':' || line[i + 1] != ' ') return 0;
    return num;
}

/* Counts heading lines; fails if any line starting with "Part " is malformed or numbers are
 * not 1, 2, 3... Stores the start of each part's body in starts (up to max). */
static int check_headings(const char *text, const char **starts, int max)
{
    int count = 0;
    for (const char *line = text; *line;) {
        const char *end = strchr(line, '\n');
        size_t len = end ? (size_t)(end - line) : strlen(line);
        if (len >= 5 && !strncmp(line, "Part ", 5)) {
            int num = heading_number(line, len);
            if (num != count + 1) TEST__FAIL("bad heading: %.*s", (int)len, line);
            if (count < max) starts[count] = end ? end + 1 : line + len;
            count++;
        }
        if (!end) break;
        line = end + 1;
    }
    return count;
}

/* Copies part k's body (without the heading) into out. */
static void part_body(const char *text, int k, int n, char *out, size_t cap)
{
    const char *starts[16];
    ASSERT_EQ(check_headings(text, starts, 16), n);
    const char *b = starts[k];
    const char *e = k + 1 < n ? strstr(b, "\n\nPart ") : b + strlen(b);
    if (!e) e = b + strlen(b);
    size_t len = (size_t)(e - b) < cap - 1 ? (size_t)(e - b) : cap - 1;
    memcpy(out, b, len);
    out[len] = '\0';
    while (len && (out[len - 1] == '\n' || out[len - 1] == ' '))
        out[--len] = '\0';
}

TEST(determinism)
{
    composer_input_t in;
    composer_input_defaults(&in);
    in.prompt = PROMPTS[0];
    in.sound_effects = in.questions = in.explain_words = true;
    in.moral = "Friends help each other";
    composer_story_t *a = write_ok(&in), *b = write_ok(&in);
    ASSERT_EQ(composer_story_text_len(a), composer_story_text_len(b));
    ASSERT_MEMEQ(composer_story_text(a), composer_story_text(b), composer_story_text_len(a));
    ASSERT_STREQ(composer_story_title(a), composer_story_title(b));
    ASSERT_MEMEQ(composer_story_plan(a), composer_story_plan(b), sizeof(composer_plan_t));
    in.prompt = "A shy dragon named Ember who is afraid of the dark!";
    composer_story_t *c = write_ok(&in);
    ASSERT(strcmp(composer_story_text(a), composer_story_text(c)) != 0);
    composer_story_free(a);
    composer_story_free(b);
    composer_story_free(c);
}

TEST(parts_headings)
{
    composer_input_t in;
    composer_input_defaults(&in);
    in.target_words = 1200;
    for (int parts = 1; parts <= 10; parts++) {
        in.parts = parts;
        in.prompt = PROMPTS[parts % 5];
        in.template_id = (composer_template_t)(parts % COMPOSER_TEMPLATE_COUNT_);
        composer_story_t *s = write_ok(&in);
        const char *starts[16];
        ASSERT_EQ(check_headings(composer_story_text(s), starts, 16), parts);
        ASSERT_EQ(composer_story_plan(s)->n_parts, parts);
        /* Bodies are multi-paragraph when there is room for it. */
        char body[8192];
        part_body(composer_story_text(s), 0, parts, body, sizeof body);
        if (parts <= 3) ASSERT(strstr(body, "\n\n") != NULL);
        composer_story_free(s);
    }
}

TEST(word_targets)
{
    static const int targets[] = {150, 400, 800, 1500, 2000};
    /* The target is honoured for any number of parts: 150 words in 10 parts included. */
    static const int parts[] = {1, 2, 3, 5, 10};
    composer_input_t in;
    composer_input_defaults(&in);
    int checked = 0;
    for (size_t t = 0; t < 5; t++)
        for (size_t p = 0; p < 5; p++)
            for (size_t k = 0; k < 5; k++) {
                in.prompt = PROMPTS[k];
                in.target_words = targets[t];
                in.parts = parts[p];
                in.template_id = (composer_template_t)((k + p) % COMPOSER_TEMPLATE_COUNT_);
                in.level = (composer_level_t)(k % 3);
                /* Every third run with all extras on: they must fit in the same budget. */
                bool extras = (t + p + k) % 3 == 0;
                in.sound_effects = in.questions = in.explain_words = extras;
                in.moral = extras ? "Being kind is a kind of magic" : NULL;
                in.image_description = extras ? "a girl holding a red kite on a hill" : NULL;
                composer_story_t *s = write_ok(&in);
                double w = (double)count_words(composer_story_text(s));
                double lo = targets[t] * 0.85, hi = targets[t] * 1.15;
                /* With every extra on, a part costs at least its heading, one sentence, a
                 * question and a sound (about 22 words), so below 25 words per part the
                 * story may only overshoot by that floor. */
                if (extras && targets[t] < 25 * parts[p]) hi = 24.0 * parts[p] + 10;
                if (w < lo || w > hi)
                    TEST__FAIL("target %d parts %d prompt %zu extras %d: %.0f words", targets[t],
                               parts[p], k, extras, w);
                checked++;
                composer_story_free(s);
            }
    ASSERT_EQ(checked, 125);
}

TEST(moral_in_last_part)
{
    composer_input_t in;
    composer_input_defaults(&in);
    in.moral = "It is brave to ask for help when you need it.";
    for (int parts = 1; parts <= 6; parts++) {
        in.parts = parts;
        in.prompt = PROMPTS[parts % 5];
        composer_story_t *s = write_ok(&in);
        char body[16384];
        part_body(composer_story_text(s), parts - 1, parts, body, sizeof body);
        ASSERT(strstr(body, "It is brave to ask for help when you need it") != NULL);
        if (parts > 1) {
            part_body(composer_story_text(s), 0, parts, body, sizeof body);
            ASSERT(strstr(body, "ask for help when you need it") == NULL);
        }
        composer_story_free(s);
    }
}

/* Sound words a story must not contain when sound effects are off. */
static const char *SOUNDS[] = {
    "Whoosh!",      "Splash!",     "Boing!",       "Beep-boop!",     "Creak!",
    "Poof!",        "Zoom!",       "Tick-tock!",   "Pitter-patter!", "Crunch, crunch!",
    "Buzz-buzz!",   "Pop!",        "Swoosh!",      "Knock, knock!",  "Crack!",
    "Tweet-tweet!", "Flap, flap!", "Ting-a-ling!", "Ding-a-ling!",   "Whirr, click!",
    "Ding-dong!",   "Ding!"};

TEST(sound_effects_toggle)
{
    composer_input_t in;
    composer_input_defaults(&in);
    in.parts = 4;
    in.target_words = 600;
    for (int t = 0; t < COMPOSER_TEMPLATE_COUNT_; t++) {
        in.template_id = (composer_template_t)t;
        in.prompt = PROMPTS[t];
        in.sound_effects = true;
        composer_story_t *s = write_ok(&in);
        const composer_plan_t *plan = composer_story_plan(s);
        for (size_t p = 0; p < plan->n_parts; p++) {
            ASSERT(plan->parts[p].n_sounds >= 1);
            char body[8192], word[40];
            part_body(composer_story_text(s), (int)p, 4, body, sizeof body);
            snprintf(word, sizeof word, "%s", plan->parts[p].sounds[0]);
            ASSERT(strstr(body, word) != NULL);
        }
        composer_story_free(s);
        in.sound_effects = false;
        s = write_ok(&in);
        for (size_t i = 0; i < sizeof SOUNDS / sizeof SOUNDS[0]; i++)
            if (strstr(composer_story_text(s), SOUNDS[i]))
                TEST__FAIL("sound %s while off", SOUNDS[i]);
        for (size_t p = 0; p < composer_story_plan(s)->n_parts; p++)
            ASSERT_EQ(composer_story_plan(s)->parts[p].n_sounds, 0);
        composer_story_free(s);
    }
}

TEST(questions_toggle)
{
    composer_input_t in;
    composer_input_defaults(&in);
    for (int parts = 1; parts <= 5; parts += 2) {
        in.parts = parts;
        in.prompt = PROMPTS[parts % 5];
        for (int on = 0; on <= 1; on++) {
            in.questions = on;
            composer_story_t *s = write_ok(&in);
            for (int p = 0; p < parts; p++) {
                char body[8192];
                part_body(composer_story_text(s), p, parts, body, sizeof body);
                char last = body[strlen(body) - 1];
                if (on) {
                    ASSERT_EQ(last, '?');
                    ASSERT(composer_story_plan(s)->parts[p].listener_question[0] != '\0');
                    ASSERT(strstr(body, composer_story_plan(s)->parts[p].listener_question));
                } else {
                    ASSERT_NE(last, '?');
                }
            }
            composer_story_free(s);
        }
    }
}

TEST(explain_words_toggle)
{
    composer_input_t in;
    composer_input_defaults(&in);
    for (size_t k = 0; k < 5; k++) {
        in.prompt = PROMPTS[k];
        in.template_id = (composer_template_t)k;
        in.explain_words = true;
        composer_story_t *s = write_ok(&in);
        ASSERT(strstr(composer_story_text(s), " means ") != NULL);
        composer_story_free(s);
        in.explain_words = false;
        s = write_ok(&in);
        ASSERT(strstr(composer_story_text(s), " means ") == NULL);
        composer_story_free(s);
    }
}

TEST(names_and_picture)
{
    composer_input_t in;
    composer_input_defaults(&in);
    in.prompt = "A shy dragon named Ember who is afraid of the dark";
    in.child_name = "Sophie";
    in.image_description = "A little girl holding a red balloon in a sunny park";
    for (int parts = 1; parts <= 4; parts++) {
        in.parts = parts;
        composer_story_t *s = write_ok(&in);
        const char *t = composer_story_text(s);
        ASSERT(strstr(t, "Sophie") != NULL);
        ASSERT(strstr(t, "Ember") != NULL);
        ASSERT(strstr(t, "In the picture") != NULL);
        ASSERT(strstr(t, "red balloon") != NULL);
        const composer_plan_t *plan = composer_story_plan(s);
        ASSERT_STREQ(plan->characters[0].name, "Sophie");
        ASSERT_STREQ(plan->characters[0].role, "hero");
        composer_story_free(s);
    }
    /* Without a child's name the prompt's own character is the hero, with its kind. */
    in.child_name = NULL;
    in.image_description = NULL;
    composer_story_t *s = write_ok(&in);
    ASSERT_STREQ(composer_story_plan(s)->characters[0].name, "Ember");
    ASSERT_STREQ(composer_story_plan(s)->characters[0].kind, "dragon");
    ASSERT(strstr(composer_story_text(s), "afraid of the dark") != NULL);
    composer_story_free(s);
    /* A capitalised name in the middle of the prompt and a noun after "a". */
    in.prompt = "One day Zanzibar found a kite in the garden";
    s = write_ok(&in);
    ASSERT(strstr(composer_story_text(s), "Zanzibar") != NULL);
    ASSERT(strstr(composer_story_text(s), "kite") != NULL);
    composer_story_free(s);
}

static void split_sentences(const char *text, char ***out, size_t *n, size_t *cap)
{
    const char *p = text;
    while (*p) {
        while (*p == ' ' || *p == '\n')
            p++;
        if (!*p) break;
        const char *line_end = strchr(p, '\n');
        if (!line_end) line_end = p + strlen(p);
        if (heading_number(p, (size_t)(line_end - p))) {
            p = line_end;
            continue;
        }
        const char *e = p;
        while (e < line_end) {
            if (*e == '.' || *e == '!' || *e == '?') {
                const char *q = e + 1;
                while (q < line_end && (*q == '"' || *q == ')'))
                    q++;
                if (q >= line_end) {
                    e = q;
                    break;
                }
                if (*q == ' ' && !(q[1] >= 'a' && q[1] <= 'z')) {
                    e = q;
                    break;
                }
            }
            e++;
        }
        if (*n == *cap) {
            *cap = *cap ? *cap * 2 : 1024;
            *out = realloc(*out, *cap * sizeof **out);
            ASSERT(*out != NULL);
        }
        size_t len = (size_t)(e - p);
        char *sn = malloc(len + 1);
        memcpy(sn, p, len);
        sn[len] = '\0';
        while (len && sn[len - 1] == ' ')
            sn[--len] = '\0';
        (*out)[(*n)++] = sn;
        p = e;
    }
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

TEST(variety_over_prompt_file)
{
    const char *dir = getenv("NOVA_SOURCE_DIR");
    if (!dir) TEST_SKIP("NOVA_SOURCE_DIR not set");
    char path[1024];
    snprintf(path, sizeof path, "%s/tests/data/composer_prompts.txt", dir);
    FILE *f = fopen(path, "r");
    ASSERT(f != NULL);
    char line[1024];
    char **sent = NULL;
    size_t n = 0, cap = 0, stories = 0, total_words = 0;
    double ms = 0;
    static const char *ages[][2] = {{"3-5", ""}, {"6-8", ""}, {"9-12", ""}, {"5-7", ""}};
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = '\0';
        if (!line[0]) continue;
        size_t i = stories;
        composer_input_t in;
        composer_input_defaults(&in);
        in.prompt = line;
        in.template_id = (composer_template_t)(i % COMPOSER_TEMPLATE_COUNT_);
        in.parts = 1 + (int)(i % 6);
        in.target_words = 300 + (int)((i * 137) % 900);
        in.level = (composer_level_t)(i % 3);
        ASSERT_EQ(composer_age_parse(ages[i % 4][0], &in.age_min, &in.age_max), 0);
        in.sound_effects = i % 2;
        in.questions = (i / 2) % 2;
        in.explain_words = (i / 3) % 2;
        in.moral = i % 4 == 0 ? "Sharing makes everyone happier" : NULL;
        in.child_name = i % 5 == 0 ? "Amelia" : NULL;
        in.image_description = i % 7 == 0 ? "two children flying a kite on a windy beach" : NULL;
        double t0 = now_ms();
        composer_story_t *s = write_ok(&in);
        ms += now_ms() - t0;
        total_words += count_words(composer_story_text(s));
        split_sentences(composer_story_text(s), &sent, &n, &cap);
        composer_story_free(s);
        stories++;
    }
    fclose(f);
    ASSERT(stories >= 100);
    qsort(sent, n, sizeof *sent, cmp_str);
    size_t repeated = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i + 1;
        while (j < n && !strcmp(sent[i], sent[j]))
            j++;
        if (j - i > 1) repeated += j - i;
        i = j;
    }
    double share = 100.0 * (double)repeated / (double)n;
    printf("variety: %zu stories, %zu words, %zu sentences, %zu repeated (%.2f%%), %.2f ms/story\n",
           stories, total_words, n, repeated, share, ms / (double)stories);
    for (size_t i = 0; i < n; i++)
        free(sent[i]);
    free(sent);
    ASSERT(share < 20.0);
}

typedef struct {
    char buf[65536];
    size_t len, calls, stop_after;
} collect_t;

static int collect_cb(const char *chunk, size_t len, void *arg)
{
    collect_t *c = arg;
    if (len == 0 || c->len + len >= sizeof c->buf) return -1;
    memcpy(c->buf + c->len, chunk, len);
    c->len += len;
    c->calls++;
    return c->stop_after && c->calls >= c->stop_after ? 42 : 0;
}

TEST(streaming)
{
    composer_input_t in;
    composer_input_defaults(&in);
    in.prompt = PROMPTS[1];
    in.questions = true;
    composer_story_t *s = write_ok(&in);
    size_t words = count_words(composer_story_text(s));
    static const size_t sizes[] = {0, 1, 3, 7, 100000};
    for (size_t i = 0; i < 5; i++) {
        collect_t *c = calloc(1, sizeof *c);
        ASSERT_EQ(composer_stream(s, sizes[i], collect_cb, c), 0);
        ASSERT_EQ(c->len, composer_story_text_len(s));
        ASSERT_MEMEQ(c->buf, composer_story_text(s), c->len);
        size_t per = sizes[i] ? sizes[i] : 1;
        ASSERT_EQ(c->calls, (words + per - 1) / per);
        free(c);
    }
    collect_t *c = calloc(1, sizeof *c);
    c->stop_after = 2;
    ASSERT_EQ(composer_stream(s, 3, collect_cb, c), 42);
    ASSERT_EQ(c->calls, 2);
    free(c);
    ASSERT_EQ(composer_stream(NULL, 3, collect_cb, NULL), -EINVAL);
    composer_story_free(s);
}

TEST(plan_and_json)
{
    static const char *ranges[] = {"3-5", "6-8", "9-12"};
    static const size_t want[] = {3, 4, 5};
    composer_input_t in;
    composer_input_defaults(&in);
    for (size_t r = 0; r < 3; r++)
        for (size_t k = 0; k < 5; k++) {
            in.prompt = PROMPTS[k];
            in.template_id = (composer_template_t)k;
            in.sound_effects = true;
            ASSERT_EQ(composer_age_parse(ranges[r], &in.age_min, &in.age_max), 0);
            composer_story_t *s = write_ok(&in);
            const composer_plan_t *p = composer_story_plan(s);
            ASSERT(p->n_characters >= 1);
            ASSERT_STREQ(p->characters[0].role, "hero");
            ASSERT(strstr(composer_story_text(s), p->characters[0].name) != NULL);
            for (size_t c = 0; c < p->n_characters; c++) {
                ASSERT(p->characters[c].kind[0] && p->characters[c].looks[0]);
                ASSERT(p->characters[c].n_colours >= 2 && p->characters[c].n_colours <= 3);
            }
            ASSERT_EQ(p->n_questions, want[r]);
            for (size_t q = 0; q < p->n_questions; q++) {
                ASSERT(strchr(p->questions[q].question, '?') != NULL);
                ASSERT(strlen(p->questions[q].answer) > 2);
            }
            for (size_t i = 0; i < p->n_parts; i++) {
                ASSERT(p->parts[i].title[0] && p->parts[i].setting[0]);
                ASSERT(p->parts[i].n_characters >= 1);
                ASSERT_EQ(p->parts[i].characters[0], 0); /* the hero is in every part */
                ASSERT(p->parts[i].n_objects >= 1);
            }
            buf_t b;
            buf_init(&b, 1 << 20);
            ASSERT_EQ(composer_plan_to_json(s, &b), 0);
            char err[256];
            yajl_val root = yajl_tree_parse(b.data, err, sizeof err);
            ASSERT(root != NULL);
            const char *chars_path[] = {"characters", NULL}, *q_path[] = {"questions", NULL},
                       *parts_path[] = {"parts", NULL};
            yajl_val chars = yajl_tree_get(root, chars_path, yajl_t_array);
            yajl_val qs = yajl_tree_get(root, q_path, yajl_t_array);
            yajl_val parts = yajl_tree_get(root, parts_path, yajl_t_array);
            ASSERT(chars && qs && parts);
            ASSERT_EQ(YAJL_GET_ARRAY(chars)->len, p->n_characters);
            ASSERT_EQ(YAJL_GET_ARRAY(qs)->len, p->n_questions);
            ASSERT_EQ(YAJL_GET_ARRAY(parts)->len, p->n_parts);
            const char *ans[] = {"answer", NULL};
            yajl_val a0 = yajl_tree_get(YAJL_GET_ARRAY(qs)->values[0], ans, yajl_t_string);
            ASSERT(a0 != NULL);
            ASSERT_STREQ(a0->u.string, p->questions[0].answer);
            yajl_tree_free(root);
            /* A too-small output buffer is an error, not a truncated document. */
            buf_t small;
            buf_init(&small, 16);
            ASSERT_EQ(composer_plan_to_json(s, &small), -ENOBUFS);
            buf_free(&small);
            buf_free(&b);
            composer_story_free(s);
        }
}

static double mean_sentence_words(composer_level_t level)
{
    composer_input_t in;
    composer_input_defaults(&in);
    in.level = level;
    in.target_words = 1000;
    size_t words = 0, sentences = 0;
    for (size_t k = 0; k < 5; k++) {
        in.prompt = PROMPTS[k];
        in.template_id = (composer_template_t)k;
        composer_story_t *s = write_ok(&in);
        char **sent = NULL;
        size_t n = 0, cap = 0;
        split_sentences(composer_story_text(s), &sent, &n, &cap);
        for (size_t i = 0; i < n; i++) {
            words += count_words(sent[i]);
            free(sent[i]);
        }
        sentences += n;
        free(sent);
        composer_story_free(s);
    }
    return (double)words / (double)sentences;
}

TEST(language_level_changes_sentences)
{
    double simple = mean_sentence_words(COMPOSER_LEVEL_SIMPLE);
    double advanced = mean_sentence_words(COMPOSER_LEVEL_ADVANCED);
    printf("mean words per sentence: simple %.1f, advanced %.1f\n", simple, advanced);
    ASSERT(advanced > simple + 1.0);
}

/* True when word occurs in text as a whole word (so "begun" does not count as "gun"). */
static bool has_word(const char *text, const char *word)
{
    size_t wl = strlen(word);
    for (const char *p = text; (p = strcasestr(p, word)) != NULL; p += wl) {
        bool left = p == text || !((p[-1] | 32) >= 'a' && (p[-1] | 32) <= 'z');
        bool right = !((p[wl] | 32) >= 'a' && (p[wl] | 32) <= 'z');
        if (left && right) return true;
    }
    return false;
}

TEST(unsafe_words_dropped)
{
    composer_input_t in;
    composer_input_defaults(&in);
    in.prompt = "A zombie with a gun and a knife who wants to kill the king";
    in.moral = "hate everyone";
    composer_story_t *s = write_ok(&in);
    const char *t = composer_story_text(s);
    static const char *bad[] = {"gun", "knife", "kill", "wants to kill", "zombie", "hate"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (has_word(t, bad[i])) TEST__FAIL("unsafe word \"%s\" in story", bad[i]);
    ASSERT(has_word(t, "king")); /* the safe part of the idea survives */
    composer_story_free(s);
}

typedef struct {
    const composer_input_t *in;
    char *text;
} thread_arg_t;

static void *thread_main(void *arg)
{
    thread_arg_t *a = arg;
    composer_story_t *s = NULL;
    if (composer_write(a->in, &s) == 0) {
        a->text = strdup(composer_story_text(s));
        composer_story_free(s);
    }
    return NULL;
}

TEST(threads_agree)
{
    composer_input_t in;
    composer_input_defaults(&in);
    in.prompt = PROMPTS[2];
    in.target_words = 1500;
    pthread_t th[4];
    thread_arg_t args[4];
    for (int i = 0; i < 4; i++) {
        args[i] = (thread_arg_t){&in, NULL};
        ASSERT_EQ(pthread_create(&th[i], NULL, thread_main, &args[i]), 0);
    }
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    for (int i = 0; i < 4; i++)
        ASSERT(args[i].text && !strcmp(args[i].text, args[0].text));
    for (int i = 0; i < 4; i++)
        free(args[i].text);
}

TEST(invalid_input)
{
    composer_input_t in;
    composer_story_t *s = (composer_story_t *)&in; /* must be reset to NULL on error */
    composer_input_defaults(&in);
    in.prompt = "A cat";
    in.template_id = (composer_template_t)99;
    ASSERT_EQ(composer_write(&in, &s), -EINVAL);
    ASSERT(s == NULL);
    composer_input_defaults(&in);
    in.prompt = "A cat";
    in.parts = 0;
    ASSERT_EQ(composer_write(&in, &s), -EINVAL);
    in.parts = 11;
    ASSERT_EQ(composer_write(&in, &s), -EINVAL);
    in.parts = 3;
    in.target_words = 20;
    ASSERT_EQ(composer_write(&in, &s), -EINVAL);
    in.target_words = 50000;
    ASSERT_EQ(composer_write(&in, &s), -EINVAL);
    in.target_words = 500;
    in.level = (composer_level_t)7;
    ASSERT_EQ(composer_write(&in, &s), -EINVAL);
    in.level = COMPOSER_LEVEL_SIMPLE;
    in.age_min = 9;
    in.age_max = 3;
    ASSERT_EQ(composer_write(&in, &s), -EINVAL);
    composer_input_defaults(&in);
    char *huge = malloc(COMPOSER_MAX_PROMPT * 4);
    memset(huge, 'a', COMPOSER_MAX_PROMPT * 4 - 1);
    huge[COMPOSER_MAX_PROMPT * 4 - 1] = '\0';
    in.prompt = huge;
    ASSERT_EQ(composer_write(&in, &s), -E2BIG);
    free(huge);
    in.prompt = NULL;
    ASSERT_EQ(composer_write(&in, &s), -EINVAL);
    in.prompt = "   \n ";
    ASSERT_EQ(composer_write(&in, &s), -EINVAL);
    in.prompt = "A cat \xC3\x28 named Tom";
    ASSERT_EQ(composer_write(&in, &s), -EINVAL);
    in.prompt = "A cat";
    in.moral = "\xFF";
    ASSERT_EQ(composer_write(&in, &s), -EINVAL);
    ASSERT_EQ(composer_write(NULL, &s), -EINVAL);
    in.moral = NULL;
    ASSERT_EQ(composer_write(&in, NULL), -EINVAL);
    /* Parsers used by the HTTP layer. */
    composer_template_t t;
    ASSERT_EQ(composer_template_parse("Sci-Fi", &t), 0);
    ASSERT_EQ(t, COMPOSER_TEMPLATE_SCIFI);
    ASSERT_EQ(composer_template_parse("horror", &t), -EINVAL);
    composer_level_t l;
    ASSERT_EQ(composer_level_parse("advanced", &l), 0);
    ASSERT_EQ(composer_level_parse("expert", &l), -EINVAL);
    int lo, hi;
    ASSERT_EQ(composer_age_parse("6-8", &lo, &hi), 0);
    ASSERT(lo == 6 && hi == 8);
    ASSERT_EQ(composer_age_parse("9 - 12", &lo, &hi), 0);
    ASSERT_EQ(composer_age_parse("8-6", &lo, &hi), -EINVAL);
    ASSERT_EQ(composer_age_parse("abc", &lo, &hi), -EINVAL);
    ASSERT_EQ(composer_age_parse("6-", &lo, &hi), -EINVAL);
    /* Odd but valid input still gives a story. */
    in.prompt = "\xF0\x9F\x90\x89 !!! ??? ... named named the the a a";
    s = write_ok(&in);
    composer_story_free(s);
    composer_story_free(NULL);
}

/* A "who ..." clause from the prompt is rewritten in the past tense, and some past forms are
 * longer than the word they replace ("travels" -> "travelled", "can't" -> "couldn't"). Prompts
 * whose clause reaches the end of the 160-byte buffer with such a word must keep whole words
 * and stay inside the buffer (this overflowed the stack by up to two bytes). */
TEST(long_who_clause_stays_in_bounds)
{
    static const char *const tails[][2] = {
        {"travels", "travelled"}, {"can't", "couldn't"}, {"cannot", "could not"}};
    char filler[32];
    memset(filler, 'a', 30);
    filler[30] = '\0';
    for (size_t t = 0; t < sizeof tails / sizeof tails[0]; t++) {
        for (size_t pad = 1; pad <= 30; pad++) {
            /* "who travelled" + four 30-letter words + one pad-letter word, then the tail. */
            char prompt[512];
            snprintf(prompt, sizeof prompt, "A dragon who travels %s %s %s %s %.*s %s far away",
                     filler, filler, filler, filler, (int)pad, filler, tails[t][0]);
            composer__prompt_t pa;
            composer__prompt_analyze(prompt, &pa);
            size_t n = strlen(pa.who);
            ASSERT(n < sizeof pa.who);
            ASSERT(strncmp(pa.who, "who travelled ", 14) == 0);
            /* The clause ends with a whole word: the tail's past form, or a filler word when it
             * did not fit (never a cut-off "travelle"). */
            const char *last = strrchr(pa.who, ' ');
            ASSERT(last != NULL);
            last++;
            bool whole = strcmp(last, "far") == 0 || strcmp(last, "away") == 0 ||
                         strspn(last, "a") == strlen(last);
            if (!whole) {
                size_t pl = strlen(tails[t][1]);
                whole = n >= pl && strcmp(pa.who + n - pl, tails[t][1]) == 0;
            }
            if (!whole) TEST__FAIL("clause cut inside a word: \"%s\"", pa.who);

            /* The whole pipeline takes the same prompt. */
            composer_input_t in;
            composer_input_defaults(&in);
            in.prompt = prompt;
            composer_story_free(write_ok(&in));
        }
    }
}

TEST_MAIN({"determinism", determinism}, {"parts_headings", parts_headings},
          {"word_targets", word_targets}, {"moral_in_last_part", moral_in_last_part},
          {"sound_effects_toggle", sound_effects_toggle}, {"questions_toggle", questions_toggle},
          {"explain_words_toggle", explain_words_toggle}, {"names_and_picture", names_and_picture},
          {"variety_over_prompt_file", variety_over_prompt_file}, {"streaming", streaming},
          {"plan_and_json", plan_and_json},
          {"language_level_changes_sentences", language_level_changes_sentences},
          {"unsafe_words_dropped", unsafe_words_dropped}, {"threads_agree", threads_agree},
          {"invalid_input", invalid_input},
          {"long_who_clause_stays_in_bounds", long_who_clause_stays_in_bounds})
