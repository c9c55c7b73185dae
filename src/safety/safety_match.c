/* Word and phrase matching over a scanned text. Each word form is squeezed (runs of a letter
 * once) and looked up in the list's index; candidates are then confirmed letter run by letter
 * run, and phrases are confirmed word by word from there. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "safety/safety_int.h"

int sf_hits_push(sf_hits_t *h, const sf_hit_t *hit)
{
    if (h->n == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 16;
        sf_hit_t *nv = realloc(h->v, cap * sizeof *nv);
        if (!nv) return -ENOMEM;
        h->v = nv;
        h->cap = cap;
    }
    h->v[h->n++] = *hit;
    return 0;
}

static bool sf_form_matches(const char *tok, size_t tn, const char *term, size_t sn, bool strict)
{
    if (strict) return tn == sn && memcmp(tok, term, tn) == 0;
    return sf_dominates(tok, tn, term, sn);
}

/* Does word spec sp match token ti? On success *last is the last token the matching form
 * covers (joined letters span several). */
static bool sf_spec_matches(const sf_table_t *t, const sf_spec_t *sp, const sf_scan_t *sc,
                            size_t ti, bool strict, uint32_t *last)
{
    const sf_tok_t *tok = &sc->toks[ti];
    if (tok->flags & SF_TOK_LONG) return false;
    int nf = strict ? 1 : tok->nforms;
    for (int f = 0; f < nf; f++) {
        const char *form = sf_form(sc, tok, f);
        for (uint32_t a = 0; a < sp->nalts; a++) {
            sf_str_t alt = t->alts[sp->alt + a];
            if (sf_form_matches(form, tok->form_len[f], sf_str(t, alt), alt.len, strict)) {
                *last = tok->form_last[f];
                return true;
            }
        }
    }
    return false;
}

static bool sf_already(const sf_hits_t *out, size_t from, const sf_rule_t *r, uint32_t tok1)
{
    for (size_t i = from; i < out->n; i++)
        if (out->v[i].rule == r && out->v[i].tok1 == tok1) return true;
    return false;
}

int sf_match(const sf_table_t *t, bool strict, const sf_scan_t *sc, const uint8_t *excluded,
             sf_hits_t *out)
{
    if (!t->nslots) return 0;
    for (size_t i = 0; i < sc->ntoks; i++) {
        if (excluded[i]) continue;
        const sf_tok_t *tok = &sc->toks[i];
        if (tok->flags & SF_TOK_LONG) continue;
        size_t first_hit = out->n;
        int nf = strict ? 1 : tok->nforms;
        for (int f = 0; f < nf; f++) {
            const char *form = sf_form(sc, tok, f);
            size_t fn = tok->form_len[f];
            char key[SF_FORM_MAX + 1];
            size_t kn = sf_squeeze(form, fn, key);
            const sf_link_t *l = sf_lookup(t, key, kn);
            for (; l; l = l->next ? &t->links[l->next - 1] : NULL) {
                if (!sf_form_matches(form, fn, sf_str(t, l->form), l->form.len, strict)) continue;
                const sf_rule_t *r = &t->rules[l->rule];
                uint32_t last = tok->form_last[f];
                bool ok = true;
                for (uint32_t k = 1; ok && k < r->ntok; k++) {
                    size_t j = (size_t)last + 1;
                    if (j >= sc->ntoks || excluded[j]) {
                        ok = false;
                        break;
                    }
                    ok = sf_spec_matches(t, &t->specs[r->spec + k], sc, j, strict, &last);
                }
                if (!ok || sf_already(out, first_hit, r, last)) continue;
                sf_hit_t h = {
                    .category = r->category,
                    .severe = r->severe,
                    .start = tok->start,
                    .end = sc->toks[last].end,
                    .tok0 = (uint32_t)i,
                    .tok1 = last,
                    .rule = r,
                    .repl = r->has_repl ? sf_str(t, r->repl) : NULL,
                    .repl_len = r->has_repl ? r->repl.len : 0,
                    /* Spaced-out letters ("K I L L") say nothing useful about case. */
                    .case_flags = tok->form_last[f] != i
                                      ? 0
                                      : (uint8_t)(tok->flags & (SF_TOK_UPPER1 | SF_TOK_ALLCAPS)),
                };
                if (sf_hits_push(out, &h)) return -ENOMEM;
            }
        }
    }
    return 0;
}
