#!/bin/sh
# nats_engine.sh -- the engine's core NATS input, against an independent
# publisher: every IP packet of a pcapgen trace (as tshark reads it) is
# encoded by protoc --encode as a Go2NetSpectra v1.PacketInfo and sent
# over a plain socket; netspectrad's flows, period by period in packet
# time, equal tshark's aggregates of the trace (packets, bytes, first and
# last seen).  Garbage, truncated, oversize, wrongly typed and invalid
# messages sent before them are counted by reason, and the engine keeps
# going; SIGTERM ends it cleanly.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/flows_lib.sh"
. "$(dirname "$0")/nats_lib.sh"
. "$(dirname "$0")/nats_input_lib.sh"
natsin_need
ns_tmpdir

# A server that passes messages over the decoder's 1 MiB limit, so that
# the oversize check is what refuses them.
echo "max_payload: 4194304" >"$T/big.conf"
printf '#!/bin/sh\nexec nats-server -c %s "$@"\n' "$T/big.conf" >"$T/nats-server"
chmod +x "$T/nats-server"
NATS_SERVER=$T/nats-server
nats_setup
nats_start

"$PCAPGEN" -o "$T/trace.pcap" -n 20000 -f 2000 -s 7 --nsec --duration 10 \
	--ipv6 0.3 --proto-mix tcp=60,udp=25,icmp=10,sctp=5 2>/dev/null || fail "pcapgen"
natsin_messages "$T/trace.pcap" "$T/msgs"
n=$(cat "$T/msgs.n")
[ "$n" -ge 19000 ] || fail "only $n packets in the trace"

natsin_config "$T/e.yaml" e 2s "{type: nats, url: $NATS_URL, subject: natsin.test}"
natsin_start "$T/e.yaml" "$T/e.log"
grep -q "queue group netspectra" "$T/e.log" || fail "no default queue group: $(cat "$T/e.log")"

# The bad ones: reason by reason.
printf '\377\377\377\377\377\377\377\377\377\377' >"$T/garbage"
head -c 9 "$T/msgs" | tail -c 7 >"$T/truncated"	# inside the timestamp
head -c 2000000 /dev/zero >"$T/oversize"
echo 'p { timestamp { seconds: 1767225600 } five_tuple { src_ip: "\001\002\003\004\005" dst_ip: "\001\002\003\004" protocol: 17 } length: 60 }' |
	protoc --encode=v1.Many -I"$T/proto" "$T/proto/t.proto" | tail -c +3 >"$T/badaddr"
for m in garbage truncated oversize badaddr; do
	nats_pub natsin.test "$T/$m"
done
nats_pub natsin.test "$T/badaddr" "application/x-protobuf; proto=other.Thing"
bad=5

sent=$(natsin_publish natsin.test "$T/msgs")
[ "$sent" = "$n" ] || fail "published $sent of $n messages"
wait_for 60 natsin_has "$T/e.yaml" messages $((n + bad)) ||
	fail "the engine took $(natsin_count "$T/e.yaml" messages) of $((n + bad)) messages: $(natsin_status "$T/e.yaml")"
natsin_status "$T/e.yaml" >"$T/status"
for want in "messages $((n + bad))," "packets $n," "slow_consumer drops 0," \
    " malformed 2 " " oversize 1 " " bad_type 1 " " bad_address 1 " \
    " missing_field 0 "; do
	grep -q -- "$want" "$T/status" || fail "status lacks \"$want\": $(cat "$T/status")"
done
natsin_stop "$T/e.log"

tshark_flows "$T/trace.pcap" "$T/tshark.flows" 2
natsin_engine_flows e "$T/e.flows"
periods=$(ls "$T/out-e" | wc -l)
[ "$periods" -ge 5 ] || fail "expected at least 5 periods of 2 s, got $periods"
k=$(flows_py diff "$T/tshark.flows" "$T/e.flows" packets bytes first last) ||
	fail "flows from NATS differ from tshark's reading of the trace (< tshark, > netspectrad)"
[ "$k" -ge 2000 ] || fail "only $k flows compared"
echo "ok: $n PacketInfo messages from protoc over a plain socket: $k flows over $periods periods identical to tshark (packets, bytes, first, last); 5 bad messages counted by reason (malformed 2, oversize 1, bad_type 1, bad_address 1)"
