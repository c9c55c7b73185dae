/* Scene parsing and scene prompts: every heading style the models and the offline composer
 * write, multi-line bodies, merged duplicates, the user's part cap, unstructured stories, and
 * prompts that stay child-safe and within a model's limit. */
#include "jobs/scene_parse.h"
#include "test.h"

static scene_parts_t parse(const char *text, int max)
{
    scene_parts_t p;
    int rc = scene_parse(text, strlen(text), max, &p);
    if (rc != 0) TEST__FAIL("scene_parse failed: %d", rc);
    return p;
}

TEST(part_headings_with_titles_and_multiline_bodies)
{
    scene_parts_t p = parse("Part 1: The Start\nPip woke up.\nThe sun was warm.\n\n"
                            "Part 2: The Cave\nPip found a cave.\n\nIt was dark inside.\n",
                            8);
    ASSERT_EQ(p.n, 2);
    ASSERT_EQ(p.parts[0].number, 1);
    ASSERT_STREQ(p.parts[0].title, "The Start");
    ASSERT_STREQ(p.parts[0].text, "Pip woke up.\nThe sun was warm.");
    ASSERT_EQ(p.parts[1].number, 2);
    ASSERT_STREQ(p.parts[1].title, "The Cave");
    ASSERT_STREQ(p.parts[1].text, "Pip found a cave.\n\nIt was dark inside.");
    scene_parts_free(&p);
}

TEST(markdown_bold_and_plain_headings)
{
    scene_parts_t p = parse("# The Brave Fox\n\n## Chapter 1\nOne.\n### Chapter 2 - Night\nTwo.\n"
                            "**Scene 3.** Dawn\nThree.\n**Part 4: Home**\nFour.\nPART 5\nFive.\n"
                            "Part six – The End\nSix.\n",
                            8);
    ASSERT_EQ(p.n, 6);
    for (size_t i = 0; i < p.n; i++)
        ASSERT_EQ(p.parts[i].number, (int)i + 1);
    ASSERT_STREQ(p.parts[0].title, "");
    ASSERT_STREQ(p.parts[0].text, "One.");
    ASSERT_STREQ(p.parts[1].title, "Night");
    ASSERT_STREQ(p.parts[2].title, "Dawn");
    ASSERT_STREQ(p.parts[3].title, "Home");
    ASSERT_STREQ(p.parts[3].text, "Four.");
    ASSERT_STREQ(p.parts[5].title, "The End");
    ASSERT_STREQ(p.parts[5].text, "Six.");
    scene_parts_free(&p);
}

TEST(prose_mentioning_part_is_not_a_heading)
{
    scene_parts_t p = parse("Part 1: Go\nPart 2 of the trip began at noon, said Mia.\n"
                            "Part 2: Back\nHome again.\n",
                            8);
    ASSERT_EQ(p.n, 2);
    ASSERT_STREQ(p.parts[0].text, "Part 2 of the trip began at noon, said Mia.");
    ASSERT_STREQ(p.parts[1].text, "Home again.");
    scene_parts_free(&p);
}

TEST(duplicate_numbers_are_merged)
{
    scene_parts_t p = parse("## Chapter 1\nA.\n## Chapter 2\nB.\n## Chapter 1\nC.\n", 8);
    ASSERT_EQ(p.n, 2);
    ASSERT_EQ(p.parts[0].number, 1);
    ASSERT_STREQ(p.parts[0].text, "A.\n\nC.");
    ASSERT_STREQ(p.parts[1].text, "B.");
    scene_parts_free(&p);
}

TEST(capped_by_story_parts_without_losing_text)
{
    scene_parts_t p = parse("Part 1: a\nA.\nPart 2: b\nB.\nPart 3: c\nC.\nPart 4: d\nD.\n", 3);
    ASSERT_EQ(p.n, 3);
    ASSERT_EQ(p.parts[2].number, 3);
    ASSERT(strstr(p.parts[2].text, "C.") != NULL);
    ASSERT(strstr(p.parts[2].text, "d\nD.") != NULL);
    scene_parts_free(&p);
}

TEST(numbered_sections_but_not_numbered_lists)
{
    scene_parts_t p = parse("1. The Meadow\nBees hummed.\n\n2. The River\nFish jumped.\n", 8);
    ASSERT_EQ(p.n, 2);
    ASSERT_STREQ(p.parts[1].title, "The River");
    ASSERT_STREQ(p.parts[1].text, "Fish jumped.");
    scene_parts_free(&p);
    /* A list of numbered sentences is the story's text, not sections. */
    p = parse("Once upon a time.\n\nQuestions:\n1. Who was brave?\n2. Why?\n3. Where?\n", 5);
    ASSERT(p.n >= 1);
    ASSERT_EQ(p.parts[0].number, 1);
    size_t total = 0;
    for (size_t i = 0; i < p.n; i++)
        total += strlen(p.parts[i].text);
    ASSERT(total >= strlen("Once upon a time.") + strlen("1. Who was brave?"));
    scene_parts_free(&p);
}

