#!/usr/bin/env bash
# Case 5 of BENCHMARKS.md: HTTP over loopback. Starts the `bench_server`
# example (the same hello route on three ports: bare, ScopeSpawnLayer with a
# `#[scoped]` handler, tower-http's TimeoutLayer) and loads each port in turn
# with wrk, in alternating rounds; prints throughput and p99 latency per run
# and, per round, the ratios against the bare route measured in that round.
# Beside wrk's figures it prints the server's CPU time per request (user +
# system, from /proc, over each run): client and server share the cores, so
# throughput moves with how the two are scheduled, while the server's CPU per
# request is what the route itself costs.
#
#   bash tower-scope-spawn/benches/http.sh
#   ROUNDS=5 DURATION=20s bash tower-scope-spawn/benches/http.sh
#
# Settings (environment): ROUNDS (3), DURATION of each wrk run (10s), THREADS
# (wrk threads, 2), CONNS (connections, 64), WARMUP (3s per route), PORT
# (first of three consecutive ports on 127.0.0.1, 3101), BENCH_SERVER_WORKERS
# (the server's worker threads; default one per CPU), OUT (a directory for the
# raw wrk outputs; default a new temporary directory).
#
# Installs wrk with apt-get when it is missing and this runs as root. Loopback
# only; every wrk run is bounded by its duration (and a `timeout` on top).
set -euo pipefail
cd "$(dirname "$0")/../.."

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10s}
THREADS=${THREADS:-2}
CONNS=${CONNS:-64}
WARMUP=${WARMUP:-3s}
PORT=${PORT:-3101}
OUT=${OUT:-$(mktemp -d)}
mkdir -p "$OUT"

if ! command -v wrk >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing wrk" >&2
    apt-get update -qq && apt-get install -y -qq wrk >/dev/null
  else
    echo "wrk is not installed (apt-get install wrk); case 5 skipped" >&2
    exit 1
  fi
fi

cargo build --release --locked -p tower-scope-spawn --example bench_server
server=target/release/examples/bench_server

names=(bare scoped timeout)
declare -A port
for i in 0 1 2; do port[${names[$i]}]=$((PORT + i)); done

"$server" "127.0.0.1:${port[bare]}" "127.0.0.1:${port[scoped]}" "127.0.0.1:${port[timeout]}" \
  >"$OUT/server.log" 2>&1 &
server_pid=$!
trap 'kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true' EXIT

# Wait (up to 10 s) until every port accepts connections.
for name in "${names[@]}"; do
  for _ in $(seq 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/${port[$name]}") 2>/dev/null; then continue 2; fi
    kill -0 "$server_pid" 2>/dev/null || { cat "$OUT/server.log" >&2; exit 1; }
    sleep 0.1
  done
  echo "bench_server did not listen on port ${port[$name]}" >&2
  exit 1
done

seconds() { # "10s" / "2m" / "500ms" -> whole seconds, at least 1
  awk -v d="$1" 'BEGIN { n = d + 0; if (d ~ /ms$/) n /= 1000; else if (d ~ /m$/) n *= 60; else if (d ~ /h$/) n *= 3600; printf "%d", (n < 1 ? 1 : n + 0.999) }'
}

# run NAME DURATION FILE: one wrk run against NAME's port.
run() {
  timeout $(($(seconds "$2") + 30)) \
    wrk -t"$THREADS" -c"$CONNS" -d"$2" --latency "http://127.0.0.1:${port[$1]}/" >"$3"
}

# The throughput and the p99 latency (in ms) of one wrk output.
rps() { awk '/^Requests\/sec:/ { print $2 }' "$1"; }
requests() { awk '/ requests in / { print $1 }' "$1"; }
# The server's CPU time so far (user + system), in clock ticks.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$server_pid/stat"; }
ticks_per_second=$(getconf CLK_TCK)
p99() {
  awk '$1 == "99%" {
    v = $2 + 0
    if ($2 ~ /us$/) v /= 1000; else if ($2 ~ /ms$/) v += 0; else if ($2 ~ /s$/) v *= 1000
    print v
  }' "$1"
}

