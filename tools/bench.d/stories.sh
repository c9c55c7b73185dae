#!/bin/bash
# Story API and media serving, each against its reference in the same run:
#  - GET /api/stories/{id}/ with a token (token lookup + story with its scenes: two queries) at
#    64 connections, against pgbench -S (one primary-key read per transaction) with 64 clients;
#  - GET /api/stories/?page=3 (recorded, no reference);
#  - GET /media/<1 MB mp3> with a Range header and a signed URL, against nginx serving the same
#    file from the same folder (one worker, sendfile on).
set -euo pipefail
: "${NOVA_BIN:?}" "${BENCH_TMP:?}"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
DUR=${BENCH_DURATION:-20}
W=$BENCH_TMP/stories
mkdir -p "$W/media" "$W/nginx/logs"
chmod 755 "$BENCH_TMP" "$W" # the cluster runs as the postgres user, which must reach it
PGD=$W/pg
URL=$("$ROOT/tools/pgctl" start "$PGD")
SPID=
NGX=$W/nginx
cleanup() {
    [ -n "$SPID" ] && kill "$SPID" 2>/dev/null
    nginx -c "$NGX/nginx.conf" -p "$NGX" -s stop 2>/dev/null || true
    "$ROOT/tools/pgctl" stop "$PGD" >/dev/null 2>&1 || true
}
trap cleanup EXIT
PGBENCH=/usr/lib/postgresql/15/bin/pgbench
"$PGBENCH" -i -s 10 -q "$URL" >/dev/null 2>&1
"$PGBENCH" -S -c 64 -j 2 -T "$DUR" "$URL" >"$W/pgbench.txt" 2>&1
pg_tps=$(awk '/^tps/ {print int($3); exit}' "$W/pgbench.txt")

port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
SPORT=$(port)
NPORT=$(port)
SECRET=bench-secret-bench-secret-bench-secret-0123456789
# No job workers: the stories stay as written, and no generation competes for the CPU.
NOVA_WORKERS=0 NOVA_SYNC_WAIT_MS=0 DATABASE_URL=$URL NOVA_LISTEN=127.0.0.1:$SPORT NOVA_LOG_LEVEL=warn NOVA_MEDIA_DIR=$W/media \
    NOVA_SECRET_KEY=$SECRET NOVA_SQL_DIR="$ROOT/sql" "$NOVA_BIN" serve 2>"$W/server.log" &
SPID=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$SPORT/readyz" >/dev/null && break; sleep 0.2; done

# A user with 30 stories (page 3 exists), one of them with text and two scenes; a 1 MB file at
# that story's audio path, and a signed URL for it computed as the server does.
read -r TOKEN SID MEDIA_PATH <<<"$(python3 - "$SPORT" "$W/media" "$SECRET" <<'PY'
import base64, hashlib, hmac, json, os, sys, time, urllib.request, uuid
port, media, secret = sys.argv[1], sys.argv[2], sys.argv[3]
def call(method, path, body=None, token=None):
    h = {"Content-Type": "application/json"}
    if token: h["Authorization"] = "Token " + token
    req = urllib.request.Request("http://127.0.0.1:%s%s" % (port, path), method=method,
                                 data=json.dumps(body).encode() if body is not None else None, headers=h)
    with urllib.request.urlopen(req) as r:
        return json.loads(r.read())
name = "bench" + uuid.uuid4().hex[:8]
tok = call("POST", "/api/register/", {"username": name, "email": name + "@example.org",
           "password": "bench-Passw0rd!", "accept_terms": True, "user_type": "user"})["token"]
text = "\n".join("Part %d\n%s" % (i, "The little fox walked through the quiet forest. " * 20) for i in (1, 2))
sid = None
for i in range(30):
    s = call("POST", "/api/stories/", {"title": "Story %d" % i, "prompt": "A fox", "story_text": text}, tok)
    sid = sid or s["id"]
call("POST", "/api/stories/%s/initialize_scenes/" % sid, None, tok)
created = call("GET", "/api/stories/%s/" % sid, None, tok)["created_at"]
rel = "%s/%s/%s/audio_1.mp3" % (created[:4], created[5:7], sid)
os.makedirs(os.path.join(media, os.path.dirname(rel)), exist_ok=True)
with open(os.path.join(media, rel), "wb") as f:
    f.write(bytes((i * 31 + 7) & 0xff for i in range(1 << 20)))
path = "/media/" + rel
exp = int(time.time()) + 86400
key = hashlib.sha256(b"nova-story-media-url-key\n" + secret.encode()).digest()
mac = hmac.new(key, b"nova-media-v1\n" + path.encode() + b"\n" + str(exp).encode(), hashlib.sha256).digest()
print(tok, sid, "%s?expires=%d&sig=%s" % (path, exp, base64.urlsafe_b64encode(mac).rstrip(b"=").decode()))
PY
)"

