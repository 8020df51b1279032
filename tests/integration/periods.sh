#!/bin/sh
# periods.sh -- period boundaries are exact in packet time.  A pcapgen
# trace spanning 10 s, analyzed with `aggregator.period: 1s`, gives one
# final snapshot per period: 10 period starts, 1 s apart, and every flow of
# every period as tshark counts the packets whose timestamp falls in it
# (nothing lost or misplaced at a boundary).  Summed over the periods the
# flows equal pcapgen's ground truth and a run with a period of 1h (one
# period); a period of 3s gives 4 periods, the last one short.  Periods are
# aligned to multiples of their length in UNIX time (as pmacct's are).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/flows_lib.sh"
need tshark
need_flows
ns_tmpdir

start=1767225600	# 2026-01-01T00:00:00Z, a multiple of 1s, 3s and 1h
"$PCAPGEN" -o "$T/t.pcap" -n 100000 -f 10000 -s 21 --start "$start" --duration 10 \
	--ipv6 0.3 --vlan 0.2 --ext6 0.1 --truth "$T/t.truth" 2>/dev/null || fail "pcapgen"

# The trace does span [start, start + 10 s), with packets in every second.
tshark_read "$T/t.pcap"
cut -f2 "$T/t.pcap.tstimes" | sort -n | sed -n '1p;$p' >"$T/span"
first=$(sed -n 1p "$T/span") last=$(sed -n 2p "$T/span")
[ "${first%%.*}" = "$start" ] && [ "${last%%.*}" = $(( start + 9 )) ] ||
	fail "pcapgen's trace spans $first to $last, not 10 s from $start"

check_periods() {	# NAME PCAP PERIOD_SECONDS WANT_STARTS...
	_name=$1 _pcap=$2 _len=$3; shift 3
	flows_config "$T/$_name.yaml" "${_len}s" 2
	analyze_flows "$T/$_name.yaml" "$_pcap" "$T/$_name.jsonl" ||
		fail "analyze, period ${_len}s: $(cat "$T/$_name.jsonl.err")"
	flows_py ns --period per_five_tuple "$T/$_name.jsonl" >"$T/$_name.nflows" ||
		fail "period ${_len}s: bad flow output"
	flows_py periods "$T/$_name.nflows" >"$T/$_name.periods"
	_got=$(cut -f1 "$T/$_name.periods" | tr '\n' ' ')
	[ "$_got" = "$* " ] || fail "period ${_len}s: period starts $_got, want $*"
	# Every (period, flow) as tshark counts it.
	tshark_flows "$_pcap" "$T/$_name.tflows" "$_len"
	_n=$(flows_py diff "$T/$_name.tflows" "$T/$_name.nflows" packets bytes first last flags) ||
		fail "period ${_len}s: per-period flows differ from tshark (< tshark, > netspectra)"
	echo "ok: period ${_len}s: $# periods, $_n (period, flow) records identical to tshark"
	awk -F'\t' '{ printf "    %s  %7d packets %10d bytes %6d flows\n", $1, $2, $3, $4 }' \
		"$T/$_name.periods"
}

s=$start
check_periods p1 "$T/t.pcap" 1 $s $((s+1)) $((s+2)) $((s+3)) $((s+4)) $((s+5)) $((s+6)) $((s+7)) $((s+8)) $((s+9))
check_periods p3 "$T/t.pcap" 3 $s $((s+3)) $((s+6)) $((s+9))

# Periods start at multiples of the period in UNIX time, not at the first
# packet: a trace starting at :01 with 2 s periods has 6 of them, from :00.
"$PCAPGEN" -o "$T/off.pcap" -n 20000 -f 2000 -s 22 --start $((start + 1)) --duration 10 \
	2>/dev/null || fail "pcapgen (offset)"
check_periods p2 "$T/off.pcap" 2 $s $((s+2)) $((s+4)) $((s+6)) $((s+8)) $((s+10))

# The 1h run: one period holding everything.
flows_config "$T/p1h.yaml" 1h 2
analyze_flows "$T/p1h.yaml" "$T/t.pcap" "$T/p1h.jsonl" || fail "analyze, period 1h: $(cat "$T/p1h.jsonl.err")"
flows_py ns --period per_five_tuple "$T/p1h.jsonl" >"$T/p1h.nflows" || fail "period 1h: bad flow output"
[ "$(cut -f1 "$T/p1h.nflows" | sort -u)" = "$start" ] || fail "period 1h: more than one period"

# Sums over the periods: the same flows as one period, as pcapgen's truth
# and as tshark without periods.
for p in p1 p3 p1h; do
	flows_py ns per_five_tuple "$T/$p.jsonl" >"$T/$p.sum" || fail "$p: bad flow output"
done
n=$(flows_py diff "$T/p1h.sum" "$T/p1.sum" packets bytes first last flags) ||
	fail "1s periods summed differ from the 1h period (< 1h, > 1s)"
flows_py diff "$T/p1h.sum" "$T/p3.sum" packets bytes first last flags >/dev/null ||
	fail "3s periods summed differ from the 1h period (< 1h, > 3s)"
flows_py truth "$T/t.truth" >"$T/truth.flows"
flows_py diff "$T/truth.flows" "$T/p1.sum" packets bytes >/dev/null ||
	fail "1s periods summed differ from pcapgen's truth (< truth, > 1s)"
tshark_flows "$T/t.pcap" "$T/t.tall"
flows_py diff "$T/t.tall" "$T/p1.sum" packets bytes first last flags >/dev/null ||
	fail "1s periods summed differ from tshark (< tshark, > 1s)"
pk=$(awk -F'\t' '{ p += $7 } END { print p }' "$T/p1.sum")
[ "$pk" = 100000 ] || fail "1s periods hold $pk packets, the trace 100000"
echo "ok: summed over periods: $n flows, $pk packets, as in one period, pcapgen's truth and tshark"
