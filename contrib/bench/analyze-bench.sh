#!/bin/bash
# analyze-bench.sh -- issue 3 benchmark: offline analysis throughput of
# `netspectra analyze` against a bare libpcap read loop and two peers
# (softflowd, nfdump's nfpcapd), on one synthetic trace.
#
#   contrib/bench/analyze-bench.sh            (from the source tree)
#   make bench                                (same, from the build tree)
#
# What it does:
#   1. generates with contrib/pcapgen a trace of 5M packets / 500k flows,
#      Ethernet, header-only (snaplen 96), in a temporary directory, and
#      reads it once so every timed run finds it in the page cache;
#   2. times (wall clock, best of $BENCH_RUNS runs, output discarded):
#        pcaploop                 bare pcap_open_offline + pcap_next_ex loop
#        netspectra analyze       one exact 5-tuple task, max_flows 1000000,
#                                 num_workers 1 and 2 (the faster one counts);
#                                 again with the heavy-hitter and
#                                 super-spreader tasks of sketch-bench.sh
#                                 added (analyze-sk-w1/w2); and once with
#                                 4 KiB pages (analyze-w1-4k, see below)
#        softflowd -r             full 5-tuple tracking, NetFlow v9 to a
#                                 loopback port nobody listens on
#        nfpcapd -r               flow files into the temporary directory
#   3. prints a table (seconds, CPU seconds, Mpps, ratio to pcaploop) and
#      the issue's acceptance targets with PASS/FAIL each, and the shared
#      memory per exact 5-tuple flow.
#
# It is a benchmark, not a test: it exits 0 whatever the figures are, and
# non-zero only when something it needs is broken (no pcapgen, no
# netspectra, the trace cannot be written, analyze fails).
#
# softflowd and nfdump are installed with apt-get when missing and when
# running as root; a peer that cannot be installed is skipped with a message.
#
# Environment:
#   NS_SRCDIR, NS_BUILDDIR   source and build trees (default: this script's
#                            ../.. and ../../build, or ../.. if built in-tree)
#   BENCH_PACKETS            packets in the trace [5000000]
#   BENCH_FLOWS              flows in the trace [500000]
#   BENCH_PCAPGEN_OPTS       extra pcapgen options
#                            [--proto-mix tcp=80,udp=17,icmp=2,sctp=1 --ipv6 0.2]
#   BENCH_RUNS               timed runs per tool, best counts [3]
#   BENCH_MAX_FLOWS          analyze task max_flows (and softflowd -m) [1000000]
#   BENCH_TMPDIR             parent of the scratch directory [${TMPDIR:-/tmp}]
#   BENCH_THP                advise: as root, set shmem transparent huge pages
#                            to "advise" for the run when they are "never"
#                            (restored at exit), so that the segment's
#                            MADV_HUGEPAGE takes effect; system: leave the
#                            setting alone [advise]
#   BENCH_KEEP=1             keep the scratch directory (trace, logs)
#   BENCH_NO_INSTALL=1       never run apt-get
#   BENCH_SF_PORT            loopback UDP port softflowd exports to [9]
#   BENCH_TIMEOUT            seconds before a peer run is abandoned [600]

set -u
export LC_ALL=C

here=$(cd "$(dirname "$0")" && pwd)
srcdir=${NS_SRCDIR:-$(cd "$here/../.." && pwd)}
if [ -z "${NS_BUILDDIR:-}" ]; then
	if [ -x "$srcdir/build/netspectra" ]; then
		NS_BUILDDIR=$srcdir/build
	else
		NS_BUILDDIR=$srcdir
	fi
fi
builddir=$NS_BUILDDIR

packets=${BENCH_PACKETS:-5000000}
flows=${BENCH_FLOWS:-500000}
genopts=${BENCH_PCAPGEN_OPTS:---proto-mix tcp=80,udp=17,icmp=2,sctp=1 --ipv6 0.2}
runs=${BENCH_RUNS:-3}
max_flows=${BENCH_MAX_FLOWS:-1000000}
sf_port=${BENCH_SF_PORT:-9}
peer_timeout=${BENCH_TIMEOUT:-600}

