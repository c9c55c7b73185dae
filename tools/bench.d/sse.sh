#!/bin/bash
# Server-sent events: fan-out latency of stored events to 1,000 connected streams (from the
# database clock at insert to arrival at each client, through NOTIFY, one batched read per
# process and the writes), and the resident memory of 10,000 idle streams above the baseline.
set -euo pipefail
: "${NOVA_BIN:?}" "${BENCH_TMP:?}"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
CLIENTS=${BENCH_SSE_CLIENTS:-1000}
IDLE=${BENCH_SSE_IDLE:-10000}
EVENTS=50
PGD=$BENCH_TMP/pg-sse
chmod 755 "$BENCH_TMP"
URL=$("$ROOT/tools/pgctl" start "$PGD" --fast)
trap '"$ROOT/tools/pgctl" stop "$PGD" >/dev/null 2>&1 || true; kill $SPID 2>/dev/null || true' EXIT
start_server() {
    SPORT=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
    DATABASE_URL=$URL NOVA_LISTEN=127.0.0.1:$SPORT NOVA_LOG_LEVEL=warn NOVA_SQL_DIR="$ROOT/sql" \
        NOVA_MEDIA_DIR="$BENCH_TMP/media-sse" NOVA_TEXT_PROVIDER=offline NOVA_VISION_PROVIDER=offline \
        NOVA_SPEECH_PROVIDER=espeak NOVA_IMAGE_PROVIDER=offline NOVA_MAX_CONNECTIONS=30000 \
        NOVA_ARGON2_MEMORY_KIB=1024 NOVA_ARGON2_ITERATIONS=1 NOVA_DB_QUEUE_MAX=100000 \
        NOVA_DB_QUEUE_TIMEOUT_MS=30000 \
        "$NOVA_BIN" serve 2>>"$BENCH_TMP/server-sse.log" &
    SPID=$!
    for _ in $(seq 100); do curl -sf "http://127.0.0.1:$SPORT/readyz" >/dev/null && break; sleep 0.2; done
}
mkdir -p "$BENCH_TMP/media-sse"
cc -O2 -o "$BENCH_TMP/sse_client" "$ROOT/tools/benchsrc/sse_client.c"
start_server
FAN=$(python3 "$ROOT/tools/benchsrc/sse_fanout.py" fanout "$SPORT" "$URL" "$CLIENTS" "$EVENTS" "$BENCH_TMP/sse_client")
kill $SPID; wait $SPID 2>/dev/null || true
start_server
IDL=$(python3 "$ROOT/tools/benchsrc/sse_fanout.py" idle "$SPORT" "$SPID" "$IDLE")
kill $SPID; wait $SPID 2>/dev/null || true
read -r p50 p99 mx got exp < <(python3 -c 'import json,sys; d=json.loads(sys.argv[1]); print(d["p50_ms"], d["p99_ms"], d["max_ms"], d["deliveries"], d["expected"])' "$FAN")
read -r per base after ok < <(python3 -c 'import json,sys; d=json.loads(sys.argv[1]); print(d["per_stream_bytes"], d["baseline_kib"], d["after_kib"], d["checked_200"])' "$IDL")
cat <<MD
<!-- scenario: sse -->
## Server-sent events: fan-out to $CLIENTS streams, memory of $IDLE idle streams

| Measure | Target | nova-storyteller |
|---|---|---|
| fan-out latency, $CLIENTS streams × $EVENTS events, p50 / p99 / max | p99 < 50 ms | ${p50} / **${p99}** / ${mx} ms ($got of $exp deliveries) |
| resident memory per idle stream above the baseline | < 4096 B | **${per} B** (RSS ${base} → ${after} KiB) |

One process. The events are stored with \`job_event()\` from psql 100 ms apart, carrying
\`clock_timestamp()\`; the latency is the arrival at each client (an epoll reader,
\`tools/benchsrc/sse_client.c\`, on the same machine) minus that time: commit, NOTIFY, the hub's batched read
of the event row (one query per batch, not per stream) and $CLIENTS writes. Idle streams are
\`GET /api/events/\` with a token, held open ($ok of 50 sampled answered 200). Driver:
\`tools/benchsrc/sse_fanout.py\`.

MD
