/* composer lexicon: word lists for prompt analysis (noun classes, stop words, adjectives,
 * unsafe words), name pools, colours, the picture-noun vocabulary for illustrators and the
 * harder words the story may explain. Grammar phrases live in composer_phrases.c and the
 * composer_lex_<template>.c files. */
#include "providers/composer_internal.h"

#include <string.h>

static bool in_list(const char *const *list, const char *w)
{
    for (size_t i = 0; list[i]; i++)
        if (!strcmp(list[i], w)) return true;
    return false;
}

static const char *const CREATURES[] = {
    "dragon",    "cat",      "dog",      "puppy",    "kitten",   "fox",         "rabbit",
    "bunny",     "bear",     "owl",      "mouse",    "unicorn",  "robot",       "alien",
    "dinosaur",  "whale",    "dolphin",  "turtle",   "tortoise", "penguin",     "lion",
    "tiger",     "elephant", "monkey",   "horse",    "pony",     "bird",        "fish",
    "octopus",   "frog",     "squirrel", "hedgehog", "duck",     "pig",         "cow",
    "sheep",     "goat",     "deer",     "giraffe",  "zebra",    "parrot",      "bee",
    "butterfly", "ladybug",  "snail",    "fairy",    "wizard",   "witch",       "knight",
    "princess",  "prince",   "king",     "queen",    "pirate",   "astronaut",   "detective",
    "scientist", "giant",    "elf",      "troll",    "mermaid",  "girl",        "boy",
    "child",     "kid",      "grandma",  "grandpa",  "teacher",  "brother",     "sister",
    "baby",      "explorer", "inventor", "panda",    "koala",    "kangaroo",    "otter",
    "beaver",    "raccoon",  "crab",     "seal",     "hamster",  "lamb",        "chick",
    "hen",       "crow",     "eagle",    "gnome",    "sailor",   "farmer",      "baker",
    "captain",   "dino",     "yeti",     "griffin",  "phoenix",  "caterpillar", "ant",
    "badger",    "wolf",     "llama",    "sloth",    "lizard",   NULL};

static const char *const PLACES[] = {
    "castle",   "forest",  "woods",      "jungle", "sea",     "ocean",     "beach",  "island",
    "mountain", "cave",    "village",    "city",   "town",    "school",    "garden", "park",
    "farm",     "desert",  "river",      "lake",   "moon",    "planet",    "space",  "volcano",
    "library",  "museum",  "lighthouse", "palace", "tower",   "kingdom",   "zoo",    "meadow",
    "pond",     "valley",  "hill",       "bakery", "market",  "station",   "galaxy", "swamp",
    "reef",     "harbour", "harbor",     "attic",  "cottage", "treehouse", NULL};

static const char *const OBJECTS[] = {
    "rocket",     "spaceship", "ship",      "boat",   "balloon",  "kite",       "map",
    "key",        "book",      "treasure",  "crown",  "wand",     "shell",      "star",
    "stars",      "sun",       "rainbow",   "cloud",  "flower",   "tree",       "egg",
    "ball",       "bicycle",   "bike",      "train",  "car",      "box",        "chest",
    "lantern",    "compass",   "telescope", "hat",    "umbrella", "cookie",     "cake",
    "apple",      "pie",       "teddy",     "toy",    "drum",     "feather",    "gem",
    "crystal",    "ring",      "clock",     "letter", "present",  "gift",       "snowman",
    "pumpkin",    "necklace",  "backpack",  "door",   "bridge",   "bell",       "seed",
    "acorn",      "blanket",   "scarf",     "boots",  "cape",     "marble",     "puzzle",
    "robot",      "guitar",    "violin",    "piano",  "bubble",   "sandcastle", "pebble",
    "leaf",       "jar",       "basket",    "sock",   "shoe",     "button",     "whistle",
    "paintbrush", "crayon",    NULL};

