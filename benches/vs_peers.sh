#!/usr/bin/env bash
# Is the harness invisible? (issue 6) Drive the built-in fake upstream with
# `scenario`, wrk and oha in turn, alternating over several rounds, in one run,
# and print each figure and the ratios:
#   (a) max req/s at 0 ms delay, concurrency 50
#   (b) latency at concurrency 1, 0 ms delay: p50 and p99
#   (c) fidelity at 50 ms delay, concurrency 100: p50, p99, req/s vs 2,000 ideal
#   (d) peak RSS of `scenario run` for 100k vs 1M requests
#
# Usage: benches/vs_peers.sh            (from the repository root)
# Knobs: ROUNDS=3 SECS=10 RSS_SMALL=100000 RSS_LARGE=1000000 CACHE=~/.cache/scenario-bench
# Not a test: figures depend on the machine; run it when the machine is quiet.
set -euo pipefail

ROUNDS=${ROUNDS:-3}
SECS=${SECS:-10}
RSS_SMALL=${RSS_SMALL:-100000}
RSS_LARGE=${RSS_LARGE:-1000000}
source "$(dirname "$0")/lib.sh"

# --- tools -----------------------------------------------------------------
peers

# --- the same request for every tool (benches/lib.sh) ----------------------
same_request 'done = function(summary, latency, requests)
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write
    + summary.errors.status + summary.errors.timeout
  io.write(string.format("WRKJSON {\"rps\":%.3f,\"p50_ms\":%.4f,\"p99_ms\":%.4f,\"errors\":%d}\n",
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000,
    latency:percentile(99) / 1000, errors))
end'

# --- fake upstreams: one at 0 ms, one at 50 ms (benches/lib.sh) -------------
start_upstream 0 PORT0
start_upstream 50 PORT50
URL0=http://127.0.0.1:$PORT0/v1/chat/completions
URL50=http://127.0.0.1:$PORT50/v1/chat/completions

# --- one measurement per tool; each prints `rps p50_ms p99_ms errors` --------
run_scenario() { # url concurrency secs
    cat >"$WORK/s.toml" <<EOF
[scenario]
name = "bench"
[topology]
target = "$1"
[request]
template = "body.json.j2"
[load]
concurrency = [$2]
duration = "${3}s"
warmup = $(($2 * 20))
[report]
formats = []
EOF
    "$BIN" run --quiet --json --out "$WORK/results" "$WORK/s.toml" | python3 -c '
import json, sys
l = json.load(sys.stdin)["runs"][0]["levels"][0]
print(l["rps"]["mean"], l["p50_ms"]["mean"], l["p99_ms"]["mean"], l["errors"])'
}
run_wrk() { # url concurrency secs
    local threads=$(( $2 < 2 ? 1 : 2 ))
    wrk -t"$threads" -c"$2" -d"${3}s" -s "$WORK/post.lua" "$1" | python3 -c '
import json, sys
for line in sys.stdin:
    if line.startswith("WRKJSON "):
        d = json.loads(line[8:]); print(d["rps"], d["p50_ms"], d["p99_ms"], d["errors"])'
}
run_oha() { # url concurrency secs
    "$OHA" -z "${3}s" -c "$2" --no-tui --output-format json -m POST \
        -H 'content-type: application/json' -d "$BODY" "$1" | python3 -c '
import json, sys
d = json.load(sys.stdin)
p = d["latencyPercentiles"]
# Requests still in flight at the deadline are not errors.
errors = sum(n for e, n in d.get("errorDistribution", {}).items() if "deadline" not in e) + sum(
    n for code, n in d.get("statusCodeDistribution", {}).items() if not code.startswith("2"))
print(d["summary"]["requestsPerSec"], p["p50"] * 1000, p["p99"] * 1000, errors)'
}

