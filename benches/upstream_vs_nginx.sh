#!/usr/bin/env bash
# Benchmark (not a test): the fake upstream against nginx serving the same bytes.
#
# Part 1: fake upstream at 0 ms delay vs nginx `return 200 '<same body>'`, both
#         on loopback with 2 workers, driven by wrk with the same threads,
#         connections and duration, alternating for a few rounds. Prints req/s
#         of each round and the ratio of the medians (target >= 1.0), and the
#         CPU time each server spent per request (user + system, from /proc;
#         less skewed than req/s when other work shares the cores).
# Part 2: fake upstream at 1 s delay holding 10,000 open requests (wrk -c 10000);
#         prints req/s (Little's law allows ~10,000), the most requests the
#         upstream held open at once, and its peak RSS (VmHWM; target < 64 MB).
#
# Usage: benches/upstream_vs_nginx.sh   (env: ROUNDS=3 DURATION=5 CONNS=64 THREADS=2
#                                         OPEN=10000 WORKERS=2 SKIP_BUILD=1
#                                         BIN=path/to/scenario to measure another build
#                                         PARTS="1 2" to run one part only)
# Needs wrk and nginx: apt-get install -y nginx wrk
set -euo pipefail

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-5}
CONNS=${CONNS:-64}
THREADS=${THREADS:-2}
OPEN=${OPEN:-10000}
WORKERS=${WORKERS:-2}

BIN_GIVEN=${BIN:-}
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
for tool in wrk nginx curl; do
    command -v "$tool" >/dev/null || { echo "missing $tool: apt-get install -y nginx wrk curl" >&2; exit 2; }
done
if [[ -z "${SKIP_BUILD:-}" && -z "$BIN_GIVEN" ]]; then
    cargo build --release --quiet
fi
PARTS=${PARTS:-1 2}
# nginx daemonizes: stopped by its pid file, besides lib.sh's cleanup.
stop_all() {
    [[ -f $WORK/nginx.pid ]] && kill "$(cat "$WORK/nginx.pid")" 2>/dev/null || true
    cleanup
}
trap stop_all EXIT
ulimit -n "$(ulimit -Hn)"

REQUEST='{"model":"mock-chat-model","messages":[{"role":"user","content":"Benchmark the fake upstream against nginx."}],"max_tokens":16}'
cat > "$WORK/post.lua" <<EOF
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '$REQUEST'
EOF

# start_fake DELAY_MS -> sets FAKE_PID, FAKE_PORT (lib.sh's start_upstream)
start_fake() {
    start_upstream "$1" FAKE_PORT --workers "$WORKERS"
    FAKE_PID=$UPSTREAM_PID
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# wrk_rps URL CONNS DURATION -> prints req/s
wrk_rps() {
    wrk -t"$THREADS" -c"$2" -d"$3"s --timeout 10s -s "$WORK/post.lua" "$1" > "$WORK/wrk.out" 2>&1
    if grep -q "Non-2xx\|Socket errors" "$WORK/wrk.out"; then grep "Non-2xx\|Socket errors" "$WORK/wrk.out" >&2; fi
    awk '/^Requests\/sec/ {print $2}' "$WORK/wrk.out"
}

# cpu_ticks PID... -> user + system clock ticks of these processes
cpu_ticks() { for p in "$@"; do awk '{print $14 + $15}' "/proc/$p/stat"; done | awk '{t += $1} END {print t}'; }
TICK_US=$(( 1000000 / $(getconf CLK_TCK) ))

# wrk_cpu URL CONNS DURATION PID... -> "req/s µs-of-CPU-per-request"
wrk_cpu() {
    local url=$1 conns=$2 duration=$3; shift 3
    local t0 t1 rps n
    t0=$(cpu_ticks "$@")
    rps=$(wrk_rps "$url" "$conns" "$duration")
    t1=$(cpu_ticks "$@")
    n=$(awk '/requests in/ {print $1}' "$WORK/wrk.out")
    awk -v r="$rps" -v t="$((t1 - t0))" -v n="$n" -v u="$TICK_US" 'BEGIN { printf "%s %.2f\n", r, t * u / n }'
}

median() { sort -g | awk '{v[NR]=$1} END {print (NR%2 ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2)}'; }

echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg) (other work on these cores skews both servers)"
if [[ " $PARTS " == *" 1 "* ]]; then
echo "== part 1: 0 ms delay, wrk -t$THREADS -c$CONNS -d${DURATION}s, $ROUNDS rounds, $(nproc) cores"
start_fake 0
BODY=$(curl -s -X POST -H 'Content-Type: application/json' -d "$REQUEST" "http://127.0.0.1:$FAKE_PORT/v1/chat/completions")
echo "body: ${#BODY} bytes"

