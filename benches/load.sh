#!/usr/bin/env bash
# Load benchmark for `zaslon serve`, on loopback only and bounded in time.
#
#   benches/load.sh                              # 5 rounds of 5 s runs
#   LOAD_SECONDS=2 LOAD_ROUNDS=1 benches/load.sh # a quick check
#
# In one run: the upstream directly, Zaslon with inspection off
# (`--no-inspect`), and Zaslon on its default rules and policies, each on
# a 60 KB HTML page and a 1 KB JSON answer (wrk, 2 threads, 32
# connections); then Zaslon's resident memory while 256 connections stream
# 10 MB answers through it. Needs `wrk` (Debian: apt-get install wrk).
#
# Everything shares the machine, whose speed drifts from second to second
# on a shared host. So each body is measured in rounds: every round runs
# the three targets back to back (inspection on and off in turn first),
# each round gives its own ratio and its own p99 added, and the table
# shows the median of the rounds with their range. "Its CPU" is the CPU
# time (user and system) of the process wrk talks to, per request: the
# upstream's in its own row, Zaslon's alone in Zaslon's rows.
set -euo pipefail
cd "$(dirname "$0")/.."

SECS=${LOAD_SECONDS:-5}
ROUNDS=${LOAD_ROUNDS:-5}
CONNS=32
command -v wrk >/dev/null || { echo "load.sh: wrk is missing (apt-get install wrk)" >&2; exit 1; }

cargo build --release --quiet
UP_BIN=$(cargo bench --no-run --bench load_upstream --message-format=json 2>/dev/null |
    grep -o '"executable":"[^"]*load_upstream[^"]*"' | tail -1 | cut -d'"' -f4)
ZASLON=target/release/zaslon
[ -x "$UP_BIN" ] || { echo "load.sh: no load_upstream binary" >&2; exit 1; }

# Below the kernel's ephemeral range (32768 and up by default), so that no
# client socket of an earlier run holds a port the script listens on.
LOW=$(awk '{print $1}' /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
BASE=$((20000 + RANDOM % (LOW - 20000 - 8)))
UP=127.0.0.1:$BASE
OFF=127.0.0.1:$((BASE + 1))
ON=127.0.0.1:$((BASE + 2))
MEM=127.0.0.1:$((BASE + 3))
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

wait_port() {
    for _ in $(seq 1 100); do
        if (exec 3<>"/dev/tcp/${1%:*}/${1#*:}") 2>/dev/null; then return 0; fi
        sleep 0.1
    done
    echo "load.sh: nothing listens on $1" >&2
    exit 1
}

"$UP_BIN" --serve "$UP" 2>/dev/null & UP_PID=$!
ZASLON_LOG=warn "$ZASLON" serve --listen "$OFF" --upstream "http://$UP" --no-inspect >/dev/null 2>&1 & OFF_PID=$!
ZASLON_LOG=warn "$ZASLON" serve --listen "$ON" --upstream "http://$UP" >/dev/null 2>&1 & ON_PID=$!
PIDS+=("$UP_PID" "$OFF_PID" "$ON_PID")
for a in "$UP" "$OFF" "$ON"; do wait_port "$a"; done

# wrk's latency figures in milliseconds.
ms() {
    awk -v v="$1" 'BEGIN {
        n = v + 0; u = v; sub(/^[0-9.]+/, "", u);
        if (u == "us") n /= 1000; else if (u == "s") n *= 1000; else if (u == "m") n *= 60000;
        printf "%.2f", n }'
}

# CPU time (user and system, in clock ticks) a process has used.
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
HZ=$(getconf CLK_TCK)

run() { # target path pid -> "rps p50 p99 cpu", cpu: µs of the process per request
    local out t0 t1
    t0=$(ticks "$3")
    out=$(wrk -t2 -c"$CONNS" -d"${SECS}s" --timeout 10s --latency "http://$1$2")
    t1=$(ticks "$3")
    if echo "$out" | grep -q "Non-2xx"; then echo "load.sh: errors from $1$2" >&2; echo "$out" >&2; exit 1; fi
    local rps p50 p99 n
    rps=$(echo "$out" | awk '/^Requests\/sec:/ {print $2}')
    p50=$(ms "$(echo "$out" | awk '$1 == "50%" {print $2}')")
    p99=$(ms "$(echo "$out" | awk '$1 == "99%" {print $2}')")
    n=$(echo "$out" | awk '/requests in/ {print $1}')
    echo "$rps $p50 $p99 $(awk -v t=$((t1 - t0)) -v hz="$HZ" -v n="$n" 'BEGIN {printf "%.1f", t * 1e6 / hz / n}')"
}

