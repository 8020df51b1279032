#!/bin/sh
# nats_writer.sh -- the NATS writer against a real nats-server, read by an
# independent subscriber (nats_lib.sh: python over a plain socket) and
# decoded by protoc --decode against proto/netspectra.proto.
#
#   - netspectrad reads a 5 s pcapgen trace (1 s periods, 2 workers, an
#     exact 5-tuple task and a heavy-hitter task) with a jsonl file writer
#     and a nats writer side by side, to a server whose max_payload is
#     4 KiB: every message is at most 4 KiB, snapshots are cut into
#     several chunks, every snapshot's chunks are all there (0..n-1 of n),
#     there is one final snapshot per period, and the final flows of every
#     period equal tshark's (packets, bytes, first, last, TCP flags) and
#     the file writer's; the final heavy hitters (count and size) equal the
#     file writer's; `netspectra status` shows the writer, nothing dropped.
#   - The server down: the same run still ends by itself with every period
#     written by the file writer as tshark counts it (no period switch
#     waits for NATS), the finals wait in the spool, errors are counted;
#     the daemon restarted with the server up publishes them, and they
#     equal tshark's.
#   - Live, the server down and a spool_max of 1 KiB: while tcpreplay
#     feeds the capture, periods go on switching (the file writer's
#     finals), the snapshots that fit nowhere are counted as dropped on
#     /metrics and in `netspectra status`, no capture layer drops a packet.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/flows_lib.sh"
. "$(dirname "$0")/nats_lib.sh"
need_nats
need tshark protoc
need_flows
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
ns_tmpdir
ns_at_exit "rm -f /dev/shm/netspectra-nw-$$-*"

start=1767225600	# 2026-01-01T00:00:00Z
"$PCAPGEN" -o "$T/t.pcap" -n 30000 -f 3000 -s 51 --start "$start" --duration 5 \
	--ipv6 0.3 --vlan 0.2 2>/dev/null || fail "pcapgen"
tshark_flows "$T/t.pcap" "$T/tshark.flows" 1

MAXP=4096
nats_setup
printf 'max_payload: %s\n' "$MAXP" >"$NATS_DIR/small.conf"
NATS_CONF=$NATS_DIR/small.conf
nats_start
SUBJ=nwtest$$

# cfg NAME INPUT NATS_EXTRA [PROMETHEUS]: $T/NAME.yaml; the file writer
# writes under $T/out-NAME, the nats writer to $NATS_URL; PROMETHEUS true
# serves /metrics on 127.0.0.1:$PROM_PORT.
cfg() {
	_nats="nats: {url: '$NATS_URL', subject: $SUBJ, node: n1, timeout: 2s$3}"
	cat >"$T/$1.yaml" <<EOC
daemon: {pidfile: $T/$1.pid, shm_name: /netspectra-nw-$$-$1, state_dir: $T/state-$1, log_level: info}
inputs: [$2]
prometheus: {enabled: ${4:-false}, listen: '127.0.0.1:${PROM_PORT:-9571}', top_k: 0}
aggregator:
  period: 1s
  num_workers: 2
  exact:
    writers:
      - {type: jsonl, snapshot_interval: 1h, jsonl: {root_path: $T/out-$1}}
      - {type: nats, snapshot_interval: 100ms, $_nats}
    tasks:
      - {name: per_five_tuple, key_fields: [SrcIP, DstIP, SrcPort, DstPort, Protocol], max_flows: 100000}
  sketch:
    writers:
      - {type: jsonl, snapshot_interval: 1h, jsonl: {root_path: $T/out-$1}}
      - {type: nats, snapshot_interval: 100ms, $_nats}
    tasks:
      - {name: hh, skt_type: 0, flow_fields: [SrcIP], width: 4096, depth: 2,
         count_threshold: 20, size_threshold: 20000, top_k: 200}
EOC
	"$NETSPECTRAD" -t -c "$T/$1.yaml" >"$T/$1.t" 2>&1 || fail "config $1: $(cat "$T/$1.t")"
}

