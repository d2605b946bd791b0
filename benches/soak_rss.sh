#!/usr/bin/env bash
# Is memory flat in step length? (issue 11) One step of SECS seconds at
# concurrency 200 against the built-in fake upstream (`topology.target`),
# reading the tool's VmRSS from /proc every EVERY seconds; prints each
# sample, then the RSS at start (after SETTLE seconds of measuring, once
# connections, buffers and histograms exist) and at the end, and the growth.
# Target: under 0.4 MB over 10 minutes (a 1-hour step: under 2 MB).
#
# Usage: benches/soak_rss.sh            (from the repository root)
# Knobs: SECS=600 CONCURRENCY=200 DELAY_MS=20 EVERY=5 SETTLE=10
#        BIN=target/release/scenario (built if missing)
# Not a test: RSS depends on the allocator and the machine; run it when the
# machine is quiet.
set -euo pipefail

SECS=${SECS:-600}
CONCURRENCY=${CONCURRENCY:-200}
DELAY_MS=${DELAY_MS:-20}
EVERY=${EVERY:-5}
SETTLE=${SETTLE:-10}
source "$(dirname "$0")/lib.sh"

if [ ! -x "$BIN" ]; then
    (cd "$ROOT" && cargo build --release --quiet)
fi

start_upstream "$DELAY_MS" PORT

cat >"$WORK/soak.toml" <<TOML
[scenario]
name = "soak-rss"
[topology]
target = "http://127.0.0.1:$PORT/v1/chat/completions"
[load]
concurrency = [$CONCURRENCY]
duration = "${SECS}s"
warmup = $((CONCURRENCY * 5))
[report]
formats = []
TOML

rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null || true; }

"$BIN" run --quiet --out "$WORK/results" "$WORK/soak.toml" >"$WORK/run.log" 2>&1 &
RUN=$!
PIDS+=($RUN)
log "soak: c=$CONCURRENCY for ${SECS}s against the fake upstream at ${DELAY_MS} ms (pid $RUN)"
STARTED=$(date +%s)
START_KB=
START_T=
END_KB=
END_T=
while kill -0 "$RUN" 2>/dev/null; do
    sleep "$EVERY"
    kb=$(rss_kb "$RUN")
    [ -n "$kb" ] || break
    t=$(($(date +%s) - STARTED))
    # Past the step's end the report is being built: not the step's memory.
    [ "$t" -lt "$SECS" ] || continue
    log "  t=${t}s VmRSS ${kb} kB"
    if [ -z "$START_KB" ] && [ "$t" -ge "$SETTLE" ]; then
        START_KB=$kb
        START_T=$t
    fi
    END_KB=$kb
    END_T=$t
done
wait "$RUN" || { log "scenario run failed: $(cat "$WORK/run.log")"; exit 2; }
[ -n "$START_KB" ] || { log "the step ended before ${SETTLE}s: raise SECS"; exit 2; }
awk -v s="$START_KB" -v e="$END_KB" -v t0="$START_T" -v t1="$END_T" 'BEGIN {
    printf "RSS start %.2f MiB (t=%ds), end %.2f MiB (t=%ds): growth %.3f MiB over %d s\n",
        s / 1024, t0, e / 1024, t1, (e - s) / 1024, t1 - t0
}'
