#!/bin/bash
# nats-bench.sh -- issue 15 benchmark: the NATS pipeline's rates, against a
# scratch nats-server (Debian's package) in a network namespace.
#
#   1. probe: `netspectra probe` captures on a bare veth into which
#      tcpreplay sends a pcapgen trace of BENCH_PROBE_PACKETS frames, and
#      publishes to the server (no subscriber: the server drops what it
#      gets, so the figure is the probe's).  The probe reads no file, so
#      the rates are live:
#        - the highest replay rate published whole (every frame captured
#          and published, no kernel drop, no publish drop), rates doubling
#          from BENCH_RATE0 up to tcpreplay's --topspeed;
#        - packets per CPU second of the probe (all its threads: capture,
#          parse, encode, nats.c's flusher) in a --topspeed run of the
#          trace BENCH_TOP_LOOPS times;
#      each one message per packet and with probe.batch: 64, and each as a
#      ratio to pcaploop (contrib/bench/pcaploop.c: the bare libpcap read
#      loop) reading the same frames from the page cache.
#   2. engine, core NATS: netspectrad with one `type: nats` input (2
#      workers, one exact 5-tuple task) takes BENCH_NATS_PACKETS packets
#      published at stepped rates (BENCH_ENGINE_RATES, packets/s) by a
#      paced publisher of pre-encoded messages (Go2NetSpectra's
#      PacketInfo, encoded by python3's google.protobuf from Go2NetSpectra's
#      .proto; or PacketBatch messages of 64): the highest rate taken with
#      zero loss (every message counted, no slow-consumer drop), and the
#      NATS input process's packets per CPU second there.
#   3. engine, JetStream: the same messages stored in a stream first, then
#      read by a fresh engine through a durable consumer: packets/s from
#      its connection to the last message counted (zero loss by
#      construction: the input acknowledges what its checkpoint holds).
#   The engine's rates are given as ratios to `netspectra analyze` on the
#   same packets (the same trace as a pcap file, same workers and task),
#   and beside Go2NetSpectra's stated "> 500k pps" for its engine.
#
# Prints a table; with BENCH_RESULTS=FILE set, appends it there too.  A
# benchmark, not a test: exits 0 whatever the figures, non-zero only when
# something it needs is broken.  Needs root (namespaces), nats-server,
# tcpreplay, capinfos, protoc, and /usr/bin/python3 with google.protobuf.
#
# Environment: NS_SRCDIR, NS_BUILDDIR; BENCH_PARTS ["probe core js"],
# BENCH_PROBE_PACKETS [200000], BENCH_RATE0 [25000], BENCH_RATE_MAX
# [1600000], BENCH_TOP_LOOPS [5], BENCH_NATS_PACKETS [1000000],
# BENCH_ENGINE_RATES ["100000 200000 400000 500000 600000 800000 1200000
# 1600000 2400000 3200000"], BENCH_RUNS [3] (analyze
# and pcaploop: best of; JetStream: median of), BENCH_KEEP=1.
set -u
export LC_ALL=C
here=$(cd "$(dirname "$0")" && pwd)
NS_SRCDIR=${NS_SRCDIR:-$(cd "$here/../.." && pwd)}
NS_BUILDDIR=${NS_BUILDDIR:-$NS_SRCDIR/build}
parts=${BENCH_PARTS:-probe core js}
probe_packets=${BENCH_PROBE_PACKETS:-200000}
rate0=${BENCH_RATE0:-25000}
rmax=${BENCH_RATE_MAX:-1600000}
top_loops=${BENCH_TOP_LOOPS:-5}
eng_packets=${BENCH_NATS_PACKETS:-1000000}
eng_rates=${BENCH_ENGINE_RATES:-100000 200000 400000 500000 600000 800000 1200000 1600000 2400000 3200000}
runs=${BENCH_RUNS:-3}
PY=/usr/bin/python3
part() { case " $parts " in *" $1 "*) true;; *) false;; esac; }
note() { echo "nats-bench: $*" >&2; }

