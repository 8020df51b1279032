#!/bin/bash
# ch-bench.sh -- issue 14 benchmark: the ClickHouse writer and the query
# API against a scratch clickhouse-server (Debian's package) on loopback.
#
#   1. Final snapshot: netspectrad reads a pcapgen trace of about
#      BENCH_FLOWS flows (file input, one period) with a ClickHouse writer;
#      its final snapshot goes to the server.  Rows/s from the snapshot's
#      start (its Version column, wall clock ns) to the daemon's exit (all
#      acknowledged).  In the same run, the same rows (SELECTed back as
#      TabSeparated) are POSTed by `curl --data-binary` into a copy of the
#      table: the writer's rows/s as a ratio of curl's (target >= 0.8).
#   2. API latency: BENCH_API_ROWS rows (10 periods of a tenth each) are
#      made in flow_metrics by the server itself; POST /api/v1/aggregate is
#      timed BENCH_API_REQS times (p50, max), with Go2NetSpectra's argMax
#      aggregate on the same rows for comparison.
#   3. Capture-side cost: a live replay (tcpreplay at BENCH_LIVE_PPS over a
#      bare veth) without a ClickHouse writer, with one (200 ms snapshots,
#      1 s periods), and with one whose server is down (it spools; this
#      tells the writer's own cost from the server's on the same cores),
#      BENCH_LIVE_RUNS times each, alternating: CPU seconds of the capture
#      and worker processes (median), and drops at every capture layer
#      (summed).  Target: no measurable difference.
#
# Prints a table; with BENCH_RESULTS=FILE set, appends it there too.  A
# benchmark, not a test: exits 0 whatever the figures, non-zero only when
# something it needs is broken.  Needs root (namespaces, the server).
#
# Environment: NS_SRCDIR, NS_BUILDDIR; BENCH_FLOWS [1000000],
# BENCH_API_ROWS [10000000], BENCH_API_REQS [5], BENCH_LIVE_PACKETS
# [1000000], BENCH_LIVE_PPS [100000], BENCH_LIVE_RUNS [3] (alternating,
# median CPU, drops summed), BENCH_PARTS ["snapshot api live"],
# BENCH_KEEP=1 (keep the scratch directory).
set -u
export LC_ALL=C
here=$(cd "$(dirname "$0")" && pwd)
NS_SRCDIR=${NS_SRCDIR:-$(cd "$here/../.." && pwd)}
NS_BUILDDIR=${NS_BUILDDIR:-$NS_SRCDIR/build}
flows=${BENCH_FLOWS:-1000000}
api_rows=${BENCH_API_ROWS:-10000000}
api_reqs=${BENCH_API_REQS:-5}
live_packets=${BENCH_LIVE_PACKETS:-1000000}
live_pps=${BENCH_LIVE_PPS:-100000}
live_runs=${BENCH_LIVE_RUNS:-3}
parts=${BENCH_PARTS:-snapshot api live}
part() { case " $parts " in *" $1 "*) true;; *) false;; esac; }

[ "$(id -u)" = 0 ] || { echo "ch-bench: needs root" >&2; exit 0; }
for t in clickhouse-server curl python3 tcpreplay; do
	command -v "$t" >/dev/null || { echo "ch-bench: needs $t" >&2; exit 0; }
done
[ -x "$NS_BUILDDIR/netspectrad" ] || { echo "ch-bench: no $NS_BUILDDIR/netspectrad" >&2; exit 1; }

# The integration tests' helpers: scratch directory, namespaces, the server.
. "$NS_SRCDIR/tests/integration/lib.sh"
. "$NS_SRCDIR/tests/integration/ch_lib.sh"
fail() { echo "ch-bench: $*" >&2; exit 1; }
T=$(mktemp -d "${TMPDIR:-/tmp}/ns-ch-bench.XXXXXX")
trap 'ns_cleanup' EXIT INT TERM
[ "${BENCH_KEEP:-0}" = 1 ] && ns_at_exit "echo kept $T; T="
ns_bare_pair
ns_idle_if "$NSB"
ch_setup "$NSB"
ch_start >/dev/null
AP=$(ch_free_port 19700)
API_URL=http://127.0.0.1:$AP
ns_at_exit "rm -f /dev/shm/netspectra-chb-$$-*"
now_ns() { date +%s%N; }

