# Shared by the benchmark scripts (sourced, not run): a scratch folder and
# the processes to stop on exit, logging, and the peer tools.
#   ROOT, BIN (the release build of scenario), WORK, PIDS, log
#   peers: builds scenario, installs wrk (apt) and oha (cargo, into $CACHE)
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