cat >"$NGX/nginx.conf" <<CONF
worker_processes 1;
daemon on;
pid $NGX/nginx.pid;
error_log $NGX/logs/error.log;
events { worker_connections 20000; }
http {
    access_log off;
    sendfile on;
    keepalive_requests 1000000;
    types { audio/mpeg mp3; }
    server { listen 127.0.0.1:$NPORT; location /media/ { alias $W/media/; } }
}
CONF
nginx -c "$NGX/nginx.conf" -p "$NGX"

run_wrk() { # conns url [header] -> "rps errors p99ms"
    local h=()
    [ $# -ge 3 ] && h=(-H "$3")
    wrk -t2 -c"$1" -d"${DUR}s" --latency "${h[@]}" "$2" >"$W/wrk.txt" 2>&1
    python3 - "$W/wrk.txt" <<'PY'
import re, sys
t = open(sys.argv[1]).read()
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", t).group(1))
err = 0
m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", t)
if m: err += sum(int(x) for x in m.groups())
m = re.search(r"Non-2xx or 3xx responses: (\d+)", t)
if m: err += int(m.group(1))
p = re.search(r"99%\s+([\d.]+)(us|ms|s)", t)
print("%.0f %d %.2f" % (rps, err, float(p.group(1)) * {"us": 0.001, "ms": 1, "s": 1000}[p.group(2)]))
PY
}
AUTH="Authorization: Token $TOKEN"
wrk -t2 -c64 -d2s -H "$AUTH" "http://127.0.0.1:$SPORT/api/stories/$SID/" >/dev/null 2>&1 # warm-up
read -r d_rps d_err d_p99 < <(run_wrk 64 "http://127.0.0.1:$SPORT/api/stories/$SID/" "$AUTH")
read -r l_rps l_err l_p99 < <(run_wrk 64 "http://127.0.0.1:$SPORT/api/stories/?page=3" "$AUTH")
RANGE="Range: bytes=0-"
read -r n_rps n_err n_p99 < <(run_wrk 64 "http://127.0.0.1:$NPORT$MEDIA_PATH" "$RANGE")
read -r m_rps m_err m_p99 < <(run_wrk 64 "http://127.0.0.1:$SPORT$MEDIA_PATH" "$RANGE")
d_ratio=$(python3 -c "print('%.2f' % ($d_rps / $pg_tps))")
m_ratio=$(python3 -c "print('%.2f' % ($m_rps / $n_rps))")

cat <<MD
<!-- scenario: stories -->
## Story API and media serving

| Measure | Reference | nova-storyteller | Ratio / target |
|---|---|---|---|
| \`GET /api/stories/{id}/\` with a token, 64 connections | pgbench -S: $pg_tps tps | $d_rps requests/s (errors $d_err, p99 $d_p99 ms) | **${d_ratio}×** (target ≥ 0.6×) |
| \`GET /api/stories/?page=3\` with a token, 64 connections | – | $l_rps requests/s (errors $l_err, p99 $l_p99 ms) | recorded |
| \`GET /media/<1 MiB mp3>\` signed URL, \`Range: bytes=0-\` (206), 64 connections | nginx (1 worker, sendfile on): $n_rps requests/s | $m_rps requests/s (errors $m_err, p99 $m_p99 ms) | **${m_ratio}×** (target ≥ 0.8×) |

One server process (\`NOVA_PROCESSES=1\`, \`NOVA_DB_POOL_SIZE=8\`), the same private PostgreSQL 15
cluster as pgbench (\`tools/pgctl\`, scale 10), wrk with 2 threads. A story read is one statement
(the token lookup joined with the story's version: the xmin of its row, which its scenes' changes
touch, and of its owner's row); the story rendered at that version comes from the process's
cache (\`NOVA_STORY_CACHE_BYTES\`). wrk reads one story, so this is the hit path; a miss adds a
second statement (the story with its scenes aggregated in PostgreSQL) and the rendering, as every
read did before the cache (0.33× in the previous run). The media file goes out by zero copy: when the socket's
queue is empty and cachestat(2) reports the next 1 MiB in the page cache, sendfile(2) sends it
(a full socket gets one 16 KiB copied piece, whose completion says there is room again); pages not
in the cache are read on the threadpool and copied, as before (0.58× in the previous run). Commands:

\`\`\`
pgbench -S -c 64 -j 2 -T ${DUR} \$DATABASE_URL
wrk -t2 -c64 -d${DUR}s -H 'Authorization: Token …' http://127.0.0.1:PORT/api/stories/<id>/
wrk -t2 -c64 -d${DUR}s -H 'Authorization: Token …' 'http://127.0.0.1:PORT/api/stories/?page=3'
wrk -t2 -c64 -d${DUR}s -H 'Range: bytes=0-' 'http://127.0.0.1:NGINX_PORT/media/…/audio_1.mp3?expires=…&sig=…'
wrk -t2 -c64 -d${DUR}s -H 'Range: bytes=0-' 'http://127.0.0.1:PORT/media/…/audio_1.mp3?expires=…&sig=…'
\`\`\`

MD