static const char *const STOPWORDS[] = {
    "a",        "an",        "the",     "my",       "your",       "his",        "her",
    "their",    "our",       "its",     "this",     "that",       "these",      "those",
    "who",      "which",     "what",    "where",    "when",       "why",        "how",
    "and",      "or",        "but",     "so",       "with",       "without",    "in",
    "on",       "at",        "to",      "of",       "from",       "for",        "by",
    "about",    "into",      "onto",    "over",     "under",      "through",    "is",
    "are",      "was",       "were",    "be",       "been",       "has",        "have",
    "had",      "do",        "does",    "did",      "can",        "could",      "will",
    "would",    "should",    "must",    "may",      "might",      "wants",      "want",
    "loves",    "love",      "likes",   "like",     "finds",      "find",       "goes",
    "go",       "lives",     "live",    "gets",     "get",        "makes",      "make",
    "meets",    "meet",      "learns",  "learn",    "helps",      "help",       "needs",
    "need",     "tries",     "try",     "visits",   "visit",      "becomes",    "become",
    "dreams",   "wishes",    "named",   "called",   "story",      "tale",       "write",
    "tell",     "please",    "some",    "any",      "very",       "then",       "after",
    "before",   "while",     "who's",   "whose",    "not",        "no",         "yes",
    "it",       "he",        "she",     "they",     "we",         "i",          "you",
    "me",       "him",       "them",    "us",       "there",      "here",       "one",
    "two",      "three",     "all",     "every",    "each",       "lost",       "saves",
    "save",     "explores",  "explore", "builds",   "build",      "discovers",  "discover",
    "flies",    "fly",       "travels", "travel",   "if",         "as",         "than",
    "too",      "dark",      "night",   "day",      "morning",    "evening",    "world",
    "way",      "time",      "end",     "rest",     "top",        "bottom",     "middle",
    "summer",   "winter",    "spring",  "autumn",   "fall",       "friendship", "kindness",
    "friends",  "family",    "people",  "everyone", "everything", "something",  "nothing",
    "lot",      "bit",       "sort",    "name",     "idea",       "bedtime",    "kids",
    "children", "adventure", "mystery", "fun",      "afraid",     "scared",     "really",
    "just",     "only",      "also",    "again",    "away",       "own",        "other",
    NULL};

static const char *const UNSAFE[] = {
    "kill",  "killed",   "kills",     "killing", "murder",  "blood",  "bloody",  "gun",    "guns",
    "knife", "knives",   "dead",      "death",   "die",     "dies",   "died",    "weapon", "bomb",
    "war",   "hate",     "stupid",    "idiot",   "sex",     "sexy",   "drug",    "drugs",  "beer",
    "wine",  "vodka",    "cigarette", "gore",    "zombie",  "demon",  "devil",   "hell",   "damn",
    "shoot", "shooting", "stab",      "poison",  "torture", "kidnap", "monster", "horror", "evil",
    "ugly",  "fat",      "dumb",      NULL};

static const char *const ADJECTIVES[] = {
    "little",    "big",       "small",      "tiny",    "huge",   "brave",   "shy",     "kind",
    "clever",    "curious",   "happy",      "sad",     "sleepy", "silly",   "funny",   "friendly",
    "magic",     "magical",   "lost",       "old",     "young",  "new",     "red",     "blue",
    "green",     "yellow",    "purple",     "pink",    "orange", "golden",  "silver",  "white",
    "black",     "brown",     "grey",       "gray",    "shiny",  "sparkly", "fluffy",  "giant",
    "secret",    "hidden",    "mysterious", "strange", "wise",   "gentle",  "grumpy",  "lonely",
    "noisy",     "quiet",     "fast",       "slow",    "flying", "talking", "dancing", "singing",
    "best",      "first",     "last",       "wild",    "smart",  "tall",    "short",   "cute",
    "beautiful", "enchanted", "ancient",    "space",   "baby",   "wooden",  "broken",  "special",
    "favourite", "favorite",  "busy",       "lazy",    "bold",   NULL};

