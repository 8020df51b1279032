# flows_lib.sh -- helpers of the flow tests (sourced after lib.sh, POSIX sh).
#
# The engine's output, `netspectra analyze --flows jsonl`, is checked against
# per-flow aggregates of tshark's fields (tshark_dump in lib.sh), with
# flows.py doing the JSON and the sums.  NS_FLOWS_FAKE=1 replaces the engine
# with a stand-in built from `netspectra dump` (to check the tests
# themselves, never the engine).

FLOWS_PY="$NS_SRCDIR/tests/integration/flows.py"
flows_py() { python3 "$FLOWS_PY" "$@"; }

# need_flows: skip unless analyze prints flows (or the stand-in is asked for).
need_flows() {
	need python3
	[ -x "$NETSPECTRA" ] || fail "$NETSPECTRA is not built (set NS_BUILDDIR)"
	[ "${NS_FLOWS_FAKE:-0}" = 1 ] && return 0
	"$NETSPECTRA" analyze --help 2>&1 | grep -q -- '--flows' ||
		skip "netspectra analyze has no --flows"
}

# flows_config OUT PERIOD WORKERS [LOG_LEVEL]: a config with one exact
# 5-tuple task, nothing exported, a shared-memory name of this test's own;
# checked with netspectrad -t.
flows_config() {
	cat >"$1" <<EOF
daemon:
  shm_name: /netspectra-test-$$-$(basename "$1" .yaml)
  log_level: ${4:-warn}
prometheus:
  enabled: false
aggregator:
  types: [exact]
  period: $2
  num_workers: $3
  exact:
    tasks:
      - name: per_five_tuple
        key_fields: [SrcIP, DstIP, SrcPort, DstPort, Protocol]
        max_flows: 1000000
EOF
	"$NETSPECTRAD" -t -c "$1" >/dev/null 2>"$1.err" || fail "config $1: $(cat "$1.err")"
}

# analyze_flows CFG FILE OUT: the engine's flow records (JSON lines) of FILE.
analyze_flows() {
	if [ "${NS_FLOWS_FAKE:-0}" = 1 ]; then
		_period=$(sed -n 's/^  period: *\([0-9]*\)s$/\1/p' "$1")
		case $(sed -n 's/^  period: *//p' "$1") in *h) _period=3600;; esac
		"$NETSPECTRA" dump "$2" >"$3.dump" 2>/dev/null || return 1
		tshark_read "$2"
		flows_py fake per_five_tuple "$_period" "$3.dump" "$2.tstimes" >"$3"
		return
	fi
	# shellcheck disable=SC2086 # $2 may list several files (no blanks)
	"$NETSPECTRA" analyze -c "$1" ${NS_ANALYZE_OUTPUT:---flows jsonl} $2 >"$3" 2>"$3.err"
}

# tshark_read FILE: read FILE with tshark once, into FILE.tsdump (the format
# of tshark_dump in lib.sh) and FILE.tstimes (frame number, time in UNIX
# seconds, TCP flags).  One pass: the fields are tshark_dump's, plus two.
tshark_read() {
	[ -s "$1.tsdump" ] && return 0
	tshark_fields "$1" -e frame.time_epoch -e tcp.flags >"$1.tshark" 2>"$1.tshark.err" ||
		fail "tshark failed on $1: $(cat "$1.tshark.err")"
	cut -f1-20 "$1.tshark" | awk -F'\t' -f "$NS_SRCDIR/tests/integration/tshark_dump.awk" >"$1.tsdump"
	cut -f1,21,22 "$1.tshark" >"$1.tstimes"
	rm -f "$1.tshark"
	[ -s "$1.tsdump" ] || fail "tshark read no IP packet from $1"
}

# tshark_flows FILE OUT [PERIOD]: tshark's per-flow aggregates of FILE in
# flows.py's format, summed over the whole file or per PERIOD seconds.
tshark_flows() {
	tshark_read "$1"
	if [ -n "${3:-}" ]; then
		flows_py tshark --period "$3" "$1.tsdump" "$1.tstimes" >"$2"
	else
		flows_py tshark "$1.tsdump" "$1.tstimes" >"$2"
	fi || fail "aggregating tshark's view of $1"
}

# compare_flows CFG FILE MIN_FLOWS: every flow of FILE (packets, bytes, first
# and last seen, TCP flags; summed over periods) as tshark counts it, and at
# least MIN_FLOWS of them.
compare_flows() {
	tshark_flows "$2" "$2.tflows"
	analyze_flows "$1" "$2" "$2.jsonl" || fail "analyze failed on $2: $(cat "$2.jsonl.err" 2>/dev/null)"
	flows_py ns per_five_tuple "$2.jsonl" >"$2.nflows" || fail "$2: bad flow output"
	_n=$(flows_py diff "$2.tflows" "$2.nflows" packets bytes first last flags) ||
		fail "$2: flows differ from tshark (< tshark, > netspectra)"
	[ "$_n" -ge "$3" ] || fail "$2: only $_n flows compared, expected at least $3"
	_p=$(awk -F'\t' '{ p += $7 } END { print p }' "$2.nflows")
	echo "ok: $2: $_n flows ($_p packets) identical to tshark"
}

# ---- processes of a running analyze ----------------------------------------

# ns_child_pid ROOT NAME: the pid of ROOT's child named NAME (as
# prctl(PR_SET_NAME) set it), or nothing: never another test's process.
# The supervisor forks its children itself (DESIGN §1), so they are direct.
ns_child_pid() { pgrep -P "$1" -x "$2"; }