NGINX_PORT=$(free_port)
mkdir -p "$WORK/nginx/logs"
cat > "$WORK/nginx.conf" <<EOF
worker_processes $WORKERS;
pid $WORK/nginx.pid;
error_log $WORK/nginx/error.log warn;
events { worker_connections 16384; multi_accept on; }
http {
    access_log off;
    tcp_nodelay on;
    keepalive_requests 100000;
    keepalive_timeout 60s;
    default_type application/json;
    client_body_temp_path $WORK/nginx/body;
    server {
        listen 127.0.0.1:$NGINX_PORT reuseport backlog=65535;
        location / { return 200 '$BODY'; }
    }
}
EOF
nginx -p "$WORK/nginx" -c "$WORK/nginx.conf"
sleep 0.3
NGINX_BODY=$(curl -s -X POST -d "$REQUEST" "http://127.0.0.1:$NGINX_PORT/v1/chat/completions")
[[ ${#NGINX_BODY} == "${#BODY}" ]] || { echo "nginx body differs in length" >&2; exit 2; }

: > "$WORK/fake.rps"
: > "$WORK/nginx.rps"
wrk_rps "http://127.0.0.1:$FAKE_PORT/v1/chat/completions" "$CONNS" 1 > /dev/null # warm-up
wrk_rps "http://127.0.0.1:$NGINX_PORT/v1/chat/completions" "$CONNS" 1 > /dev/null
NGINX_WORKERS=$(pgrep -P "$(cat "$WORK/nginx.pid")" | tr '\n' ' ')
: > "$WORK/fake.cpu"
: > "$WORK/nginx.cpu"
for round in $(seq "$ROUNDS"); do
    read -r fake fake_cpu < <(wrk_cpu "http://127.0.0.1:$FAKE_PORT/v1/chat/completions" "$CONNS" "$DURATION" "$FAKE_PID")
    # shellcheck disable=SC2086 # one argument per worker pid
    read -r ngx ngx_cpu < <(wrk_cpu "http://127.0.0.1:$NGINX_PORT/v1/chat/completions" "$CONNS" "$DURATION" $NGINX_WORKERS)
    echo "$fake" >> "$WORK/fake.rps"
    echo "$ngx" >> "$WORK/nginx.rps"
    echo "$fake_cpu" >> "$WORK/fake.cpu"
    echo "$ngx_cpu" >> "$WORK/nginx.cpu"
    printf 'round %d: fake upstream %10.0f req/s %6.2f us CPU/req   nginx %10.0f req/s %6.2f us CPU/req\n' \
        "$round" "$fake" "$fake_cpu" "$ngx" "$ngx_cpu"
done
FAKE_MED=$(median < "$WORK/fake.rps")
NGINX_MED=$(median < "$WORK/nginx.rps")
awk -v f="$FAKE_MED" -v n="$NGINX_MED" \
    'BEGIN { printf "median: fake upstream %.0f req/s, nginx %.0f req/s, ratio %.2f (target >= 1.00)\n", f, n, f / n }'
awk -v f="$(median < "$WORK/fake.cpu")" -v n="$(median < "$WORK/nginx.cpu")" \
    'BEGIN { printf "median CPU per request: fake upstream %.2f us, nginx %.2f us, nginx/fake %.2f (target >= 1.00)\n", f, n, n / f }'
echo "fake upstream VmHWM after part 1: $(awk '/VmHWM/ {print $2, $3}' "/proc/$FAKE_PID/status")"
kill "$(cat "$WORK/nginx.pid")"
kill "$FAKE_PID"
wait "$FAKE_PID" 2>/dev/null || true
echo
fi

if [[ " $PARTS " == *" 2 "* ]]; then
echo "== part 2: 1000 ms delay, wrk -t$THREADS -c$OPEN -d10s (target: peak RSS < 64 MB)"
start_fake 1000
echo "  fake upstream RSS before load: $(awk '/VmRSS/ {print $2, $3}' "/proc/$FAKE_PID/status")"
# The most connections the upstream held at once (each holds one request at a time).
( peak=0; while kill -0 "$FAKE_PID" 2>/dev/null; do
      n=$(ss -Htn state established "( sport = :$FAKE_PORT )" | wc -l)
      (( n > peak )) && { peak=$n; echo "$peak" > "$WORK/open.peak"; }
      sleep 0.5
  done ) &
PIDS+=("$!")
wrk -t"$THREADS" -c"$OPEN" -d10s --timeout 10s --latency -s "$WORK/post.lua" \
    "http://127.0.0.1:$FAKE_PORT/v1/chat/completions" > "$WORK/wrk.out" 2>&1 || true
echo "  most connections open at once: $(cat "$WORK/open.peak" 2>/dev/null || echo 0)"
grep -E "Requests/sec|Socket errors|Non-2xx|  50%|  99%" "$WORK/wrk.out" | sed 's/^/  /'
echo "  fake upstream threads: $(awk '/Threads/ {print $2}' "/proc/$FAKE_PID/status")"
echo "  fake upstream peak RSS (VmHWM): $(awk '/VmHWM/ {print $2, $3}' "/proc/$FAKE_PID/status")"
curl -s "http://127.0.0.1:$FAKE_PORT/stats" | python3 -c 'import json,sys; s=json.load(sys.stdin); print("  served per /stats:", s["requests"])'
fi
