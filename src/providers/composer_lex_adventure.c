/* composer adventure template: forests, rivers, mountains, maps and treasure. Cast entries are
 * "adjectives:kind[:Name]:pronoun" with pronoun 0 she, 1 he, 2 they. */
#include "providers/composer_internal.h"

#define S(name, ...)                                                                               \
    {                                                                                              \
        name, COMPOSER__ALTS(__VA_ARGS__)                                                          \
    }

static const composer__sym_t ADVENTURE[] = {
    S("hero", "brave little:fox:0", "curious:girl:0", "adventurous:boy:1", "cheerful:puppy:1",
      "quick little:squirrel:0", "bold young:explorer:1", "clever:rabbit:0"),
    S("friend", "loyal:puppy:1", "chatty:parrot:0", "cheerful:hedgehog:1", "sleepy:tortoise:0",
      "bouncy:kangaroo:1", "brave:girl:0", "kind:boy:1"),
    S("helper", "wise old:eagle:Skywing:0", "friendly:park ranger:Ranger Rosa:0",
      "gentle:bear:Bramble:1", "old:sailor:Captain Marlow:1", "nimble:mountain goat:Pebble:0",
      "kind:otter:Ripple:1"),
    S("home_place", "a little house at the edge of the woods", "a yellow cottage by the river",
      "a busy harbour town", "a farm at the bottom of a hill", "a treehouse in a tall oak",
      "a cosy cabin in the valley"),
    S("journey_place", "the [Whispering|Tall|Old|Misty] Woods",
      "the [Rushing|Silver|Winding] River", "the [Rocky|Windy|Snowy] Mountain",
      "the [Hidden|Sunny|Sleepy] Valley", "the [Echo|Crystal|Glittering] Caves",
      "the [Golden|Sandy|Pebble] Beach", "the [Wobbly|Rope|Old Stone] Bridge",
      "the [Wild|Windy|Flower] Meadow", "the [Far|Lonely|Lighthouse] Island"),
    S("quest", "golden compass", "lost treasure map", "old brass key", "silver whistle",
      "missing sun-flag", "hidden treasure chest", "lucky blue feather", "great river pearl"),
    S("dream", "climbing the tallest mountain in the world", "sailing across the wide, blue sea",
      "finding a real treasure chest", "exploring every path on the old map"),
    S("wish", "{P} had always dreamed of {dream}.",
      "More than anything, {P} wanted to see what lay beyond {home}.",
      "{P} loved maps, and {Ps} had a big wish: to find {X} one day."),
    S("inciting",
      "One morning, a [gust of wind|curious bird|bottle washed up by the river] brought {P} an old "
      "map, and on it was a drawing of {X}.",
      "One day, {P} heard that {X} had been lost somewhere beyond {home}, and everyone was sad.",
      "While digging in the garden, {P} found a note that said: \"Find {X} and share it with "
      "everyone.\""),
    S("arrive", "{Place} was [even bigger|much wilder|far prettier] than {P} had imagined, with "
                "{scenery2} stretching as far as the eye could see."),
    S("obstacle",
      "But [then|suddenly], {P} and {F} came to a [wide|rushing|chilly] river in {place} with no "
      "bridge[? and the water sparkled in the sun].",
      "But a [huge|tall] rock had tumbled onto the path through {place}, and {P} could not get "
      "past.",
      "But the path in {place} split into three, and {P}'s map did not say which way to go.",
      "But a thick fog rolled over {place}, and {P} could not even see {F}."),
    S("solve",
      "{P} and {F} [tied|lashed] some fallen branches together into a [little|wobbly] raft and "
      "[paddled|floated] safely across.",
      "{F} noticed a [tiny|narrow] path around the rock, and {P} [squeezed|tiptoed] through after "
      "{Fo}.",
      "{P} remembered the shape of the clouds on the map, and that showed {F} and {Po} which way "
      "to go.",
      "{P} and {F} held hands, counted their steps and followed the sound of running water until "
      "the fog lifted."),
    S("clue",
      "On a tree near {place}, someone had carved a small arrow, and {P} [followed it|pointed it "
      "out to {F}].",
      "{F} spotted footprints in the mud[, and they led the way|, going the same way they were], "
      "so {P} followed them.",
      "Tucked between two stones, {P} found a scrap of the map with a big red X on it."),
    S("climax",
      "The last part of the climb was the hardest, but {P} kept going, one careful step after "
      "another, until {P} reached the top of {place}.",
      "With {F} cheering, {P} [crawled|climbed|scrambled] into the last little cave at the edge of "
      "{place}.",
      "{P} took a deep breath and crossed the wobbly bridge over {place}, holding on tight, with "
      "{F} right behind."),
    S("resolve",
      "{P} shared {X} with everyone in {home}, and there was a big picnic that lasted until "
      "sunset.",
      "Everyone in {home} cheered when {P} and {F} came back with {X}.",
      "{P} decided that the best treasure of all was the adventure with {F}, not just {X}."),
    S("scenery", "a {big} oak tree", "a babbling brook", "a {pretty} waterfall",
      "a fallen log covered in moss", "a rope swing", "a field of sunflowers", "a family of ducks"),
    S("scenery2", "the pine trees", "the rolling green hills", "the wild flowers",
      "the tall reeds"),
    S("skything", "an eagle circled high above", "the clouds raced across the sky"),
    S("hiding", "the roots of an old tree", "a flat stone by the river", "a heap of pine cones"),
    S("advice_line", "Every map is only the start of the story",
      "Look for the path that others miss", "Rest when you are tired, and you will go further"),
    S("sfx",
      "\"Splash!\" went a [silver|speckled] fish as it jumped out of the river right next to {C}.",
      "\"Whoosh!\" went the wind down the mountain, and {C}'s {Cclothes} flapped like a flag.",
      "\"Tweet-tweet!\" sang a little bird as it landed on {C}'s backpack.",
      "\"Crack!\" went a dry twig under {C}'s foot, and {O} jumped."),
    S("tex_road",
      "{C} [checked|studied|turned] the map [again|once more|upside down] and "
      "[nodded|laughed|frowned thoughtfully].",
      "The river [sparkled|gurgled|rushed] beside the path, and {C} [dipped {Cp} fingers in "
      "it|listened to it sing|waved at a passing duck].",
      "{C} [climbed onto|hopped over|balanced on] a {big} log and [waved to|called to] {O}."),
    S("title", "{P} and the Map to {Xn}", "The Great {Xn} Adventure", "{P} Crosses the River"),
    S("ptitle_mid", "Over the [River|Hill|Rocks]", "The Map's Secret", "The Way to {place}"),
    S("lesson", "the best treasure is the friends who share the journey",
      "you can do hard things one step at a time"),
};

static const composer__symtab_t TAB = {ADVENTURE, sizeof ADVENTURE / sizeof ADVENTURE[0]};

const composer__symtab_t *composer__lex_adventure(void)
{
    return &TAB;
}
