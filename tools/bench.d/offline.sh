#!/bin/bash
# Offline end to end (no credentials): one story with an uploaded picture (described, written,
# narrated to MP3) and then its five illustrations, timed alone (median of 3 after a warm-up);
# then N stories started at once. The reference for N at once is the ideal on this machine:
# N × the single-story time / the number of cores (the offline providers are CPU-bound).
set -euo pipefail
: "${NOVA_BIN:?}" "${BENCH_TMP:?}"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
N=${BENCH_OFFLINE_STORIES:-20}
PGD=$BENCH_TMP/pg-offline
chmod 755 "$BENCH_TMP"
URL=$("$ROOT/tools/pgctl" start "$PGD" --fast)
trap '"$ROOT/tools/pgctl" stop "$PGD" >/dev/null 2>&1 || true; kill $SPID 2>/dev/null || true' EXIT
SPORT=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
mkdir -p "$BENCH_TMP/media-offline"
# Default settings except the simulated typing pace of the offline composer (0 here: the figure
# is the work, not the pacing) and cheap password hashing for the one sign-up.
env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY -u AWS_PROFILE AWS_EC2_METADATA_DISABLED=true \
    DATABASE_URL=$URL NOVA_LISTEN=127.0.0.1:$SPORT NOVA_LOG_LEVEL=warn NOVA_SQL_DIR="$ROOT/sql" \
    NOVA_MEDIA_DIR="$BENCH_TMP/media-offline" NOVA_OFFLINE_STREAM_DELAY_MS=0 \
    NOVA_ARGON2_MEMORY_KIB=1024 NOVA_ARGON2_ITERATIONS=1 \
    "$NOVA_BIN" serve 2>"$BENCH_TMP/server-offline.log" &
SPID=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$SPORT/readyz" >/dev/null && break; sleep 0.2; done
PROV=$(curl -sf "http://127.0.0.1:$SPORT/api/providers/" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(", ".join("%s `%s` (%s)" % (k, d[k]["provider"], d[k]["model"]) for k in ("text", "vision", "speech", "image")))')
RES=$(python3 "$ROOT/tools/benchsrc/offline_e2e.py" "$SPORT" "$N")
read -r ta sc tot words audio wall ok p50 mx ideal ratio < <(python3 -c '
import json, os, sys
d = json.loads(sys.argv[1]); s = d["single"]; cores = os.cpu_count()
ideal = d["many_n"] * s["total_s"] / cores
print("%.2f %.2f %.2f %d %.1f %.2f %d %.2f %.2f %.2f %.2f" % (s["text_audio_s"], s["scenes_s"], s["total_s"], s["words"],
      s["audio_ms"] / 1000.0, d["many_wall_s"], d["many_ok"], d["many_p50_s"], d["many_max_s"], ideal, d["many_wall_s"] / ideal))' "$RES")
cat <<MD
<!-- scenario: offline -->
## Offline end to end: picture → story → narration → 5 illustrations, no credentials

| Measure | Reference | nova-storyteller | Ratio |
|---|---|---|---|
| one story: description, ${words} words, MP3 narration (${audio} s of audio) | – | ${ta} s | recorded |
| its 5 illustrations (768×1152 PNG each) | – | ${sc} s | recorded |
| one story end to end | – | **${tot} s** | recorded |
| $N stories at once, end to end ($ok of $N complete) | ideal $N × ${tot} s / $(nproc) cores = ${ideal} s | ${wall} s (per story p50 ${p50} s, max ${mx} s) | **${ratio}×** of the ideal |

Providers: ${PROV}. Default settings (800 words in 5 parts, questions on), \`NOVA_OFFLINE_STREAM_DELAY_MS=0\`
(the composer's simulated typing pace is off, so the figure is the work). Each story is the
reference frontend's multipart create with a 320×240 PNG and \`Prefer: respond-async\`, then
\`generate_scenes\`; times run from the first request to the job reported finished by
\`GET /api/jobs/{id}/\` (polled every 50 ms). Driver: \`tools/benchsrc/offline_e2e.py\`.

MD