# ---- decoding -----------------------------------------------------------------
# The subscriber frames each message as field 1 of a wrapper; these wrappers
# make protoc decode a whole capture of one subject tree at once.
cat >"$T/wrap.proto" <<'EOP'
syntax = "proto3";
import "netspectra.proto";
message FlowChunks { repeated netspectra.FlowSnapshot chunk = 1; }
message HHChunks { repeated netspectra.HeavyHitterSnapshot chunk = 1; }
EOP
cat >"$T/snap.py" <<'EOPY'
# snap.py MODE ...: what the tests read out of protoc's text output.
#   sizes FILE.single      the size of each framed message, one a line
#   flows TEXT STATS       final flows in flows.py's format; STATS gets
#                          "snapshots S finals F live L chunks C maxchunks M dups D"
#   hh TEXT STATS          final heavy hitters: period kind flow value error
#   jsonl_hh FILE...       the same from the jsonl writer's count/size files
import codecs, ipaddress, json, sys

def die(msg):
    sys.exit("snap.py: " + msg)

def parse(lines, i=0):
    """protoc's text format (one field a line) into {name: [values]}."""
    node = {}
    while i < len(lines):
        l = lines[i].strip()
        i += 1
        if not l:
            continue
        if l == "}":
            return node, i
        if l.endswith("{"):
            sub, i = parse(lines, i)
            node.setdefault(l[:-1].strip(), []).append(sub)
            continue
        name, _, v = l.partition(":")
        v = v.strip()
        if v.startswith('"'):
            v = codecs.escape_decode(v[1:-1].encode("latin-1"))[0]
        node.setdefault(name.strip(), []).append(v)
    return node, i

def one(node, name, default=None):
    v = node.get(name)
    return v[0] if v else default

def num(node, name):
    return int(one(node, name, 0))

def text(node, name):
    return one(node, name, b"").decode()

def addr(b):
    return ipaddress.ip_address(b).compressed if b else "-"

def snapshots(path, stats, kindof):
    """Chunks grouped into whole snapshots, each checked complete."""
    root, _ = parse(open(path).read().split("\n"))
    groups, dups = {}, 0
    for c in root.get("chunk", []):
        h = one(c, "header")
        key = (text(h, "task"), text(h, "node"), text(h, "generation"),
               num(h, "snapshot_ns"), kindof(c))
        g = groups.setdefault(key, {"count": num(h, "chunk_count"), "parts": {},
                                    "header": h})
        if num(h, "chunk_count") != g["count"]:
            die("snapshot %r: chunk counts differ" % (key,))
        idx = num(h, "chunk_index")
        if idx in g["parts"]:
            dups += 1
            continue
        g["parts"][idx] = c
    finals = live = maxc = chunks = 0
    for key, g in groups.items():
        if sorted(g["parts"]) != list(range(g["count"])):
            die("snapshot %r: chunks %s of %d" % (key, sorted(g["parts"]), g["count"]))
        chunks += g["count"]
        maxc = max(maxc, g["count"])
        if one(g["header"], "final") == "true":
            finals += 1
        else:
            live += 1
    with open(stats, "w") as f:
        f.write("snapshots %d finals %d live %d chunks %d maxchunks %d dups %d\n" %
                (len(groups), finals, live, chunks, maxc, dups))
    for key, g in sorted(groups.items()):
        if one(g["header"], "final") != "true":
            continue
        for i in range(g["count"]):
            yield g["header"], g["parts"][i]

def flows(path, stats):
    out, seen = [], set()
    for h, c in snapshots(path, stats, lambda c: ""):
        period = num(h, "period_start_ns") // 10**9
        for f in c.get("flows", []):
            k = one(f, "key", {})
            key = (period, addr(one(k, "src_ip", b"")), addr(one(k, "dst_ip", b"")),
                   num(k, "src_port"), num(k, "dst_port"), num(k, "protocol"))
            if key in seen:
                die("flow twice in the finals of a period: %r" % (key,))
            seen.add(key)
            out.append("\t".join(str(x) for x in key + (
                num(f, "packets"), num(f, "bytes"), num(f, "first_seen_ns"),
                num(f, "last_seen_ns"), num(f, "tcp_flags"))))
    for l in sorted(out):
        print(l)

def hh(path, stats):
    out = []
    kinds = {"COUNT": "count", "SIZE": "size", "SPREAD": "spread"}
    for h, c in snapshots(path, stats, lambda c: one(c, "kind", "COUNT")):
        period = num(h, "period_start_ns") // 10**9
        kind = kinds[one(c, "kind", "COUNT")]
        for x in c.get("hitters", []):
            out.append("%d\t%s\t%s\t%d\t%d" % (period, kind, text(x, "flow"),
                       num(x, "value"), num(x, "error_bound")))
    for l in sorted(out):
        print(l)

