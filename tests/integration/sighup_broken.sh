#!/bin/sh
# sighup_broken.sh -- SIGHUP with a broken configuration changes nothing.
# While tcpreplay sends a pcapgen trace into the interface netspectrad
# captures on (veth in a pair of network namespaces), its configuration
# file is replaced by one with a YAML syntax error, then by one with a
# value out of range, then removed, each followed by a SIGHUP.  Each
# time the daemon logs "reload refused" with the file and the located
# message that `netspectrad -t` gives for the same file (file:line:col),
# or the file's open error; no process is re-forked, the counters go on,
# and periods are still written where the old configuration says.  Then
# a valid file that adds a second jsonl writer, and a SIGHUP: "reloaded",
# the exporter re-forked, and from then on every period is written to
# both directories, identically.  After the stop the first writer's
# flows, summed over the periods, are tshark's; no packet was dropped.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/flows_lib.sh"
need_root
need tcpreplay tshark pgrep
ns_tmpdir
ns_bare_pair

SHM=/netspectra-hup-$$
ns_at_exit "rm -f /dev/shm$SHM /dev/shm$SHM.lock"
"$PCAPGEN" -o "$T/trace.pcap" -n 60000 -f 2000 -s 171 --ipv6 0.3 --vlan 0.1 \
	--proto-mix tcp=60,udp=25,icmp=10,sctp=5 2>/dev/null || fail "pcapgen"
tshark_read "$T/trace.pcap"	# one pass of tshark, for the count and the flows
sent=$(wc -l <"$T/trace.pcap.tsdump")

# cfg FILE [SECOND-WRITER]: the configuration, one key a line where the
# broken variants change it.  No live snapshots (snapshot_interval above
# the period): a period is written once, when it ends.
cfg() {
	cat >"$1" <<EOC
daemon: {pidfile: $T/d.pid, shm_name: $SHM, log_level: info}
inputs:
  - {type: pcap, interface: vb, snaplen: 256, promisc: true, immediate: true, buffer_size: 16MiB}
prometheus: {enabled: false}
aggregator:
  period: 1s
  num_workers: 2
  exact:
    writers:
      - type: jsonl
        snapshot_interval: 1h
        jsonl: {root_path: $T/out1}
$2
    tasks:
      - {name: five, key_fields: [SrcIP, DstIP, SrcPort, DstPort, Protocol], max_flows: 100000}
EOC
}
C=$T/d.yaml
cfg "$C"
"$NETSPECTRAD" -t -c "$C" >/dev/null 2>"$T/t.err" || fail "config: $(cat "$T/t.err")"
# The broken variants, each refused by netspectrad -t with a located message.
sed 's/^  period: 1s$/  period: [1s/' "$C" >"$T/syntax.yaml"
sed 's/^        snapshot_interval: 1h$/        snapshot_interval: 0s/' "$C" >"$T/range.yaml"
cfg "$T/good.yaml" "      - {type: jsonl, snapshot_interval: 1h, jsonl: {root_path: $T/out2}}"
"$NETSPECTRAD" -t -c "$T/good.yaml" >/dev/null 2>"$T/t.err" || fail "good config: $(cat "$T/t.err")"

daemon_start "$NSB" "$C" "$T/d.log" "capturing on vb"

lifetime() {
	"$NETSPECTRA" status -c "$T/good.yaml" 2>/dev/null |
		sed -n 's/^task five: lifetime packets \([0-9]*\),.*/\1/p'
}
grown() { _l=$(lifetime) && [ -n "$_l" ] && [ "$_l" -gt "$1" ]; }
periods() { ls "$T/$1" 2>/dev/null | wc -l; }
kids() { pgrep -P "$DPID" | sort | tr '\n' ' '; }

rx0=$(rx)
ip netns exec "$NSA" tcpreplay -q -i va --pps 4000 "$T/trace.pcap" >"$T/replay.log" 2>&1 &
rpid=$!
ns_at_exit "kill $rpid 2>/dev/null"
wait_for 20 rx_at_least "$rx0" 2000 || fail "no traffic reaches vb: $(cat "$T/replay.log")"
wait_for 20 eval '[ "$(periods out1)" -ge 1 ]' || fail "no period written: $(tail -5 "$T/d.log")"