say() { printf '%s\n' "$*"; }
note() { printf 'analyze-bench: %s\n' "$*" >&2; }
die() { note "$*"; exit 1; }

pcapgen=$builddir/contrib/pcapgen
netspectra=$builddir/netspectra
netspectrad=$builddir/netspectrad
[ -x "$pcapgen" ] || die "no $pcapgen: build first (cd build && make)"
[ -x "$netspectra" ] || die "no $netspectra: build first (cd build && make)"

work=$(mktemp -d "${BENCH_TMPDIR:-${TMPDIR:-/tmp}}/ns-bench.XXXXXX") ||
	die "cannot create a scratch directory"
# shellcheck disable=SC2317  # called from the EXIT trap
cleanup() {
	if [ "${BENCH_KEEP:-0}" = 1 ]; then
		note "kept $work"
	else
		rm -rf "$work"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Huge pages for the flow tables (doc/ARCHITECTURE.md "Huge pages"): the
# segment asks for them with MADV_HUGEPAGE, which shmem honours only when
# /sys/kernel/mm/transparent_hugepage/shmem_enabled is not "never" -- the
# default of many kernels.  The setting the figures were taken with is
# printed; analyze-w1-4k is timed with "never" for comparison.
thp=/sys/kernel/mm/transparent_hugepage/shmem_enabled
thp_now() { sed -n 's/.*\[\(.*\)\].*/\1/p' "$thp" 2>/dev/null; }
thp_orig=$(thp_now)
thp_set() { [ -w "$thp" ] && echo "$1" >"$thp" 2>/dev/null; }
if [ "${BENCH_THP:-advise}" = advise ] && [ "$thp_orig" = never ] &&
    thp_set advise; then
	trap 'thp_set never; cleanup' EXIT
fi

# ---- tools ----------------------------------------------------------------

# pcaploop: built by `make` when Makefile.am lists it, else compiled here.
pcaploop=$builddir/contrib/bench/pcaploop
if [ ! -x "$pcaploop" ]; then
	pcaploop=$work/pcaploop
	gcc -O2 -Wall -Wextra -Werror "$here/pcaploop.c" -lpcap -o "$pcaploop" ||
		die "cannot build pcaploop (gcc and libpcap-dev needed)"
fi

# Peers: install when missing (root, apt-get, Debian archive).
apt_updated=0
ensure_pkg() {	# ensure_pkg PACKAGE PROGRAM
	command -v "$2" >/dev/null 2>&1 && return 0
	if [ "${BENCH_NO_INSTALL:-0}" = 1 ]; then
		note "$2 not installed and BENCH_NO_INSTALL=1"
		return 1
	fi
	if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
		note "$2 not installed (apt-get install $1 as root)"
		return 1
	fi
	note "installing $1"
	if [ $apt_updated = 0 ]; then
		apt-get update -qq >"$work/apt.log" 2>&1
		apt_updated=1
	fi
	# policy-rc.d / no systemd: the packages' services do not start here,
	# and nothing in this script needs them.
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$1" \
	    >>"$work/apt.log" 2>&1 || {
		note "apt-get install $1 failed:"; tail -5 "$work/apt.log" >&2
		return 1
	}
	command -v "$2" >/dev/null 2>&1
}
have_softflowd=0; have_nfpcapd=0
ensure_pkg softflowd softflowd && have_softflowd=1
ensure_pkg nfdump nfpcapd && have_nfpcapd=1

# ---- trace ----------------------------------------------------------------

trace=$work/trace.pcap
say "# netspectra analyze benchmark (issue 3)"
say "# host: $(uname -srm), $(nproc) CPUs, $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)"
say "# netspectra: $("$netspectra" version 2>/dev/null | head -1)"
say "# load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
say "# shmem transparent huge pages: $(thp_now || echo unknown)" \
    "(system setting: ${thp_orig:-unknown})"
