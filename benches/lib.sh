# Shared by the benchmark scripts (sourced, not run): a scratch folder and
# the processes to stop on exit, logging, and the peer tools.
#   ROOT, BIN (the release build of scenario), WORK, PIDS, log
#   peers: builds scenario, installs wrk (apt) and oha (cargo, into $CACHE)
#   same_request: BODY, the scenario's and wrk's request files in $WORK
#   start_upstream: a fake upstream at a delay, its port in a variable, its
#     pid in UPSTREAM_PID
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN=${BIN:-$ROOT/target/release/scenario}
CACHE=${CACHE:-$HOME/.cache/scenario-bench}
WORK=$(mktemp -d)
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    rm -rf "$WORK"
}
trap cleanup EXIT

log() { echo "$*" >&2; }

# The release build, wrk and oha (OHA is its path); prints their versions.
peers() {
    (cd "$ROOT" && cargo build --release --quiet)
    if ! command -v wrk >/dev/null; then
        log "installing wrk …"
        apt-get update -qq && apt-get install -y -qq wrk >/dev/null
    fi
    OHA=$CACHE/bin/oha
    if [ ! -x "$OHA" ]; then
        log "building oha into $CACHE (once; slow) …"
        cargo install oha --locked --root "$CACHE" >&2
    fi
    log "tools: $("$BIN" --version), $(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2), $("$OHA" --version)"
}

# The same request for every tool: BODY, $WORK/body.json.j2 (the scenario's
# request template) and $WORK/post.lua (wrk's), whose `done` function is
# given as $1 (it prints the figures the script reads, on a WRKJSON line).
same_request() { # wrk_done_function
    BODY='{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Say hello"}]}'
    printf '%s' "$BODY" >"$WORK/body.json.j2"
    cat >"$WORK/post.lua" <<LUA
wrk.method = "POST"
wrk.body = '$BODY'
wrk.headers["Content-Type"] = "application/json"
$1
LUA
}

# A fake upstream at DELAY ms (further arguments go to `fake-upstream`, such
# as `--workers 2`), stopped on exit; its port goes into the variable named
# VAR and its pid into UPSTREAM_PID. Not called as $(…): a subshell's PIDS+=
# would never reach cleanup, and the server would outlive the script.
start_upstream() { # delay_ms var_name [fake-upstream args…]
    local delay=$1 var=$2 out=$WORK/upstream-$1.log port
    shift 2
    "$BIN" fake-upstream --port 0 --delay-ms "$delay" "$@" >"$out" 2>&1 &
    UPSTREAM_PID=$!
    PIDS+=($!)
    for _ in $(seq 100); do
        port=$(grep -o 'listening on [^ ]*:[0-9]*' "$out" 2>/dev/null | grep -o '[0-9]*$' || true)
        [ -n "$port" ] && { printf -v "$var" '%s' "$port"; return; }
        sleep 0.1
    done
    log "fake upstream did not start: $(cat "$out")"
    exit 2
}
