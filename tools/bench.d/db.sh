#!/bin/bash
# One row read by primary key over HTTP (GET /bench/pgbench/{aid}, the query pgbench -S runs)
# against pgbench -S itself, 64 clients each, on the same private cluster in the same run.
set -euo pipefail
: "${NOVA_BIN:?}" "${BENCH_TMP:?}"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
DUR=${BENCH_DURATION:-20}
PGD=$BENCH_TMP/pg
chmod 755 "$BENCH_TMP" # the cluster runs as the postgres user, which must reach it
URL=$("$ROOT/tools/pgctl" start "$PGD")
trap '"$ROOT/tools/pgctl" stop "$PGD" >/dev/null 2>&1 || true; kill $SPID 2>/dev/null || true' EXIT
PGBENCH=/usr/lib/postgresql/15/bin/pgbench
"$PGBENCH" -i -s 10 -q "$URL" >/dev/null 2>&1
"$PGBENCH" -S -c 64 -j 2 -T "$DUR" "$URL" >"$BENCH_TMP/pgbench.txt" 2>&1
pg_tps=$(awk '/^tps/ {print int($3); exit}' "$BENCH_TMP/pgbench.txt")
SPORT=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
DATABASE_URL=$URL NOVA_LISTEN=127.0.0.1:$SPORT NOVA_LOG_LEVEL=warn NOVA_BENCH_ROUTES=1 \
    NOVA_SQL_DIR="$ROOT/sql" "$NOVA_BIN" serve 2>"$BENCH_TMP/server-db.log" &
SPID=$!
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$SPORT/readyz" >/dev/null && break; sleep 0.2; done
cat >"$BENCH_TMP/rand.lua" <<'LUA'
request = function()
  return wrk.format("GET", "/bench/pgbench/" .. math.random(1, 1000000))
end
LUA
wrk -t2 -c64 -d"${DUR}s" -s "$BENCH_TMP/rand.lua" "http://127.0.0.1:$SPORT" >"$BENCH_TMP/wrk-db.txt" 2>&1
http_rps=$(awk '/Requests\/sec/ {print int($2)}' "$BENCH_TMP/wrk-db.txt")
errors=$(awk '/Non-2xx/ {print $NF}' "$BENCH_TMP/wrk-db.txt")
ratio=$(python3 -c "print('%.2f' % ($http_rps / $pg_tps))")
cat <<MD
<!-- scenario: db -->
## PostgreSQL: one row by primary key over HTTP against pgbench -S

| Measure | pgbench -S | nova-storyteller over HTTP | Ratio / target |
|---|---|---|---|
| reads/s, 64 clients, ${DUR}s | $pg_tps tps | $http_rps requests/s (non-2xx: ${errors:-0}) | **${ratio}×** (target ≥ 0.7×) |

Same private PostgreSQL 15 cluster (\`tools/pgctl\`, scale 10, 1,000,000 accounts), same run.
The server (one process, \`NOVA_DB_POOL_SIZE=8\`, pipelined prepared statements) serves
\`GET /bench/pgbench/{aid}\` = \`SELECT abalance FROM pgbench_accounts WHERE aid = \$1\`, the query of
\`pgbench -S\`, with random aids. Commands:

\`\`\`
pgbench -i -s 10 -q \$DATABASE_URL
pgbench -S -c 64 -j 2 -T ${DUR} \$DATABASE_URL
wrk -t2 -c64 -d${DUR}s -s rand.lua http://127.0.0.1:PORT   # GET /bench/pgbench/<random 1..1000000>
\`\`\`

MD
