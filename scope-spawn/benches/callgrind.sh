#!/usr/bin/env bash
# Instruction counts for cases 1 and 4 of BENCHMARKS.md, under valgrind's
# callgrind: per task (spawn and await in a batch, `instructions` bench) and
# per request (`requests_count` bench), each variant on a current-thread
# runtime. Every count is the difference between a run of N1 and one of N2
# tasks or requests, divided by N2 - N1, so start-up is left out; with it
# come the heap allocations and the calls to memcpy per task or request.
# Counts repeat exactly for one build; between builds, code that did not
# change can move by a few hundred instructions (the allocator's state).
#
#   bash scope-spawn/benches/callgrind.sh
#   ONLY=requests bash scope-spawn/benches/callgrind.sh    # or ONLY=tasks
#
# Installs valgrind with apt-get when it is missing and this runs as root.
# Takes about 2 minutes after the build.
set -euo pipefail
cd "$(dirname "$0")/../.."

N1=${N1:-1000}
N2=${N2:-3000}
ONLY=${ONLY:-}
OUT=${OUT:-$(mktemp -d)}

if ! command -v valgrind >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing valgrind" >&2
    apt-get update -qq && apt-get install -y -qq valgrind >/dev/null
  else
    echo "valgrind is not installed (apt-get install valgrind)" >&2
    exit 1
  fi
fi

# The path of a bench target's binary, built in the bench profile.
bench_binary() { # PACKAGE TARGET
  local bin
  bin=$(cargo bench --locked -p "$1" --bench "$2" --no-run --message-format=json |
    awk -v t="\"name\":\"$2\"" 'index($0, t) && index($0, "\"executable\":\"") {
      s = substr($0, index($0, "\"executable\":\"") + 14); print substr(s, 1, index(s, "\"") - 1) }' |
    tail -n 1)
  if [ ! -x "$bin" ]; then
    echo "could not build the $2 bench of $1" >&2
    exit 1
  fi
  echo "$bin"
}

# total FILE: instructions; calls FILE FUNCTION: calls to FUNCTION.
total() { callgrind_annotate "$1" 2>/dev/null | awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1 }'; }
calls() {
  callgrind_annotate --tree=caller --threshold=100 "$1" 2>/dev/null |
    awk -v f="$2" '/^$/ { n = 0; next } /^ *[0-9,]+ .* < / { match($0, /\(([0-9,]+)x\)/); c = substr($0, RSTART + 1, RLENGTH - 3); gsub(",", "", c); n += c; next }
      /\* / && index($0, f) { sum += n } END { print sum + 0 }'
}

# count BINARY LABEL VARIANT...: one line per variant.
count() {
  local bin=$1 label=$2
  shift 2
  printf '%-26s %12s %10s %10s\n' "$label" instructions allocs memcpys
  for variant in "$@"; do
    for n in "$N1" "$N2"; do
      valgrind --tool=callgrind --callgrind-out-file="$OUT/$variant.$n" "$bin" "$variant" "$n" \
        >"$OUT/$variant.$n.log" 2>&1 || { cat "$OUT/$variant.$n.log" >&2; exit 1; }
    done
    local per=$((N2 - N1))
    local ins=$((($(total "$OUT/$variant.$N2") - $(total "$OUT/$variant.$N1")) / per))
    local allocs mems
    allocs=$(awk -v a="$(calls "$OUT/$variant.$N1" __rust_alloc)" -v b="$(calls "$OUT/$variant.$N2" __rust_alloc)" -v p="$per" 'BEGIN { printf "%.1f", (b - a) / p }')
    mems=$(awk -v a="$(calls "$OUT/$variant.$N1" memcpy)" -v b="$(calls "$OUT/$variant.$N2" memcpy)" -v p="$per" 'BEGIN { printf "%.1f", (b - a) / p }')
    printf '%-26s %12s %10s %10s\n' "$variant" "$ins" "$allocs" "$mems"
  done
  echo
}

if [ "$ONLY" != requests ]; then
  bin=$(bench_binary scope-spawn@0.2.0 instructions)
  count "$bin" "per task" tokio_spawn join_set task_tracker_token scope_spawn_0_1 scope_spawn
fi
if [ "$ONLY" != tasks ]; then
  bin=$(bench_binary tower-scope-spawn requests_count)
  count "$bin" "per request" bare noop_layer timeout_layer scope_layer_only scope_layer_scoped \
    tokio_spawn_bare scope_spawn_layer_scoped
fi
echo "callgrind outputs in $OUT"