[ "$(id -u)" = 0 ] || { note "needs root"; exit 0; }
for t in nats-server tcpreplay capinfos protoc python3; do
	command -v "$t" >/dev/null || { note "needs $t"; exit 0; }
done
"$PY" -c 'import google.protobuf' 2>/dev/null ||
	{ note "needs $PY with google.protobuf (python3-protobuf)"; exit 0; }
for p in netspectra netspectrad contrib/pcapgen contrib/bench/pcaploop; do
	[ -x "$NS_BUILDDIR/$p" ] || { note "no $NS_BUILDDIR/$p: build first"; exit 1; }
done

# The integration tests' helpers: scratch directory, namespaces, the server.
. "$NS_SRCDIR/tests/integration/lib.sh"
. "$NS_SRCDIR/tests/integration/flows_lib.sh"
. "$NS_SRCDIR/tests/integration/nats_lib.sh"
. "$NS_SRCDIR/tests/integration/nats_input_lib.sh"
. "$NS_SRCDIR/tests/integration/nats_live_lib.sh"
fail() { note "$*"; exit 1; }
T=$(mktemp -d "${TMPDIR:-/tmp}/ns-nats-bench.XXXXXX")
trap 'ns_cleanup' EXIT INT TERM
[ "${BENCH_KEEP:-0}" = 1 ] && ns_at_exit "echo kept $T; T="
ns_at_exit "rm -f /dev/shm/netspectra-nb-$$-*"
load0=$(cut -d' ' -f1-3 /proc/loadavg)
now_ns() { date +%s%N; }
hz=$(getconf CLK_TCK)
# cpu_ticks PID: utime + stime of every thread of PID.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }
div() { awk -v a="$1" -v b="$2" -v f="${3:-%.2f}" 'BEGIN { if (b > 0) printf f, a / b; else printf "-" }'; }

# The probe's trace: frames of at most 128 bytes, so that tcpreplay's rate
# is not a bandwidth limit.
live_setup -n "$probe_packets" -f 20000 -s 83 --snaplen 128 --ipv6 0.2 \
	--proto-mix tcp=80,udp=17,icmp=2,sctp=1
nats_start -js
nip_probe=$("$NS_BUILDDIR/netspectra" dump "$T/trace.pcap" | awk -F'\t' 'NF == 7' | wc -l)

# pcaploop_pps FILE: the best of $runs reads, in packets per second.
pcaploop_pps() {
	for _ in $(seq "$runs"); do
		"$NS_BUILDDIR/contrib/bench/pcaploop" "$1" | awk '$1 == "mpps" { print $2 * 1e6 }'
	done | sort -n | tail -1
}
# cpu_of CMD...: the user + system seconds of CMD and what it waited for.
cpu_of() {
	local TIMEFORMAT='%3U %3S'
	{ time "$@" >/dev/null 2>&1; } 2>&1 | awk '{ printf "%.3f", $1 + $2 }'
}