# The median of the numbers given, and their range ("median (min–max)").
median() {
    printf '%s\n' "$@" | sort -g | awk -v fmt="$MEDFMT" '
        { v[NR] = $1 }
        END {
            m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
            if (NR == 1) printf fmt, m
            else printf fmt " (" fmt "–" fmt ")", m, v[1], v[NR]
        }'
}

# Field k of each run ("rps p50 p99 cpu"), one per line.
col() { local k=$1; shift; for x in "$@"; do echo "$x" | awk -v k="$k" '{print $k}'; done; }

row() { # name target runs... -> "| name | target | rps | p50 | p99 | cpu |"
    local name=$1 target=$2; shift 2
    echo -n "| $name | $target | $(MEDFMT=%.0f median $(col 1 "$@")) | $(MEDFMT=%.2f median $(col 2 "$@")) | $(MEDFMT=%.2f median $(col 3 "$@")) | $(MEDFMT=%.1f median $(col 4 "$@")) |"
}

if [ "$ROUNDS" -eq 1 ]; then rounds="one round"; else rounds="$ROUNDS rounds"; fi
echo "## zaslon serve load benchmark ($(nproc) cores, wrk -t2 -c$CONNS, $rounds of ${SECS}s per target; medians of the rounds)"
echo
echo "| body | target | req/s | p50 ms | p99 ms | its CPU µs/req | vs. inspection off | p99 added over upstream |"
echo "|---|---|---:|---:|---:|---:|---:|---:|"
for path in /page.html /api.json; do
    up=() off=() on=() ratio=() added_off=() added_on=()
    for r in $(seq 1 "$ROUNDS"); do
        read -r up_rps up_p50 up_p99 up_cpu < <(run "$UP" "$path" "$UP_PID")
        if [ $((r % 2)) -eq 1 ]; then
            read -r off_rps off_p50 off_p99 off_cpu < <(run "$OFF" "$path" "$OFF_PID")
            read -r on_rps on_p50 on_p99 on_cpu < <(run "$ON" "$path" "$ON_PID")
        else
            read -r on_rps on_p50 on_p99 on_cpu < <(run "$ON" "$path" "$ON_PID")
            read -r off_rps off_p50 off_p99 off_cpu < <(run "$OFF" "$path" "$OFF_PID")
        fi
        up+=("$up_rps $up_p50 $up_p99 $up_cpu") off+=("$off_rps $off_p50 $off_p99 $off_cpu") on+=("$on_rps $on_p50 $on_p99 $on_cpu")
        ratio+=("$(awk -v a="$on_rps" -v b="$off_rps" 'BEGIN {print a / b}')")
        added_off+=("$(awk -v a="$off_p99" -v b="$up_p99" 'BEGIN {print a - b}')")
        added_on+=("$(awk -v a="$on_p99" -v b="$up_p99" 'BEGIN {print a - b}')")
    done
    name=$([ "$path" = /page.html ] && echo "60 KB HTML" || echo "1 KB JSON")
    echo "$(row "$name" "upstream directly" "${up[@]}") | |"
    echo "$(row "$name" "zaslon, inspection off" "${off[@]}") 1.00× | $(MEDFMT=%+.2f median "${added_off[@]}") ms |"
    echo "$(row "$name" "zaslon, default rules" "${on[@]}") $(MEDFMT=%.2f median "${ratio[@]}")× | $(MEDFMT=%+.2f median "${added_on[@]}") ms |"
done

# Memory: a fresh Zaslon, 256 connections streaming 10 MB answers.
ZASLON_LOG=warn "$ZASLON" serve --listen "$MEM" --upstream "http://$UP" >/dev/null 2>&1 & MEM_PID=$!
PIDS+=($MEM_PID)
wait_port "$MEM"
rss() { awk '/^VmRSS/ {print $2}' "/proc/$MEM_PID/status"; }
idle=$(rss)
wrk -t2 -c256 -d"${SECS}s" --timeout 60s "http://$MEM/big.html" > /tmp/zaslon-load-mem.$$ 2>&1 & WRK=$!
peak=$idle
while kill -0 "$WRK" 2>/dev/null; do
    r=$(rss); [ "$r" -gt "$peak" ] && peak=$r
    sleep 0.2
done
wait "$WRK"
hwm=$(awk '/^VmHWM/ {print $2}' "/proc/$MEM_PID/status")
moved=$(awk '/Transfer\/sec/ {print $2}' /tmp/zaslon-load-mem.$$)
rm -f /tmp/zaslon-load-mem.$$
echo
echo "Resident memory, 256 connections streaming 10 MB answers for ${SECS}s ($moved/s through Zaslon):"
echo "idle $((idle / 1024)) MiB, peak sampled $((peak / 1024)) MiB, high-water mark $((hwm / 1024)) MiB."