if awk '{ exit !($1 > 0.5) }' /proc/loadavg; then
	note "warning: the machine is busy (load $(cut -d' ' -f1 /proc/loadavg)): figures will be noisy"
fi
# shellcheck disable=SC2086  # genopts is a word list on purpose
say "# trace: $pcapgen -o trace.pcap -n $packets -f $flows --snaplen 96 $genopts"
# shellcheck disable=SC2086
"$pcapgen" -o "$trace" -n "$packets" -f "$flows" --snaplen 96 $genopts \
    2>"$work/pcapgen.log" || { cat "$work/pcapgen.log" >&2; die "pcapgen failed"; }
say "# $(tr -d '\n' <"$work/pcapgen.log" | sed 's/^pcapgen: //')"
say "# $(du -h "$trace" | cut -f1) on disk, read once into the page cache"
cat "$trace" >/dev/null

# ---- configs ----------------------------------------------------------------

# The sketch variant adds sketch-bench.sh's two tasks, thresholds at
# 0.05% of the trace's packets and bytes.
read -r gpk gby < <(sed -n 's/.*packets \([0-9]*\), flows [0-9]*, bytes \([0-9]*\).*/\1 \2/p' "$work/pcapgen.log")
for w in 1 2; do
	cat >"$work/analyze-w$w.yaml" <<EOF
aggregator:
  period: 60s
  num_workers: $w
  exact:
    tasks:
      - name: per_five_tuple
        key_fields: [SrcIP, DstIP, SrcPort, DstPort, Protocol]
        max_flows: $max_flows
EOF
	{ cat "$work/analyze-w$w.yaml"; cat <<EOF
  sketch:
    tasks:
      - {name: hh, skt_type: 0, flow_fields: [SrcIP, DstIP, SrcPort, DstPort, Protocol],
         width: 32000, depth: 1, count_threshold: $(( (gpk * 5 + 9999) / 10000 )),
         size_threshold: $(( (gby * 5 + 9999) / 10000 )), top_k: 1000, seed: 1}
      - {name: ss, skt_type: 1, flow_fields: [SrcIP], element_fields: [DstIP],
         width: 1400, depth: 3, m: 128, count_threshold: 500, top_k: 1000, seed: 1}
EOF
	} >"$work/analyze-sk-w$w.yaml"
	for c in analyze-w$w analyze-sk-w$w; do
		[ -x "$netspectrad" ] || continue
		"$netspectrad" -t -c "$work/$c.yaml" >"$work/check-$c.log" 2>&1 ||
			{ cat "$work/check-$c.log" >&2; die "$c.yaml rejected"; }
	done
done

# ---- timing -------------------------------------------------------------------

# time_best NAME PREP CMD...: runs CMD $runs times (PREP, a shell function
# or :, before each, untimed), stdout+stderr of the best run kept in
# $work/NAME.out.  Sets best_wall and best_cpu (user+sys of that run), or
# returns 1 when a run fails.
time_best() {
	local name=$1 prep=$2 i t0 t1 wall cpu rc
	shift 2
	best_wall=; best_cpu=
	for ((i = 1; i <= runs; i++)); do
		$prep
		local TIMEFORMAT='%3R %3U %3S'
		{ time "$@" >"$work/$name.run" 2>&1 </dev/null; rc=$?; } \
		    2>"$work/$name.time"
		if [ $rc != 0 ]; then
			note "$name: run $i exited $rc: $*"
			tail -5 "$work/$name.run" >&2
			return 1
		fi
		read -r wall t0 t1 <"$work/$name.time"
		cpu=$(awk -v u="$t0" -v s="$t1" 'BEGIN { printf "%.3f", u + s }')
		if [ -z "$best_wall" ] ||
		    awk -v a="$wall" -v b="$best_wall" 'BEGIN { exit !(a < b) }'; then
			best_wall=$wall; best_cpu=$cpu
			mv "$work/$name.run" "$work/$name.out"
		fi
		note "$name run $i: ${wall}s wall, ${cpu}s cpu"
	done
	return 0
}