# cfg NAME INPUT PERIOD SNAP WRITERS API: a daemon config into $T/NAME.yaml.
cfg() {
	cat >"$T/$1.yaml" <<EOC
daemon: {pidfile: $T/$1.pid, shm_name: /netspectra-chb-$$-$1, state_dir: $T/state-$1, log_level: info}
inputs: [$2]
prometheus: {enabled: false}
api: {enabled: $6, http_listen_addr: 127.0.0.1:$AP}
aggregator:
  period: $3
  num_workers: 2
  exact:
    writers: [$5]
    tasks:
      - {name: per_five_tuple, key_fields: [SrcIP, DstIP, SrcPort, DstPort, Protocol], max_flows: $(( flows * 3 / 2 ))}
EOC
	"$NS_BUILDDIR/netspectrad" -t -c "$T/$1.yaml" >/dev/null 2>"$T/$1.err" ||
		fail "config $1: $(cat "$T/$1.err")"
}
# chw SNAPSHOT_INTERVAL [TIMEOUT]: a ClickHouse writer.  The API's queries
# take the writer's timeout, a stall limit: the aggregate over 10M rows
# sends nothing for tens of seconds.
chw() {
	echo "{type: clickhouse, snapshot_interval: $1, clickhouse: {host: 127.0.0.1, port: $CH_HTTP, node: bench, timeout: ${2:-60s}}}"
}

# ---- 1. a final snapshot of 1M flows -------------------------------------------
nrows=- w_ms=- w_rps=- c_ms=- c_rps=- ratio=-
if part snapshot; then
echo "ch-bench: generating a trace of ~$flows flows" >&2
"$NS_BUILDDIR/contrib/pcapgen" -o "$T/big.pcap" -n $(( flows * 12 / 5 )) -f $(( flows * 3 / 5 )) \
	-z 0 --snaplen 96 -s 77 2>/dev/null || fail "pcapgen"
cfg snap "{type: file, path: $T/big.pcap}" 1h 1h "$(chw 1h)" false
ip netns exec "$NSB" "$NS_BUILDDIR/netspectrad" -f -c "$T/snap.yaml" >"$T/snap.log" 2>&1 ||
	fail "netspectrad (snapshot run): $(tail -5 "$T/snap.log")"
t_end=$(now_ns)
ch_query "SELECT count(), min(Version) FROM flow_metrics WHERE Final = 1"
read -r nrows t_start <<EOF
$CH_R
EOF
[ "$nrows" -gt 0 ] || fail "no final rows: $(tail -5 "$T/snap.log")"
w_ms=$(( (t_end - t_start) / 1000000 ))
ch_query "SELECT * FROM flow_metrics WHERE Final = 1 FORMAT TabSeparated"
cp "$CH_DIR/reply" "$T/rows.tsv"
ch_query "CREATE TABLE flow_metrics_curl AS flow_metrics"
t0=$(now_ns)
ch_insert_file flow_metrics_curl "$T/rows.tsv"
c_ms=$(( ($(now_ns) - t0) / 1000000 ))
ch_query "SELECT count() FROM flow_metrics_curl"
[ "$CH_R" = "$nrows" ] || fail "curl inserted $CH_R rows of $nrows"
w_rps=$(( nrows * 1000 / (w_ms > 0 ? w_ms : 1) ))
c_rps=$(( nrows * 1000 / (c_ms > 0 ? c_ms : 1) ))
ratio=$(awk -v a="$w_rps" -v b="$c_rps" 'BEGIN { printf "%.2f", a / b }')
fi

