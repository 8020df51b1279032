#!/bin/sh
# nats_probe.sh -- `netspectra probe` publishes what it captures, exactly,
# in Go2NetSpectra's wire format: in a pair of network namespaces joined by
# veth, tcpreplay sends a pcapgen trace into the interface the probe
# captures on; a subscriber that is no NATS library (python3, a plain
# socket) records the messages on a real nats-server, and protoc decodes
# them against Go2NetSpectra's own traffic.proto (shared/reference, or the
# copy in tests/data).  Every IP packet of the trace arrives once, with the
# 5-tuple and wire length tshark reads, in capture order; then the same
# with probe.batch: 64 (PacketBatch messages, marked by their
# Content-Type header); and `netspectra probe --sub` prints what a
# foreign publisher sends, refusing a garbage message by reason.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/nats_lib.sh"
need_root
need_nats
need tcpreplay tshark protoc
ns_tmpdir

# Go2NetSpectra's .proto: the reference copy beside the source tree, or
# the one kept with the test data.
REF=$NS_SRCDIR/../shared/reference
[ -f "$REF/go2netspectra-traffic.proto" ] || REF=${NS_TEST_DATA:-$NS_SRCDIR/tests/data}
[ -f "$REF/go2netspectra-traffic.proto" ] || skip "go2netspectra-traffic.proto not found"
# It imports google/protobuf/timestamp.proto, which Debian ships with
# libprotobuf-dev; without it, the well-known type's definition (two
# fields) is written here.
INC=/usr/include
if [ ! -f "$INC/google/protobuf/timestamp.proto" ]; then
	INC=$T/inc
	mkdir -p "$INC/google/protobuf"
	cat >"$INC/google/protobuf/timestamp.proto" <<'EOP'
syntax = "proto3";
package google.protobuf;
message Timestamp { int64 seconds = 1; int32 nanos = 2; }
EOP
fi
# Many single messages, each framed as one element of a repeated field,
# decode in one protoc run.
cat >"$T/many.proto" <<'EOP'
syntax = "proto3";
package t;
import "go2netspectra-traffic.proto";
message Many { repeated v1.PacketInfo p = 1; }
EOP

ns_bare_pair
"$PCAPGEN" -o "$T/trace.pcap" -n 20000 -f 1500 -s 43 --ipv6 0.3 --vlan 0.1 \
	--proto-mix tcp=60,udp=25,icmp=10,sctp=5 2>/dev/null || fail "pcapgen"
tshark_dump "$T/trace.pcap" | cut -f2- >"$T/expect" || fail "tshark"
sent=$(tshark -r "$T/trace.pcap" -T fields -e frame.number 2>/dev/null | wc -l)
nip=$(wc -l <"$T/expect")
bytes=$(awk -F'\t' '{ s += $6 } END { print s }' "$T/expect")
# The probe leaves out the NATS port: pick one the trace does not use.
tshark -r "$T/trace.pcap" -T fields -e tcp.srcport -e tcp.dstport 2>/dev/null |
	tr '\t,' '\n\n' | sort -u >"$T/ports"
nats_setup "$NSB" "$T/ports"
nats_start

# decode FILE MESSAGE PROTO_DIR PROTO: protoc's text output, as the lines
# of `netspectra dump` (without the frame number), and the timestamps.
decode() {
	protoc --decode="$2" -I"$3" -I"$REF" -I"$INC" "$4" <"$1" >"$1.txt" ||
	    fail "protoc could not decode $1"
	python3 - "$1.txt" >"$1.lines" 2>"$1.ts" <<'EOPY' || fail "bad decode of $1"
import codecs, ipaddress, sys
# protoc's text format: one "p {" or "packets {" block per packet.
cur, ts = {}, {}
def emit():
    a = lambda b: str(ipaddress.ip_address(b))
    print("%s\t%s\t%d\t%d\t%d\t%d" % (a(cur["src_ip"]), a(cur["dst_ip"]),
          cur.get("src_port", 0), cur.get("dst_port", 0),
          cur.get("protocol", 0), cur.get("length", 0)))
    print(ts.get("seconds", 0) * 10**9 + ts.get("nanos", 0), file=sys.stderr)
depth = 0
for line in open(sys.argv[1]):
    line = line.strip()
    if line.endswith("{"):
        depth += 1
        continue
    if line == "}":
        depth -= 1
        if depth == 0:
            emit()
            cur, ts = {}, {}
        continue
    k, _, v = line.partition(": ")
    if k in ("src_ip", "dst_ip"):
        cur[k] = codecs.escape_decode(v[1:-1])[0]
    elif k in ("seconds", "nanos"):
        ts[k] = int(v)
    else:
        cur[k] = int(v)
EOPY
}