TEST(unstructured_story_split_at_paragraphs)
{
    scene_parts_t p = parse("First paragraph here.\n\nSecond one.\n\nThird one.\n\nFourth.\n", 2);
    ASSERT_EQ(p.n, 2);
    ASSERT_EQ(p.parts[0].number, 1);
    ASSERT_EQ(p.parts[1].number, 2);
    ASSERT(strstr(p.parts[0].text, "First") != NULL);
    ASSERT(strstr(p.parts[1].text, "Fourth.") != NULL);
    scene_parts_free(&p);
    p = parse("   \n\n", 5);
    ASSERT_EQ(p.n, 0);
    scene_parts_free(&p);
}

TEST(title_line_before_first_heading_is_dropped_longer_preamble_kept)
{
    scene_parts_t p = parse("Title: The Fox\n\nPart 1: Go\nA.\n", 5);
    ASSERT_EQ(p.n, 1);
    ASSERT_STREQ(p.parts[0].text, "A.");
    scene_parts_free(&p);
    p = parse("Long ago there was a fox.\nShe loved the moon.\nPart 1: Go\nA.\n", 5);
    ASSERT_EQ(p.n, 1);
    ASSERT_STREQ(p.parts[0].text, "Long ago there was a fox.\nShe loved the moon.\n\nA.");
    scene_parts_free(&p);
}

TEST(heading_without_body_uses_its_title_and_crlf)
{
    scene_parts_t p = parse("Part 1: Only a title\r\nPart 2: Two\r\nBody two.\r\n", 5);
    ASSERT_EQ(p.n, 2);
    ASSERT_STREQ(p.parts[0].text, "Only a title");
    ASSERT_STREQ(p.parts[1].text, "Body two.");
    scene_parts_free(&p);
}

TEST(bad_arguments)
{
    scene_parts_t p;
    ASSERT_EQ(scene_parse("x", 1, 0, &p), -22);
    ASSERT_EQ(scene_parse(NULL, 0, 3, &p), -22);
}

TEST(prompt_is_child_safe_and_within_limit)
{
    char out[2048];
    const char *text = "The **knight** drew his sword and the scary monster roared. Blood? No! "
                       "The dragon just wanted a hug, and everyone laughed in the sunny meadow "
                       "beside the old stone bridge where the ducks swam in circles all day long "
                       "while the children sang songs about rainbows and kites and friendly bees "
                       "that buzzed around the flowers near the cottage with the red door.";
    int n = scene_prompt_build("fantasy", "The Dragon", text, 512, out, sizeof out);
    ASSERT(n > 0);
    ASSERT((size_t)n <= 512);
    ASSERT(strstr(out, "children") != NULL);
    ASSERT(strstr(out, "The Dragon:") != NULL);
    ASSERT(strstr(out, "scary") == NULL);
    ASSERT(strstr(out, "monster") == NULL);
    ASSERT(strstr(out, "Blood") == NULL);
    ASSERT(strstr(out, "**") == NULL);
    ASSERT(strstr(out, "No words or letters") != NULL); /* the tail survives the cut */
    /* Cut at a word boundary: the scene text before the tail ends with a whole word. */
    const char *tail = strstr(out, ". No words");
    ASSERT(tail && tail[-1] != ' ');
    n = scene_prompt_build("mystery", NULL, "A short scene.", 1000, out, sizeof out);
    ASSERT(n > 0 && strstr(out, "A short scene. No words") != NULL);
    ASSERT_EQ(scene_prompt_build("x", NULL, "t", 10, out, sizeof out), -22);
    ASSERT_EQ(scene_prompt_limit("bedrock", NULL), 512);
    ASSERT(scene_prompt_limit("offline", NULL) >= 512);
}

TEST(prompt_cut_respects_utf8)
{
    char text[3000];
    size_t n = 0;
    while (n + 3 < sizeof text) {
        memcpy(text + n, "\xc3\xa9", 2); /* é without spaces: one enormous word */
        n += 2;
    }
    text[n] = '\0';
    char out[600];
    int len = scene_prompt_build(NULL, NULL, text, 300, out, sizeof out);
    ASSERT(len > 0 && len <= 300);
    /* Every byte sequence is complete: no dangling lead byte before the tail. */
    const char *tail = strstr(out, ". No words");
    ASSERT(tail);
    ASSERT(((unsigned char)tail[-1] & 0xC0) == 0x80);
    ASSERT((unsigned char)tail[-2] == 0xC3);
}

TEST_MAIN({"part_headings_with_titles_and_multiline_bodies",
           part_headings_with_titles_and_multiline_bodies},
          {"markdown_bold_and_plain_headings", markdown_bold_and_plain_headings},
          {"prose_mentioning_part_is_not_a_heading", prose_mentioning_part_is_not_a_heading},
          {"duplicate_numbers_are_merged", duplicate_numbers_are_merged},
          {"capped_by_story_parts_without_losing_text", capped_by_story_parts_without_losing_text},
          {"numbered_sections_but_not_numbered_lists", numbered_sections_but_not_numbered_lists},
          {"unstructured_story_split_at_paragraphs", unstructured_story_split_at_paragraphs},
          {"title_line_before_first_heading_is_dropped_longer_preamble_kept",
           title_line_before_first_heading_is_dropped_longer_preamble_kept},
          {"heading_without_body_uses_its_title_and_crlf",
           heading_without_body_uses_its_title_and_crlf},
          {"bad_arguments", bad_arguments},
          {"prompt_is_child_safe_and_within_limit", prompt_is_child_safe_and_within_limit},
          {"prompt_cut_respects_utf8", prompt_cut_respects_utf8})
