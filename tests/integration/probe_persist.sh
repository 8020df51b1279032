#!/bin/sh
# probe_persist.sh -- `netspectra probe` with probe.persistence: in a pair
# of network namespaces joined by veth, tcpreplay sends a pcapgen trace
# into the interface the probe captures on, with a real nats-server to
# publish to.  After SIGTERM:
#   1. pcap, rotate_size: the files, read by tshark in sequence order,
#      hold exactly the trace's frames (count, frame length, 5-tuple, in
#      order), none cut short; more than one file and no more than
#      max_files; publishing was not disturbed (every IP packet published,
#      nothing dropped), and the probe's counters say the same.
#   2. pcap, max_files 3: exactly 3 files are left, holding the last
#      frames of the trace; the probe counts the files it removed.
#   3. text: one line per frame, the IP ones as tshark reads them.
#   4. pcap, the writer process killed (kill -9) mid-replay: the probe
#      logs and counts it, starts another, and the files still hold every
#      frame exactly once.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/nats_lib.sh"
need_root
need_nats
need tcpreplay tshark
ns_tmpdir

ns_bare_pair
"$PCAPGEN" -o "$T/trace.pcap" -n 20000 -f 1500 -s 44 --ipv6 0.3 --vlan 0.1 \
	--proto-mix tcp=60,udp=25,icmp=10,sctp=5 2>/dev/null || fail "pcapgen"
sent=$(tshark -r "$T/trace.pcap" -T fields -e frame.number 2>/dev/null | wc -l)
tshark -r "$T/trace.pcap" -T fields -e frame.len >"$T/expect.len" 2>/dev/null ||
	fail "tshark"
tshark_dump "$T/trace.pcap" | cut -f2- >"$T/expect.ip" || fail "tshark"
nip=$(wc -l <"$T/expect.ip")
tshark -r "$T/trace.pcap" -T fields -e tcp.srcport -e tcp.dstport 2>/dev/null |
	tr '\t,' '\n\n' | sort -u >"$T/ports"
nats_setup "$NSB" "$T/ports"
nats_start

# config TAG ENCODING EXTRA...: the probe on vb, persisting into $T/TAG.
config() {
	_tag=$1 _enc=$2; shift 2
	{
		cat <<EOC
probe:
  nats_url: $NATS_URL
  subject: gons.test.$$.$_tag
  interface: vb
  snaplen: 256
  persistence:
    enabled: true
    path: $T/$_tag
    encoding: $_enc
EOC
		for kv in "$@"; do echo "    $kv"; done
	} >"$T/$_tag.yaml"
}


# start TAG: the probe, capturing and connected; its pid in $ppid.
start() {
	ip netns exec "$NSB" "$NETSPECTRA" probe -v -c "$T/$1.yaml" \
	    >"$T/$1.log" 2>&1 &
	ppid=$!
	ns_at_exit "kill -9 $ppid 2>/dev/null"
	wait_for 10 grep -q "capturing on vb" "$T/$1.log" ||
	    fail "$1: probe did not start: $(cat "$T/$1.log")"
	wait_for 10 grep -q "NATS: connected" "$T/$1.log" ||
	    fail "$1: probe did not connect: $(cat "$T/$1.log")"
	rx0=$(rx)
}

# replay_bg: the trace into va, in the background ($rpid).
replay_bg() {
	ip netns exec "$NSA" tcpreplay -q -i va --pps 10000 "$T/trace.pcap" \
	    >"$T/replay.log" 2>&1 &
	rpid=$!
}

# stop TAG: once vb has the whole trace, SIGTERM; the counters at exit.
stop() {
	wait "$rpid" || fail "tcpreplay: $(cat "$T/replay.log")"
	wait_for 10 rx_at_least "$rx0" "$sent" ||
	    fail "$1: vb received fewer than $sent packets"
	kill -TERM "$ppid"
	wait "$ppid" || fail "$1: probe exited non-zero: $(tail "$T/$1.log")"
	stats=$(grep "stopped: captured" "$T/$1.log") ||
	    fail "$1: no counters at exit: $(tail "$T/$1.log")"
	echo "$1: $stats"
	echo "$stats" | grep -q "captured $sent, published $nip packets" ||
	    fail "$1: expected $sent captured, $nip published"
	echo "$stats" | grep -q "dropped 0, kernel received [0-9]*, kernel drops 0;" ||
	    fail "$1: publishing dropped packets"
}

# files TAG: the persisted files, oldest (lowest sequence number) first.
files() {
	ls "$T/$1" | grep -E '^packets-[0-9]{8}T[0-9]{6}Z-[0-9]{6,}\.(pcap|txt)$' |
	    sort -t- -k3n | sed "s|^|$T/$1/|"
}