# run TAG BATCH: the probe on vb while the trace is replayed into va.
run() {
	_tag=$1 _batch=$2 _subj=gons.test.$$.$1
	cat >"$T/$_tag.yaml" <<EOC
probe:
  nats_url: $NATS_URL
  subject: $_subj
  interface: vb
  snaplen: 256
  batch: $_batch
EOC
	nats_sub_start "$_subj" "$T/$_tag"
	t0=$(date +%s)
	ip netns exec "$NSB" "$NETSPECTRA" probe -v -c "$T/$_tag.yaml" \
	    >"$T/$_tag.log" 2>&1 &
	ppid=$!
	ns_at_exit "kill -9 $ppid 2>/dev/null"
	wait_for 10 grep -q "capturing on vb" "$T/$_tag.log" ||
	    fail "probe did not start: $(cat "$T/$_tag.log")"
	wait_for 10 grep -q "NATS: connected" "$T/$_tag.log" ||
	    fail "probe did not connect: $(cat "$T/$_tag.log")"
	rx0=$(rx)
	ip netns exec "$NSA" tcpreplay -q -i va --pps 10000 "$T/trace.pcap" \
	    >"$T/replay.log" 2>&1 || fail "tcpreplay: $(cat "$T/replay.log")"
	wait_for 10 rx_at_least "$rx0" "$sent" ||
	    fail "vb received fewer than $sent packets"
	kill -TERM "$ppid"
	wait "$ppid" || fail "$_tag: probe exited non-zero: $(tail "$T/$_tag.log")"
	t1=$(( $(date +%s) + 1 ))
	nats_sub_stop
	stats=$(grep "stopped: captured" "$T/$_tag.log") ||
	    fail "$_tag: no counters at exit: $(tail "$T/$_tag.log")"
	echo "$_tag: $stats"
	echo "$stats" | grep -q "captured $sent, published $nip packets" ||
	    fail "$_tag: expected $sent captured, $nip published"
	echo "$stats" | grep -q "skipped $((sent - nip)),* .*dropped 0, kernel received [0-9]*, kernel drops 0" ||
	    fail "$_tag: drops or unexpected skips"
}

# check TAG FILE: the decoded packets are tshark's, in order, in time.
check() {
	if ! diff "$T/expect" "$2.lines" >"$T/$1.diff"; then
		head -20 "$T/$1.diff" >&2
		fail "$1: $(grep -c '^[<>]' "$T/$1.diff") lines differ from tshark (< tshark, > NATS)"
	fi
	got=$(awk -F'\t' '{ s += $6 } END { print s }' "$2.lines")
	[ "$got" = "$bytes" ] || fail "$1: $got bytes, tshark $bytes"
	awk -v a="${t0}000000000" -v b="${t1}000000000" \
	    '$1 < a || $1 > b { bad++ } END { exit bad > 0 }' "$2.ts" ||
	    fail "$1: timestamps outside the run"
}

# 1. One PacketInfo per message, as Go2NetSpectra.
run single 1
read -r _ msgs _ single _ batch _ other <"$T/single.count"
[ "$msgs" = "$nip" ] && [ "$single" = "$nip" ] ||
	fail "single: $msgs messages ($single single, $batch batch, $other other), expected $nip single"
decode "$T/single.single" t.Many "$T" many.proto
check single "$T/single.single"
echo "ok: single: $sent frames replayed, $nip IP packets in $nip PacketInfo messages, decoded by protoc with Go2NetSpectra's .proto: 5-tuples, lengths and order identical to tshark, $bytes bytes"

# 2. Batches of 64 packets, flushed early on the idle timer too.
run batch 64
read -r _ msgs _ single _ batch _ other <"$T/batch.count"
[ "$single" = 0 ] && [ "$other" = 0 ] && [ "$batch" -ge $(( (nip + 63) / 64 )) ] &&
    [ "$batch" -lt "$nip" ] || fail "batch: $msgs messages ($single single, $batch batch, $other other)"
decode "$T/batch.batch" netspectra.PacketBatch "$NS_SRCDIR/proto" netspectra.proto
check batch "$T/batch.batch"
echo "ok: batch: $nip IP packets in $batch PacketBatch messages, identical to tshark"

