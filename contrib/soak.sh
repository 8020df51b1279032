#!/bin/sh
# soak.sh -- issue 17: half an hour of live capture under worker kills and
# ClickHouse outages, looking for what only time shows: packets lost or
# counted twice, memory that grows, file descriptors or shared-memory
# objects that leak.
#
# Two network namespaces joined by a bare veth (no addresses, IPv6 off).
# tcpreplay sends a pcapgen trace in a loop (chunks of SOAK_CHUNK seconds)
# at SOAK_PPS from one end for SOAK_MINUTES; netspectrad captures on the
# other end, with SOAK_PERIOD periods, two workers, a 5-tuple exact task
# written to a jsonl file writer and to ClickHouse (a scratch
# clickhouse-server on that namespace's loopback, as the integration tests
# run it: tests/integration/ch_lib.sh), a heavy-hitter sketch task to a
# jsonl writer, /metrics and the query API.  Meanwhile:
#
#   - every SOAK_KILL_EVERY seconds a worker picked at random is killed
#     with SIGKILL (half a period off the sampling of minute 5);
#   - every SOAK_OUTAGE_EVERY seconds (from half that: away from the
#     sample of minute 5) clickhouse-server is stopped (SIGTERM), left
#     down for a random SOAK_OUTAGE_SECS ("MIN MAX") seconds and started
#     again;
#   - every SOAK_SAMPLE_EVERY seconds each netspectra process (netspectrad
#     and its descendants, by role: /proc/PID/comm, so a restarted worker
#     is the same row) is sampled into samples.tsv: VmRSS, RssAnon and
#     RssShmem (/proc/PID/status), open fds (/proc/PID/fd), the segment's
#     size and allocated bytes (/dev/shm/NAME), and the /dev/shm objects
#     the processes map or hold open or that bear the segment's name; and
#     /metrics and POST /api/v1/aggregate are asked once, so that the
#     exporter and the API serve for the whole run.
#
# At the end the replay is waited for, the kills stop, the spool drains, a
# last sample is taken ("end"), and the daemon is stopped with SIGTERM; an
# API-only daemon then answers from ClickHouse.  Verdict, one line each:
#
#   totals     the file writer's flows summed over every period equal
#              tshark's reading of the trace times the loops sent (flow by
#              flow: packets, bytes, TCP flags), as do the API's totals
#              (packets, bytes, flows); vb received exactly that many
#              frames, and no layer dropped one (kernel, ring_full,
#              table_full);
#   rss        per role, no sample after minute SOAK_WARMUP/60 has a VmRSS
#              more than SOAK_RSS_GROWTH percent above that minute's;
#   fds        per role, no more open fds at the end than at that minute;
#   shm        the same /dev/shm objects at the end as at that minute, and
#              after the stop none left but the segment and its .lock
#              file (both outlive the daemon by design: ARCHITECTURE.md,
#              "The segment outlives the daemon", "Tools");
#   deaths     no process died but the workers killed here, and every
#              kill was followed by a restart.
#
# Exit 0 only if every line holds, 1 otherwise, 77 when it cannot run.
# Not part of `make check` (it takes half an hour).  Needs root,
# clickhouse-server, tcpreplay, tshark, curl and python3.
#
# Environment: NS_SRCDIR, NS_BUILDDIR [$NS_SRCDIR/build]; SOAK_MINUTES [30],
# SOAK_PPS [20000], SOAK_PERIOD [10s], SOAK_KILL_EVERY [60],
# SOAK_OUTAGE_EVERY [300], SOAK_OUTAGE_SECS ["30 60"], SOAK_SAMPLE_EVERY
# [10], SOAK_WARMUP [300 s, at most a third of the run], SOAK_RSS_GROWTH
# [5], SOAK_CHUNK [30], SOAK_OUT [$TMPDIR/netspectra-soak-PID: samples.tsv,
# kills.tsv, outages.tsv, the daemon's log and the verdict are kept there].
# For a quick try: SOAK_MINUTES=3 SOAK_KILL_EVERY=20 SOAK_OUTAGE_EVERY=60
# SOAK_OUTAGE_SECS="10 20".
set -u
export LC_ALL=C
here=$(cd "$(dirname "$0")" && pwd)
NS_SRCDIR=${NS_SRCDIR:-$(cd "$here/.." && pwd)}
NS_BUILDDIR=${NS_BUILDDIR:-$NS_SRCDIR/build}
MINUTES=${SOAK_MINUTES:-30}
PPS=${SOAK_PPS:-20000}
PERIOD=${SOAK_PERIOD:-10s}
KILL_EVERY=${SOAK_KILL_EVERY:-60}
OUT_EVERY=${SOAK_OUTAGE_EVERY:-300}
OUT_SECS=${SOAK_OUTAGE_SECS:-30 60}
SAMPLE_EVERY=${SOAK_SAMPLE_EVERY:-10}
RUN=$((MINUTES * 60))
WARM=${SOAK_WARMUP:-300}
[ "$WARM" -le $((RUN / 3)) ] || WARM=$((RUN / 3))
GROWTH=${SOAK_RSS_GROWTH:-5}
CHUNK=${SOAK_CHUNK:-30}
OUT=${SOAK_OUT:-${TMPDIR:-/tmp}/netspectra-soak-$$}
WORKERS=2
TRACE_PACKETS=20000