# ---- 2. API latency over 10M rows ---------------------------------------------
a_p50=- a_max=- g_ms=-
if part api; then
ch_query "TRUNCATE TABLE flow_metrics"
ch_query "DROP TABLE flow_metrics_curl"
ch_query "INSERT INTO flow_metrics (Timestamp, TaskName, SrcIP, DstIP, SrcPort, DstPort, Protocol, StartTime, EndTime, ByteCount, PacketCount, PeriodStart, Final, Node, Version, TCPFlags) SELECT toDateTime(1767225600 + intDiv(number, $(( api_rows / 10 ))) * 60 + 59), 'per_five_tuple', IPv4NumToString(toUInt32(167772160 + number % $(( api_rows / 10 )))), '192.0.2.1', toUInt16(number % 50000 + 1024), toUInt16(443), toUInt8(6), toDateTime(1767225600), toDateTime(1767225600), 1000 + number % 997, 1 + number % 13, toDateTime(1767225600 + intDiv(number, $(( api_rows / 10 ))) * 60), toUInt8(1), 'bench', 1767225600000000000 + number, toUInt8(24) FROM system.numbers LIMIT $api_rows"
ch_query "SELECT count() FROM flow_metrics"
[ "$CH_R" -ge "$api_rows" ] || fail "only $CH_R rows made"
cfg api "{type: pcap, interface: idle0, snaplen: 96}" 1h 1h "$(chw 1h 300s)" true
ip netns exec "$NSB" "$NS_BUILDDIR/netspectrad" -f -c "$T/api.yaml" >"$T/api.log" 2>&1 &
apid=$!
ns_at_exit "kill -9 $apid 2>/dev/null"
wait_for 30 api_up || fail "the API does not answer: $(tail -5 "$T/api.log")"
echo '{"task_name": "per_five_tuple", "end_time": "2030-01-01T00:00:00Z"}' >"$T/agg.json"
in_ch curl -sS -m 900 -o "$T/agg.out" -H 'Content-Type: application/json' \
	--data-binary @"$T/agg.json" "$API_URL/api/v1/aggregate"	# warm the caches
for _ in $(seq "$api_reqs"); do
	in_ch curl -sS -m 900 -o "$T/agg.out" -w '%{time_total}\n' -H 'Content-Type: application/json' \
		--data-binary @"$T/agg.json" "$API_URL/api/v1/aggregate"
done | sort -n >"$T/lat"
grep -q totalPackets "$T/agg.out" || fail "aggregate: $(cat "$T/agg.out")"
read -r a_p50 a_max <<EOF
$(awk '{ a[NR] = $1 } END { printf "%.0f %.0f", a[int((NR + 1) / 2)] * 1000, a[NR] * 1000 }' "$T/lat")
EOF
g2n_sql LatestByteCount >"$T/g2n.sql" || fail "reference SQL"
t0=$(now_ns); ch_query "$(cat "$T/g2n.sql")"; g_ms=$(( ($(now_ns) - t0) / 1000000 ))
kill -TERM "$apid"; wait "$apid" 2>/dev/null
# The 10M rows go, so that no merge of theirs competes with the capture.
ch_query "DROP TABLE flow_metrics"
fi

# ---- 3. capture-side cost of a writer ------------------------------------------
cpu0=- kd0=- rf0=- cpu1=- kd1=- rf1=- cpu2=- kd2=- rf2=-
# A port nothing listens on: the writer at work, the server not.
DOWN_PORT=$(ch_free_port 19800)
if part live; then
"$NS_BUILDDIR/contrib/pcapgen" -o "$T/live.pcap" -n "$live_packets" -f 20000 --snaplen 96 -s 78 \
	2>/dev/null || fail "pcapgen"
