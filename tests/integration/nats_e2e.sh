#!/bin/sh
# nats_e2e.sh -- the live pipeline end to end, scaled out: in a pair of
# network namespaces joined by veth, tcpreplay sends a pcapgen trace into
# the interface `netspectra probe` captures on; the probe publishes to a
# real nats-server; two netspectrad instances subscribe in one queue group
# (type: nats, the same queue), each with a jsonl writer.
#
# Every IP packet is counted by exactly one engine: the probe publishes
# every frame it captured (no kernel drop, no publish drop), the engines'
# message counts add up to the probe's, their packet counts to the IP
# packets replayed (none lost, none twice), each engine takes a share, and
# the two engines' flows, summed per flow over periods and engines, equal
# tshark's reading of the trace (packets and bytes; times are capture
# times here, and PacketInfo carries no TCP flags).  Run with one
# PacketInfo per message and again with probe.batch: 64.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/flows_lib.sh"
. "$(dirname "$0")/nats_lib.sh"
. "$(dirname "$0")/nats_input_lib.sh"
. "$(dirname "$0")/nats_live_lib.sh"
live_need
ns_tmpdir

: "${NS_E2E_PACKETS:=30000}" "${NS_E2E_PPS:=10000}"
live_setup -n "$NS_E2E_PACKETS" -f 2000 -s 47 --ipv6 0.3 --vlan 0.1 \
	--proto-mix tcp=60,udp=25,icmp=10,sctp=5
live_oracle
nats_start

# run TAG BATCH
run() {
	_tag=$1 _subj=gons.e2e.$$.$1
	live_probe_config "$T/$_tag-probe.yaml" "$_subj" "$2"
	for e in a b; do
		natsin_config "$T/$_tag-$e.yaml" "$_tag-$e" 1s \
		    "{type: nats, url: $NATS_URL, subject: $_subj, queue: e2e-$_tag}"
		live_engine_start "$T/$_tag-$e.yaml" "$T/$_tag-$e.log"
		eval "EPID_$e=\$DPID"
		wait_for 10 grep -q "queue group e2e-$_tag" "$T/$_tag-$e.log" ||
			fail "$_tag-$e: not in the queue group: $(cat "$T/$_tag-$e.log")"
	done
	live_probe_start "$T/$_tag-probe.yaml" "$T/$_tag-probe.log"
	live_replay "$NS_E2E_PPS"
	live_probe_stop "$T/$_tag-probe.log"
	echo "$_tag: $P_LINE"

	# The probe: every frame captured, every IP packet published.
	[ "$P_CAPTURED" = "$SENT" ] && [ "$P_KDROPS" = 0 ] ||
		fail "$_tag: the probe captured $P_CAPTURED of $SENT frames, kernel drops $P_KDROPS"
	[ "$P_PUBLISHED" = "$NIP" ] && [ "$P_DROPPED" = 0 ] &&
	    [ $((P_PUBLISHED + P_SKIPPED)) = "$P_CAPTURED" ] ||
		fail "$_tag: the probe published $P_PUBLISHED of $NIP IP packets, dropped $P_DROPPED"
	if [ "$2" = 1 ]; then
		[ "$P_MESSAGES" = "$NIP" ] || fail "$_tag: $P_MESSAGES messages for $NIP packets"
	else
		[ "$P_MESSAGES" -ge $(( (NIP + $2 - 1) / $2 )) ] && [ "$P_MESSAGES" -lt "$NIP" ] ||
			fail "$_tag: $P_MESSAGES batches for $NIP packets of $2"
	fi

	# The engines: together, every message the probe sent.  Polled on
	# their live counters, then read exactly from what each says at exit.
	both() {
		_a=$(natsin_count "$T/$_tag-a.yaml" messages)
		_b=$(natsin_count "$T/$_tag-b.yaml" messages)
		[ -n "$_a" ] && [ -n "$_b" ] && [ $((_a + _b)) -ge "$P_MESSAGES" ]
	}
	wait_for 60 both || fail "$_tag: the engines took $(natsin_count "$T/$_tag-a.yaml" messages) + $(natsin_count "$T/$_tag-b.yaml" messages) of $P_MESSAGES messages"
	for e in a b; do
		[ "$(natsin_count "$T/$_tag-$e.yaml" "slow_consumer drops")" = 0 ] ||
			fail "$_tag-$e: slow consumer drops: $(natsin_status "$T/$_tag-$e.yaml")"
		DPID=$(eval echo "\$EPID_$e") natsin_stop "$T/$_tag-$e.log"
	done
	read -r ma pa <<EOF
$(live_ended "$T/$_tag-a.log")
EOF
	read -r mb pb <<EOF
$(live_ended "$T/$_tag-b.log")
EOF
	[ -n "$ma" ] && [ -n "$mb" ] || fail "$_tag: an engine did not report its input's end"
	[ $((ma + mb)) = "$P_MESSAGES" ] ||
		fail "$_tag: the engines took $ma + $mb messages, the probe sent $P_MESSAGES"
	[ $((pa + pb)) = "$NIP" ] ||
		fail "$_tag: the engines counted $pa + $pb packets, $NIP were replayed"
	[ "$ma" -ge $((P_MESSAGES / 10)) ] && [ "$mb" -ge $((P_MESSAGES / 10)) ] ||
		fail "$_tag: the queue group did not share the subject: $ma and $mb messages"
	for e in a b; do
		grep -q "drops: ring_full 0, table_full 0" "$T/$_tag-$e.log" ||
			fail "$_tag-$e: drops: $(grep 'drops:' "$T/$_tag-$e.log")"
		_lt=$(live_lifetime "$T/$_tag-$e.log")
		_p=$(eval echo "\$p$e")
		[ "${_lt% *}" = "$_p" ] ||
			fail "$_tag-$e: the task counted ${_lt% *} packets, the input $_p"
	done

	# Their flows, summed over periods and then over the engines.
	for e in a b; do
		cat "$T/out-$_tag-$e"/*/five/flows.jsonl >"$T/$_tag-$e.jsonl" 2>/dev/null ||
			fail "$_tag-$e: no flows written"
		flows_py ns five "$T/$_tag-$e.jsonl" >"$T/$_tag-$e.flows" ||
			fail "$_tag-$e: bad flow output"
	done
	periods=$(for d in "$T/out-$_tag-a"/* "$T/out-$_tag-b"/*; do
		[ -d "$d" ] && echo "$d"; done | wc -l)
	live_flows_sum "$T/$_tag.flows" "$T/$_tag-a.flows" "$T/$_tag-b.flows"
	k=$(flows_py diff "$T/tshark.flows" "$T/$_tag.flows" packets bytes) ||
		fail "$_tag: the two engines' flows, summed, differ from tshark's (< tshark, > engines)"
	[ "$k" -ge 1000 ] || fail "$_tag: only $k flows compared"
	split=$(cut -f1-6 "$T/$_tag-a.flows" | sort >"$T/$_tag-a.keys"
		cut -f1-6 "$T/$_tag-b.flows" | sort | comm -12 "$T/$_tag-a.keys" - | wc -l)
	echo "ok: $_tag: $SENT frames replayed at $NS_E2E_PPS pps, the probe published $NIP IP packets in $P_MESSAGES messages (dropped 0, kernel drops 0); queue group e2e-$_tag: $ma messages ($pa packets) to one engine, $mb ($pb) to the other, none lost or twice; $k flows ($split split between the engines, $periods period directories), summed, identical to tshark (packets, bytes)"
}

run single 1
run batch 64