# readback TAG: frame lengths and tshark_dump lines of all the files, in
# order, into $T/TAG.len and $T/TAG.ip; every file whole to tshark.
readback() {
	: >"$T/$1.len"
	: >"$T/$1.ip"
	for f in $(files "$1"); do
		tshark_fields "$f" >"$T/$1.fields" 2>"$T/$1.err" ||
		    fail "$1: tshark cannot read $f: $(cat "$T/$1.err")"
		# Anything but tshark's greeting to root: a file cut short.
		! grep -v 'Running as user' "$T/$1.err" ||
		    fail "$1: tshark on $f: $(cat "$T/$1.err")"
		cut -f2 "$T/$1.fields" >>"$T/$1.len"
		awk -F'\t' -f "$NS_SRCDIR/tests/integration/tshark_dump.awk" \
		    "$T/$1.fields" | cut -f2- >>"$T/$1.ip"
	done
}

same() {
	if ! diff "$2" "$3" >"$T/$1.diff"; then
		head -20 "$T/$1.diff" >&2
		fail "$1: $(grep -c '^[<>]' "$T/$1.diff") lines differ (< trace, > files)"
	fi
}

# 1. pcap, rotated by size: exactly the trace.
config size pcap "rotate_size: 256KiB" "max_files: 50"
start size
replay_bg
stop size
nfiles=$(files size | wc -l)
[ "$nfiles" -gt 1 ] && [ "$nfiles" -le 50 ] ||
	fail "size: $nfiles files, expected 2 to 50"
readback size
same size "$T/expect.len" "$T/size.len"
same size.ip "$T/expect.ip" "$T/size.ip"
echo "$stats" | grep -q "persisted $sent, persist dropped 0, write errors 0, files rotated $((nfiles - 1)), removed 0, writer crashes 0" ||
	fail "size: persistence counters"
big=$(for f in $(files size); do stat -c %s "$f"; done | sort -n | tail -1)
[ "$big" -le 262144 ] || fail "size: a file of $big bytes, over rotate_size"
echo "ok: size: $sent frames in $nfiles pcap files of at most $big bytes, identical to the trace for tshark (frame lengths, $nip 5-tuples, order); $nip published to NATS, nothing dropped"

# 2. max_files: the newest 3 files are left.
config keep pcap "rotate_size: 128KiB" "max_files: 3"
start keep
replay_bg
stop keep
[ "$(files keep | wc -l)" = 3 ] || fail "keep: $(files keep | wc -l) files, expected 3"
readback keep
kept=$(wc -l <"$T/keep.len")
[ "$kept" -gt 0 ] && [ "$kept" -lt "$sent" ] || fail "keep: $kept frames kept"
tail -n "$kept" "$T/expect.len" >"$T/keep.expect"
same keep "$T/keep.expect" "$T/keep.len"
rotated=$(echo "$stats" | sed -n 's/.*files rotated \([0-9]*\).*/\1/p')
echo "$stats" | grep -q "persisted $sent, persist dropped 0, write errors 0, files rotated $rotated, removed $((rotated + 1 - 3))," ||
	fail "keep: persistence counters"
echo "ok: keep: max_files 3 left the 3 newest of $((rotated + 1)) files, the last $kept frames of the trace; $((rotated - 2)) removed"

# 3. text: a line per frame.
config text text
start text
replay_bg
stop text
[ "$(files text | wc -l)" = 1 ] || fail "text: $(files text | wc -l) files, expected 1"
f=$(files text)
[ "$(wc -l <"$f")" = "$sent" ] || fail "text: $(wc -l <"$f") lines, expected $sent"
awk -F'\t' '$2 != "-"' "$f" | cut -f2- >"$T/text.ip"
same text "$T/expect.ip" "$T/text.ip"
echo "$stats" | grep -q "persisted $sent, persist dropped 0," ||
	fail "text: persistence counters"
echo "ok: text: $sent lines, the IP ones as tshark reads the trace"

# 4. The writer killed mid-replay: restarted, nothing lost or doubled.
config crash pcap "rotate_size: 256KiB"
start crash
wpid=$(sed -n 's/.*persistence: .*writer pid \([0-9]*\).*/\1/p' "$T/crash.log")
[ -n "$wpid" ] || fail "crash: no writer pid in the log"
replay_bg
wait_for 10 rx_at_least "$rx0" $((sent / 3)) ||
	fail "crash: the replay did not start"
kill -9 "$wpid"
wait_for 10 grep -q "writer (pid $wpid) killed by signal 9" "$T/crash.log" ||
	fail "crash: the probe did not notice: $(tail -3 "$T/crash.log")"
stop crash
readback crash
same crash "$T/expect.len" "$T/crash.len"
same crash.ip "$T/expect.ip" "$T/crash.ip"
echo "$stats" | grep -q "persisted $sent, persist dropped 0, write errors 0, files rotated [0-9]*, removed 0, writer crashes 1" ||
	fail "crash: persistence counters"
echo "ok: crash: the writer killed with $((sent / 3))+ frames in; logged, restarted, and the files still hold the $sent frames once each"