def jsonl_hh(paths):
    import calendar, time
    out = []
    for p in paths:
        for line in open(p):
            o = json.loads(line)
            ps = calendar.timegm(time.strptime(o["period_start"], "%Y-%m-%dT%H:%M:%SZ"))
            out.append("%d\t%s\t%s\t%d\t%d" % (ps, o["type"],
                       " ".join(str(v) for v in o["flow"].values()), o["value"], o["error"]))
    for l in sorted(out):
        print(l)

def sizes(path):
    data = open(path, "rb").read()
    i = 0
    def varint():
        nonlocal i
        n = shift = 0
        while True:
            b = data[i]
            i += 1
            n |= (b & 0x7f) << shift
            shift += 7
            if b < 0x80:
                return n
    while i < len(data):
        if varint() != 0x0a:
            die("%s: not a framed message at %d" % (path, i))
        n = varint()
        print(n)
        i += n

mode = sys.argv[1]
if mode == "sizes":
    sizes(sys.argv[2])
elif mode == "flows":
    flows(sys.argv[2], sys.argv[3])
elif mode == "hh":
    hh(sys.argv[2], sys.argv[3])
elif mode == "jsonl_hh":
    jsonl_hh(sys.argv[2:])
EOPY
snap() { "$PY" "$T/snap.py" "$@"; }
stat_of() { sed -n "s/.* $2 \([0-9]*\).*/\1/p; s/^$2 \([0-9]*\).*/\1/p" "$1" | head -1; }

# decode OUT WRAPPER: protoc's text of the subscriber's OUT.single.
decode() {
	protoc -I"$NS_SRCDIR/proto" -I"$T" --decode="$2" "$T/wrap.proto" \
		<"$1.single" >"$1.txt" 2>"$1.protoc.err" ||
		fail "protoc cannot decode $1.single as $2: $(head -3 "$1.protoc.err")"
}

# subs_start TAG / subs_stop TAG: subscribers of both subject trees,
# writing $T/TAG.flows.* and $T/TAG.hh.*.
subs_start() {
	nats_sub_start "$SUBJ.flows.>" "$T/$1.flows"
	SUB_FLOWS=$NATS_SUB_PID
	nats_sub_start "$SUBJ.hh.>" "$T/$1.hh"
	SUB_HH=$NATS_SUB_PID
}
subs_stop() {
	NATS_SUB_PID=$SUB_FLOWS NATS_SUB_OUT=$T/$1.flows nats_sub_stop
	NATS_SUB_PID=$SUB_HH NATS_SUB_OUT=$T/$1.hh nats_sub_stop
}

# run NAME: netspectrad -f on NAME's config; it must end by itself, exit 0.
run() {
	"$NETSPECTRAD" -f -c "$T/$1.yaml" >"$T/$1.log" 2>&1 &
	_dp=$!
	ns_at_exit "kill -9 $_dp 2>/dev/null"
	wait_for 60 eval '! kill -0 $_dp 2>/dev/null' ||
		fail "$1: netspectrad did not stop by itself: $(tail -5 "$T/$1.log")"
	wait "$_dp" || fail "$1: netspectrad exited non-zero: $(tail -5 "$T/$1.log")"
}

# check_flows TAG: the final flows published equal tshark's, per period.
check_flows() {
	decode "$T/$1.flows" FlowChunks
	snap flows "$T/$1.flows.txt" "$T/$1.flows.stats" >"$T/$1.nflows" ||
		fail "$1: the published flow snapshots are not whole"
	_n=$(flows_py diff "$T/tshark.flows" "$T/$1.nflows" packets bytes first last flags) ||
		fail "$1: published final flows differ from tshark's (< tshark, > nats)"
	echo "$_n"
}

