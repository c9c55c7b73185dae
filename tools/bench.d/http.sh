#!/bin/bash
# GET /healthz against nginx serving a small static file, both one process pinned to core 0, wrk
# with 2 threads pinned to core 1; then p99 at 64 connections (one wrk thread on core 1, so the
# client's own threads do not queue each other's samples); then the memory cost of 10,000 idle
# keep-alive connections.
set -euo pipefail
: "${NOVA_BIN:?}" "${BENCH_TMP:?}"
DUR=${BENCH_DURATION:-20}
# Pinning needs two cores; on one core everything shares it.
if [ "$(nproc)" -ge 2 ]; then PIN0="taskset -c 0"; PIN1="taskset -c 1"; else PIN0=""; PIN1=""; fi
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
$PIN0 nginx -c "$NGX/nginx.conf" -p "$NGX"
NOVA_LISTEN=127.0.0.1:$SPORT NOVA_LOG_LEVEL=warn $PIN0 "$NOVA_BIN" serve 2>"$BENCH_TMP/server.log" &
SPID=$!
trap 'kill $SPID 2>/dev/null; nginx -c "$NGX/nginx.conf" -p "$NGX" -s stop 2>/dev/null || true' EXIT
sleep 1

run_wrk() { # url conns duration threads -> "rps errors p99ms"
    $PIN1 wrk -t"$4" -c"$2" -d"$3"s --latency "$1" >"$BENCH_TMP/wrk.txt" 2>&1
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
read -r n_rps n_err n_p99 < <(run_wrk "http://127.0.0.1:$NPORT/small.json" 256 "$DUR" 2)
read -r s_rps s_err s_p99 < <(run_wrk "http://127.0.0.1:$SPORT/healthz" 256 "$DUR" 2)
# Latency: three 10 s runs each, alternating servers, and the median run by p99 is reported (one
# run is at the mercy of whatever else the machine does during those 10 seconds).
median_run() { # url threads -> "rps errors p99ms" of the median p99 of three runs
    local i
    for i in 1 2 3; do run_wrk "$1" 64 10 "$2"; done | sort -n -k3 | sed -n 2p
}
read -r l_rps l_err l_p99 < <(median_run "http://127.0.0.1:$SPORT/healthz" 1)
read -r nl_rps nl_err nl_p99 < <(median_run "http://127.0.0.1:$NPORT/small.json" 1)
read -r m_rps m_err m_p99 < <(median_run "http://127.0.0.1:$SPORT/healthz" 2)
ratio=$(python3 -c "print('%.2f' % ($s_rps / $n_rps))")
read -r idle_n idle_before idle_after < <(python3 tools/benchsrc/idle_conns.py "$SPORT" 10000 "$SPID" /healthz)
per_conn=$(python3 -c "print('%.2f' % (($idle_after - $idle_before) / $idle_n))")

cat <<MD
<!-- scenario: http -->
## HTTP core: GET /healthz against nginx

| Measure | nginx (static file) | nova-storyteller | Ratio / target |
|---|---|---|---|
| requests/s, wrk -t2 -c256 -d${DUR}s | $n_rps (errors $n_err) | $s_rps (errors $s_err) | **${ratio}×** (target ≥ 1.0×, 0 errors) |
| p99 latency at 64 connections (wrk -t1, median of 3 runs) | ${nl_p99} ms | ${l_p99} ms (${l_rps} req/s, errors ${l_err}) | target < 5 ms |
| p99 latency at 64 connections, wrk -t2 on one core (median of 3) | – | ${m_p99} ms | (context: includes wrk's own queueing) |
| resident memory per idle keep-alive connection (10,000 open) | – | ${per_conn} KiB (RSS ${idle_before} → ${idle_after} KiB) | target < 2 KiB |

Both servers run one process pinned to core 0 (nginx \`worker_processes 1\`, \`access_log off\`;
nova \`NOVA_PROCESSES=1\`, \`NOVA_LOG_LEVEL=warn\`), and wrk is pinned to core 1, so neither
server shares its core with the client. The latency row uses one wrk thread: two client threads
on one core take turns, and each waits for the other's turn inside its latency samples (the
second latency row shows that). Each latency row is the median of three 10-second runs. Commands:

\`\`\`
taskset -c 0 nginx -c nginx.conf; NOVA_PROCESSES=1 taskset -c 0 nova-storyteller serve
taskset -c 1 wrk -t2 -c256 -d${DUR}s --latency http://127.0.0.1:NGINX_PORT/small.json
taskset -c 1 wrk -t2 -c256 -d${DUR}s --latency http://127.0.0.1:NOVA_PORT/healthz
taskset -c 1 wrk -t1 -c64 -d10s --latency http://127.0.0.1:NOVA_PORT/healthz
taskset -c 1 wrk -t2 -c64 -d10s --latency http://127.0.0.1:NOVA_PORT/healthz
taskset -c 1 wrk -t1 -c64 -d10s --latency http://127.0.0.1:NGINX_PORT/small.json
python3 tools/benchsrc/idle_conns.py NOVA_PORT 10000 NOVA_PID /healthz
\`\`\`

MD
