# nats_input_lib.sh -- helpers of the tests of the engine's NATS input
# (sourced after lib.sh, flows_lib.sh and nats_lib.sh; POSIX sh).
#
# Messages come from an encoder that is not netspectra's: protoc --encode
# (Google's C++ protobuf) with a .proto written here from Go2NetSpectra's
# traffic.proto, fed the packets tshark reads from a trace.  They are sent
# by python3 over a plain socket in the NATS text protocol.
#
#   natsin_need                 skip unless protoc, tshark, python3, nats-server
#   natsin_messages PCAP OUT    one PacketInfo per IP packet of PCAP, framed
#                               as field 1 of a wrapper (OUT); OUT.n: count
#   natsin_publish SUBJECT FILE [js]  publish FILE's messages in order; js:
#                               wait for JetStream to store every one
#   natsin_config CFG TAG PERIOD INPUT  a daemon config: shm and pidfile of
#                               its own, the jsonl writer under $T/out-TAG
#   natsin_start CFG LOG        netspectrad -f; sets DPID
#   natsin_stop LOG             SIGTERM, exit 0 and a clean stop, awaited
#   natsin_status CFG           netspectra status of the running daemon
#   natsin_count CFG FIELD      a number of the "nats:" status line
#   natsin_engine_flows TAG OUT the engine's flows per period (flows.py)

natsin_need() {
	need_nats
	need protoc tshark
	need_flows
}

natsin_proto() {
	cat <<'EOP'
// Go2NetSpectra's api/proto/v1/traffic.proto, with a Timestamp of the same
// wire form as google.protobuf.Timestamp (not installed here).
syntax = "proto3";
package v1;
message Timestamp { int64 seconds = 1; int32 nanos = 2; }
message FiveTuple {
  bytes src_ip = 1;
  bytes dst_ip = 2;
  uint32 src_port = 3;
  uint32 dst_port = 4;
  uint32 protocol = 5;
}
message PacketInfo {
  Timestamp timestamp = 1;
  FiveTuple five_tuple = 2;
  uint64 length = 3;
}
message Many { repeated PacketInfo p = 1; }
EOP
}

natsin_messages() {
	tshark_read "$1"
	mkdir -p "$T/proto"
	natsin_proto >"$T/proto/t.proto"
	python3 - "$1.tsdump" "$1.tstimes" >"$2.txt" <<'EOPY' || fail "text of $1"
import ipaddress, sys
times = {}
for l in open(sys.argv[2]):
    f = l.rstrip("\n").split("\t")
    times[f[0]] = f[1]
def esc(a):
    return "".join("\\x%02x" % b for b in ipaddress.ip_address(a).packed)
for l in open(sys.argv[1]):
    fr, src, dst, sp, dp, pr, ln = l.rstrip("\n").split("\t")
    sec, _, frac = times[fr].partition(".")
    nanos = int((frac + "000000000")[:9])
    print('p { timestamp { seconds: %s nanos: %d } five_tuple { src_ip: "%s" '
          'dst_ip: "%s" src_port: %s dst_port: %s protocol: %s } length: %s }'
          % (sec, nanos, esc(src), esc(dst), sp, dp, pr, ln))
EOPY
	protoc --encode=v1.Many -I"$T/proto" "$T/proto/t.proto" <"$2.txt" >"$2" ||
		fail "protoc --encode"
	wc -l <"$1.tsdump" | tr -d ' ' >"$2.n"
}

