/* composer mystery template: gentle puzzles with clues and a friendly answer (nobody is ever
 * bad; the "culprit" is a magpie, the wind or a puppy). Cast entries are
 * "adjectives:kind[:Name]:pronoun" with pronoun 0 she, 1 he, 2 they. */
#include "providers/composer_internal.h"

#define S(name, ...)                                                                               \
    {                                                                                              \
        name, COMPOSER__ALTS(__VA_ARGS__)                                                          \
    }

static const composer__sym_t MYSTERY[] = {
    S("hero", "sharp-eyed:detective:0", "curious:cat:1", "clever:girl:0", "thoughtful:boy:1",
      "young:detective:1", "careful:mouse:0"),
    S("friend", "loyal:dog:1", "chatty:parrot:0", "clever:raccoon:1", "shy:hedgehog:0",
      "speedy:squirrel:1", "brave:boy:1"),
    S("helper", "kind:librarian:Mrs Page:0", "old:basset hound:Sherlock:1",
      "friendly:shopkeeper:Mr Button:1", "clever:crow:Inky:0", "gentle:grandma:Granny June:0"),
    S("home_place", "a quiet street with a bakery on the corner",
      "a busy little village by the sea", "a tall house full of creaky stairs",
      "a flat above the toy shop"),
    S("journey_place", "the [Old|Dusty|Quiet] Library", "the [Village|Sunday|Flower] Market",
      "the [Creaky|Cosy] Attic", "the [Town|Rose|Herb] Garden", "the [Little|Seaside] Museum",
      "the [Clock|Bell|Lighthouse] Tower", "the [Corner|Honey] Bakery",
      "the [Sleepy|Village] Park"),
    S("quest", "missing golden spoon", "lost library book", "vanished birthday cake",
      "missing museum key", "lost silver bell", "runaway kite", "missing red hat"),
    S("dream", "solving a real mystery", "becoming the best detective in town",
      "finding a secret passage"),
    S("wish", "{P} loved puzzles and always carried a magnifying glass, just in case.",
      "{P} had always dreamed of {dream}.",
      "{P} noticed things that other people missed, like a crooked picture or a missing button."),
    S("inciting", "One morning, everybody in {home} was puzzled: {X} had disappeared!",
      "On the day of the big fair in {home}, {X} was nowhere to be found.",
      "A note appeared under {P}'s door: \"Can you find {X}, please?\""),
    S("arrive", "In {place}, {scenery2} were [neatly lined up|a little dusty|very quiet], and {P} "
                "looked around carefully."),
    S("obstacle",
      "But the first clue led nowhere, and {P} scratched {Pp} head in the middle of {place}.",
      "But the footprints stopped suddenly in the middle of {place}, and {F} looked puzzled.",
      "But everyone in {place} told {P} they had seen nothing at all.",
      "But the clue {F} found in {place} was written in a secret code of dots and lines."),
    S("solve",
      "{P} looked closely with {Pp} magnifying glass and saw tiny feathers that {F} had not "
      "noticed.",
      "{F} turned the note upside down, and suddenly the code made perfect sense to {P}.",
      "{P} asked careful questions in {place} and listened to every answer, and the pieces began "
      "to fit.",
      "{P} followed a trail of crumbs across {place}, sprinkled here and there like a dotted "
      "line."),
    S("clue", "{F} found a clue: a single [shiny|muddy|sticky] footprint.",
      "Under a bench in {place}, {P} spotted a scrap of ribbon, the same colour as {X}.",
      "There was a clue: a tiny trail of [glitter|flour|sand] leading away from {place}."),
    S("climax", "{P} climbed the last step, peeked into a big nest, and gasped.",
      "{P} gathered everyone together and explained the clues, one by one.",
      "{P} opened the old cupboard slowly, and there was the answer."),
    S("resolve",
      "It turned out that a [magpie|playful puppy|cheeky squirrel] had borrowed {X} because it was "
      "so shiny, and it happily gave it back to {P}.",
      "The mystery was solved, and everyone in {home} thanked {P} and {F} with warm cocoa.",
      "Everyone laughed, because {X} had been right under their noses all along, just as {P} had "
      "guessed."),
    S("scenery", "a shelf of dusty books", "a clock that ticked very loudly",
      "a window with a cracked pane", "a basket of red apples", "a row of shiny jars",
      "a {big} grandfather clock"),
    S("scenery2", "the bookshelves", "the market stalls", "the flower pots",
      "the old picture frames"),
    S("skything", "a magpie flapped past, carrying something shiny",
      "the church clock struck the hour"),
    S("hiding", "a big untidy nest", "an upturned flower pot", "a stack of old newspapers"),
    S("advice_line", "A good detective asks questions and listens to the answers",
      "Look for what is there, and also for what is missing",
      "Every clue tells a little part of the story"),
    S("sfx", "\"Creak!\" went the old door as it opened slowly in front of {C}.",
      "\"Tick-tock!\" went the big clock as {C} looked around {place}.",
      "\"Knock, knock!\" came a tap on the window beside {C}, and {O} jumped.",
      "\"Ding-dong!\" went the shop bell as {C} stepped inside."),
    S("tex_any",
      "{C} wrote \"[footprints|feathers|crumbs|ribbon]\" in {Cp} notebook and underlined it "
      "[twice|three times].",
      "{C} looked through the magnifying glass at {scenery} and [hmmmed|nodded|raised an eyebrow].",
      "\"[Interesting|Very interesting|Curious indeed],\" {say} {C}, tapping {Cp} chin."),
    S("tex_any+", "{C} [lined up|went over] the clues in {Cp} mind, like beads on a string."),
    S("title", "The Mystery of {X}", "{P} and the Case of {X}",
      "Detective {P} and the [Secret|Hidden|Curious] Clue"),
    S("ptitle_mid", "A Clue in {place}", "The [Footprints|Secret Code|Missing Piece]",
      "{P} Asks Questions"),
    S("lesson", "looking closely and asking kindly can solve almost anything",
      "it is good to listen before you decide"),
};

static const composer__symtab_t TAB = {MYSTERY, sizeof MYSTERY / sizeof MYSTERY[0]};

const composer__symtab_t *composer__lex_mystery(void)
{
    return &TAB;
}