# file_flows NAME: the file writer's final flows of NAME's run, per period.
file_flows() {
	cat "$T/out-$1"/*/per_five_tuple/flows.jsonl >"$T/$1.file.jsonl" 2>/dev/null
	flows_py ns --period per_five_tuple "$T/$1.file.jsonl" >"$T/$1.fflows" ||
		fail "$1: bad file writer output"
}

# ---- 1: published, chunked, equal to tshark's --------------------------------
cfg pub "{type: file, path: $T/t.pcap}" ""
subs_start pub
run pub
subs_stop pub
nflows=$(check_flows pub)
read -r _ ns_snaps _ ns_finals _ ns_live _ ns_chunks _ maxc _ dups <"$T/pub.flows.stats"
[ "$ns_finals" = 5 ] || fail "pub: $ns_finals final flow snapshots for 5 periods ($(cat "$T/pub.flows.stats"))"
[ "$maxc" -gt 1 ] || fail "pub: no snapshot was cut into chunks under max_payload $MAXP ($(cat "$T/pub.flows.stats"))"
[ "$dups" = 0 ] || fail "pub: $dups chunks published twice without an outage"
big=$(snap sizes "$T/pub.flows.single" | sort -n | tail -1)
[ "$big" -le "$MAXP" ] || fail "pub: a message of $big bytes, max_payload $MAXP"
file_flows pub
flows_py diff "$T/pub.fflows" "$T/pub.nflows" packets bytes first last flags >/dev/null ||
	fail "pub: published final flows differ from the file writer's"
echo "ok: $nflows (period, flow) final records published in $ns_chunks chunks (up to $maxc a snapshot, largest message $big of $MAXP bytes) equal tshark's and the file writer's; $ns_snaps snapshots, $ns_live of them live"

decode "$T/pub.hh" HHChunks
snap hh "$T/pub.hh.txt" "$T/pub.hh.stats" >"$T/pub.nhh" || fail "pub: the published heavy-hitter snapshots are not whole"
snap jsonl_hh "$T/out-pub"/*/hh/count.jsonl "$T/out-pub"/*/hh/size.jsonl >"$T/pub.fhh" ||
	fail "pub: reading the file writer's heavy hitters"
[ -s "$T/pub.fhh" ] || fail "pub: the file writer reported no heavy hitter"
same_or_fail "$T/pub.fhh" "$T/pub.nhh" "pub: published final heavy hitters differ from the file writer's (< file, > nats)"
hh_finals=$(stat_of "$T/pub.hh.stats" finals)
[ "$hh_finals" = 10 ] || fail "pub: $hh_finals final heavy-hitter snapshots, want 5 periods x (count, size)"
echo "ok: $(wc -l <"$T/pub.nhh") final heavy hitters in $hh_finals snapshots equal the file writer's"

"$NETSPECTRA" status -c "$T/pub.yaml" >"$T/pub.status" 2>&1 || fail "status: $(cat "$T/pub.status")"
grep -q "^nats writer exact.1: .*dropped 0;" "$T/pub.status" ||
	fail "status: no nats writer exact.1 without drops: $(cat "$T/pub.status")"
sent=$(sed -n 's/^nats writer exact.1: .*, sent \([0-9]*\),.*/\1/p' "$T/pub.status")
[ "$sent" -ge "$nflows" ] || fail "status: nats writer exact.1 sent '$sent' records, the finals alone are $nflows"
echo "ok: netspectra status: nats writer exact.1 sent $sent records, dropped 0"

# ---- 2: the server down --------------------------------------------------------
nats_stop
cfg down "{type: file, path: $T/t.pcap}" ""
t0=$(now_ms)
run down
down_ms=$(( $(now_ms) - t0 ))
file_flows down
_n=$(flows_py diff "$T/tshark.flows" "$T/down.fflows" packets bytes first last flags) ||
	fail "down: the file writer's periods differ from tshark's with NATS down"
[ "$(cut -f1 "$T/down.fflows" | sort -u | wc -l)" = 5 ] || fail "down: not 5 periods written"
"$NETSPECTRA" status -c "$T/down.yaml" >"$T/down.status" 2>&1 || fail "status: $(cat "$T/down.status")"
line=$(grep "^nats writer exact.1:" "$T/down.status") || fail "down: no nats writer in status: $(cat "$T/down.status")"
case $line in
*"sent 0, dropped 0; errors "[1-9]*"; spool "[1-9]*) ;;
*) fail "down: status line '$line': want nothing sent, errors counted, snapshots spooled" ;;
esac
nspool=$(find "$T/state-down/spool/exact.1" -maxdepth 1 -name '*.flows.pb' | wc -l)
[ "$nspool" -ge 5 ] || fail "down: $nspool flow snapshots in the spool, want the 5 finals at least"
echo "ok: NATS down: the run ended by itself in $down_ms ms with 5 periods ($_n flows) written as tshark counts them; $nspool snapshots wait in the spool ($line)"

nats_start
subs_start again
run down
subs_stop again
nflows=$(check_flows again)
[ "$(stat_of "$T/again.flows.stats" finals)" = 5 ] || fail "again: $(cat "$T/again.flows.stats")"
[ -z "$(find "$T/state-down/spool/exact.1" -maxdepth 1 -name '*.pb')" ] ||
	fail "again: the spool is not empty after the restart"
