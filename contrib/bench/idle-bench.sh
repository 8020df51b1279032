#!/bin/bash
# idle-bench.sh -- issue 16: what an idle netspectrad costs.  The shipped
# default configuration (its tasks, writers, exporters and period),
# capturing on a veth in a network namespace that carries no traffic;
# after it is up, the CPU time (utime + stime, /proc/PID/stat) of every
# process of the daemon over BENCH_IDLE_SECONDS (60), as a share of one
# core.  Target: below 1%.
#
# A benchmark, not a test: exits 0 whatever the figure.  Needs root.
# Environment: NS_SRCDIR, NS_BUILDDIR, BENCH_IDLE_SECONDS.
set -u
export LC_ALL=C
here=$(cd "$(dirname "$0")" && pwd)
NS_SRCDIR=${NS_SRCDIR:-$(cd "$here/../.." && pwd)}
NS_BUILDDIR=${NS_BUILDDIR:-$NS_SRCDIR/build}
secs=${BENCH_IDLE_SECONDS:-60}
[ "$(id -u)" = 0 ] || { echo "idle-bench: needs root" >&2; exit 0; }
. "$NS_SRCDIR/tests/integration/lib.sh"
fail() { echo "idle-bench: $*" >&2; exit 1; }
T=$(mktemp -d "${TMPDIR:-/tmp}/ns-idle-bench.XXXXXX")
trap 'ns_cleanup' EXIT INT TERM
ns_at_exit "rm -rf $T"
ns_bare_pair
ns_at_exit "rm -f /dev/shm/netspectra-idle-$$ /dev/shm/netspectra-idle-$$.lock"

# The shipped configuration, on the quiet veth, its files in $T and
# ports of its own.
python3 - "$NS_SRCDIR/etc/netspectra.yaml" "$T" "$$" >"$T/idle.yaml" <<'PY' || fail "config"
import re, sys
src, t, pid = sys.argv[1:]
s = open(src).read()
for key, val in (("user", "root"), ("group", "root"), ("pidfile", t + "/idle.pid"),
                 ("shm_name", "/netspectra-idle-" + pid), ("state_dir", t + "/state"),
                 ("interface", "vb"), ("root_path", t + "/out"),
                 ("listen", "127.0.0.1:19571"), ("http_listen_addr", "127.0.0.1:19080")):
    s = re.sub(r"(?m)^(\s*)%s: .*$" % key, r"\g<1>%s: %s" % (key, val), s)
sys.stdout.write(s)
PY
"$NS_BUILDDIR/netspectrad" -t -c "$T/idle.yaml" >"$T/check" 2>&1 || fail "config: $(cat "$T/check")"
ip netns exec "$NSB" "$NS_BUILDDIR/netspectrad" -f -c "$T/idle.yaml" >"$T/idle.log" 2>&1 &
dpid=$!
ns_at_exit "kill -9 $dpid 2>/dev/null"
wait_for 30 grep -q "capturing on vb" "$T/idle.log" || fail "not up: $(tail -5 "$T/idle.log")"

# Clock ticks (utime + stime) of one process.
ticks_of() {
	local f
	f=$(cut -d')' -f2- "/proc/$1/stat" 2>/dev/null) || { echo 0; return; }
	set -- $f
	echo $(( ${12} + ${13} ))
}
# Startup (the first walk of each table maps its pages) is not idling.
sleep "${BENCH_IDLE_SETTLE:-10}"
pids="$dpid $(pgrep -P "$dpid" | tr '\n' ' ')"
nprocs=$(echo $pids | wc -w)
for p in $pids; do eval "t0_$p=$(ticks_of "$p")"; done
s0=$(date +%s%N)
sleep "$secs"	# the measured interval, not a synchronization
s1=$(date +%s%N)
total=0 per=
for p in $pids; do
	d=$(( $(ticks_of "$p") - $(eval echo "\$t0_$p") ))
	total=$(( total + d ))
	per="$per $(cat "/proc/$p/comm" 2>/dev/null || echo "$p")=$d"
done
hz=$(getconf CLK_TCK)
kill -TERM "$dpid"; wait "$dpid" 2>/dev/null
pct=$(awk -v t="$total" -v hz="$hz" -v ns=$(( s1 - s0 )) \
	'BEGIN { printf "%.2f", 100 * (t / hz) / (ns / 1e9) }')
verdict=$(awk -v p="$pct" 'BEGIN { print (p < 1.0) ? "PASS" : "FAIL" }')
printf "%-44s %14s\n" "idle daemon: processes" "$nprocs"
printf "%-44s %14s\n" "  CPU over ${secs} s, ticks (${hz}/s)" "$total"
echo "  by process:$per"
printf "%-44s %14s   %s\n" "  share of one core, % (target < 1)" "$pct" "$verdict"