static const char *const COATS[][2] = {{"dragon", "scales"},
                                       {"dinosaur", "scales"},
                                       {"dino", "scales"},
                                       {"lizard", "scales"},
                                       {"fish", "scales"},
                                       {"turtle", "shell"},
                                       {"tortoise", "shell"},
                                       {"crab", "shell"},
                                       {"snail", "shell"},
                                       {"owl", "feathers"},
                                       {"bird", "feathers"},
                                       {"eagle", "feathers"},
                                       {"parrot", "feathers"},
                                       {"penguin", "feathers"},
                                       {"duck", "feathers"},
                                       {"chick", "feathers"},
                                       {"hen", "feathers"},
                                       {"crow", "feathers"},
                                       {"phoenix", "feathers"},
                                       {"griffin", "feathers"},
                                       {"robot", "metal"},
                                       {"whale", "skin"},
                                       {"dolphin", "skin"},
                                       {"octopus", "skin"},
                                       {"frog", "skin"},
                                       {"alien", "skin"},
                                       {"elephant", "skin"},
                                       {"bee", "fuzz"},
                                       {"butterfly", "wings"},
                                       {"ladybug", "wings"},
                                       {"caterpillar", "fuzz"},
                                       {"ant", "shell"},
                                       {"seal", "fur"},
                                       {"mermaid", "hair"},
                                       {NULL, NULL}};

static const char *const PEOPLE[] = {"fairy",        "wizard",
                                     "witch",        "knight",
                                     "princess",     "prince",
                                     "king",         "queen",
                                     "pirate",       "astronaut",
                                     "detective",    "scientist",
                                     "giant",        "elf",
                                     "girl",         "boy",
                                     "child",        "kid",
                                     "grandma",      "grandpa",
                                     "teacher",      "brother",
                                     "sister",       "baby",
                                     "explorer",     "inventor",
                                     "gnome",        "sailor",
                                     "farmer",       "baker",
                                     "captain",      "mermaid",
                                     "librarian",    "ranger",
                                     "space cadet",  "professor",
                                     "shopkeeper",   "lighthouse keeper",
                                     "museum guide", NULL};

static const char *const PAST[][2] = {{"is", "was"},
                                      {"are", "were"},
                                      {"wants", "wanted"},
                                      {"loves", "loved"},
                                      {"likes", "liked"},
                                      {"has", "had"},
                                      {"can", "could"},
                                      {"can't", "couldn't"},
                                      {"cannot", "could not"},
                                      {"lives", "lived"},
                                      {"dreams", "dreamed"},
                                      {"wishes", "wished"},
                                      {"finds", "found"},
                                      {"gets", "got"},
                                      {"goes", "went"},
                                      {"doesn't", "didn't"},
                                      {"needs", "needed"},
                                      {"becomes", "became"},
                                      {"learns", "learned"},
                                      {"discovers", "discovered"},
                                      {"makes", "made"},
                                      {"builds", "built"},
                                      {"meets", "met"},
                                      {"helps", "helped"},
                                      {"explores", "explored"},
                                      {"flies", "flew"},
                                      {"travels", "travelled"},
                                      {"isn't", "wasn't"},
                                      {"hopes", "hoped"},
                                      {"tries", "tried"},
                                      {"keeps", "kept"},
                                      {"knows", "knew"},
                                      {"sings", "sang"},
                                      {"dances", "danced"},
                                      {"plays", "played"},
                                      {"collects", "collected"},
                                      {"searches", "searched"},
                                      {"looks", "looked"},
                                      {"works", "worked"},
                                      {"sees", "saw"},
                                      {"fears", "feared"},
                                      {"misses", "missed"},
                                      {"enjoys", "enjoyed"},
                                      {"paints", "painted"},
                                      {"draws", "drew"},
                                      {"reads", "read"},
                                      {"grows", "grew"},
                                      {"swims", "swam"},
                                      {"runs", "ran"},
                                      {"wonders", "wondered"},
                                      {"feels", "felt"},
                                      {"thinks", "thought"},
                                      {"won't", "wouldn't"},
                                      {"will", "would"},
                                      {NULL, NULL}};