# ns_respawned ROOT NAME OLDPID: NAME runs again under a pid other than OLDPID.
ns_respawned() {
	_np=$(ns_child_pid "$1" "$2") && [ "$_np" != "$3" ]
}

# ns_random N: a random integer in [0, N).
ns_random() { od -An -N4 -tu4 /dev/urandom | awk -v n="$1" '{ print $1 % n }'; }

# ns_running PID: PID exists and has not exited (a zombie has).
ns_running() {
	_st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1)
	[ -n "$_st" ] && [ "$_st" != Z ]
}

# ns_respawned_or_done ROOT NAME OLDPID: NAME is back, or ROOT is done.
ns_respawned_or_done() { ns_respawned "$1" "$2" "$3" || ! ns_running "$1"; }

# kill_setup: what every kill test needs: the flows tools, pgrep, a real
# engine (the stand-in has no processes to kill) and a scratch directory.
kill_setup() {
	need_flows
	need pgrep od
	[ "${NS_FLOWS_FAKE:-0}" = 1 ] && skip "no processes to kill in the stand-in"
	ns_tmpdir
}

# kill_trace SEED COPIES [PCAPGEN_ARG...]: $T/big.pcap, NS_KILL_PACKETS
# packets over 100k flows, and $input naming it COPIES times (one input
# read in turn: a long run, little disk).
kill_trace() {
	_seed=$1 _copies=$2; shift 2
	"$PCAPGEN" -o "$T/big.pcap" -n "$NS_KILL_PACKETS" -f 100000 -s "$_seed" \
		--snaplen 96 "$@" 2>/dev/null || fail "pcapgen"
	input=$(for _i in $(seq "$_copies"); do printf '%s ' "$T/big.pcap"; done)
}

# kill_reference CFG: the undisturbed run of $input, which must restart
# no child: $T/ref.sorted (its output, sorted), $nref lines, $ref_ms.
kill_reference() {
	_t0=$(now_ms)
	analyze_flows "$1" "$input" "$T/ref.jsonl" ||
		fail "reference run: $(cat "$T/ref.jsonl.err")"
	ref_ms=$(( $(now_ms) - _t0 ))
	! grep -q "restarting" "$T/ref.jsonl.err" ||
		fail "reference run restarted a child: $(cat "$T/ref.jsonl.err")"
	sort "$T/ref.jsonl" >"$T/ref.sorted"
	nref=$(wc -l <"$T/ref.sorted")
}

# kill_run CFG FILE OUT KILLS SPREAD_MS NAME...: `analyze --flows jsonl
# FILE` into OUT while kill -9 hits one of its children NAME... (picked at
# random each time) KILLS times.  Before each kill, once the last victim
# runs again, a random pause of 0 to SPREAD_MS spreads the kills over the
# run and gives the restarted child time to make progress (a child killed
# every time it starts would never finish); what the test waits for is
# always polled (the restart, the end of analyze).  Sets KILLED to the
# kills done; fails unless analyze exits 0.
kill_run() {
	_cfg=$1 _file=$2 _out=$3 _kills=$4 _spread=$5; shift 5
	: >"$_out.kills"
	# shellcheck disable=SC2086 # $_file may list several files (no blanks)
	# shellcheck disable=SC2086 # NS_ANALYZE_OUTPUT: what to print
	"$NETSPECTRA" analyze -c "$_cfg" ${NS_ANALYZE_OUTPUT:---flows jsonl} $_file >"$_out" 2>"$_out.err" &
	_apid=$!
	ns_at_exit "kill -9 $_apid"
	KILLED=0
	_kdeadline=$(( $(date +%s) + 600 ))
	while [ "$KILLED" -lt "$_kills" ] && ns_running "$_apid"; do
		[ "$(date +%s)" -lt "$_kdeadline" ] || fail "analyze still running after 600 s"
		_name=$(echo "$@" | awk -v i="$(ns_random $#)" '{ print $(i + 1) }')
		_victim=$(ns_child_pid "$_apid" "$_name") || { sleep 0.01; continue; }
		sleep "$(ns_random "$_spread" | awk '{ printf "%.3f", $1 / 1000 }')"
		kill -9 "$_victim" 2>/dev/null || continue
		KILLED=$((KILLED + 1))
		echo "$(date +%s.%N) kill -9 $_name $_victim" >>"$_out.kills"
		wait_for 30 ns_respawned_or_done "$_apid" "$_name" "$_victim" ||
			fail "$_name was not restarted within 30 s of kill -9 (pid $_victim)"
	done
	wait_for 600 eval '! ns_running $_apid' || fail "analyze still running 600 s after the last kill"
	wait "$_apid"
	_rc=$?
	[ "$_rc" = 0 ] || fail "analyze exited $_rc after $KILLED kills: $(tail -5 "$_out.err")"
}

# same_or_fail EXPECTED GOT MESSAGE: fail with MESSAGE, and the first lines
# of the difference (< expected, > got), unless the two files are equal.
same_or_fail() {
	if ! cmp -s "$1" "$2"; then
		diff "$1" "$2" | head -20 >&2
		fail "$3"
	fi
}

# now_ms: the time in milliseconds.
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

# kill_tally KILLS_LOG: "ns-worker-0 x6, ns-worker-1 x5" from kill_run's log.
kill_tally() {
	awk '{ n[$4]++ } END { for (k in n) printf "%s x%d\n", k, n[k] }' "$1" |
		sort | awk '{ printf "%s%s", s, $0; s = ", " } END { print "" }'
}