# ---- 1. the probe -----------------------------------------------------------
# probe_run BATCH RATE: the probe at RATE pps (or "top"); sets R_WHY
# (clean, or why not), R_PPS (the rate tcpreplay reached), R_GOT (frames
# captured) and R_CPU (the probe's CPU seconds).  Functions that start
# processes run in this shell, never in $(...): their cleanup must be ours.
probe_run() {
	local batch=$1 rate=$2 opt pid r0 c0 cpu loops=1 want
	live_probe_config "$T/probe.yaml" bench.probe "$batch"
	live_probe_start "$T/probe.yaml" "$T/probe.log"
	pid=$PROBE_PID
	r0=$(live_rx_now)
	opt="--pps $rate"
	# At top speed the trace goes several times: CPU ticks are 10 ms.
	[ "$rate" = top ] && opt="--topspeed --loop $top_loops" loops=$top_loops
	want=$((SENT * loops))
	c0=$(cpu_ticks "$pid")
	# shellcheck disable=SC2086
	ip netns exec "$NSA" tcpreplay -i va $opt "$T/trace.pcap" >"$T/replay.out" 2>&1
	R_PPS=$(sed -n 's/.*Rated: [0-9.]* Bps, [0-9.]* Mbps, \([0-9.]*\) pps.*/\1/p' "$T/replay.out" | head -1)
	R_PPS=${R_PPS:-0}
	wait_for 30 sh -c "[ \$(( \$(ip netns exec $NSB cat /sys/class/net/vb/statistics/rx_packets) - $r0 )) -ge $want ]"
	# Its CPU once it has taken every frame (-v counters every second),
	# or after 10 s if some never come.
	wait_for 10 grep -q "counters: captured $want," "$T/probe.log"
	cpu=$(( $(cpu_ticks "$pid") - c0 ))
	live_probe_stop "$T/probe.log"
	R_WHY=clean R_GOT=$P_CAPTURED R_CPU=$(div "$cpu" "$hz" %.3f)
	if [ "$P_CAPTURED" != "$want" ] || [ "$P_KDROPS" != 0 ] ||
	    [ "$P_PUBLISHED" != $((nip_probe * loops)) ] || [ "$P_DROPPED" != 0 ]; then
		R_WHY="captured $P_CAPTURED of $want, kernel drops $P_KDROPS, published $P_PUBLISHED, dropped $P_DROPPED"
	fi
}

# probe_best BATCH: B_OK (the highest clean rate, 0 if none), and the
# --topspeed run's B_TOP (its rate), B_GOT and B_CPU.
probe_best() {
	local batch=$1 rate=$rate0
	B_OK=0
	while :; do
		probe_run "$batch" "$rate"
		note "probe batch $batch at $rate pps (tcpreplay reached $R_PPS): $R_WHY; probe CPU ${R_CPU}s"
		[ "$R_WHY" = clean ] && B_OK=$R_PPS
		[ "$rate" = top ] && break
		if [ "$R_WHY" = clean ]; then
			rate=$((rate * 2))
			[ "$rate" -le "$rmax" ] || rate=top
		else
			rate=top	# the CPU figure comes from a --topspeed run
		fi
	done
	B_TOP=$R_PPS B_GOT=$R_GOT B_CPU=$R_CPU
}

an_raw=- an_pps=- an_eff=-
pl_probe=- pl_eff=- p1_ok=- p1_top=- p1_cap=- p1_cpu=- p64_ok=- p64_top=- p64_cap=- p64_cpu=-
p1_eff=- p64_eff=-
if part probe; then
	pl_probe=$(pcaploop_pps "$T/trace.pcap")
	# Per CPU second, as the probe's figure: the file 25 times over, so
	# that the 10 ms ticks do not matter; the best of $runs.
	pl_cpu=$(for _ in $(seq "$runs"); do
		# shellcheck disable=SC2046
		cpu_of "$NS_BUILDDIR/contrib/bench/pcaploop" $(for _ in $(seq 25); do echo "$T/trace.pcap"; done)
		echo
	done | sort -n | head -1)
	pl_eff=$(div $((SENT * 25)) "$pl_cpu" %.0f)
	probe_best 1
	p1_ok=$B_OK p1_top=$B_TOP p1_cap=$B_GOT p1_cpu=$B_CPU
	probe_best 64
	p64_ok=$B_OK p64_top=$B_TOP p64_cap=$B_GOT p64_cpu=$B_CPU
	p1_eff=$(div "$p1_cap" "$p1_cpu" %.0f)
	p64_eff=$(div "$p64_cap" "$p64_cpu" %.0f)
fi

# ---- the engine's messages ----------------------------------------------------
# $T/eng.pcap, its IP packets as Go2NetSpectra PacketInfo messages framed
# as field 1 of a wrapper ($T/msgs): a batch of k of them is a PacketBatch.
if part core || part js; then
	"$NS_BUILDDIR/contrib/pcapgen" -o "$T/eng.pcap" -n "$eng_packets" -f 50000 -s 84 \
		--snaplen 128 --ipv6 0.2 --proto-mix tcp=80,udp=17,icmp=2,sctp=1 \
		--duration 60 2>/dev/null || fail "pcapgen"
	mkdir -p "$T/inc/google/protobuf" "$T/py"
	cat >"$T/inc/google/protobuf/timestamp.proto" <<'EOP'
