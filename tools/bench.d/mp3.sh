#!/bin/bash
# MP3 encoding of narration: our encoder (src/audio/mp3 through bench_mp3) against the lame CLI
# with the same settings, on the same ~60 s of espeak-ng speech, in the same run. Also measures
# how throughput scales from one to two encoders running at the same time.
# Needs BUILD_DIR (with bench_mp3 built), the Debian packages lame and espeak-ng, and python3.
set -euo pipefail
: "${BUILD_DIR:?}"
WORK=$(mktemp -d "${BENCH_TMP:-/tmp}/nova-bench-mp3.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
REPEATS=${BENCH_MP3_REPEATS:-5}
BENCH=$BUILD_DIR/bench_mp3
[ -x "$BENCH" ] || { echo "mp3.sh: $BENCH is missing" >&2; exit 1; }

# About 60 s of speech: a story paragraph, said by espeak-ng's US English voice at 165 wpm.
TEXT="Once upon a time, at the edge of a quiet forest, there lived a small fox who loved the stars.
Every night she climbed the tallest hill and counted them, one by one, until she fell asleep.
One winter evening, a lantern appeared in the snow, glowing softly like a tiny moon.
The fox carried it home, and the forest animals came to see the light.
The owl told stories of faraway mountains, the rabbit sang a song about spring,
and the old bear remembered the summer when the river turned to gold.
When the lantern finally dimmed, the fox was no longer afraid of the dark,
because she knew that every light she had shared was still shining in her friends.
The next morning the snow had melted, the birds were singing, and a path of tiny footprints
led from her den to the top of the hill, where the sun rose warm and bright.
And from that day on, the fox and her friends met on the hill every evening,
to count the stars together and to tell each other the stories of their day."
espeak-ng -v en-us -s 165 -w "$WORK/speech.wav" "$TEXT"
# Strip the WAV header (python's wave module; sox is not needed).
python3 - "$WORK/speech.wav" "$WORK/speech.raw" <<'PY'
import sys, wave
with wave.open(sys.argv[1], "rb") as w:
    assert w.getnchannels() == 1 and w.getsampwidth() == 2 and w.getframerate() == 22050
    open(sys.argv[2], "wb").write(w.readframes(w.getnframes()))
PY
SECONDS_AUDIO=$(python3 -c "import os; print('%.1f' % (os.path.getsize('$WORK/speech.raw') / 2 / 22050))")

LAME_CMD=(lame --quiet -r -s 22.05 -m m --bitwidth 16 --signed --little-endian -b 48 --cbr -q 3
    "$WORK/speech.raw" "$WORK/lame.mp3")
# Best of REPEATS runs of the lame CLI, user+system CPU seconds (it is single-threaded).
lame_cpu=$(
    for _ in $(seq "$REPEATS"); do
        /usr/bin/time -f "%U %S" -o "$WORK/time.txt" "${LAME_CMD[@]}" 2>/dev/null
        awk '{printf "%.4f\n", $1 + $2}' "$WORK/time.txt"
    done | sort -g | head -1
)
"$BENCH" "$WORK/speech.raw" 22050 48 "$REPEATS" >"$WORK/ours.txt"
val() { awk -F= -v k="$1" '$1 == k {print $2}' "$WORK/ours.txt"; }
ours_1=$(val threads1_audio_per_cpu_s)
ours_2=$(val threads2_audio_per_cpu_s)
wall_1=$(val threads1_audio_per_wall_s)
wall_2=$(val threads2_audio_per_wall_s)
scaling=$(val scaling_2t_over_1t)
lame_rate=$(python3 -c "print('%.1f' % ($SECONDS_AUDIO / max($lame_cpu, 1e-6)))")
ratio=$(python3 -c "print('%.2f' % ($ours_1 / $lame_rate))")
sanitized=""
if grep -q '^NOVA_SANITIZE:BOOL=ON' "$BUILD_DIR/CMakeCache.txt" 2>/dev/null; then
    sanitized=" (this BUILD_DIR is an ASan/UBSan build: our figures are pessimistic)"
fi

cat <<MD
<!-- scenario: mp3 -->
## MP3 encoding of narration against the lame CLI

| Measure | lame CLI | nova (src/audio/mp3) | Ratio / target |
|---|---|---|---|
| seconds of audio per CPU second, 1 encoder | $lame_rate | $ours_1 | **${ratio}×** (target ≥ 0.9×) |
| seconds of audio per wall second, 1 → 2 encoders at once | | $wall_1 → $wall_2 (per CPU s: $ours_2) | **${scaling}×** (target ≥ 1.8×) |

Input: ${SECONDS_AUDIO} s of espeak-ng speech (mono, 22,050 Hz, s16le), encoded as 48 kbps CBR mono
MP3 at LAME quality 3 (the lame default) by both. The lame figure is its user+system time for the
whole process (it reads the file and writes the MP3); ours encodes from memory into a byte-counting
sink, writing our ID3 tag and Info frame, best of $REPEATS runs each${sanitized}. Commands:

\`\`\`
espeak-ng -v en-us -s 165 -w speech.wav "<the story paragraph in tools/bench.d/mp3.sh>"
python3 (wave module): speech.wav -> speech.raw
${LAME_CMD[*]//$WORK\//}
bench_mp3 speech.raw 22050 48 $REPEATS
\`\`\`

MD
