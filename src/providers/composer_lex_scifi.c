/* composer sci-fi template: rockets, friendly robots, planets and stars. Cast entries are
 * "adjectives:kind[:Name]:pronoun" with pronoun 0 she, 1 he, 2 they. */
#include "providers/composer_internal.h"

#define S(name, ...)                                                                               \
    {                                                                                              \
        name, COMPOSER__ALTS(__VA_ARGS__)                                                          \
    }

static const composer__sym_t SCIFI[] = {
    S("hero", "young:astronaut:0", "curious:space cadet:1", "small:robot:1", "clever:inventor:0",
      "brave:astronaut:1", "friendly:alien:0"),
    S("friend", "helpful:robot:1", "giggly:alien:0", "tiny:robot dog:1", "fluffy:space cat:0",
      "chatty:robot:0", "bouncy:moon rabbit:1"),
    S("helper", "friendly:alien:Zib:1", "old:space captain:Captain Nova:0",
      "gentle:star whale:Lumo:0", "wise:ship computer:ORBI:1", "kind:moon miner:Dusty:1"),
    S("home_place", "a little house with a telescope on the roof",
      "a space station that spun slowly", "a quiet town under a sky full of stars",
      "a round house on the Moon", "a rocket-shaped treehouse"),
    S("journey_place", "the [Red|Ringed|Purple|Bubbly] Planet", "the [Sleepy|Spotty|Silver] Moon",
      "the [Glowing|Twinkling|Dusty] Asteroid Belt",
      "the Space Station [Orbit Nine|Little Star|Comet]", "the [Rainbow|Bright|Swirly] Nebula",
      "the [Ice|Crystal|Candy] Comet", "the Robot City of [Gizmo|Bolt|Sprocket]"),
    S("quest", "missing star", "lost signal", "rocket's shiny engine part", "space map",
      "friendly beacon", "glowing moon crystal", "star compass"),
    S("dream", "flying a real rocket", "seeing Earth from space", "meeting a friendly alien",
      "counting every star in the sky"),
    S("wish", "{P} had always dreamed of {dream}.",
      "Every night, {P} looked through the telescope and wondered what was out there.",
      "{P} had built a rocket out of boxes and bolts, and it was finally ready to fly."),
    S("inciting",
      "One night, a strange little signal went beep, beep, beep on {P}'s radio, asking for help to "
      "find {X}.",
      "One evening, a star blinked three times and went dark, and {P} knew {X} was missing.",
      "One morning, a tiny spaceship landed in {P}'s garden with a message about {X}."),
    S("travel_way", "past twinkling stars", "zooming around a comet", "waving at the Moon",
      "as the Earth grew small behind them"),
    S("arrive", "The rocket [landed gently|touched down|settled with a bump] on {place}, where "
                "{scenery2} [glittered|glowed|bobbed] in the dark."),
    S("obstacle",
      "But on the way to {place}, the rocket's engine gave a sad little cough and stopped, and {P} "
      "gasped.",
      "But a cloud of space dust covered the windows near {place}, and {P}'s map screen went "
      "blank.",
      "But a shower of tiny pebble-sized meteors floated between {P}'s rocket and {place}.",
      "But the door of {place} had a keypad, and neither {P} nor {F} knew the code."),
    S("solve",
      "{P} opened the toolbox, tightened one last bolt, and the engine hummed happily again while "
      "{F} clapped.",
      "{F} used a little fan to blow the dust away, and the stars shone through once more for {P}.",
      "{P} steered slowly and carefully, weaving the rocket between the floating pebbles while {F} "
      "counted them.",
      "{P} noticed that the buttons glowed in the shape of a star, pressed them in order, and the "
      "door slid open for {F}."),
    S("clue",
      "The radio crackled with a faint beep, and it grew louder as {P} flew toward {place}.",
      "{F} spotted a trail of glowing space dust on the screen, and {P} followed it.",
      "On {P}'s map, one little dot was blinking: {place}."),
    S("climax", "{P} pressed the big green button, and the whole sky lit up like a birthday cake.",
      "{P} and {F} floated out in their space suits, holding hands, and reached for {X}.",
      "{P} counted down, \"Three, two, one!\" and the rocket shot forward one last time."),
    S("resolve",
      "The missing light returned to the sky, and everyone in {home} looked up and waved at {P}.",
      "The little aliens of {place} clapped all their hands at once for {P} and {F}, which was a "
      "lot of clapping.",
      "{P} flew home with {X} safely tucked in the rocket's glovebox, and {F} hummed the whole "
      "way."),
    S("scenery", "a crater shaped like a smile", "a {pretty} ringed planet",
      "a floating space rock", "a blinking satellite", "a comet with a long shiny tail",
      "a crystal tower"),
    S("scenery2", "the twinkling stars", "the tiny moons", "the floating crystals",
      "the blinking lights"),
    S("skything", "a comet zipped across the sky", "the stars twinkled like tiny lamps"),
    S("hiding", "a glowing moon rock", "a pile of stardust", "a silver crater"),
    S("soundscape", "the soft hum of the rocket", "the beeping of the control panel",
      "the gentle whirr of the robots"),
    S("advice_line", "Every problem is just a puzzle waiting to be solved",
      "Check your map, trust your friends, and fly steady",
      "The universe is big, but kindness is bigger"),
    S("sfx", "\"Whoosh!\" went the rocket as {C} steered it past a [glowing|spinning] moon.",
      "\"Beep-boop!\" went {F}'s lights, flashing [happily|green|all the colours of the rainbow].",
      "\"Zoom!\" went a shooting star as it raced past {C}'s window.",
      "\"Whirr, click!\" went the control panel as it lit up in front of {C}."),
    S("tex_road",
      "{C} [floated|drifted|bounced] [gently|slowly] across the cabin[, because there was no "
      "gravity|, giggling| and did a slow somersault].",
      "Through the window, {C} could see {scenery}[, and {Cs} pressed {Cp} nose to the glass|].",
      "{C} [checked|tapped|read] the [control panel|star map|oxygen meter] and gave {O} a "
      "thumbs-up."),
    S("tex_road+",
      "{C} [marvelled|thought] at how the Earth looked like a blue marble, far away in the dark."),
    S("title", "{P} and the {Xn}", "{P}'s Trip to the Stars",
      "Rocket {P} and the [Missing|Blinking|Lost] Light"),
    S("ptitle_mid", "Lift-Off to {place}", "Beep, Beep, Help", "Among the Stars"),
    S("lesson", "working together can take you all the way to the stars",
      "curiosity helps us learn new things"),
};

static const composer__symtab_t TAB = {SCIFI, sizeof SCIFI / sizeof SCIFI[0]};

const composer__symtab_t *composer__lex_scifi(void)
{
    return &TAB;
}