# Run every tool once per round, rotating who goes first; append to $WORK/<case>.
bench_case() { # case url concurrency
    local tools=(scenario wrk oha)
    for r in $(seq "$ROUNDS"); do
        for i in 0 1 2; do
            local tool=${tools[$(((i + r) % 3))]}
            local fig
            fig=$("run_$tool" "$2" "$3" "$SECS")
            echo "$tool $fig" >>"$WORK/$1"
            log "  $1 round $r: $tool $fig  (load $(cut -d' ' -f1 /proc/loadavg))"
        done
    done
}

log "(a) throughput: 0 ms, c=50, ${SECS}s × $ROUNDS rounds"
bench_case a "$URL0" 50
log "(b) latency: 0 ms, c=1"
bench_case b "$URL0" 1
log "(c) fidelity: 50 ms, c=100"
bench_case c "$URL50" 100

# --- (d) peak RSS of `scenario run` ------------------------------------------
rss_run() { # requests -> peak RSS in kB
    cat >"$WORK/rss.toml" <<EOF
[scenario]
name = "rss"
[topology]
target = "$URL0"
[request]
template = "body.json.j2"
[load]
concurrency = [50]
requests = $1
[report]
formats = []
EOF
    /usr/bin/time -f '%M' -o "$WORK/rss" "$BIN" run --quiet --out "$WORK/results" "$WORK/rss.toml" >/dev/null
    cat "$WORK/rss"
}
log "(d) peak RSS: $RSS_SMALL vs $RSS_LARGE requests"
RSS_S=$(rss_run "$RSS_SMALL")
RSS_L=$(rss_run "$RSS_LARGE")

# --- summary ------------------------------------------------------------------
python3 - "$WORK" "$RSS_S" "$RSS_L" "$RSS_SMALL" "$RSS_LARGE" <<'EOF'
import statistics, sys
work, rss_s, rss_l, n_s, n_l = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]

def load(case):
    figs = {}
    for line in open(f"{work}/{case}"):
        tool, *vals = line.split()
        figs.setdefault(tool, []).append([float(v) for v in vals])
    # median of each figure over the rounds
    return {t: [statistics.median(col) for col in zip(*rows)] for t, rows in figs.items()}

a, b, c = load("a"), load("b"), load("c")
print("\n(a) req/s, 0 ms delay, c=50 (median of rounds)")
for t in ("scenario", "wrk", "oha"):
    print(f"  {t:9} {a[t][0]:>10.0f} req/s   errors {a[t][3]:.0f}")
print(f"  scenario/oha = {a['scenario'][0] / a['oha'][0]:.2f}   (target ≥ 1.0)")
print(f"  scenario/wrk = {a['scenario'][0] / a['wrk'][0]:.2f}   (target ≥ 0.8)")
print("\n(b) latency at c=1, 0 ms delay (µs)")
for t in ("scenario", "wrk", "oha"):
    print(f"  {t:9} p50 {b[t][1] * 1000:>7.1f}   p99 {b[t][2] * 1000:>7.1f}")
print(f"  scenario p50 − wrk p50 = {(b['scenario'][1] - b['wrk'][1]) * 1000:+.1f} µs   (target ≤ +20)")
print("\n(c) fidelity, 50 ms delay, c=100 (ideal: p50 50 ms, 2,000 req/s)")
for t in ("scenario", "wrk", "oha"):
    print(f"  {t:9} p50 {c[t][1]:>7.2f} ms   p99 {c[t][2]:>7.2f} ms   {c[t][0]:>7.1f} req/s ({c[t][0] / 2000:.3f} of ideal)")
print("  targets: p50 ≤ 50.5 ms, p99 ≤ 52 ms, ≥ 1,960 req/s")
print(f"\n(d) peak RSS of `scenario run`: {n_s} requests {rss_s / 1024:.1f} MB, "
      f"{n_l} requests {rss_l / 1024:.1f} MB, ratio {rss_l / rss_s:.2f}   (target ≤ 1.1 and < 50 MB)")
EOF
