/* composer fantasy template: enchanted woods, castles, gentle dragons and friendly magic. Cast
 * entries are "adjectives:kind[:Name]:pronoun" with pronoun 0 she, 1 he, 2 they. */
#include "providers/composer_internal.h"

#define S(name, ...)                                                                               \
    {                                                                                              \
        name, COMPOSER__ALTS(__VA_ARGS__)                                                          \
    }

static const composer__sym_t FANTASY[] = {
    S("hero", "small:dragon:1", "young:wizard:0", "gentle:unicorn:0", "tiny:fairy:0",
      "brave little:knight:1", "kind:princess:0", "curious:elf:1"),
    S("friend", "chatty:frog:1", "shy:unicorn:0", "playful:baby dragon:1", "gentle:giant:1",
      "tiny:fairy:0", "cheerful:gnome:1", "fluffy:griffin:0"),
    S("helper", "wise old:owl:Professor Hoot:1", "kind:wizard:Old Tamsin:0",
      "gentle:talking tree:Grandmother Oak:0", "friendly:troll:Nubbin:1",
      "shimmering:fairy queen:Queen Lumina:0", "clever:fox:Sir Russet:1"),
    S("home_place", "a cottage with a crooked chimney", "a little tower at the edge of the kingdom",
      "a village of mushroom houses", "a cave full of soft pillows", "a castle made of pale stone"),
    S("journey_place", "the Enchanted Forest", "the [Crystal|Moonlit|Rainbow] Lake",
      "the [Cloud|Candy|Glass] Castle", "the Valley of [Singing|Giggling|Sleeping] Flowers",
      "the [Silver|Starlit|Misty] Meadow", "the [Tall|Tumbling|Whispering] Tower",
      "the Land of [Lanterns|Bubbles|Snowflakes]", "the [Bright|Old|Hidden] Mushroom Ring"),
    S("quest", "lost star", "rainbow key", "moonstone", "golden acorn", "wishing feather",
      "crystal crown", "singing shell", "little silver wand"),
    S("dream", "learning real magic", "flying above the clouds", "visiting the castle in the sky",
      "finding a wish that never runs out"),
    S("wish", "{P} had always dreamed of {dream}.",
      "More than anything, {P} wished that {Ps} could help the whole kingdom smile again.",
      "{P}'s magic was still small and wobbly, but {Pp} heart was full of hope."),
    S("inciting",
      "One morning, the colours of the kingdom began to fade, and only {X} could bring them back.",
      "One evening, a tiny glowing moth landed on {P}'s nose and whispered that {X} had gone "
      "missing.",
      "One day, a letter tied with a ribbon floated through the window: \"Please help us find "
      "{X}.\""),
    S("arrive", "In {place}, {scenery2} glowed softly in the [twilight|sunshine|moonlight]."),
    S("obstacle",
      "But a grumpy spell had tangled the path to {place} into a knot of thorny vines, and {P} "
      "could not get through.",
      "But the bridge to {place} was guarded by a riddle carved in stone, and {F} scratched {Fp} "
      "head.",
      "But a [sleepy|grumbly] cloud had settled over {place} and would not let {P} pass.",
      "But the door of {place} was locked, and it had no keyhole at all, which puzzled {P}."),
    S("solve",
      "{P} [whispered|hummed] a kind little song, and the vines [untangled|unwound] themselves, "
      "one by one, until {F} cheered.",
      "{F} thought hard and solved the riddle: the answer was \"a shadow\", and the stone bridge "
      "slid open for {P}.",
      "{P} politely asked the cloud to move, and it drifted away, [yawning|rumbling "
      "happily|sighing softly], while {F} waved.",
      "{P} said \"please\" and \"thank you\" to the door, and it swung open all by itself, to "
      "{F}'s delight."),
    S("clue", "A trail of [glowing|silver|golden] petals led {P} and {F} deeper into {place}.",
      "{F} found a tiny feather that shimmered whenever {P} walked the right way.",
      "The moon drew a silver line across the ground, pointing {P} toward {place}."),
    S("climax",
      "{P} held {Pp} breath, reached out and [used all {Pp} courage|trusted {Pp} magic|thought of "
      "{Pp} friends], and a warm light filled {place}.",
      "With {F} beside {Po}, {P} climbed the last spiral stair and opened the little silver door.",
      "{P} closed {Pp} eyes and made a wish, not just for {Po}, but for everyone."),
    S("resolve",
      "The colours came rushing back, and the whole kingdom sparkled again, thanks to {P} and {F}.",
      "Everyone in {home} danced under the lanterns to celebrate {P}'s kindness.",
      "{P} gave {X} back to its rightful place, and the land filled with gentle music that even "
      "{H} could hear."),
    S("scenery", "a ring of glowing mushrooms", "a {pretty} fountain", "a bridge made of moonbeams",
      "a tree with silver leaves", "a flower that hummed", "a pond that sparkled like jam"),
    S("scenery2", "the silver trees", "the glowing flowers", "the floating lanterns",
      "the tiny fairy lights"),
    S("skything", "a family of dragons drew circles in the clouds",
      "sparkles drifted down like snow"),
    S("hiding", "a giant glowing mushroom", "the roots of a silver tree", "a pillow of moss"),
    S("advice_line", "Magic works best when it is shared", "Kind words can open any door",
      "Even the smallest light can brighten the darkest night"),
    S("sfx", "\"Whoosh!\" went a swirl of glittering dust as it swept around {C}.",
      "\"Ting-a-ling!\" rang the flowers like tiny bells as {C} passed by.",
      "\"Poof!\" went a puff of pink smoke in front of {C}, and a little rabbit hopped out of it.",
      "\"Flap, flap!\" went {C}'s {Cclothes} as a friendly dragon flew overhead."),
    S("tex_road",
      "A [little|tiny] sparkle [danced|twirled|floated] around {C}'s [ears|nose|hands] and then "
      "[popped|vanished|zoomed away].",
      "{C} [waved|blew] {Cp} [wand|fingers] and a [tiny|small] [rainbow|bubble|flower] appeared[, "
      "which made {O} laugh|].",
      "The [flowers|trees|stones] in {place} [seemed to|almost] [whisper|hum|giggle] as {C} walked "
      "by."),
    S("tex_road+", "{C} [could feel|sensed] magic humming in the air, [soft|gentle] as a lullaby."),
    S("title", "{P} and the Enchanted {Xn}", "The Magic of {P}",
      "{P} and the [Secret|Sleepy|Singing] Kingdom"),
    S("ptitle_mid", "The [Riddle|Spell|Door] of {place}", "A Little Bit of Magic",
      "The Glowing Path"),
    S("lesson", "kindness is the strongest magic of all", "small voices can make a big difference"),
};

static const composer__symtab_t TAB = {FANTASY, sizeof FANTASY / sizeof FANTASY[0]};

const composer__symtab_t *composer__lex_fantasy(void)
{
    return &TAB;
}