declare -A wall cpu seen nflows cmdline
rows=()

record() {	# record NAME PACKETS-SEEN FLOWS COMMAND-LINE
	wall[$1]=$best_wall; cpu[$1]=$best_cpu; seen[$1]=$2; nflows[$1]=$3
	cmdline[$1]=$4
	rows+=("$1")
}

# (a) pcaploop
time_best pcaploop : "$pcaploop" "$trace" || die "pcaploop failed"
record pcaploop "$(awk '$1 == "packets" { print $2 }' "$work/pcaploop.out")" \
    - "pcaploop TRACE"

# (b) netspectra analyze, 1 and 2 workers
time_analyze() {	# time_analyze ROW CONFIG
	time_best "$1" : "$netspectra" analyze -c "$work/$2.yaml" \
	    --summary json "$trace" || die "netspectra analyze ($1) failed"
	n=$(sed -n 's/.*"frames":\([0-9]*\).*/\1/p' "$work/$1.out" | head -1)
	f=$(grep -o '"flows":[0-9]*' "$work/$1.out" | head -1 | cut -d: -f2)
	record "$1" "${n:-?}" "${f:-?}" \
	    "netspectra analyze -c $2.yaml --summary json TRACE >/dev/null"
}
for c in analyze-w1 analyze-w2 analyze-sk-w1 analyze-sk-w2; do
	time_analyze "$c" "$c"
done
if [ "$(thp_now)" != never ] && [ "$thp_orig" = never ] && thp_set never; then
	time_analyze analyze-w1-4k analyze-w1
	thp_set advise
fi
# The fixed cost (segment creation, forks, teardown) on a capture with no
# packets, so the per-packet rate can be told apart from start-up.
head -c 24 "$trace" >"$work/empty.pcap"
declare -A startup
for w in 1 2; do
	time_best "startup-w$w" : "$netspectra" analyze -c "$work/analyze-w$w.yaml" \
	    --summary json "$work/empty.pcap" && startup[$w]=$best_wall
done
faster() {	# faster ROW ROW: the row with the shorter best time
	if awk -v a="${wall[$2]}" -v b="${wall[$1]}" 'BEGIN { exit !(a < b) }'; then
		echo "$2"
	else
		echo "$1"
	fi
}
analyze=$(faster analyze-w1 analyze-w2)
analyze_sk=$(faster analyze-sk-w1 analyze-sk-w2)

# (c) softflowd: -r reads the file, tracks flows (full 5-tuple is the
# default track level; -v 9 so IPv6 is tracked too; -m so the flow table
# holds the whole trace like analyze's max_flows, instead of force-expiring
# at the default 8192), expires everything at EOF and exits.  -d: stay in
# the foreground.  Export goes to a loopback port nobody listens on.
if [ $have_softflowd = 1 ]; then
	if command -v ss >/dev/null 2>&1 &&
	    ss -Hlun "sport = :$sf_port" 2>/dev/null | grep -q .; then
		note "warning: something listens on UDP port $sf_port (BENCH_SF_PORT)"
	fi
	sf=(softflowd -d -r "$trace" -v 9 -m "$max_flows" -n "127.0.0.1:$sf_port")
	if time_best softflowd : timeout "$peer_timeout" "${sf[@]}"; then
		n=$(awk -F: '/^Packets processed/ { gsub(/ /, "", $2); print $2 }' \
		    "$work/softflowd.out")
		# "Flows exported: N (M records)": M one-way NetFlow v9 records.
		f=$(sed -n 's/^Flows exported: .*(\([0-9]*\) records.*/\1/p' \
		    "$work/softflowd.out")
		record softflowd "${n:-?}" "${f:-?}" "${sf[*]/$trace/TRACE}"
	else
		note "softflowd failed; skipped"; have_softflowd=0
	fi
else
	note "softflowd unavailable; skipped"
fi