# 3. --sub: what a foreign publisher sends, line by line; garbage refused.
cat >"$T/sub.yaml" <<EOC
probe: {nats_url: $NATS_URL, subject: gons.test.$$.sub}
EOC
printf '\377\377\377' >"$T/garbage.bin"
ip netns exec "$NSB" "$NETSPECTRA" probe --sub -n 2 -c "$T/sub.yaml" \
    >"$T/sub.out" 2>"$T/sub.err" &
spid=$!
ns_at_exit "kill -9 $spid 2>/dev/null"
wait_for 10 grep -q "subscribed" "$T/sub.err" || fail "--sub did not start: $(cat "$T/sub.err")"
# The first message the probe sent (its frame: 0x0a, a one-byte length).
first=$(sed -n 1p "$T/expect")
len=$(od -An -j1 -N1 -tu1 "$T/single.single" | tr -d ' ')
[ "$len" -lt 128 ] || fail "first message longer than expected"
head -c $((len + 2)) "$T/single.single" | tail -c "$len" >"$T/one.bin"
nats_pub "gons.test.$$.sub" "$T/one.bin"
nats_pub "gons.test.$$.sub" "$T/garbage.bin"
wait "$spid" || fail "--sub failed: $(cat "$T/sub.err")"
[ "$(cut -f2- "$T/sub.out" | sed -n 1p)" = "$first" ] && grep -qx '!malformed' "$T/sub.out" ||
	fail "--sub printed: $(cat "$T/sub.out"), expected $first and !malformed"
echo "ok: --sub: a message from a plain-socket publisher printed as tshark reads the packet; garbage refused as malformed"

# 4. An outage: nats-server killed (kill -9) and restarted while the probe
# captures.  What it captured meanwhile waits in the reconnect buffer and
# reaches the server after the restart: a JetStream stream on the subject,
# which survives the restart, ends up with every packet, and the probe's
# counters say so (published, none dropped).
nats_stop
nats_start -js
subj=gons.test.$$.outage
nats_stream_create OUTAGE "$subj"
cat >"$T/outage.yaml" <<EOC
probe: {nats_url: $NATS_URL, subject: $subj, interface: lo, bpf: udp port 9}
EOC
ip netns exec "$NSB" "$NETSPECTRA" probe -v --interval 1 -c "$T/outage.yaml" \
    >"$T/outage.log" 2>&1 &
ppid=$!
ns_at_exit "kill -9 $ppid 2>/dev/null"
wait_for 10 grep -q "NATS: connected" "$T/outage.log" ||
    fail "outage: probe did not start: $(cat "$T/outage.log")"
# send N CAPTURED PUBLISHED: N datagrams to port 9, then wait until the
# probe has captured CAPTURED in all, PUBLISHED of them to a server and
# the rest held in nats.c's reconnect buffer (", buffered N").
send() {
	ip netns exec "$NSB" python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(int(sys.argv[1])):
    s.sendto(b"outage %d" % i, ("127.0.0.1", 9))' "$1"
	_buf=
	[ "$2" = "$3" ] || _buf=".*, buffered $(($2 - $3)), "
	wait_for 20 grep -q "counters: captured $2, published $3 packets$_buf" "$T/outage.log" ||
	    fail "outage: probe did not capture $2, publish $3: $(tail -3 "$T/outage.log")"
}
send 1000 1000 1000
nats_kill
wait_for 10 grep -q "NATS: disconnected" "$T/outage.log" ||
    fail "outage: probe did not see the server go"
send 1000 2000 1000
nats_start -js
wait_for 20 sh -c "[ \$(grep -c 'NATS: connected' '$T/outage.log') -ge 2 ]" ||
    fail "outage: probe did not reconnect: $(tail -3 "$T/outage.log")"
send 1000 3000 3000
kill -TERM "$ppid"
wait "$ppid" || fail "outage: probe exited non-zero: $(tail "$T/outage.log")"
grep -q "stopped: captured 3000, published 3000 packets in 3000 messages, skipped 0, dropped 0" "$T/outage.log" ||
    fail "outage: counters: $(grep stopped: "$T/outage.log")"
n=$(nats_stream_count OUTAGE)
[ "$n" = 3000 ] || fail "outage: the stream holds $n messages, expected 3000"
echo "ok: outage: nats-server killed and restarted mid-capture: 3000 packets captured, 1000 of them while it was down, all 3000 in the stream afterwards; probe counters: published 3000, dropped 0"
