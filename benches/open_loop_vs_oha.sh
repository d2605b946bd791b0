#!/usr/bin/env bash
# Open-loop fidelity and client cost (issue 12), side by side in one run
# against the built-in fake upstream:
#   (a) open loop at 1k, 10k and 50k req/s: achieved rate and corrected
#       p50/p99 of `scenario` (`rate`, constant arrivals) against
#       `oha -q RATE --latency-correction`, same connection cap;
#   (b) closed loop, same work for each tool (c=50, 0 ms delay): client CPU
#       time (user + sys, /usr/bin/time) per request of `scenario`, wrk and
#       oha, and the ratios to wrk.
#
# Usage: benches/open_loop_vs_oha.sh     (from the repository root)
# Knobs: SECS=5 RATES="1000 10000 50000" CONNS=100 CLOSED_C=50 CACHE=~/.cache/scenario-bench
#        ONLY=open or ONLY=cpu runs part (a) or (b) alone; ROUNDS=1 repeats
#        part (b) that many times, alternating the tools (median per tool);
#        TOOLS="scenario wrk oha" are part (b)'s tools.
# Not a test: figures depend on the machine; run it when the machine is quiet.
set -euo pipefail

SECS=${SECS:-5}
RATES=${RATES:-"1000 10000 50000"}
CONNS=${CONNS:-100}
CLOSED_C=${CLOSED_C:-50}
ONLY=${ONLY:-}
ROUNDS=${ROUNDS:-1}
TOOLS=${TOOLS:-"scenario wrk oha"}
source "$(dirname "$0")/lib.sh"

# --- tools (benches/lib.sh) --------------------------------------------------
peers

# --- the same request for every tool, the fake upstream at 0 ms (lib.sh) ------
same_request 'done = function(summary, latency, requests)
  io.write(string.format("WRKJSON {\"requests\":%d}\n", summary.requests))
end'
start_upstream 0 PORT
URL=http://127.0.0.1:$PORT/v1/chat/completions

# A scenario against $URL: `scenario_file NAME LOAD_LINES`.
scenario_file() {
    cat >"$WORK/$1.toml" <<EOF
[scenario]
name = "$1"
[topology]
target = "$URL"
[request]
template = "body.json.j2"
[load]
$2
[report]
formats = []
EOF
}

# --- (a) open loop: `rate` vs oha -q --------------------------------------------
# Each prints `achieved_per_s p50_ms p99_ms`.
open_scenario() { # rate
    scenario_file open "rate = [$1]
arrival = \"constant\"
duration = \"${SECS}s\"
max_in_flight = $CONNS"
    "$BIN" run --quiet --json --out "$WORK/results" "$WORK/open.toml" | python3 -c '
import json, sys
l = json.load(sys.stdin)["runs"][0]["levels"][0]
print(l["achieved_rate"]["mean"], l["p50_ms"]["mean"], l["p99_ms"]["mean"])'
}
open_oha() { # rate
    "$OHA" -z "${SECS}s" -q "$1" --latency-correction -c "$CONNS" --no-tui --output-format json \
        -m POST -H 'content-type: application/json' -d "$BODY" "$URL" | python3 -c '
import json, sys
d = json.load(sys.stdin)
p = d["latencyPercentiles"]
sent = sum(d.get("statusCodeDistribution", {}).values())
print(sent / d["summary"]["total"], p["p50"] * 1000, p["p99"] * 1000)'
}
[ "$ONLY" = cpu ] && RATES=
touch "$WORK/open" "$WORK/closed"
for rate in $RATES; do
    for tool in scenario oha; do
        fig=$("open_$tool" "$rate")
        echo "$rate $tool $fig" >>"$WORK/open"
        log "  open r=$rate: $tool $fig  (load $(cut -d' ' -f1 /proc/loadavg))"
    done
done