natsin_publish() {
	python3 - "$NATS_PORT" "$1" "$2" "${3:-}" <<'EOPY' || fail "publishing $2 on $1"
# Every framed message of FILE, in order; with js, each with a reply
# subject, and JetStream's acknowledgements counted until all are in.
import json, socket, sys
port, subject, path, js = sys.argv[1], sys.argv[2].encode(), sys.argv[3], sys.argv[4]
data = open(path, "rb").read()
msgs, i = [], 0
while i < len(data):
    assert data[i] == 0x0A, "not field 1 at %d" % i
    i, n, shift = i + 1, 0, 0
    while True:
        b = data[i]; i += 1
        n |= (b & 0x7F) << shift; shift += 7
        if b < 0x80: break
    msgs.append(data[i:i + n]); i += n
s = socket.create_connection(("127.0.0.1", int(port)), timeout=30)
f = s.makefile("rb")
assert f.readline().startswith(b"INFO ")
s.sendall(b'CONNECT {"verbose":false,"pedantic":false,"headers":true,'
          b'"name":"natsin-test-pub","lang":"python","version":"0","protocol":1}\r\n')
if js:
    s.sendall(b"SUB _natsin.ack 1\r\n")
acked = 0
def read_until(want):
    """Read lines until `want` acknowledgements (or a PONG if want < 0)."""
    global acked
    while acked < want or want < 0:
        line = f.readline()
        if not line:
            sys.exit("server closed the connection")
        w = line.split()
        if w[0] == b"PONG" and want < 0:
            return
        if w[0] == b"PING":
            s.sendall(b"PONG\r\n")
        elif w[0] == b"MSG":
            body = f.read(int(w[-1]) + 2)[:-2]
            r = json.loads(body)
            if "error" in r:
                sys.exit("JetStream refused a message: %s" % r)
            acked += 1
        elif w[0] == b"-ERR":
            sys.exit("server: %s" % line)
CHUNK = 500
# NATSIN_PUB_SECONDS: spread the messages over that long at least, in
# bursts of 20 chunks (a reader then has work in flight when it is hit).
import os, time
secs, t0 = float(os.environ.get("NATSIN_PUB_SECONDS") or 0), time.monotonic()
for k in range(0, len(msgs), CHUNK):
    if secs and k % (20 * CHUNK) == 0:
        time.sleep(max(0.0, t0 + secs * k / len(msgs) - time.monotonic()))
    out = bytearray()
    for m in msgs[k:k + CHUNK]:
        if js:
            out += b"PUB %s _natsin.ack %d\r\n" % (subject, len(m)) + m + b"\r\n"
        else:
            out += b"PUB %s %d\r\n" % (subject, len(m)) + m + b"\r\n"
    s.sendall(out)
    if js:
        read_until(min(k + CHUNK, len(msgs)))
s.sendall(b"PING\r\n")
read_until(-1)
print(len(msgs))
EOPY
}

natsin_config() {
	cat >"$1" <<EOC
daemon:
  pidfile: $T/$2.pid
  shm_name: /netspectra-natsin-$$-$2
  log_level: info
inputs:
  - $4
prometheus: {enabled: false}
EOC
	five_tuple_aggregator "$T/out-$2" 1000000 "$3" >>"$1"
	ns_at_exit "rm -f /dev/shm/netspectra-natsin-$$-$2 /dev/shm/netspectra-natsin-$$-$2.lock"
	"$NETSPECTRAD" -t -c "$1" >/dev/null 2>"$1.err" || fail "config $1: $(cat "$1.err")"
}

natsin_start() {
	"$NETSPECTRAD" -f -c "$1" >"$2" 2>&1 &
	DPID=$!
	ns_at_exit "kill -9 $DPID 2>/dev/null"
	wait_for 20 grep -q "connected to" "$2" || fail "netspectrad did not connect: $(tail -5 "$2")"
}

natsin_stop() {
	kill -TERM "$DPID"
	wait_for 60 eval '! kill -0 $DPID 2>/dev/null' || fail "netspectrad did not stop: $(tail -5 "$1")"
	wait "$DPID" || fail "netspectrad exited non-zero: $(tail -5 "$1")"
	grep -q "stopped$" "$1" || fail "no clean stop: $(tail -5 "$1")"
}

natsin_status() { "$NETSPECTRA" status -c "$1" 2>&1; }

natsin_count() {
	natsin_status "$1" | sed -n "s/.*nats: .*[ ,]$2 \([0-9]*\).*/\1/p" | head -1
}

# natsin_has CFG FIELD N: the status shows FIELD at N or more.
natsin_has() {
	_v=$(natsin_count "$1" "$2")
	[ -n "$_v" ] && [ "$_v" -ge "$3" ]
}

natsin_engine_flows() {
	cat "$T"/out-"$1"/*/five/flows.jsonl >"$2.jsonl" 2>/dev/null ||
		fail "$1: no flows written"
	flows_py ns --period five "$2.jsonl" >"$2" || fail "$1: bad flow output"
}