# (d) nfpcapd: -r reads the file, writes nfcapd flow files into a local
# directory, flushes the cache at EOF and exits.  nfdump 1.7 names the
# directory option -w; 1.6 called it -l.  -B sizes the flow cache to hold
# the whole trace (it grows on demand anyway).
# shellcheck disable=SC2317  # called through time_best
nf_clean() { rm -rf "$work/nfdir"; mkdir -p "$work/nfdir"; }
if [ $have_nfpcapd = 1 ]; then
	if nfpcapd -h 2>&1 | grep -q -- '^-w'; then nfdiropt=-w; else nfdiropt=-l; fi
	nf=(nfpcapd -r "$trace" "$nfdiropt" "$work/nfdir" -B "$max_flows")
	if time_best nfpcapd nf_clean timeout "$peer_timeout" "${nf[@]}"; then
		n=$(sed -n 's/^Total: Processed: \([0-9]*\).*/\1/p' "$work/nfpcapd.out" |
		    head -1)
		f=$(sed -n "s/^Ident: .* Flows: \([0-9]*\),.*/\1/p" "$work/nfpcapd.out" |
		    head -1)
		nfcmd="${nf[*]/$trace/TRACE}"
		record nfpcapd "${n:-?}" "${f:-?}" "${nfcmd/$work\/nfdir/DIR}"
	else
		note "nfpcapd failed; skipped"; have_nfpcapd=0
	fi
else
	note "nfpcapd unavailable; skipped"
fi

# ---- report -----------------------------------------------------------------

div() { awk -v a="$1" -v b="$2" -v f="$3" 'BEGIN { printf f, (b > 0 ? a / b : 0) }'; }
mpps() {
	awk -v n="$packets" -v s="$1" \
	    'BEGIN { if (s > 0) printf "%.2f", n / s / 1e6; else printf "n/a" }'
}

say ""
say "# best of $runs runs, wall clock; cpu = user+sys of that run; $packets packets"
printf '%-12s %9s %9s %8s %12s %12s %9s\n' tool seconds cpu_s Mpps vs_pcaploop packets_seen flows
for r in "${rows[@]}"; do
	mark=""
	[ "$r" = "$analyze" ] || [ "$r" = "$analyze_sk" ] && mark=" *"
	printf '%-12s %9s %9s %8s %11sx %12s %9s%s\n' "$r" "${wall[$r]}" "${cpu[$r]}" \
	    "$(mpps "${wall[$r]}")" "$(div "${wall[$r]}" "${wall[pcaploop]}" %.2f)" \
	    "${seen[$r]}" "${nflows[$r]}" "$mark"
done
say "(* the analyze figures the targets use: the faster num_workers, without"
say " and with the sketch tasks; analyze-w1-4k: shmem huge pages off)"
for w in 1 2; do
	[ -n "${startup[$w]:-}" ] || continue
	say "(analyze-w$w start-up on a packetless pcap: ${startup[$w]}s; rate after" \
	    "start-up: $(mpps "$(awk -v a="${wall[analyze-w$w]}" -v b="${startup[$w]}" \
	    'BEGIN { print a - b }')") Mpps)"
done
say "(flows: each tool's own count; analyze: exact 5-tuple flows; softflowd:"
say " NetFlow v9 records, one per direction; nfpcapd: its flow records, ICMP"
say " keyed by type/code too)"
say ""
say "# commands (TRACE = the trace, DIR = a scratch directory)"
for r in "${rows[@]}"; do
	printf '%-12s %s\n' "$r" "${cmdline[$r]}"
done

for r in "${rows[@]}"; do
	[ "${seen[$r]}" = "$packets" ] ||
		note "warning: $r saw ${seen[$r]} packets, the trace has $packets"
done

say ""
say "# issue 16 acceptance targets"
aw=${wall[$analyze]}
check() {	# check LABEL VALUE OP LIMIT
	local res
	if awk -v v="$2" -v l="$4" "BEGIN { exit !(v $3 l) }"; then res=PASS; else res=FAIL; fi
	printf '%-4s  %-44s %s (target %s %s)\n' "$res" "$1" "$2" "$3" "$4"
}
check "analyze time / pcaploop time" "$(div "$aw" "${wall[pcaploop]}" %.2f)" "<=" 1.5
check "analyze+sketches time / pcaploop time" \
    "$(div "${wall[$analyze_sk]}" "${wall[pcaploop]}" %.2f)" "<=" 1.5
