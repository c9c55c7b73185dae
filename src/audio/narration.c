#include "audio/narration.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void audio_join_config_default(audio_join_config_t *j)
{
    j->pause_ms = AUDIO_DEFAULT_PAUSE_MS;
    j->fade_ms = AUDIO_DEFAULT_FADE_MS;
}

int audio_join_config_validate(const audio_join_config_t *j)
{
    if (!j || j->pause_ms > AUDIO_MAX_PAUSE_MS || j->fade_ms > AUDIO_MAX_FADE_MS) return -EINVAL;
    return 0;
}

static uint64_t narration__ms_to_samples(uint32_t ms, int rate)
{
    return (uint64_t)ms * (uint64_t)rate / 1000;
}

uint64_t audio_narration_samples(const audio_part_t *parts, size_t nparts, int sample_rate,
                                 const audio_join_config_t *j)
{
    if (!nparts) return 0;
    uint64_t total = 0;
    for (size_t i = 0; i < nparts; i++)
        total += parts[i].nsamples;
    return total + (nparts - 1) * narration__ms_to_samples(j->pause_ms, sample_rate);
}

uint64_t audio_narration_part_start(const audio_part_t *parts, size_t i, int sample_rate,
                                    const audio_join_config_t *j)
{
    return audio_narration_samples(parts, i, sample_rate, j) +
           (i ? narration__ms_to_samples(j->pause_ms, sample_rate) : 0);
}

int audio_narration_marks(const audio_part_t *parts, size_t nparts, int sample_rate,
                          const audio_join_config_t *j, audio_marks_t *out)
{
    if (sample_rate <= 0 || audio_join_config_validate(j)) return -EINVAL;
    uint64_t start = 0, pause = narration__ms_to_samples(j->pause_ms, sample_rate);
    uint32_t last_ms = 0;
    for (size_t i = 0; i < nparts; i++) {
        const audio_part_t *p = &parts[i];
        uint64_t base_ms = start * 1000 / (uint64_t)sample_rate;
        uint64_t part_ms = p->nsamples * 1000 / (uint64_t)sample_rate;
        for (size_t k = 0; k < p->nmarks; k++) {
            const audio_mark_t *mk = &p->marks[k];
            /* A mark at or past the end of the part's audio (engine rounding) would point into
             * the pause or the next part: keep it on the part's last millisecond. */
            uint64_t last = part_ms ? part_ms - 1 : 0;
            uint64_t t = base_ms + (mk->time_ms < last ? mk->time_ms : last);
            if (t > UINT32_MAX) return -EOVERFLOW;
            if ((uint32_t)t < last_ms) t = last_ms;
            uint64_t s = (uint64_t)mk->start + p->text_offset,
                     e = (uint64_t)mk->end + p->text_offset;
            if (e > UINT32_MAX) return -EOVERFLOW;
            const char *v = mk->value ? mk->value : "";
            int rc = audio_marks_push(out, (uint32_t)t, mk->type, (uint32_t)s, (uint32_t)e, v,
                                      strlen(v));
            if (rc) return rc;
            last_ms = (uint32_t)t;
        }
        start += p->nsamples + pause;
    }
    return 0;
}

/* Gain for sample k of a part of n samples with fades of f samples at both edges, in 1/65536
 * units. Linear ramps are enough at 5-10 ms: the point is to start and end at zero. */
static int32_t narration__gain(size_t k, size_t n, size_t f)
{
    if (f == 0) return 65536;
    if (2 * f > n) f = n / 2;
    if (f == 0) return 65536;
    size_t d = k < n - 1 - k ? k : n - 1 - k; /* distance to the nearest edge */
    if (d >= f) return 65536;
    /* f is not 0 here (checked just above); the analyzer loses that after f = n / 2. */
    return (int32_t)((d * 65536) / f); // NOLINT(clang-analyzer-core.DivideZero)
}

int audio_narration_render(const audio_part_t *parts, size_t nparts, int sample_rate,
                           const audio_join_config_t *j, audio_pcm_emit_fn emit, void *ctx,
                           const atomic_int *cancel)
{
    if (sample_rate <= 0 || audio_join_config_validate(j) || (!parts && nparts) || !emit)
        return -EINVAL;
    size_t block = (size_t)sample_rate;
    size_t fade = (size_t)narration__ms_to_samples(j->fade_ms, sample_rate);
    uint64_t pause = narration__ms_to_samples(j->pause_ms, sample_rate);
    int16_t *tmp = malloc(block * sizeof *tmp);
    if (!tmp) return -ENOMEM;
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < nparts; i++) {
        const audio_part_t *p = &parts[i];
        if (!p->pcm && p->nsamples) {
            rc = -EINVAL;
            break;
        }
        /* Silence before every part but the first. */
        for (uint64_t left = i ? pause : 0; rc == 0 && left;) {
            size_t n = left < block ? (size_t)left : block;
            memset(tmp, 0, n * sizeof *tmp);
            if (cancel && atomic_load(cancel)) rc = -ECANCELED;
            if (rc == 0) rc = emit(ctx, tmp, n);
            left -= n;
        }
        for (size_t off = 0; rc == 0 && off < p->nsamples;) {
            size_t n = p->nsamples - off < block ? p->nsamples - off : block;
            if (cancel && atomic_load(cancel)) {
                rc = -ECANCELED;
                break;
            }
            const int16_t *src = p->pcm + off;
            size_t tail = p->nsamples > fade ? p->nsamples - fade : 0;
            /* Only blocks touching an edge need a copy; the middle goes straight to LAME. */
            if (fade && (off < fade || off + n > tail)) {
                for (size_t k = 0; k < n; k++)
                    tmp[k] =
                        (int16_t)(((int32_t)src[k] * narration__gain(off + k, p->nsamples, fade)) /
                                  65536);
                src = tmp;
            }
            rc = emit(ctx, src, n);
            off += n;
        }
    }
    free(tmp);
    return rc;
}

static int narration__feed(void *ctx, const int16_t *pcm, size_t nsamples)
{
    return mp3_encoder_feed(ctx, pcm, nsamples);
}

int audio_narration_encode(const audio_part_t *parts, size_t nparts, int sample_rate,
                           const audio_join_config_t *j, mp3_encoder_t *enc,
                           const atomic_int *cancel)
{
    if (!enc) return -EINVAL;
    return audio_narration_render(parts, nparts, sample_rate, j, narration__feed, enc, cancel);
}
