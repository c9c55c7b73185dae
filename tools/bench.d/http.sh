#!/bin/bash
# GET /healthz against nginx serving a small static file, both one process on one core, wrk with
# 2 threads; then p99 at 64 connections; then the memory cost of 10,000 idle keep-alive connections.
set -euo pipefail
: "${NOVA_BIN:?}" "${BENCH_TMP:?}"
DUR=${BENCH_DURATION:-20}
NGX=$BENCH_TMP/nginx
mkdir -p "$NGX/html" "$NGX/logs"
printf '{"status":"ok"}' >"$NGX/html/small.json"
NPORT=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
SPORT=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
cat >"$NGX/nginx.conf" <<CONF
worker_processes 1;
daemon on;
pid $NGX/nginx.pid;
error_log $NGX/logs/error.log;
events { worker_connections 20000; }
http {
    access_log off;
    keepalive_requests 1000000;
    server { listen 127.0.0.1:$NPORT; root $NGX/html; default_type application/json; }
}
CONF
nginx -c "$NGX/nginx.conf" -p "$NGX"
NOVA_LISTEN=127.0.0.1:$SPORT NOVA_LOG_LEVEL=warn "$NOVA_BIN" serve 2>"$BENCH_TMP/server.log" &
SPID=$!
trap 'kill $SPID 2>/dev/null; nginx -c "$NGX/nginx.conf" -p "$NGX" -s stop 2>/dev/null || true' EXIT
sleep 1

run_wrk() { # url conns duration -> "rps errors p99ms"
    wrk -t2 -c"$2" -d"$3"s --latency "$1" >"$BENCH_TMP/wrk.txt" 2>&1
    python3 - "$BENCH_TMP/wrk.txt" <<'PY'
import re, sys
t = open(sys.argv[1]).read()
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", t).group(1))
err = 0
m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", t)
if m: err += sum(int(x) for x in m.groups())
m = re.search(r"Non-2xx or 3xx responses: (\d+)", t)
if m: err += int(m.group(1))
p = re.search(r"99%\s+([\d.]+)(us|ms|s)", t)
p99 = float(p.group(1)) * {"us": 0.001, "ms": 1, "s": 1000}[p.group(2)]
print("%.0f %d %.3f" % (rps, err, p99))
PY
}
wrk -t2 -c64 -d2s "http://127.0.0.1:$SPORT/healthz" >/dev/null 2>&1 # warm-up
read -r n_rps n_err n_p99 < <(run_wrk "http://127.0.0.1:$NPORT/small.json" 256 "$DUR")
read -r s_rps s_err s_p99 < <(run_wrk "http://127.0.0.1:$SPORT/healthz" 256 "$DUR")
read -r l_rps l_err l_p99 < <(run_wrk "http://127.0.0.1:$SPORT/healthz" 64 10)
ratio=$(python3 -c "print('%.2f' % ($s_rps / $n_rps))")
read -r idle_n idle_before idle_after < <(python3 tools/benchsrc/idle_conns.py "$SPORT" 10000 "$SPID" /healthz)
per_conn=$(python3 -c "print('%.2f' % (($idle_after - $idle_before) / $idle_n))")

cat <<MD
<!-- scenario: http -->
## HTTP core: GET /healthz against nginx

| Measure | nginx (static file) | nova-storyteller | Ratio / target |
|---|---|---|---|
| requests/s, wrk -t2 -c256 -d${DUR}s | $n_rps (errors $n_err) | $s_rps (errors $s_err) | **${ratio}×** (target ≥ 1.0×, 0 errors) |
| p99 latency at 64 connections | – | ${l_p99} ms | target < 5 ms |
| resident memory per idle keep-alive connection (10,000 open) | – | ${per_conn} KiB (RSS ${idle_before} → ${idle_after} KiB) | target < 2 KiB |

Both servers run one process (nginx \`worker_processes 1\`, \`access_log off\`; nova \`NOVA_PROCESSES=1\`,
\`NOVA_LOG_LEVEL=warn\`), so each has one core and wrk the other. Commands:

\`\`\`
wrk -t2 -c256 -d${DUR}s --latency http://127.0.0.1:NGINX_PORT/small.json
wrk -t2 -c256 -d${DUR}s --latency http://127.0.0.1:NOVA_PORT/healthz
wrk -t2 -c64 -d10s --latency http://127.0.0.1:NOVA_PORT/healthz
python3 tools/benchsrc/idle_conns.py NOVA_PORT 10000 NOVA_PID /healthz
\`\`\`

MD