# live TAG WRITERS: "cpu_s kernel_drops ring_full" of a replay at top speed.
live() {
	cfg "live-$1" "{type: pcap, interface: vb, snaplen: 96, promisc: true, buffer_size: 256MiB}" \
		1s 200ms "$2" false
	rm -f "/dev/shm/netspectra-chb-$$-live-$1" "/dev/shm/netspectra-chb-$$-live-$1.lock"
	ip netns exec "$NSB" "$NS_BUILDDIR/netspectrad" -f -c "$T/live-$1.yaml" >"$T/live-$1.log" 2>&1 &
	local d=$! cpu p
	wait_for 20 grep -q "capturing on vb" "$T/live-$1.log" || fail "live $1: $(tail -5 "$T/live-$1.log")"
	ip netns exec "$NSA" tcpreplay -q -i va --pps "$live_pps" "$T/live.pcap" >"$T/replay-$1.log" 2>&1
	# CPU of the capture and the workers (utime + stime, clock ticks).
	cpu=0
	for p in $(pgrep -P "$d" -x 'ns-capture-0|ns-worker-[0-9]*'); do
		cpu=$(( cpu + $(awk '{ print $14 + $15 }' "/proc/$p/stat") ))
	done
	kill -TERM "$d"; wait "$d" 2>/dev/null
	echo "$(awk -v c="$cpu" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.2f", c / hz }') $(sed -n 's/.*kernel drops \([0-9]*\).*/\1/p' "$T/live-$1.log") $(sed -n 's/.*ring_full \([0-9]*\),.*/\1/p' "$T/live-$1.log")"
}
# Alternating runs, the median CPU and the drops summed, of each variant.
for r in $(seq "$live_runs"); do
	live none "" >>"$T/live.none"
	live ch "$(chw 200ms)" >>"$T/live.ch"
	live down "$(chw 200ms | sed "s/port: $CH_HTTP/port: $DOWN_PORT/")" >>"$T/live.down"
done
stats() {	# stats FILE: "median_cpu kernel_drops ring_full"
	sort -n "$1" | awk '{ c[NR] = $1; k += $2; r += $3 } END { printf "%s %d %d\n", c[int((NR + 1) / 2)], k, r }'
}
read -r cpu0 kd0 rf0 <<EOF
$(stats "$T/live.none")
EOF
read -r cpu1 kd1 rf1 <<EOF
$(stats "$T/live.ch")
EOF
read -r cpu2 kd2 rf2 <<EOF
$(stats "$T/live.down")
EOF
fi

# ---- the table -------------------------------------------------------------------
{
	echo "# ch-bench: ClickHouse $(ch_q 'SELECT version()' 2>/dev/null), $(nproc) cores, $(date -u +%Y-%m-%dT%H:%M:%SZ)"
	printf "%-44s %14s\n" "final snapshot rows" "$nrows"
	printf "%-44s %14s\n" "  writer: snapshot start -> all acked, ms" "$w_ms"
	printf "%-44s %14s\n" "  writer rows/s" "$w_rps"
	printf "%-44s %14s\n" "  curl --data-binary TSV, ms" "$c_ms"
	printf "%-44s %14s\n" "  curl rows/s" "$c_rps"
	printf "%-44s %14s   %s\n" "  ratio writer/curl (target >= 0.8)" "$ratio" \
		"$(awk -v r="$ratio" 'BEGIN { print (r >= 0.8 ? "PASS" : "FAIL") }')"
	printf "%-44s %14s\n" "API: rows in flow_metrics" "$api_rows"
	printf "%-44s %14s\n" "  /api/v1/aggregate p50 ms ($api_reqs requests)" "$a_p50"
	printf "%-44s %14s\n" "  /api/v1/aggregate max ms" "$a_max"
	printf "%-44s %14s\n" "  Go2NetSpectra argMax aggregate, ms" "$g_ms"
	printf "%-44s %14s\n" "live replay: packets at $live_pps pps, runs" "$live_packets x $live_runs"
	printf "%-44s %10s %10s %10s\n" "  ClickHouse writer:" none "server up" "down"
	printf "%-44s %10s %10s %10s\n" "  capture+workers CPU s (median)" "$cpu0" "$cpu1" "$cpu2"
	printf "%-44s %10s %10s %10s\n" "  kernel drops (summed)" "$kd0" "$kd1" "$kd2"
	printf "%-44s %10s %10s %10s\n" "  ring_full (summed)" "$rf0" "$rf1" "$rf2"
} | tee "$T/table"
[ -n "${BENCH_RESULTS:-}" ] && cat "$T/table" >>"$BENCH_RESULTS"
exit 0
