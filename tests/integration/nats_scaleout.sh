#!/bin/sh
# nats_scaleout.sh -- engines scale out over a NATS queue group: two
# netspectrad instances subscribe to one subject in one queue group, one
# publisher sends every packet of a trace once.  Each engine takes a good
# share, the two take every message exactly once between them (their
# message counts add up to what was sent, with no slow-consumer loss), and
# their flows, summed per period and key, equal tshark's reading of the
# trace.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/flows_lib.sh"
. "$(dirname "$0")/nats_lib.sh"
. "$(dirname "$0")/nats_input_lib.sh"
natsin_need
ns_tmpdir
nats_setup
nats_start

"$PCAPGEN" -o "$T/trace.pcap" -n 30000 -f 3000 -s 5 --nsec --duration 10 \
	--ipv6 0.2 2>/dev/null || fail "pcapgen"
natsin_messages "$T/trace.pcap" "$T/msgs"
n=$(cat "$T/msgs.n")

for e in a b; do
	natsin_config "$T/$e.yaml" "$e" 2s \
	    "{type: nats, url: $NATS_URL, subject: natsin.scale, queue: engines}"
	natsin_start "$T/$e.yaml" "$T/$e.log"
	eval "PID_$e=\$DPID"
	grep -q "queue group engines" "$T/$e.log" || fail "$e: no queue group: $(cat "$T/$e.log")"
done

sent=$(natsin_publish natsin.scale "$T/msgs")
[ "$sent" = "$n" ] || fail "published $sent of $n"
both() {
	_a=$(natsin_count "$T/a.yaml" messages) _b=$(natsin_count "$T/b.yaml" messages)
	[ -n "$_a" ] && [ -n "$_b" ] && [ $((_a + _b)) -ge "$n" ]
}
wait_for 60 both || fail "the engines took $(natsin_count "$T/a.yaml" messages) + $(natsin_count "$T/b.yaml" messages) of $n"
ma=$(natsin_count "$T/a.yaml" messages) mb=$(natsin_count "$T/b.yaml" messages)
[ $((ma + mb)) = "$n" ] || fail "messages counted $ma + $mb, sent $n: some twice"
for e in a b; do
	[ "$(natsin_count "$T/$e.yaml" "slow_consumer drops")" = 0 ] ||
		fail "$e: slow consumer drops: $(natsin_status "$T/$e.yaml")"
done
[ "$ma" -ge $((n / 10)) ] && [ "$mb" -ge $((n / 10)) ] ||
	fail "the queue group did not share the stream: $ma and $mb messages"
DPID=$PID_a natsin_stop "$T/a.log"
DPID=$PID_b natsin_stop "$T/b.log"

natsin_engine_flows a "$T/a.flows"
natsin_engine_flows b "$T/b.flows"
# Sum the two per (period, key): packets, bytes; first the least, last the
# greatest.
python3 - "$T/a.flows" "$T/b.flows" >"$T/sum.flows" <<'EOPY' || fail "summing"
import sys
agg = {}
for path in sys.argv[1:]:
    for l in open(path):
        f = l.rstrip("\n").split("\t")
        k, v = tuple(f[:6]), f[6:]
        if k not in agg:
            agg[k] = v
            continue
        a = agg[k]
        a[0] = str(int(a[0]) + int(v[0]))
        a[1] = str(int(a[1]) + int(v[1]))
        a[2] = str(min(int(a[2]), int(v[2])))
        a[3] = str(max(int(a[3]), int(v[3])))
for k in sorted(agg):
    print("\t".join(k + tuple(agg[k])))
EOPY
tshark_flows "$T/trace.pcap" "$T/tshark.flows" 2
k=$(flows_py diff "$T/tshark.flows" "$T/sum.flows" packets bytes first last) ||
	fail "the two engines' flows, summed, differ from tshark's (< tshark, > sum)"
shared=$(cut -f1-6 "$T/a.flows" | sort | comm -12 - "$(cut -f1-6 "$T/b.flows" | sort >"$T/b.keys"; echo "$T/b.keys")" | wc -l)
echo "ok: $n messages in queue group engines: $ma to one engine, $mb to the other, none twice or lost; $k flows ($shared split between the engines), summed, identical to tshark"