echo "wrk -t$THREADS -c$CONNS -d$DURATION --latency, $ROUNDS rounds; server workers: ${BENCH_SERVER_WORKERS:-one per CPU}; raw output in $OUT"
for name in "${names[@]}"; do run "$name" "$WARMUP" "$OUT/warmup-$name.txt"; done

results="$OUT/results.tsv"
printf 'round\troute\trps\tp99_ms\tcpu_us\n' >"$results"
for round in $(seq "$ROUNDS"); do
  # Alternate the order from round to round, so that no route always runs
  # first (or last) after the same neighbour.
  if [ $((round % 2)) = 1 ]; then order=(bare scoped timeout); else order=(timeout scoped bare); fi
  for name in "${order[@]}"; do
    file="$OUT/round$round-$name.txt"
    before=$(cpu_ticks)
    run "$name" "$DURATION" "$file"
    after=$(cpu_ticks)
    # The server's CPU per request, in microseconds.
    cpu=$(awk -v t=$((after - before)) -v hz="$ticks_per_second" -v n="$(requests "$file")" \
      'BEGIN { printf "%.3f", t / hz * 1e6 / n }')
    if grep -q "Non-2xx\|Socket errors" "$file"; then
      echo "round $round $name: wrk reported errors:" >&2
      grep "Non-2xx\|Socket errors" "$file" >&2
    fi
    printf '%s\t%s\t%s\t%s\t%s\n' "$round" "$name" "$(rps "$file")" "$(p99 "$file")" "$cpu" >>"$results"
    printf 'round %s  %-8s %10.0f req/s   p99 %7.3f ms   server %6.3f us CPU/request\n' \
      "$round" "$name" "$(rps "$file")" "$(p99 "$file")" "$cpu"
  done
done

# Per round: each route's throughput and p99 over the bare route's of the same
# round; then the median over rounds, with the range.
awk -F'\t' '
  NR > 1 { rps[$1, $2] = $3; p99[$1, $2] = $4; cpu[$1, $2] = $5; if ($1 > rounds) rounds = $1 }
  function median(a, n,   i, j, t) {
    for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
    return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
  }
  END {
    split("scoped timeout", routes, " ")
    printf "\nratios against bare (median over %d rounds, range):\n", rounds
    for (k = 1; k <= 2; k++) {
      r = routes[k]
      for (i = 1; i <= rounds; i++) {
        t[i] = rps[i, r] / rps[i, "bare"]; l[i] = p99[i, r] / p99[i, "bare"]
        c[i] = cpu[i, r] / cpu[i, "bare"]; d[i] = cpu[i, r] - cpu[i, "bare"]
      }
      tmin = tmax = t[1]; lmin = lmax = l[1]; cmin = cmax = c[1]
      for (i = 1; i <= rounds; i++) {
        if (t[i] < tmin) tmin = t[i]; if (t[i] > tmax) tmax = t[i]
        if (l[i] < lmin) lmin = l[i]; if (l[i] > lmax) lmax = l[i]
        if (c[i] < cmin) cmin = c[i]; if (c[i] > cmax) cmax = c[i]
      }
      printf "  %-8s throughput %.3fx (%.3f-%.3f)   p99 %.3fx (%.3f-%.3f)   server CPU/request %.3fx (%.3f-%.3f), %+.3f us\n", r,
        median(t, rounds), tmin, tmax, median(l, rounds), lmin, lmax, median(c, rounds), cmin, cmax, median(d, rounds)
    }
    for (i = 1; i <= rounds; i++) { b[i] = rps[i, "bare"]; q[i] = p99[i, "bare"]; u[i] = cpu[i, "bare"] }
    printf "  bare     %.0f req/s, p99 %.3f ms, server %.3f us CPU/request (medians)\n", median(b, rounds), median(q, rounds), median(u, rounds)
    print "targets: scoped throughput >= 0.97x bare, p99 <= 1.05x bare"
  }' "$results"