# refused WHAT MESSAGE: SIGHUP with $C as it is now; MESSAGE must follow
# "reload refused: $C is not valid: " in the log.  Then: the same
# processes, the counters going on, periods still written to out1 only.
nref=0
refused() {
	nref=$((nref + 1))
	_k=$(kids) _l=$(lifetime) _p=$(periods out1)
	kill -HUP "$DPID"
	wait_for 20 eval '[ "$(grep -c "reload refused" "$T/d.log")" -ge $nref ]' ||
		fail "$1: no refusal logged: $(tail -5 "$T/d.log")"
	grep "reload refused" "$T/d.log" | tail -1 >"$T/refusal"
	grep -qF "reload refused: $C is not valid: $2" "$T/refusal" ||
		fail "$1: the log says '$(cat "$T/refusal")', want '$2'"
	kill -0 "$DPID" 2>/dev/null || fail "$1: netspectrad died: $(tail -5 "$T/d.log")"
	kill -0 "$rpid" 2>/dev/null || fail "$1: the replay is over: make it longer"
	wait_for 20 grown "$_l" || fail "$1: lifetime stays at $_l"
	wait_for 20 eval '[ "$(periods out1)" -gt $_p ]' || fail "$1: no period written since"
	[ "$(kids)" = "$_k" ] || fail "$1: processes re-forked: $_k, then $(kids)"
	[ ! -e "$T/out2" ] || fail "$1: the refused configuration's writer got periods"
	echo "ok: $1: refused (\"${2#"$T/"}\"), no process re-forked, lifetime $_l -> $(lifetime), periods written to out1: $_p -> $(periods out1)"
}

# A YAML syntax error: the same file:line:col message as netspectrad -t.
cp "$T/syntax.yaml" "$C.tmp" && mv "$C.tmp" "$C"
"$NETSPECTRAD" -t -c "$C" >/dev/null 2>"$T/t.err" && fail "-t accepts the syntax error"
msg=$(head -1 "$T/t.err")
case $msg in "$C":[0-9]*:[0-9]*": YAML syntax error"*) ;; *) fail "-t says: $msg";; esac
refused "a YAML syntax error" "$msg"

# A value out of range: named by its path, at its line and column.
cp "$T/range.yaml" "$C.tmp" && mv "$C.tmp" "$C"
"$NETSPECTRAD" -t -c "$C" >/dev/null 2>"$T/t.err" && fail "-t accepts snapshot_interval 0s"
msg=$(head -1 "$T/t.err")
line=$(grep -n 'snapshot_interval: 0s' "$C" | cut -d: -f1)
case $msg in "$C:$line:"[0-9]*": aggregator.exact.writers[0].snapshot_interval: "*) ;;
	*) fail "-t says: $msg";; esac
refused "snapshot_interval 0s" "$msg"

# No file at all.
rm -f "$C"
refused "a missing file" "$C: No such file or directory"

# A valid file that adds a writer: applied, the exporter re-forked.
exporter=$(pgrep -P "$DPID" -x ns-export-files) || fail "no ns-export-files"
cp "$T/good.yaml" "$C.tmp" && mv "$C.tmp" "$C"
kill -HUP "$DPID"
wait_for 20 grep -q "reloaded: writers and intervals apply from now" "$T/d.log" ||
	fail "the good configuration was not applied: $(tail -5 "$T/d.log")"
wait_for 20 eval '[ "$(periods out2)" -ge 2 ]' || fail "the new writer writes nothing: $(tail -5 "$T/d.log")"
new=$(pgrep -P "$DPID" -x ns-export-files) && [ "$new" != "$exporter" ] ||
	fail "ns-export-files was not re-forked ($exporter, then '$new')"
kill -0 "$rpid" 2>/dev/null || fail "the replay ended before the good reload took effect: make it longer"
echo "ok: a valid configuration adding a writer: reloaded, ns-export-files re-forked ($exporter -> $new), the new writer writes"

wait "$rpid" || fail "tcpreplay: $(cat "$T/replay.log")"
wait_for 20 rx_at_least "$rx0" "$sent" || fail "vb received fewer than $sent packets"
daemon_stop "$DPID" "$T/d.log"
drops=$(sed -n 's/.*kernel drops \([0-9]*\).*/\1/p' "$T/d.log")
ring=$(sed -n 's/.*ring_full \([0-9]*\), table_full \([0-9]*\).*/\1 \2/p' "$T/d.log")
[ "$drops" = 0 ] && [ "$ring" = "0 0" ] || fail "drops: kernel '$drops', ring_full/table_full '$ring'"
grep -q "task five: lifetime packets $sent," "$T/d.log" ||
	fail "lifetime at the stop: $(grep 'lifetime packets' "$T/d.log"), want $sent"

# out1 has every period; out2 the periods since the reload, the same files.
cat "$T"/out1/*/five/flows.jsonl >"$T/out1.jsonl"
flows_py ns five "$T/out1.jsonl" >"$T/out1.flows" || fail "bad flow output"
tshark_flows "$T/trace.pcap" "$T/tshark.flows"
n=$(flows_py diff "$T/tshark.flows" "$T/out1.flows" packets bytes flags) ||
	fail "out1's flows differ from tshark's reading of the trace (< tshark, > netspectrad)"
for d in "$T"/out2/*/; do
	p=$(basename "$d")
	sort "$d/five/flows.jsonl" >"$T/b" 2>/dev/null
	sort "$T/out1/$p/five/flows.jsonl" >"$T/a" 2>/dev/null
	cmp -s "$T/a" "$T/b" || fail "period $p: out1 and out2 differ"
done
echo "ok: after 3 refused reloads and 1 applied: $n flows of $sent packets over $(periods out1) periods identical to tshark; the $(periods out2) periods since the reload written to out2 identically; no drop"