if [ $have_softflowd = 1 ]; then
	check "softflowd time / analyze time" "$(div "${wall[softflowd]}" "$aw" %.2f)" ">=" 7
else
	printf 'SKIP  %-44s (softflowd unavailable)\n' "softflowd time / analyze time"
fi
if [ $have_nfpcapd = 1 ]; then
	check "nfpcapd time / analyze time" "$(div "${wall[nfpcapd]}" "$aw" %.2f)" ">=" 7
else
	printf 'SKIP  %-44s (nfpcapd unavailable)\n' "nfpcapd time / analyze time"
fi

# ---- shared memory per flow -------------------------------------------------

"$netspectra" analyze -c "$work/$analyze.yaml" --summary table "$trace" \
    >"$work/summary.txt" 2>&1
if ! grep -Eiq 'flows' "$work/summary.txt"; then
	say ""
	say "NOTE  netspectra analyze printed no flow count: this build does not"
	say "      aggregate flows yet (parse-only reader), so its figures above are"
	say "      not yet the engine's"
fi

say ""
say "# shared memory per exact 5-tuple flow (max_flows $max_flows)"
if grep -Eiq 'per flow|/flow|memory|shm' "$work/summary.txt"; then
	say "from netspectra analyze --summary table:"
	grep -Ei 'per flow|/flow|memory|shm|flows' "$work/summary.txt" | sed 's/^/  /'
	# The whole segment (every shard of every generation) per max_flows.
	shm=$(sed -n 's/^shared memory bytes *\([0-9]*\).*/\1/p' "$work/summary.txt")
	if [ -n "$shm" ]; then
		say "  whole segment / max_flows: $(div "$shm" "$max_flows" %.1f) bytes" \
		    "(${analyze#analyze-w} worker(s), all shards and generations)"
	fi
else
	say "netspectra analyze does not report it yet; from shm/table.c:"
	cat >"$work/flowcost.c" <<'EOF'
#include <stdio.h>
#include <stdlib.h>
#include "table.h"
int
main(int argc, char **argv)
{
	unsigned key = (unsigned)strtoul(argv[1], NULL, 10);
	unsigned long long mf = strtoull(argv[2], NULL, 10);

	printf("  ns_table_flow_cost(%u, %llu) = %.1f bytes per flow"
	    " (entry %u bytes, shard %llu bytes)\n", key, mf,
	    ns_table_flow_cost(key, mf), ns_table_entry_size(key),
	    (unsigned long long)ns_table_shm_size(key, mf));
	return 0;
}
EOF
	# Only the sizing functions are wanted: drop the unused writer path
	# (and its journal references) at link time; else link what it needs.
	if gcc -std=gnu11 -O2 -ffunction-sections -fdata-sections \
	    -Wl,--gc-sections -I"$srcdir/shm" -I"$srcdir/src" \
	    "$work/flowcost.c" "$srcdir/shm/table.c" -o "$work/flowcost" \
	    >"$work/flowcost.log" 2>&1 ||
	   gcc -std=gnu11 -O2 -I"$srcdir/shm" -I"$srcdir/src" "$work/flowcost.c" \
	    "$srcdir/shm/table.c" "$srcdir/shm/journal.c" "$srcdir/shm/inject.c" \
	    "$builddir/libnetspectra.a" -o "$work/flowcost" \
	    >>"$work/flowcost.log" 2>&1; then
		"$work/flowcost" 37 "$max_flows"
		say "  (key: 16+16 bytes addresses, 2+2 ports, 1 protocol = 37 bytes;"
		say "   one table; the engine's total depends on shards and generations)"
	else
		say "  cannot build against shm/table.c:"; sed 's/^/  /' "$work/flowcost.log"
	fi
fi
exit 0