syntax = "proto3";
package google.protobuf;
message Timestamp { int64 seconds = 1; int32 nanos = 2; }
EOP
	protoc --python_out="$T/py" -I"$T/inc" -I"$NS_SRCDIR/tests/data" \
		"$NS_SRCDIR/tests/data/go2netspectra-traffic.proto" || fail "protoc --python_out"
	"$NS_BUILDDIR/netspectra" dump "$T/eng.pcap" >"$T/eng.dump" || fail "netspectra dump"
	"$PY" - "$T/py" "$T/eng.pcap" "$T/eng.dump" "$T/msgs" <<'EOPY' || fail "encoding"
# Every IP packet of the trace (netspectra dump's fields, the pcap
# record's timestamp) as a v1.PacketInfo, framed as field 1.
import ipaddress, struct, sys
sys.path.insert(0, sys.argv[1])
import go2netspectra_traffic_pb2 as pb
data = open(sys.argv[2], "rb").read()
magic = struct.unpack_from("<I", data)[0]
scale = {0xa1b2c3d4: 1000, 0xa1b23c4d: 1}[magic]
times, off = [None], 24
while off < len(data):
    sec, frac, incl, _ = struct.unpack_from("<IIII", data, off)
    times.append((sec, frac * scale))
    off += 16 + incl
def varint(n):
    out = bytearray()
    while n >= 0x80:
        out.append(n & 0x7F | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)
out, n = open(sys.argv[4], "wb"), 0
for line in open(sys.argv[3]):
    f = line.rstrip("\n").split("\t")
    if len(f) != 7:
        continue
    m = pb.PacketInfo()
    m.timestamp.seconds, m.timestamp.nanos = times[int(f[0])]
    t = m.five_tuple
    t.src_ip = ipaddress.ip_address(f[1]).packed
    t.dst_ip = ipaddress.ip_address(f[2]).packed
    t.src_port, t.dst_port, t.protocol = int(f[3]), int(f[4]), int(f[5])
    m.length = int(f[6])
    b = m.SerializeToString()
    out.write(b"\x0a" + varint(len(b)) + b)
    n += 1
print(n)
EOPY
	nip_eng=$(awk -F'\t' 'NF == 7' "$T/eng.dump" | wc -l)
	cat >"$T/pub.py" <<'EOPY'
# pub.py PORT SUBJECT FRAMED BATCH PPS: every message of FRAMED (BATCH
# packets each: PacketBatch messages, marked by their Content-Type) at PPS
# packets a second (0: as fast as the socket takes them), then PING/PONG:
# the server has them all.  Prints "packets P messages M seconds S
# start_ns W": S from the first message sent to the PONG, W the wall clock
# (ns) of the first message.
import bisect, socket, sys, time
port, subject, path, batch, pps = sys.argv[1], sys.argv[2].encode(), sys.argv[3], int(sys.argv[4]), float(sys.argv[5])
data = open(path, "rb").read()
items, i = [], 0
while i < len(data):
    j, n, shift = i + 1, 0, 0
    while True:
        b = data[j]; j += 1
        n |= (b & 0x7F) << shift; shift += 7
        if b < 0x80: break
    items.append((i, j, j + n)); i = j + n
