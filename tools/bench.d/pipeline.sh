#!/bin/bash
# Scene generation at scale: 200 stories x 5 scenes through generate_scenes on one server
# process, every picture taking 1 s (NOVA_TEST_IMAGE_DELAY_MS, a stand-in for a model's latency)
# with 50 pictures in flight; the reference is the ideal 1000 / 50 x 1 s = 20 s.
set -euo pipefail
: "${NOVA_BIN:?}" "${BENCH_TMP:?}"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
STORIES=${BENCH_PIPELINE_STORIES:-200}
INFLIGHT=50
LATENCY=${BENCH_PIPELINE_LATENCY_MS:-1000}
PGD=$BENCH_TMP/pg-pipeline
chmod 755 "$BENCH_TMP"
URL=$("$ROOT/tools/pgctl" start "$PGD" --fast)
trap '"$ROOT/tools/pgctl" stop "$PGD" >/dev/null 2>&1 || true; kill $SPID 2>/dev/null || true' EXIT
SPORT=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
mkdir -p "$BENCH_TMP/media-pipeline"
DATABASE_URL=$URL NOVA_LISTEN=127.0.0.1:$SPORT NOVA_LOG_LEVEL=warn NOVA_BENCH_ROUTES=1 \
    NOVA_SQL_DIR="$ROOT/sql" NOVA_MEDIA_DIR="$BENCH_TMP/media-pipeline" \
    NOVA_TEXT_PROVIDER=offline NOVA_VISION_PROVIDER=offline NOVA_SPEECH_PROVIDER=espeak \
    NOVA_IMAGE_PROVIDER=offline NOVA_WORKERS=100 NOVA_IMAGE_MAX_INFLIGHT=$INFLIGHT \
    NOVA_TEST_IMAGE_DELAY_MS=$LATENCY NOVA_JOB_POLL_MS=500 NOVA_DB_POOL_SIZE=8 NOVA_THREADPOOL_SIZE=${BENCH_PIPELINE_THREADS:-16} \
    NOVA_ARGON2_MEMORY_KIB=1024 NOVA_ARGON2_ITERATIONS=1 \
    "$NOVA_BIN" serve 2>"$BENCH_TMP/server-pipeline.log" &
SPID=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$SPORT/readyz" >/dev/null && break; sleep 0.2; done
RES=$(python3 "$ROOT/tools/benchsrc/pipeline_scenes.py" "$SPORT" "$URL" "$STORIES" "$INFLIGHT" "$LATENCY")
read -r wall ideal ratio parents scenes < <(python3 -c '
import json,sys; d=json.loads(sys.argv[1])
print(d["wall_s"], d["ideal_s"], d["ratio"], d["parents"].replace("\n"," ").replace(" ",","), d["scenes"].replace("\n"," ").replace(" ",","))' "$RES")
cat <<MD
<!-- scenario: pipeline -->
## Pipeline: $STORIES stories × 5 scenes, 1 s per picture, $INFLIGHT in flight

| Measure | Ideal ($((STORIES * 5)) / $INFLIGHT × 1 s) | nova-storyteller | Ratio / target |
|---|---|---|---|
| wall time, first request to last job settled | ${ideal} s | ${wall} s | **${ratio}×** (target ≤ 1.10×) |

Outcome: parents \`${parents}\`, scenes \`${scenes}\`. One process, \`NOVA_WORKERS=100\` (twice the picture slots: a scene job also
claims, saves and settles its parent outside its slot, and with few spare workers the slots sit idle),
\`NOVA_IMAGE_MAX_INFLIGHT=$INFLIGHT\`, \`NOVA_TEST_IMAGE_DELAY_MS=$LATENCY\` (each picture holds its
slot for 1 s, then the offline illustrator draws it on the threadpool). Every scene is a durable
child job: claimed with SKIP LOCKED, leased, written atomically, finished in a transaction that
also settles its parent. Driver: \`tools/benchsrc/pipeline_scenes.py\` (stories inserted with
psql, then $STORIES × \`POST /api/stories/{id}/generate_scenes/\` with \`Prefer: respond-async\`).

MD