. "$NS_SRCDIR/tests/integration/lib.sh"
. "$NS_SRCDIR/tests/integration/flows_lib.sh"
. "$NS_SRCDIR/tests/integration/ch_lib.sh"
fail() { echo "soak: FAIL: $*" >&2; exit 1; }
need_ch
need tcpreplay tshark pgrep
[ -x "$NETSPECTRAD" ] || fail "no $NETSPECTRAD (set NS_BUILDDIR)"
mkdir -p "$OUT" || fail "cannot make $OUT"
ns_tmpdir

now() { date +%s; }
rel() { echo $(( $(now) - T0 )); }
rand() { od -An -N2 -tu2 /dev/urandom | tr -d ' '; }
# pause_until EPOCH: the schedule's own waits (not synchronization), by
# the second; false at once when $T/stop appears (the end of the run).
pause_until() {
	while [ "$(now)" -lt "$1" ]; do
		[ ! -e "$T/stop" ] || return 1
		sleep 1
	done
	[ ! -e "$T/stop" ]
}
note() { echo "soak: [$(rel)s] $*"; }

ns_bare_pair
ns_idle_if "$NSB"
ch_setup "$NSB"
ch_start >/dev/null
SHM=/netspectra-soak-$$
PP=$(ch_free_port 19600)
AP=$(ch_free_port 19700)
API_URL=http://127.0.0.1:$AP
SPOOL=$T/spool
ns_at_exit "rm -f /dev/shm$SHM /dev/shm$SHM.lock /dev/shm$SHM-api /dev/shm$SHM-api.lock"

# cfg NAME IFACE SHM: a daemon config into $T/NAME.yaml.  Both daemons
# share the spool: the API-only one delivers what the first left there.
cfg() {
	cat >"$T/$1.yaml" <<EOC
daemon: {pidfile: $T/$1.pid, shm_name: $3, state_dir: $T/state-$1, log_level: info}
inputs:
  - {type: pcap, interface: $2, snaplen: 256, promisc: true, immediate: true, buffer_size: 64MiB}
prometheus: {enabled: true, listen: 127.0.0.1:$PP, top_k: 10}
api: {enabled: true, http_listen_addr: 127.0.0.1:$AP}
aggregator:
  period: $PERIOD
  num_workers: $WORKERS
  exact:
    writers:
      - {type: clickhouse, snapshot_interval: 2s, clickhouse: {host: 127.0.0.1, port: $CH_HTTP, node: soak, timeout: 5s, spool_dir: $SPOOL, spool_max: 1GiB}}
      - {type: jsonl, snapshot_interval: 5s, jsonl: {root_path: $T/out-$1}}
    tasks:
      - {name: per_five_tuple, key_fields: [SrcIP, DstIP, SrcPort, DstPort, Protocol], max_flows: 100000}
  sketch:
    writers:
      - {type: jsonl, snapshot_interval: 5s, jsonl: {root_path: $T/hh-$1}}
    tasks:
      - {name: hh, skt_type: 0, flow_fields: [SrcIP], width: 4096, depth: 2,
         count_threshold: 100, size_threshold: 100000, top_k: 50}
EOC
	check_config "$T/$1.yaml"
}
cfg cap vb "$SHM"
cfg api idle0 "$SHM-api"

# ---- the reference ---------------------------------------------------------
"$PCAPGEN" -o "$T/trace.pcap" -n "$TRACE_PACKETS" -f 2000 -s 17 --ipv6 0.3 \
	--vlan 0.1 --proto-mix tcp=60,udp=25,icmp=10,sctp=5 2>/dev/null || fail "pcapgen"
