/* The built-in minimal lists, compiled in so the screen never runs empty: even with a missing or
 * emptied data directory the clearest terms of every category are still caught. The data files
 * (src/safety/data) carry the full lists; entries here may repeat them. */
#include "safety/safety_int.h"

/* cat is a string literal pasted into "built-in " cat: parentheses would break the pasting. */
#define SF_SRC(cat, txt)                                                                           \
    {                                                                                              \
        cat, "built-in " cat, txt, sizeof txt - 1 /* NOLINT(bugprone-macro-parentheses) */         \
    }

static const char VIOLENCE[] = "murder*\nmurderer*\nstab*\nbehead*\ndecapitat*\ntortur*\n"
                               "massacre*\nslaughter*\ndismember*\nmutilat*\ngory\n"
                               "kill = defeat\nkills = defeats\nkilled = defeated\n"
                               "killing = defeating\n";
static const char SEXUAL[] = "sex\nsexy\nsexual*\nporn*\nporno\npornography\nnude*\nnudity\n"
                             "rape*\nrapist*\nmolest*\npaedophil*\npedophil*\nincest\n"
                             "genitals\npenis\nvagina\norgasm*\nmasturbat*\nblowjob*\nerotic*\n";
static const char SELF_HARM[] = "suicide*\nsuicidal\nself harm*\nkill* myself|yourself\n"
                                "cutting myself\nwant to die\n"
                                "end my life\nhang myself\nkys\n";
static const char HATE[] = "nigger*\nnigga*\nfaggot*\nkike*\nspic\nspics\nchink*\nwetback*\n"
                           "tranny\ntrannies\nretard\nretards\nretarded\nheil hitler\n"
                           "sieg heil\nwhite power\n";
static const char DRUGS[] = "cocaine\nheroin\nmeth\nmethamphetamine\nfentanyl\nketamine\n"
                            "crack cocaine\nmarijuana\nlsd\nmdma\nsmoke* weed\n";
static const char PROFANITY[] = "fuck*\nfucker*\nmotherfuck*\nshit = oops\ncunt*\n"
                                "bitch = meanie\nbastard = rascal\nwhore*\nslut*\n";
static const char ALLOW[] = "kill time\nkilling time\nkiller whale*\n";

const safety_source_t sf_builtin_sources[] = {
    SF_SRC("violence", VIOLENCE), SF_SRC("sexual", SEXUAL), SF_SRC("self_harm", SELF_HARM),
    SF_SRC("hate", HATE),         SF_SRC("drugs", DRUGS),   SF_SRC("profanity", PROFANITY),
    SF_SRC("allow", ALLOW),
};
const size_t sf_builtin_nsources = sizeof sf_builtin_sources / sizeof sf_builtin_sources[0];