static const char *const PLACE_NAMES[] = {
    "Mars",      "Jupiter",   "Saturn",     "Venus",     "Mercury", "Neptune", "Uranus",
    "Pluto",     "Earth",     "Moon",       "Sun",       "Africa",  "Asia",    "Europe",
    "America",   "Australia", "Antarctica", "Arctic",    "Paris",   "London",  "Tokyo",
    "Rome",      "Egypt",     "China",      "India",     "Japan",   "Amazon",  "Sahara",
    "Everest",   "Atlantis",  "Christmas",  "Halloween", "Easter",  "Monday",  "Tuesday",
    "Wednesday", "Thursday",  "Friday",     "Saturday",  "Sunday",  "English", "Spanish",
    "French",    "German",    NULL};

static const char *const TITLES[] = {
    "Captain", "Princess",  "Prince", "King", "Queen", "Sir",    "Lady",    "Doctor",
    "Dr",      "Professor", "Mr",     "Mrs",  "Ms",    "Miss",   "Grandma", "Grandpa",
    "Aunt",    "Uncle",     "Granny", "Nana", "Papa",  "Auntie", NULL};

const char *const composer__hero_names_she[] = {
    "Mia",   "Lily",  "Ava",   "Zara",  "Nora", "Ruby",  "Isla",  "Maya",  "Ella",
    "Hazel", "Luna",  "Freya", "Amara", "Iris", "Poppy", "Clara", "Leila", "Rosa",
    "Tilly", "Greta", "Juno",  "Willa", "Esme", "Priya", "Noor",  "Aiko",  "Sofia",
    "Kiki",  "Mabel", "Olive", "Daisy", "Wren", "Fern",  "Tess",  "Nell",  "Ada",
    "Hana",  "Lucia", "Yara",  "Bea",   NULL};

const char *const composer__hero_names_he[] = {
    "Leo",   "Max",   "Sam",   "Theo",   "Omar",  "Finn", "Jack", "Arlo",  "Milo",   "Ezra",  "Kai",
    "Noah",  "Hugo",  "Felix", "Otis",   "Ravi",  "Toby", "Ben",  "Jonah", "Luca",   "Idris", "Teo",
    "Nico",  "Rory",  "Oscar", "Elliot", "Mateo", "Kofi", "Hiro", "Ollie", "Jasper", "Rafi",  "Dev",
    "Alfie", "Bruno", "Caleb", "Emil",   "Tariq", "Wade", "Zeke", NULL};

const char *const composer__colours[] = {"red",    "blue", "green",  "yellow",   "purple",
                                         "orange", "pink", "silver", "golden",   "white",
                                         "brown",  "teal", "lilac",  "sky-blue", NULL};

const char *const composer__picture_nouns[] = {
    "sun",       "moon",    "stars",   "star",       "tree",      "house",     "castle",
    "rocket",    "planet",  "sea",     "boat",       "dragon",    "cat",       "dog",
    "robot",     "owl",     "fox",     "rabbit",     "bear",      "mouse",     "unicorn",
    "bird",      "fish",    "whale",   "turtle",     "forest",    "mountain",  "river",
    "lake",      "bridge",  "cave",    "flower",     "flowers",   "garden",    "map",
    "key",       "book",    "lantern", "ship",       "cloud",     "clouds",    "rainbow",
    "island",    "beach",   "shell",   "treasure",   "chest",     "crown",     "wand",
    "balloon",   "kite",    "train",   "door",       "tower",     "village",   "snow",
    "rain",      "wind",    "fire",    "campfire",   "telescope", "spaceship", "comet",
    "alien",     "volcano", "library", "lighthouse", "waves",     "hill",      "meadow",
    "butterfly", "bee",     "frog",    "duck",       "penguin",   "octopus",   "dinosaur",
    "fairy",     "wizard",  "owl",     "squirrel",   "hedgehog",  "puppy",     "kitten",
    "basket",    "compass", "clock",   "feather",    "crystal",   "gem",       "egg",
    "apple",     "cake",    "cookie",  "leaf",       "leaves",    "mushroom",  "pond",
    "tent",      "nest",    "bell",    "ladder",     "window",    "candle",    "umbrella",
    "backpack",  NULL};