# --- (b) closed loop: client CPU per request --------------------------------------
# Each prints `requests user_s sys_s`; the client's own CPU only (the fake
# upstream runs in its own process).
timed() { /usr/bin/time -f 'TIME %U %S' -o "$WORK/time" "$@"; }
cpu() { sed -n 's/^TIME //p' "$WORK/time"; }
closed_scenario() {
    scenario_file closed "concurrency = [$CLOSED_C]
duration = \"${SECS}s\"
warmup = $CLOSED_C"
    local n
    n=$(timed "$BIN" run --quiet --json --out "$WORK/results" "$WORK/closed.toml" | python3 -c '
import json, sys
print(json.load(sys.stdin)["runs"][0]["levels"][0]["requests"])')
    echo "$n $(cpu)"
}
closed_wrk() {
    local n
    n=$(timed wrk -t2 -c"$CLOSED_C" -d"${SECS}s" -s "$WORK/post.lua" "$URL" | python3 -c '
import json, sys
for line in sys.stdin:
    if line.startswith("WRKJSON "):
        print(json.loads(line[8:])["requests"])')
    echo "$n $(cpu)"
}
closed_oha() {
    local n
    n=$(timed "$OHA" -z "${SECS}s" -c "$CLOSED_C" --no-tui --output-format json -m POST \
        -H 'content-type: application/json' -d "$BODY" "$URL" | python3 -c '
import json, sys
print(sum(json.load(sys.stdin).get("statusCodeDistribution", {}).values()))')
    echo "$n $(cpu)"
}
[ "$ONLY" = open ] && ROUNDS=0
for _ in $(seq "$ROUNDS"); do
    for tool in $TOOLS; do
        fig=$("closed_$tool")
        echo "$tool $fig" >>"$WORK/closed"
        log "  closed c=$CLOSED_C: $tool $fig  (load $(cut -d' ' -f1 /proc/loadavg))"
    done
done

# --- summary ------------------------------------------------------------------------
python3 - "$WORK" "$SECS" "$CONNS" "$CLOSED_C" <<'EOF'
import sys
work, secs, conns, closed_c = sys.argv[1:]
if open(f"{work}/open").read():
    print(f"\n(a) open loop, constant arrivals, {secs} s, at most {conns} connections; latency corrected (from the intended send)")
    print(f"  {'target':>8}  {'tool':9} {'achieved/s':>11} {'of target':>9} {'p50 ms':>8} {'p99 ms':>8}")
    for line in open(f"{work}/open"):
        rate, tool, achieved, p50, p99 = line.split()
        rate, achieved = float(rate), float(achieved)
        print(f"  {rate:>8.0f}  {tool:9} {achieved:>11.1f} {achieved / rate:>9.4f} {float(p50):>8.3f} {float(p99):>8.3f}")
rounds = {}
for line in open(f"{work}/closed"):
    tool, n, user, sys_ = line.split()
    rounds.setdefault(tool, []).append((int(n), float(user), float(sys_)))
if rounds:
    tool = next(iter(rounds))
    print(f"\n(b) closed loop c={closed_c}, {secs} s, 0 ms delay: client CPU (user + sys) per request"
          + (f"; per tool the round with the median µs/request of {len(rounds[tool])}" if len(rounds[tool]) > 1 else ""))
    per = lambda r: (r[1] + r[2]) / max(r[0], 1)
    rows = {tool: sorted(rs, key=per)[len(rs) // 2] for tool, rs in rounds.items()}
    wrk = per(rows["wrk"]) if "wrk" in rows else None
    for tool, row in rows.items():
        n, user, sys_ = row
        ratio = f"  {per(row) / wrk:5.2f}× wrk" if wrk else ""
        print(f"  {tool:9} {n:>9} requests  user {user:6.2f} s  sys {sys_:6.2f} s  {per(row) * 1e6:7.2f} µs/request{ratio}")
print("  targets (issue 12): achieved within 0.5% where oha's is; scenario ≤ 1.0× wrk per request")
EOF