# The whole protocol stream is made first, with the byte offset at which
# each message ends: sending is then slices of one buffer, paced by packets.
hdr = b"NATS/1.0\r\nContent-Type: application/x-protobuf; proto=netspectra.PacketBatch\r\n\r\n"
parts, ends, pos = [], [], 0
for k in range(0, len(items), batch):
    grp = items[k:k + batch]
    if batch == 1:
        body = data[grp[0][1]:grp[0][2]]
        p = b"PUB %s %d\r\n%s\r\n" % (subject, len(body), body)
    else:
        body = data[grp[0][0]:grp[-1][2]]
        p = b"HPUB %s %d %d\r\n%s%s\r\n" % (subject, len(hdr),
                                             len(hdr) + len(body), hdr, body)
    parts.append(p)
    pos += len(p)
    ends.append(pos)
blob = memoryview(b"".join(parts))
del parts
nmsgs, npk = len(ends), len(items)
s = socket.create_connection(("127.0.0.1", int(port)), timeout=60)
f = s.makefile("rb")
assert f.readline().startswith(b"INFO ")
s.sendall(b'CONNECT {"verbose":false,"pedantic":false,"headers":true,'
          b'"name":"nats-bench-pub","lang":"python","version":"0","protocol":1}\r\n')
t0, m, off, start_ns = time.monotonic(), 0, 0, time.time_ns()
CHUNK = 1 << 20
while m < nmsgs:
    if pps <= 0:
        want = nmsgs
    else:
        want = min(nmsgs, (int(pps * (time.monotonic() - t0)) + batch) // batch)
    if want <= m:
        time.sleep(0.0005)
        continue
    end = ends[want - 1]
    if end - off > CHUNK:	# a bounded slice, then look at the clock again
        want = bisect.bisect_right(ends, off + CHUNK, m, want)
        want = max(want, m + 1)
        end = ends[want - 1]
    s.sendall(blob[off:end])
    off, m = end, want
s.sendall(b"PING\r\n")
while True:
    line = f.readline()
    if not line:
        sys.exit("server closed the connection")
    if line.startswith(b"PONG"):
        break
    if line.startswith(b"-ERR"):
        sys.exit("server: %r" % line)
t1 = time.monotonic()	# the server has read every message
print("packets %d messages %d seconds %.3f start_ns %d" % (npk, m, t1 - t0, start_ns))
EOPY
	# The engine's config: one NATS input, 2 workers, one 5-tuple task.
	eng_cfg() {	# eng_cfg NAME INPUT
		cat >"$T/$1.yaml" <<EOC
daemon: {pidfile: $T/$1.pid, shm_name: /netspectra-nb-$$-$1, state_dir: $T/state-$1, log_level: info}
inputs: [$2]
prometheus: {enabled: false}
aggregator:
  period: 1h
  num_workers: 2
  exact:
    writers: []
    tasks:
      - {name: five, key_fields: [SrcIP, DstIP, SrcPort, DstPort, Protocol], max_flows: 1000000}
EOC
		"$NS_BUILDDIR/netspectrad" -t -c "$T/$1.yaml" >/dev/null 2>"$T/$1.err" ||
			fail "config $1: $(cat "$T/$1.err")"
	}
	eng_cfg analyze "{type: file, path: $T/eng.pcap}"
	an_best='' an_cpu=
	for _ in $(seq "$runs"); do
		t0=$(now_ns)
		c=$(cpu_of "$NS_BUILDDIR/netspectra" analyze -c "$T/analyze.yaml" --summary json "$T/eng.pcap")
		t=$(( $(now_ns) - t0 ))
		[ -z "$an_best" ] || [ "$t" -lt "$an_best" ] && an_best=$t
		[ -z "$an_cpu" ] || awk -v a="$c" -v b="$an_cpu" 'BEGIN { exit !(a < b) }' && an_cpu=$c
	done
	"$NS_BUILDDIR/netspectra" analyze -c "$T/analyze.yaml" --summary json "$T/eng.pcap" \
		>"$T/analyze.out" 2>&1 || fail "analyze: $(tail -3 "$T/analyze.out")"
	an_eff=$(div "$nip_eng" "$an_cpu" %.0f)
	# Its fixed cost (segment, forks, teardown) on a capture of no packet:
	# the engines' rates below leave their start-up out too.
	head -c 24 "$T/eng.pcap" >"$T/empty.pcap"
	an_start=
	for _ in $(seq "$runs"); do
		t0=$(now_ns)
		"$NS_BUILDDIR/netspectra" analyze -c "$T/analyze.yaml" --summary json "$T/empty.pcap" \
			>/dev/null 2>&1 || fail "analyze of an empty capture"
		t=$(( $(now_ns) - t0 ))
		[ -z "$an_start" ] || [ "$t" -lt "$an_start" ] && an_start=$t
	done
	an_raw=$(div "$nip_eng" "$(div "$an_best" 1000000000 %.6f)" %.0f)
	an_pps=$(div "$nip_eng" "$(div $((an_best - an_start)) 1000000000 %.6f)" %.0f)
	note "analyze: $nip_eng packets in $(div "$an_best" 1000000 %.0f) ms, start-up $(div "$an_start" 1000000 %.0f) ms (best of $runs): $an_raw pps, $an_pps after start-up"
fi

# eng_ticks: CPU ticks of the running engine's children (input, workers,
# exporter): what `netspectra analyze` spends is counted the same way.
eng_ticks() {
	local p t=0
	for p in $(pgrep -P "$DPID"); do t=$((t + $(cpu_ticks "$p"))); done
	echo "$t"
}
# eng_start CFG: netspectrad in $NSB on a fresh segment; sets DPID.
eng_start() {
	rm -f "/dev/shm/netspectra-nb-$$-$1" "/dev/shm/netspectra-nb-$$-$1.lock"
	live_engine_start "$T/$1.yaml" "$T/$1.log"
}
# eng_count CFG FIELD: a number of the engine's "nats:" status line.
eng_count() { natsin_count "$T/$1.yaml" "$2"; }
# eng_settle CFG WANT: poll until the messages count reaches WANT, or
# stops growing for 2 s; prints it.
eng_settle() {
	local last=-1 same=0 c deadline=$(( $(date +%s) + 120 ))
	while [ "$(date +%s)" -lt "$deadline" ]; do
		c=$(eng_count "$1" messages)
		c=${c:-0}
		[ "$c" -ge "$2" ] && break
		if [ "$c" = "$last" ]; then
			same=$((same + 1))
			[ "$same" -ge 40 ] && break
		else
			same=0 last=$c
		fi
		sleep 0.05
	done
	echo "$c"
}

# ---- 2. the engine over core NATS ------------------------------------------------
# core_run BATCH PPS: R_WHY (clean, or why not), R_PPS (the rate the
# publisher reached), R_ENG (the engine's: packets over the time from the
# first message sent to the last one counted; the input's client-side
# queue, 256k messages or 64 MiB, absorbs a burst, so this is the rate to
# read), R_EFF (the NATS input's packets per CPU second) and R_EEFF (the
# engine's: input, workers and exporter).
core_run() {
	local batch=$1 pps=$2 nmsg got drops cap c0 c1 e0 e1 res pk secs start t1
	nmsg=$(( (nip_eng + batch - 1) / batch ))
	eng_cfg core "{type: nats, url: $NATS_URL, subject: bench.core, queue: bench}"
	eng_start core
	wait_for 10 grep -q "queue group bench" "$T/core.log" || fail "engine: $(tail -3 "$T/core.log")"
	cap=$(pgrep -P "$DPID" -x ns-capture-0)
	c0=$(cpu_ticks "$cap")
	e0=$(eng_ticks)
	res=$(in_nats python3 "$T/pub.py" "$NATS_PORT" bench.core "$T/msgs" "$batch" "$pps") ||
		fail "publisher: $res"
	got=$(eng_settle core "$nmsg")
	t1=$(now_ns)
	drops=$(eng_count core "slow_consumer drops")
	pk=$(eng_count core packets)
	c1=$(cpu_ticks "$cap")
	e1=$(eng_ticks)
	kill -TERM "$DPID"; wait "$DPID" 2>/dev/null
	read -r _ _ _ _ _ secs _ start <<EOF
$res
EOF
	R_WHY=clean
	[ "$got" = "$nmsg" ] && [ "${drops:-x}" = 0 ] && [ "$pk" = "$nip_eng" ] ||
		R_WHY="took $got of $nmsg messages, slow_consumer drops $drops"
	R_PPS=$(div "$nip_eng" "$secs" %.0f)
	# From the publisher's first message (it frames them all before).
	R_ENG=$(div "$nip_eng" "$(div $((t1 - start)) 1000000000 %.6f)" %.0f)
	R_EFF=$(div "$pk" "$(div $((c1 - c0)) "$hz" %.4f)" %.0f)
	R_EEFF=$(div "$pk" "$(div $((e1 - e0)) "$hz" %.4f)" %.0f)
}
core_best() {	# core_best BATCH: B_OK, the highest clean rate; B_ENG, B_EFF there
	B_OK=0 B_ENG=- B_EFF=- B_EEFF=-
	for r in $eng_rates; do
		core_run "$1" "$r"
		note "core NATS, batch $1, $r pps (publisher reached $R_PPS, engine $R_ENG): $R_WHY; packets per CPU second: NATS input $R_EFF, engine $R_EEFF"
		[ "$R_WHY" = clean ] || break
		B_OK=$R_PPS B_ENG=$R_ENG B_EFF=$R_EFF B_EEFF=$R_EEFF
	done
}
c1_ok=- c1_eng=- c1_eff=- c1_eeff=- c64_ok=- c64_eng=- c64_eff=- c64_eeff=-
if part core; then
	core_best 1
	c1_ok=$B_OK c1_eng=$B_ENG c1_eff=$B_EFF c1_eeff=$B_EEFF
	core_best 64
	c64_ok=$B_OK c64_eng=$B_ENG c64_eff=$B_EFF c64_eeff=$B_EEFF
fi

# ---- 3. the engine over JetStream -------------------------------------------------
# js_run BATCH STREAM RUN: R_PPS, packets/s of a fresh durable from the
# stream, from the engine's connection to its last message.
js_run() {
	local nmsg t0 t1 got
	nmsg=$(( (nip_eng + $1 - 1) / $1 ))
	eng_cfg "js$1" "{type: nats, url: $NATS_URL, subject: bench.js$1, jetstream: {stream: $2, durable: run$3}}"
	eng_start "js$1"
	t0=$(now_ns)
	got=$(eng_settle "js$1" "$nmsg")
	t1=$(now_ns)
	kill -TERM "$DPID"; wait "$DPID" 2>/dev/null
	[ "$got" = "$nmsg" ] || fail "JetStream engine took $got of $nmsg messages"
	R_PPS=$(div "$nip_eng" "$(div $((t1 - t0)) 1000000000 %.6f)" %.0f)
}
j1=- j64=-
if part js; then
	for b in 1 64; do
		nats_stream_create "BENCH$b" "bench.js$b"
		res=$(in_nats python3 "$T/pub.py" "$NATS_PORT" "bench.js$b" "$T/msgs" "$b" 0) ||
			fail "publisher: $res"
		want=$(( (nip_eng + b - 1) / b ))
		wait_for 60 sh -c "[ \$(ip netns exec $NSB python3 $NATS_PY stream $NATS_PORT info BENCH$b) -ge $want ]" ||
			fail "stream BENCH$b holds $(nats_stream_count "BENCH$b") of $want messages"
		for r in $(seq "$runs"); do
			js_run "$b" "BENCH$b" "$r"
			note "JetStream, batch $b, run $r: $R_PPS pps"
			echo "$R_PPS" >>"$T/js$b.rates"
		done
		eval "j$b=\$(sort -n \"\$T/js$b.rates\" | awk '{ a[NR] = \$1 } END { print a[int((NR + 1) / 2)] }')"
	done
fi

# ---- the table ---------------------------------------------------------------------
{
	echo "# nats-bench: $(nats-server --version 2>/dev/null), $(nproc) cores, load average $load0 at start, $(cut -d' ' -f1-3 /proc/loadavg) at the end, $(date -u +%Y-%m-%dT%H:%M:%SZ)"
	if part probe; then
	printf "%-52s %12s\n" "probe trace: frames (<= 128 bytes), IP packets" "$SENT, $nip_probe"
	printf "%-52s %12s\n" "  pcaploop on the same frames, pps (best of $runs)" "$pl_probe"
	printf "%-52s %12s\n" "    packets per CPU second (best of $runs)" "$pl_eff"
	printf "%-52s %12s %12s\n" "  netspectra probe" "batch 1" "batch 64"
	printf "%-52s %12s %12s\n" "  highest loss-free replay rate, pps" "$p1_ok" "$p64_ok"
	printf "%-52s %12s %12s\n" "    / pcaploop pps" "$(div "$p1_ok" "$pl_probe" %.3f)" "$(div "$p64_ok" "$pl_probe" %.3f)"
	printf "%-52s %12s %12s\n" "  --topspeed x$top_loops: replay pps" "$p1_top" "$p64_top"
	printf "%-52s %12s %12s\n" "    frames captured of $((SENT * top_loops))" "$p1_cap" "$p64_cap"
	printf "%-52s %12s %12s\n" "  probe CPU s in it (all threads)" "$p1_cpu" "$p64_cpu"
	printf "%-52s %12s %12s\n" "  packets per probe CPU second" "$p1_eff" "$p64_eff"
	printf "%-52s %12s %12s\n" "    / pcaploop's" "$(div "$p1_eff" "$pl_eff" %.3f)" "$(div "$p64_eff" "$pl_eff" %.3f)"
	fi
	if part core || part js; then
	printf "%-52s %12s\n" "engine trace: IP packets" "$nip_eng"
	printf "%-52s %12s\n" "  netspectra analyze, 2 workers, pps (best of $runs)" "$an_raw"
	printf "%-52s %12s\n" "    after its start-up (the ratios' base)" "$an_pps"
	printf "%-52s %12s\n" "    packets per CPU second (all its processes)" "$an_eff"
	printf "%-52s %12s %12s\n" "  netspectrad, type: nats, 2 workers" "batch 1" "batch 64"
	printf "%-52s %12s %12s\n" "  core NATS: highest zero-loss offered rate, pps" "$c1_ok" "$c64_ok"
	printf "%-52s %12s %12s\n" "    engine's rate there (to the last count), pps" "$c1_eng" "$c64_eng"
	printf "%-52s %12s %12s\n" "    / analyze" "$(div "$c1_eng" "$an_pps" %.3f)" "$(div "$c64_eng" "$an_pps" %.3f)"
	printf "%-52s %12s %12s\n" "    NATS input's packets per CPU second there" "$c1_eff" "$c64_eff"
	printf "%-52s %12s %12s\n" "    engine's packets per CPU second there" "$c1_eeff" "$c64_eeff"
	printf "%-52s %12s %12s\n" "      / analyze's" "$(div "$c1_eeff" "$an_eff" %.3f)" "$(div "$c64_eeff" "$an_eff" %.3f)"
	printf "%-52s %12s %12s\n" "  JetStream: stored stream drained, pps (median)" "$j1" "$j64"
	printf "%-52s %12s %12s\n" "    / analyze" "$(div "$j1" "$an_pps" %.3f)" "$(div "$j64" "$an_pps" %.3f)"
	printf "%-52s %12s\n" "  Go2NetSpectra's stated engine rate, pps" "> 500000"
	fi
	echo "(core NATS rates: stepped over $eng_rates pps, as the publisher reached them; the"
	echo " highest step taken whole is shown, - if none; the probe's replay rates double"
	echo " from $rate0 pps up to tcpreplay --topspeed on the veth, as tcpreplay reached them)"
} | tee "$T/table"
[ -n "${BENCH_RESULTS:-}" ] && cat "$T/table" >>"$BENCH_RESULTS"
exit 0
