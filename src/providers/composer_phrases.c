/* composer common phrases: the grammar shared by every template. Each symbol lists
 * interchangeable fragments; the story builder asks for beats ("intro", "travel", "tex"...)
 * and the template files add their own alternatives to the same symbols. */
#include "providers/composer_internal.h"

#define S(name, ...)                                                                               \
    {                                                                                              \
        name, COMPOSER__ALTS(__VA_ARGS__)                                                          \
    }

static const composer__sym_t COMMON[] = {
    /* ---- small words ---- */
    S("time", "Soon", "Before long", "A little later", "After a while", "Just then",
      "Moments later", "All of a sudden", "Little by little", "Not long after", "In no time"),
    S("time+", "Shortly afterwards", "A few minutes later", "Without any warning"),
    S("feel", "happy", "excited", "brave", "hopeful", "proud", "curious", "cheerful", "calm",
      "a little nervous", "giggly", "bouncy"),
    S("feel+", "delighted", "determined", "thrilled", "amazed", "grateful"),
    S("feel++", "overjoyed", "astonished", "elated", "full of wonder"),
    S("big", "big", "huge", "giant"),
    S("big+", "enormous", "gigantic"),
    S("big++", "colossal", "towering", "tremendous"),
    S("pretty", "pretty", "lovely", "bright", "shiny"),
    S("pretty+", "sparkling", "glimmering", "gleaming"),
    S("pretty++", "magnificent", "dazzling", "shimmering", "radiant"),
    S("say", "said", "called", "laughed", "whispered", "cried", "cheered", "answered"),
    S("say+", "exclaimed", "giggled", "murmured", "replied"),
    S("say++", "declared", "suggested", "remarked"),
    S("walk", "walked", "skipped", "hurried", "tiptoed", "marched", "wandered", "raced"),
    S("walk+", "strolled", "scampered", "trotted"),
    S("walk++", "ventured", "meandered", "clambered"),
    S("manner", "quickly", "slowly", "carefully", "happily", "quietly", "bravely"),
    S("manner+", "cheerfully", "patiently", "eagerly"),
    S("smile", "smiled", "grinned", "giggled", "clapped", "laughed", "nodded", "beamed"),
    S("snack", "a crunchy apple", "a handful of berries", "some honey biscuits", "a warm muffin",
      "a cheese sandwich", "two oat cookies", "a juicy pear", "a bag of raisins",
      "some sweet plums"),
    S("chat", "their favourite songs", "what they might find",
      "the silliest dream they had ever had", "{X}", "the people back home",
      "which clouds looked like animals", "their best jokes",
      "what {place} would be like at night"),
    S("trinket", "a smooth pebble", "a bright feather", "a tiny shell", "a shiny button",
      "a four-leaf clover", "a curly leaf", "a blue marble", "a heart-shaped stone",
      "a striped acorn"),
    S("countable", "butterflies", "snails", "yellow flowers", "puffy clouds", "little birds",
      "stones shaped like hearts", "ladybugs", "tall mushrooms", "spotty beetles"),
    S("number", "three", "four", "five", "seven", "nine", "eleven", "twelve"),
    S("songtopic", "{X}", "{place}", "snails in hats", "a dancing teapot", "a frog who loved socks",
      "a very sleepy moon", "a cloud that wanted to be a boat", "a bear who baked bread"),
    S("encourage", "We can do this", "Just a little further", "I'm glad you're here",
      "Look how far we've come", "We make a great team", "One more step, then another",
      "Nothing can stop us now", "Let's keep going together"),
    S("exclaim", "Look at that", "Wow", "This is amazing", "I can hardly wait", "What a place",
      "Let's keep going", "Stay close", "Did you see that", "Over here", "How wonderful"),
    S("smellthing", "warm bread", "pine needles", "sea salt", "fresh rain", "wild strawberries",
      "honeysuckle", "cinnamon", "cut grass", "sweet clover"),
    S("sayings", "Little steps still take you far", "Kindness is never wasted",
      "Look closely and you will see more", "A friend makes every road shorter",
      "Brave hearts can still feel wobbly", "Every question is a door"),
    S("who_said", "grandma", "grandpa", "mum", "dad", "teacher", "big sister", "neighbour"),
    S("funny", "a cheeky squirrel hopped right onto {O}'s shoe", "a tiny frog landed on {O}'s hat",
      "{O} tripped over a pinecone and bowed like an actor",
      "a butterfly sat on the tip of {O}'s nose", "{O} tried to whistle and only squeaked",
      "a beetle marched past like a little soldier"),
    S("soundscape", "the gentle buzz of bees", "the soft rustle of leaves", "a far-off bell",
      "the crunch of their footsteps", "birds chattering in the trees", "the hum of the wind",
      "a trickle of running water"),
    S("pack", "a bag of snacks and a little map", "a lantern, a blanket and a notebook",
      "a water bottle, a torch and {Pp} lucky pebble", "a warm scarf and some sandwiches",
      "a rope, a compass and a bag of apples"),

    /* ---- beats ---- */
    S("intro",
      "[Once upon a time|Long ago|Once, not so long ago], there [lived|was] {Pa} named {P}{Pwho}.",
      "{P} was {Pa}{Pwho}.", "In {home}, there lived {Pa} called {P}{Pwho}.",
      "This is the story of {P}, {Pa}{Pwho}.",
      "[Not far from here|Far, far away|Once], in {home}, lived {Pa} named {P}{Pwho}."),
    S("intro_home", "{P} lived in {home}[? with {Pp} family and a very noisy clock].",
      "Every morning, {P} [woke up|jumped out of bed] in {home}[, ready for something new| and ran "
      "straight to the window]."),
    S("looks", "{P} had {Plooks}[, and {Ps} always wore {Pp} {Pclothes}].",
      "You could always spot {P} by {Pp} {Pclothes}."),
    S("friend_intro", "{P}'s best friend was {Fa} named {F}{Fwho}.",
      "{P} never went anywhere without {F}, {Fa} with {Flooks}{Fwho}.",
      "{P} and {F}, {Fa}{Fwho}, had been friends for as long as anyone could remember."),
    S("decide",
      "\"[Let's go and find {X}|I'm going to find {X}|We have to try|Come on, {F}, let's go]!\" "
      "{say} {P}.",
      "So {P} [packed|grabbed] {pack} and set off with {F}.",
      "{P} looked at {F}, and {F} [nodded|grinned|winked]: the [journey|adventure] had begun."),
    S("travel",
      "{P} and {F} [set off|headed|made their way|hurried] [to|toward] {place}[?, {travel_way}].",
      "{P} and {F} [reached|found] {place}.",
      ("[The next morning|Soon|Before long], {P} and {F} [reached|came to|found their way to] "
       "{place}."),
      "The road led {P} and {F} [on|onward] to {place}[?, {travel_way}]."),
    S("travel_way", "as the sun climbed higher", "singing all the way",
      "with their hearts thumping", "talking the whole time", "one careful step at a time"),
    S("try",
      "{P} [tried|had a go|did {Pp} best] [once|twice|three times], but [it was no use|nothing "
      "happened|{X} still seemed far away].",
      "{F} [had an idea|tried something clever], but it did not quite work[? the first time]."),
    S("meet",
      "[Just then|All at once|Out of nowhere], {Ha} [appeared|popped out|stepped out|came along]. "
      "\"Hello, I'm {H},\" {Hs} said[? with a friendly wave].",
      "{P} and {F} met {H}, {Ha} with {Hlooks}.",
      "That was when they met {H}, {Ha} who [knew the way|loved to help|had a kind, twinkly "
      "smile]."),
    S("advice", "\"{advice_line},\" said {H}[ with a warm smile| softly| and winked].",
      "{H} [thought for a moment|scratched {Hp} chin] and said, \"{advice_line}.\""),
    S("advice_line", "The answer is often closer than you think",
      "When you work together, even big problems shrink", "Listen carefully and look closely",
      "Be patient, and you will see the way", "Follow the path that makes your heart brave",
      "A good friend is the best map of all"),
    S("setback",
      "Uh-oh, {C}'s [shoe|hat|scarf] [got stuck|blew away|got tangled] and they had to stop for a "
      "while.",
      "Suddenly a [grey cloud|chilly wind|thick fog] rolled in, and {C} could hardly see {O}.",
      "For a moment {C} felt [tired|wobbly|unsure], but {O} held out a hand."),
    S("discover",
      "[There|Right there|At last], [under|behind|on top of|beside] {hiding}, [was|sat|lay] {X}[? "
      ", {shine}].",
      "At last, {P} found {X} [under|behind|beside] {hiding}.", "[At last|Finally], {P} found {X}.",
      "{P} reached out, and there {Xwas} {X}, [just as {F} had hoped|safe and sound|waiting for "
      "them]."),
    S("shine", "glowing softly", "sparkling in the light", "as bright as a star",
      "warm to the touch"),
    S("return",
      "[That evening|When the stars came out|As the sun went down], {P} and {F} [went|headed] back "
      "[home|to {home}][, tired but happy].",
      "{P} and {F} took the long way home, [laughing|chatting|humming] all the way to {home}."),
    S("end", "That night, {P} fell asleep with a smile, dreaming of {dreamthing}.",
      "And from that day on, {P} and {F} were the best of friends, ready for their next adventure.",
      ("Whenever {P} [looks at|thinks about] {X}, [a big smile spreads across {Pp} face|{Pp} "
       "heart feels warm and bright]."),
      "And that is how {P} [found|discovered] {X}[, and a whole lot of courage too]."),
    S("dreamthing", "{X}", "{place}", "new friends", "the next adventure",
      "{H} and {Hp} kind smile"),
    S("moral_wrap", "{P} [had learned|now understood|now knew] something important: {SPECIAL}.",
      "{P} [learned|knew now]: {SPECIAL}.", "The lesson of the day was simple: {SPECIAL}.",
      "{P} would always remember what this adventure had shown: {SPECIAL}.",
      "As {P} and {F} [smiled|hugged|sat together], they both knew one thing for sure: {SPECIAL}."),
    S("lesson", "friends are stronger together", "being kind makes the world brighter",
      "it is okay to ask for help", "courage grows a little every time you try",
      "listening carefully can solve big problems", "sharing makes everyone happier"),
    S("image_wrap", "In the picture, {SPECIAL}, and that is exactly where {P}'s story begins.",
      "In the picture, {SPECIAL}, just as {P} remembered it.",
      "In the picture, {SPECIAL}; {P} looked at it [for a long time|and smiled|and felt {feel}]."),

    /* ---- questions to the listener ---- */
    S("lq_mid", "What do you think {P} will find in {place}?",
      "What would you pack if you were going with {P} and {F}?",
      "How do you think {F} is feeling right now?", "Can you guess what will happen next to {P}?",
      "What would you do if you were {P}?", "Do you think {P} will find {X}?",
      "If you were {F}, what would you say to {P} now?", "What do you think {P} should do next?"),
    S("lq_end", "What was your favourite part of {P}'s adventure?",
      "If you could go on an adventure with {P}, where would you go?",
      "What would you have done to help {F}?", "How do you think {P} felt at the end?",
      "What would you do if you found {Xa}?",
      "Who would you like to bring on an adventure like {P}'s?"),
    S("lq_short", "What will {P} do next?", "Where will {P} go next?", "How does {P} feel now?",
      "Will {P} find {X}?", "What would {F} do?", "What will {P} see in {place}?",
      "Who will {P} meet in {place}?", "Is {F} brave?", "What would you say to {F}?",
      "Do you like {place}?", "What is in {place}?", "Will {F} help {P}?"),

    /* ---- titles ---- */
    S("title", "{P} and {X}", "{P}'s [Big|Wonderful|Amazing] [Adventure|Day|Journey]",
      "The [Day|Night] {P} Found {X}", "{P}, {F} and {X}"),
    S("ptitle_open", "{P}'s [Big|Secret|Wonderful] [Idea|Wish|Plan]",
      "A [Surprise|Letter|Puzzle] for {P}", "[Morning|Something New] in {home}"),
    S("ptitle_mid", "[Into|Through|Across] {place}", "{P} and {H}",
      "[A Tricky|The Long] [Path|Climb|Puzzle]", "[Hello|A Visit to] {place}", "{F} Has an Idea"),
    S("ptitle_short", "{P}'s [Wish|Plan|Trip|Day|Idea|Map|Secret|Song|Hope]",
      "{F}'s [Idea|Surprise|Song|Joke|Map]", "[Onward|Together|Hooray|Home|Friends|Surprise]"),
    S("ptitle_end", "Home Again", "{P} Finds {X}", "Finding {X}", "{P}'s Happy Ending",
      "Together at Last", "The Best Surprise for {P}"),

    /* ---- texture: small moments that make the world feel real ---- */
    S("tex_any",
      "{C} [took a deep breath|stretched {Cp} arms|hummed a little tune|counted to ten] and "
      "[felt|grew] {feel}.",
      "\"{exclaim}!\" {say} {C}[, {manner}|].", "{C} watched as {skything}.",
      "{C} and {O} shared {snack} and talked about {chat}.",
      "{C} felt a [little|tiny] flutter of [excitement|hope|happiness] [deep inside|in {Cp} "
      "tummy].",
      "{P} thought of what {Pp} {who_said} always said: \"{sayings}.\"",
      "{C} giggled when {funny}.",
      "{C} was so {feel} that {Cs} almost [danced|sang out loud|skipped|did a cartwheel].",
      "\"{encourage},\" {C} told {O}.",
      "{C} got a [warm|big|friendly|quick] [hug|smile|high five|wink] from {O}.",
      "{C} [made up|sang|whistled] a [silly|cheerful|bouncy] song about {songtopic}[, and {O} "
      "joined in|].",
      "\"Are you [tired|hungry|ready], {O}?\" asked {C}, and {O} [shook {Op} head|laughed|said, "
      "\"Not one bit!\"].",
      "{C} held {N} [carefully|tightly|gently][? so it would not get lost].",
      "{C} [drew|sketched] [a quick map|a little picture of {X}|{O}] in {Cp} "
      "[notebook|sketchbook]."),
    S("tex_any+", "{C} [paused|stopped for a moment], because {Cs} [wanted to remember|did not "
                  "want to forget] how everything looked [right then|at that moment]."),
    S("tex_any++", "{C} [reflected|thought quietly] that even small steps, taken together, could "
                   "carry them a remarkably long way."),
    S("tex_road", "{time}, {C} {walk} [past|around|beside|along] {scenery}.",
      "{C} [sniffed the air|breathed in]: the breeze carried the smell of {smellthing}.",
      "{C} [pointed at|noticed|spotted] {scenery} and [showed it to|pointed it out to] {O}.",
      "The [breeze tickled|sunlight warmed|soft light danced on] {C}'s {Ccoat}.",
      "[Step by step|Side by side|One after the other], {P} and {F} [kept going|pressed on|carried "
      "on] [toward|through] {place}.",
      "{C} [wondered|thought about|imagined] [what {X} might look like|how far {place} "
      "stretched|whether {O} was hungry|what {home} looked like right now].",
      "{C} [listened to|heard] {soundscape}[? and smiled].",
      "{C} [found|picked up|spotted] {trinket} and [tucked it into|slipped it into] {Cp} pocket[? "
      "for later].",
      "The path [curved|twisted|wound|sloped] [left|right|gently] [between {scenery2}|past "
      "{scenery}], and {C} followed it.",
      "{C} [counted|spotted] {number} {countable} [along the way|by the path|in {place}].",
      "Every now and then, {C} [looked back|glanced over {Cp} shoulder] to make sure {O} was "
      "[okay|keeping up|still smiling].",
      "[The sun|A soft light|The golden light] [peeked|shone|glowed] through {scenery2}, and {C} "
      "[felt warm all over|squinted happily|smiled at {O}].",
      "{C} patted {Cp} pocket to make sure the [little map|spare snack|lucky pebble] was still "
      "there.",
      "For a [moment|little while], nobody said anything, and {C} simply enjoyed {soundscape}.",
      "\"I wonder [what is behind that hill|if {X} is close|who lives here|how far we have "
      "come],\" {say} {C}.",
      "{C} [stopped|paused] to [tie a loose shoelace|fix {Cp} {Cclothes}|look at {scenery}], then "
      "[hurried|skipped|ran] after {O}.",
      "\"Do you think {X} [is far|is near|is waiting for us]?\" asked {C}, and {O} "
      "[shrugged|smiled|nodded hopefully]."),
    S("tex_road+", "{time}, {C} noticed that {scenery2} [seemed to lean toward them|were swaying "
                   "gently|looked almost like they were waving]."),
    S("tex_road++", "Although the [journey|way] was long, {C} [felt|was] {feel}, as though {place} "
                    "had been waiting for them all along."),
    S("tex_home",
      "{C} [helped tidy|swept the floor of|watered the plants around] {home}[, humming a little "
      "tune|].",
      "From the window of {home}, {C} could see [the whole street|the hills far away|a bird's nest "
      "in the garden|the clouds drifting by].",
      "{C} [ate|munched] {snack} [for breakfast|at the kitchen table|by the window].",
      "{C} [fed the goldfish|watered the sunflowers|made the bed|folded {Cp} blanket] and then "
      "[looked at the map again|sat down to think|ran to find {O}].",
      "The kettle was singing in {home}, and {C} [smiled|hummed along|did a little dance].",
      "{C} told {O} all about {X}, and {O}'s eyes grew [wide|round|bright].",
      "{C} [checked|packed] {Cp} [bag|backpack] [twice|three times] to be sure nothing was "
      "forgotten.",
      "That day, nobody in {home} could talk about anything except {X}."),
    S("skything", "a flock of birds flew by in a wobbly line",
      "a cloud shaped like a rabbit drifted past", "the sun peeked out from behind a cloud",
      "a kite danced high above the trees", "a rainbow slowly appeared"),
    S("scenery", "a {pretty} waterfall", "a crooked old tree", "a patch of wild flowers",
      "a tiny wooden bridge", "a mossy rock", "a sleepy pond"),
    S("scenery2", "the tall trees", "the swaying grass", "the rolling hills", "the bright flowers"),
    S("hiding", "a mossy stone", "a pile of leaves", "an old wooden crate", "a big round rock"),
    S("sfx",
      "\"Whoosh!\" went a [gust of wind|playful breeze] as it [swept past|rushed around] {C}[, "
      "tugging at {Cp} {Cclothes}|].",
      "\"Splash!\" went the puddle when {C} [jumped|stepped] right into it, and {O} "
      "[laughed|giggled].",
      "\"Crunch, crunch!\" went {C}'s feet over the [dry leaves|gravel|fresh snow] [in {place}|].",
      "\"Ding-a-ling!\" [rang|jingled] a [tiny|silver] bell somewhere near {C}, [and {Cs} looked "
      "around|and {O} giggled].",
      "\"Boing!\" went a [frog|grasshopper] as it leaped right over {C}'s [feet|shoes].",
      "\"Pitter-patter!\" went the [soft|warm] rain on the leaves above {C} and {O}."),
};

static const composer__symtab_t COMMON_TAB = {COMMON, sizeof COMMON / sizeof COMMON[0]};

const composer__symtab_t *composer__lexicon_common(void)
{
    return &COMMON_TAB;
}

const composer__symtab_t *composer__lexicon_template(composer_template_t t)
{
    switch (t) {
    case COMPOSER_TEMPLATE_ADVENTURE:
        return composer__lex_adventure();
    case COMPOSER_TEMPLATE_FANTASY:
        return composer__lex_fantasy();
    case COMPOSER_TEMPLATE_SCIFI:
        return composer__lex_scifi();
    case COMPOSER_TEMPLATE_MYSTERY:
        return composer__lex_mystery();
    case COMPOSER_TEMPLATE_EDUCATIONAL:
        return composer__lex_educational();
    default:
        return NULL;
    }
}