const composer__hard_word_t composer__hard_words[] = {
    {"journey", "a long trip from one place to another"},
    {"curious", "wanting very much to know or learn something"},
    {"courage", "being brave even when you feel a little scared"},
    {"enormous", "very, very big"},
    {"glimmering", "shining with a soft, flickering light"},
    {"ancient", "very, very old"},
    {"horizon", "the line far away where the sky seems to meet the land or sea"},
    {"mysterious", "strange and hard to explain"},
    {"peculiar", "strange or unusual"},
    {"magnificent", "very beautiful and grand"},
    {"galaxy", "a huge family of stars that travel through space together"},
    {"orbit", "the path something takes as it goes around a planet or star"},
    {"gadget", "a small, clever machine or tool"},
    {"clue", "a small piece of information that helps solve a puzzle"},
    {"puzzled", "confused and not sure what something means"},
    {"investigate", "to look carefully to find out the truth"},
    {"cautious", "careful to stay safe"},
    {"determined", "not giving up, even when something is hard"},
    {"gleaming", "shining brightly"},
    {"echo", "a sound that bounces back so you hear it again"},
    {"nebula", "a giant, glowing cloud of dust and gas in space"},
    {"telescope", "a tube with lenses that makes faraway things look closer"},
    {"compass", "a tool with a needle that always points north"},
    {"enchanted", "under a magic spell"},
    {"explore", "to travel around a place to learn about it"},
    {"discovery", "something found or learned for the very first time"},
    {"astronaut", "a person who travels into space"},
    {"examine", "to look at something very closely"},
    {"shimmering", "shining with a light that seems to wobble"},
    {"patient", "able to wait calmly"},
    {"grateful", "feeling thankful"},
    {"delighted", "very pleased and happy"},
    {"scientist", "a person who studies how the world works"},
    {"observe", "to watch something carefully"},
    {NULL, NULL}};

composer__noun_class_t composer__noun_class(const char *w)
{
    if (in_list(CREATURES, w)) return COMPOSER__NOUN_CREATURE;
    if (in_list(PLACES, w)) return COMPOSER__NOUN_PLACE;
    if (in_list(OBJECTS, w)) return COMPOSER__NOUN_OBJECT;
    return COMPOSER__NOUN_UNKNOWN;
}

const char *composer__kind_coat(const char *kind)
{
    const char *last = strrchr(kind, ' ');
    const char *k = last ? last + 1 : kind;
    for (size_t i = 0; COATS[i][0]; i++)
        if (!strcmp(COATS[i][0], k)) return COATS[i][1];
    if (composer__kind_is_person(kind)) return "hair";
    return "fur";
}

bool composer__kind_is_person(const char *kind)
{
    if (in_list(PEOPLE, kind)) return true;
    const char *last = strrchr(kind, ' ');
    return last && in_list(PEOPLE, last + 1);
}

bool composer__is_stopword(const char *w)
{
    return in_list(STOPWORDS, w);
}

bool composer__is_unsafe(const char *w)
{
    return in_list(UNSAFE, w);
}

bool composer__is_adjective(const char *w)
{
    return in_list(ADJECTIVES, w);
}

const char *composer__past_tense(const char *w)
{
    for (size_t i = 0; PAST[i][0]; i++)
        if (!strcmp(PAST[i][0], w)) return PAST[i][1];
    return NULL;
}

int composer__name_gender(const char *name)
{
    if (in_list(composer__hero_names_she, name)) return 0;
    if (in_list(composer__hero_names_he, name)) return 1;
    return -1;
}

bool composer__is_place_name(const char *name)
{
    return in_list(PLACE_NAMES, name);
}

bool composer__is_title_word(const char *w)
{
    return in_list(TITLES, w);
}