tshark_flows "$T/trace.pcap" "$T/tshark.flows"
read -r t_pk t_by t_fl <<EOF
$(awk -F'\t' '{ p += $7; b += $8; n++ } END { printf "%.0f %.0f %d\n", p, b, n }' "$T/tshark.flows")
EOF
[ "$t_pk" = "$TRACE_PACKETS" ] || fail "tshark reads $t_pk IP packets of $TRACE_PACKETS in the trace"

# ---- sampling ----------------------------------------------------------------
# ns_procs: "PID ROLE" of netspectrad and every descendant; a role is the
# process name, numbered from the second process of the same name.
ns_procs() {
	_todo=$DPID
	while [ -n "$_todo" ]; do
		_next=
		for _p in $_todo; do
			_c=$(cat "/proc/$_p/comm" 2>/dev/null) || continue
			echo "$_p $_c"
			_next="$_next $(pgrep -P "$_p" | tr '\n' ' ')"
		done
		_todo=$(echo $_next)	# no blanks alone: the loop ends
	done | awk '{ n[$2]++; print $1, (n[$2] > 1 ? $2 "#" n[$2] : $2) }'
}
# shm_objects PROCS: the /dev/shm objects bearing the segment's name or
# mapped or open in PROCS (ns_procs's lines), one a line.
shm_objects() {
	{
		ls /dev/shm | awk -v s="${SHM#/}" '$0 == s || index($0, s ".") == 1 { print "/dev/shm/" $0 }'
		echo "$1" | while read -r _p _c; do
			[ -n "$_p" ] || continue
			awk '$6 ~ /^\/dev\/shm\// { print $6 ($7 != "" ? "(deleted)" : "") }' \
				"/proc/$_p/maps" 2>/dev/null
			ls -l "/proc/$_p/fd" 2>/dev/null | awk '$NF ~ /^\/dev\/shm\// { print $NF }'
		done
	} | sort -u
}
SAMPLES=$OUT/samples.tsv
printf 't_s\trole\tpid\tvmrss_kb\trssanon_kb\trssshmem_kb\tfds\tseg_size\tseg_alloc\tshm_count\tshm_objects\n' >"$SAMPLES"
# sample [T]: one row per process into samples.tsv.
sample() {
	_t=${1:-$(rel)}
	_seg=$(stat -c '%s %b %B' "/dev/shm$SHM" 2>/dev/null | awk '{ printf "%.0f\t%.0f", $1, $2 * $3 }')
	[ -n "$_seg" ] || _seg="-	-"
	_pl=$(ns_procs)
	_objs=$(shm_objects "$_pl")
	_nobj=$(printf '%s\n' "$_objs" | grep -c .)
	_ol=$(printf '%s\n' "$_objs" | paste -sd, -)
	printf '%s\n' "$_pl" | while read -r _p _r; do
		[ -n "$_p" ] || continue
		_st=$(awk '/^VmRSS:/ { r = $2 } /^RssAnon:/ { a = $2 } /^RssShmem:/ { s = $2 }
			END { printf "%d\t%d\t%d", r, a, s }' "/proc/$_p/status" 2>/dev/null) || continue
		_fd=$(ls "/proc/$_p/fd" 2>/dev/null | wc -l)
		printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$_t" "$_r" "$_p" "$_st" "$_fd" \
			"$_seg" "$_nobj" "${_ol:--}"
	done >>"$SAMPLES"
}
sampler() {
	_next=$T0
	while pause_until "$_next"; do
		sample
		# Keep /metrics and the API at work (errors while ClickHouse is down).
		in_ch curl -s -m 5 -o /dev/null "http://127.0.0.1:$PP/metrics"
		api_py aggregate per_five_tuple >/dev/null 2>&1
		_next=$((_next + SAMPLE_EVERY))
	done
}

# ---- kills, replay, outages ----------------------------------------------------
# killer: a worker at random every KILL_EVERY s, half a period off the
# sampling grid; each waits for the last one's successor.
killer() {
	_next=$((T0 + KILL_EVERY / 2 + SAMPLE_EVERY / 2))
	while pause_until "$_next"; do
		_next=$((_next + KILL_EVERY))
		_w=ns-worker-$(( $(rand) % WORKERS ))
		wait_for 60 pgrep -P "$DPID" -x "$_w" ||
			{ echo "$(rel)	$_w	-	not running" >>"$OUT/kills.tsv"; continue; }
		_v=$(pgrep -P "$DPID" -x "$_w")
		kill -9 "$_v" && echo "$(rel)	$_w	$_v	killed" >>"$OUT/kills.tsv"
	done
}
# replayer: the trace in chunks of CHUNK s until the run is over; the
# loops of each chunk into $T/loops, then $T/replay.done (ok or failed).
replayer() {
	_end=$((T0 + RUN))
	while [ "$(now)" -lt "$_end" ]; do
		_l=$(( (_end - $(now)) * PPS / TRACE_PACKETS + 1 ))
		[ "$_l" -le $((CHUNK * PPS / TRACE_PACKETS + 1)) ] ||
			_l=$((CHUNK * PPS / TRACE_PACKETS + 1))
		ip netns exec "$NSA" tcpreplay -q -K -T nano -i va --pps "$PPS" \
			--pps-multi 20 --loop "$_l" "$T/trace.pcap" >"$T/replay.log" 2>&1 &
		echo $! >"$T/replay.pid"
		if ! wait $!; then
			cat "$T/replay.log" >>"$OUT/replay.log"
			echo failed >"$T/replay.done"; return
		fi
		echo "$_l" >>"$T/loops"
		grep -i "actual\|failed" "$T/replay.log" | tr '\n' ' ' >>"$OUT/replay.log"
		echo >>"$OUT/replay.log"
	done
	echo ok >"$T/replay.done"
}
# outage N: stop the server, leave it down MIN..MAX s, start it again.
outage() {
	set -- "$1" $OUT_SECS
	_t=$(rel)
	# ch_stop, but a server slow to stop is killed rather than the soak.
	kill -TERM "$CH_PID" 2>/dev/null
	wait_for 90 ch_gone || { note "clickhouse-server still up 90 s after SIGTERM: kill -9"; ch_kill; }
	wait "$CH_PID" 2>/dev/null
	_d=$(( $2 + $(rand) % ($3 - $2 + 1) ))
	_down=$(rel)
	sleep "$_d"
	_sp=$(spool_files "$SPOOL")
	ch_start >/dev/null
	printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$_t" "$_down" "$(rel)" "$_d" "$_sp" >>"$OUT/outages.tsv"
	note "outage $1: stop at ${_t}s, down ${_d}s from ${_down}s, $_sp batches spooled, up at $(rel)s"
}
rx() { ip netns exec "$NSB" cat /sys/class/net/vb/statistics/rx_packets; }

daemon_start "$NSB" "$T/cap.yaml" "$OUT/netspectrad.log" "capturing on vb"
wait_for 60 api_up || fail "the API does not answer: $(tail -5 "$OUT/netspectrad.log")"
printf 't_s\trole\tpid\twhat\n' >"$OUT/kills.tsv"
printf 'n\tstop_s\tdown_s\tup_s\tdown_for\tspooled\n' >"$OUT/outages.tsv"
: >"$T/loops"
rx0=$(rx)
T0=$(now)
echo "soak: $MINUTES min at $PPS pps ($TRACE_PACKETS-packet trace, $t_fl flows), periods $PERIOD, a worker kill every ${KILL_EVERY}s, an outage every ${OUT_EVERY}s ($OUT_SECS s), samples every ${SAMPLE_EVERY}s, minute $((WARM / 60)) ($WARM s) as the reference; output in $OUT"
replayer &
RPID=$!
ns_at_exit "kill $RPID 2>/dev/null; kill \$(cat $T/replay.pid 2>/dev/null) 2>/dev/null"
sampler >/dev/null 2>&1 &
SPID=$!
ns_at_exit "kill $SPID 2>/dev/null"
killer >/dev/null 2>&1 &
KPID=$!
ns_at_exit "kill $KPID 2>/dev/null"

n_out=0
next_out=$((T0 + OUT_EVERY / 2))
while [ ! -s "$T/replay.done" ]; do
	if [ "$(now)" -ge "$next_out" ]; then
		n_out=$((n_out + 1))
		outage "$n_out"
		next_out=$((next_out + OUT_EVERY))
	fi
	sleep 1
done
wait "$RPID"
touch "$T/stop"
wait "$KPID"
[ "$(cat "$T/replay.done")" = ok ] || fail "tcpreplay: $(tail -5 "$OUT/replay.log")"
loops=$(awk '{ s += $1 } END { print s + 0 }' "$T/loops")
e_pk=$((loops * t_pk)) e_by=$((loops * t_by))
note "replay over: $loops loops, $e_pk packets, $e_by bytes"
rx_reached() { [ $(( $(rx) - rx0 )) -ge "$e_pk" ]; }
wait_for 60 rx_reached || fail "vb received $(( $(rx) - rx0 )) packets of $e_pk"
rx_got=$(( $(rx) - rx0 ))
wait_for 180 spool_empty "$SPOOL" || fail "the spool holds $(spool_files "$SPOOL") batches 180 s after the replay"
wait "$SPID"
T_END=$(rel)
sample "$T_END"
procs_end=$(ns_procs)
daemon_stop "$DPID" "$OUT/netspectrad.log"
note "netspectrad stopped"

# ---- after the stop ------------------------------------------------------------
ls /dev/shm >"$T/shm.after"
left=$(awk -F'\t' 'NR > 1 { n = split($11, a, ","); for (i = 1; i <= n; i++) print a[i] }' "$SAMPLES" |
	sed 's/(deleted)$//' | sort -u | while read -r o; do
		[ -e "$o" ] && [ "$o" != "/dev/shm$SHM" ] && [ "$o" != "/dev/shm$SHM.lock" ] && echo "$o"
	done; ls /dev/shm | awk -v s="${SHM#/}" 'index($0, s) == 1 && $0 != s && $0 != s ".lock" { print "/dev/shm/" $0 }')
left=$(printf '%s\n' "$left" | sort -u | paste -sd' ' -)

kdrop=$(sed -n 's/.*kernel drops \([0-9]*\).*/\1/p' "$OUT/netspectrad.log")
rdrop=$(sed -n 's/.*ring_full \([0-9]*\), table_full \([0-9]*\).*/\1 \2/p' "$OUT/netspectrad.log")

cat "$T"/out-cap/*/per_five_tuple/flows.jsonl >"$T/live.jsonl" || fail "no jsonl output"
flows_py ns per_five_tuple "$T/live.jsonl" >"$T/live.flows" || fail "bad jsonl flow output"
read -r f_pk f_by f_fl <<EOF
$(awk -F'\t' '{ p += $7; b += $8; n++ } END { printf "%.0f %.0f %d\n", p, b, n }' "$T/live.flows")
EOF
# (mawk: sums past 2^31 only through %.0f, never %d or print)
awk -F'\t' -v OFS='\t' -v l="$loops" '{ $7 = sprintf("%.0f", $7 * l); $8 = sprintf("%.0f", $8 * l); print }' \
	"$T/tshark.flows" >"$T/expect.flows"
periods=$(ls "$T/out-cap" | wc -l)
if nflows=$(flows_py diff "$T/expect.flows" "$T/live.flows" packets bytes flags 2>"$T/diff.err"); then
	perflow="all $nflows flows equal (packets, bytes, flags)"
else
	nflows=-1
	perflow="flows differ: $(tail -1 "$T/diff.err"), first: $(head -3 "$T/diff.err" | tr '\n' ' ')"
	cp "$T/diff.err" "$OUT/flows.diff"
fi

daemon_start "$NSB" "$T/api.yaml" "$OUT/api.log" "capturing on idle0"
wait_for 60 api_up || fail "the API-only daemon does not answer: $(tail -5 "$OUT/api.log")"
wait_for 60 spool_empty "$SPOOL" || fail "the spool is not empty"
read -r a_pk a_by a_fl <<EOF
$(api_py aggregate per_five_tuple)
EOF
daemon_stop "$DPID" "$OUT/api.log"

# ---- verdict -----------------------------------------------------------------------
V=$OUT/verdict.txt
: >"$V"
ok=1
verdict() {	# verdict NAME CONDITION-HOLDS(0/1) TEXT
	if [ "$2" = 1 ]; then echo "soak: ok:   $1: $3"; else echo "soak: FAIL: $1: $3"; fi | tee -a "$V"
	[ "$2" = 1 ] || ok=0
}
tot=0
[ "$rx_got" = "$e_pk" ] && [ "$f_pk $f_by" = "$e_pk $e_by" ] && [ "$a_pk $a_by $a_fl" = "$e_pk $e_by $t_fl" ] &&
	[ "$nflows" = "$t_fl" ] && [ "$kdrop" = 0 ] && [ "$rdrop" = "0 0" ] && tot=1
verdict totals $tot "tshark x $loops loops: $e_pk packets, $e_by bytes, $t_fl flows; vb received $rx_got; file writer ($periods periods): $f_pk packets, $f_by bytes, $perflow; API (ClickHouse): $a_pk packets, $a_by bytes, $a_fl flows; drops: kernel $kdrop, ring_full/table_full $rdrop"

# Per role: the first sample at or after WARM, the largest VmRSS after it,
# the end sample; fds at both.
awk -F'\t' -v w="$WARM" -v e="$T_END" -v g="$GROWTH" '
NR == 1 { next }
$1 >= w && !($2 in b) { b[$2] = $4; bt[$2] = $1; bf[$2] = $7; order[++n] = $2 }
($2 in b) && $1 > bt[$2] && $4 > mx[$2] { mx[$2] = $4; mt[$2] = $1 }
$1 == e { er[$2] = $4; ef[$2] = $7 }
END {
	printf "%-16s %10s %10s %8s %10s %7s %6s %6s\n", "role", "rss@" w "s", "max after", "at s", "rss@end", "growth", "fds@w", "fds@e"
	for (i = 1; i <= n; i++) {
		r = order[i]
		gr = b[r] > 0 ? (mx[r] - b[r]) * 100 / b[r] : 0
		printf "%-16s %10d %10d %8s %10s %6.1f%% %6d %6s\n", r, b[r], mx[r], mt[r] == "" ? "-" : mt[r],
			(r in er) ? er[r] : "gone", gr, bf[r], (r in ef) ? ef[r] : "gone"
		if (gr > g) bad_rss = bad_rss " " r
		if (!(r in ef) || ef[r] > bf[r]) bad_fd = bad_fd " " r
	}
	print "BADRSS" bad_rss
	print "BADFD" bad_fd
}' "$SAMPLES" >"$T/table"
grep -v '^BAD' "$T/table" | tee -a "$V"
bad_rss=$(sed -n 's/^BADRSS//p' "$T/table")
bad_fd=$(sed -n 's/^BADFD//p' "$T/table")
[ -z "$bad_rss" ] && r=1 || r=0
verdict rss $r "VmRSS within $GROWTH% of minute $((WARM / 60))'s for every role${bad_rss:+; grew:$bad_rss}"
[ -z "$bad_fd" ] && r=1 || r=0
verdict fds $r "no role holds more fds at the end than at minute $((WARM / 60))${bad_fd:+; more:$bad_fd}"

read -r w_seg w_alloc w_n w_objs <<EOF
$(awk -F'\t' -v w="$WARM" 'NR > 1 && $1 >= w { print $8, $9, $10, $11; exit }' "$SAMPLES")
EOF
read -r e_seg e_alloc e_n e_objs <<EOF
$(awk -F'\t' -v e="$T_END" 'NR > 1 && $1 == e { print $8, $9, $10, $11; exit }' "$SAMPLES")
EOF
[ "$w_objs" = "$e_objs" ] && [ -z "$left" ] && r=1 || r=0
verdict shm $r "minute $((WARM / 60)): $w_n objects ($w_objs), segment $w_seg bytes ($w_alloc allocated); end: $e_n objects ($e_objs), segment $e_seg bytes ($e_alloc allocated); after the stop left besides segment and lock: ${left:-none}"

nkill=$(grep -c "	killed$" "$OUT/kills.tsv")
kdeaths=$(grep -c "ns-worker-[0-9]* (pid [0-9]*) killed by signal 9" "$OUT/netspectrad.log")
other=$(grep "killed by signal\|exited with" "$OUT/netspectrad.log" "$OUT/api.log" |
	grep -v "ns-worker-[0-9]* (pid [0-9]*) killed by signal 9" | head -5)
nw=$(printf '%s\n' "$procs_end" | grep -c " ns-worker-")
[ "$nkill" = "$kdeaths" ] && [ -z "$other" ] && [ "$nw" = "$WORKERS" ] && r=1 || r=0
verdict deaths $r "$nkill workers killed, $kdeaths deaths logged, $nw workers at the end, $n_out ClickHouse outages; other deaths: ${other:-none}"
[ "$ok" = 1 ] || { echo "soak: FAIL (samples and logs in $OUT)"; exit 1; }
echo "soak: PASS (samples and logs in $OUT)"