echo "ok: restarted with the server up, the spooled finals went out: $nflows (period, flow) records equal tshark's"

# ---- 3: live, the server down, a spool too small -------------------------------
if [ "$(id -u)" != 0 ] || ! command -v tcpreplay >/dev/null || ! command -v curl >/dev/null; then
	echo "SKIP (part 3 only): the live run needs root (network namespaces), tcpreplay and curl"
	exit 0
fi
nats_stop
ns_bare_pair
PROM_PORT=19571
cfg tiny "{type: pcap, interface: vb, snaplen: 256, promisc: true, immediate: true, buffer_size: 16MiB}" \
	", spool_max: 1KiB" true
ip netns exec "$NSB" "$NETSPECTRAD" -f -c "$T/tiny.yaml" >"$T/tiny.log" 2>&1 &
tpid=$!
ns_at_exit "kill -9 $tpid 2>/dev/null"
wait_for 20 grep -q "capturing on vb" "$T/tiny.log" || fail "tiny: netspectrad did not start: $(tail "$T/tiny.log")"
metric() {
	ip netns exec "$NSB" curl -sS -m 5 "http://127.0.0.1:$PROM_PORT/metrics" 2>/dev/null |
		sed -n "s/^$1{writer=\"$2\"} \([0-9]*\)$/\1/p"
}
wait_for 20 eval '[ -n "$(metric netspectra_export_dropped_rows_total exact.1)" ]' ||
	fail "tiny: no netspectra_export_dropped_rows_total{writer=\"exact.1\"} on /metrics"
"$PCAPGEN" -o "$T/live.pcap" -n 20000 -f 1000 -s 52 2>/dev/null || fail "pcapgen"
ip netns exec "$NSA" tcpreplay -q -i va --pps 5000 "$T/live.pcap" >"$T/replay.log" 2>&1 &
rpid=$!
ns_at_exit "kill $rpid 2>/dev/null"
periods() { ls -d "$T/out-tiny"/*/per_five_tuple 2>/dev/null | wc -l; }
wait_for 30 eval '[ "$(metric netspectra_export_dropped_rows_total exact.1)" -gt 0 ] && [ "$(periods)" -ge 3 ]' ||
	fail "tiny: dropped '$(metric netspectra_export_dropped_rows_total exact.1)', $(periods) periods written"
dropped=$(metric netspectra_export_dropped_rows_total exact.1)
errors=$(metric netspectra_export_errors_total exact.1)
[ "$errors" -gt 0 ] || fail "tiny: netspectra_export_errors_total{writer=\"exact.1\"} is '$errors' with the server down"
wait "$rpid" || fail "tcpreplay: $(cat "$T/replay.log")"
ip netns exec "$NSB" "$NETSPECTRA" status -c "$T/tiny.yaml" >"$T/tiny.status" 2>&1 || fail "status: $(cat "$T/tiny.status")"
grep "^nats writer exact.1: not connected;" "$T/tiny.status" | grep -q "dropped [1-9]" ||
	fail "tiny: netspectra status shows no dropped records: $(cat "$T/tiny.status")"
sz=$(find "$T/state-tiny/spool" -type f -name '*.pb' -printf '%s\n' | awk '{ s += $1 } END { print s + 0 }')
[ "$sz" -le 2048 ] || fail "tiny: spool_max 1KiB per writer: the spools hold $sz bytes"
kill -TERM "$tpid"
wait_for 60 eval '! kill -0 $tpid 2>/dev/null' || fail "tiny: netspectrad did not stop: $(tail "$T/tiny.log")"
wait "$tpid" || fail "tiny: netspectrad exited non-zero: $(tail -5 "$T/tiny.log")"
k=$(sed -n 's/.*kernel drops \([0-9]*\).*/\1/p' "$T/tiny.log")
r=$(sed -n 's/.*ring_full \([0-9]*\), table_full \([0-9]*\).*/\1 \2/p' "$T/tiny.log")
[ "$k" = 0 ] && [ "$r" = "0 0" ] || fail "tiny: drops: kernel '$k', ring_full/table_full '$r'"
echo "ok: live with NATS down and spool_max 1KiB: $(periods) periods written, $dropped records counted as dropped and $errors errors (/metrics, netspectra status), no packet dropped, a clean stop"
