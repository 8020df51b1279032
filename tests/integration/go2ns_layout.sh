#!/bin/sh
# go2ns_layout.sh -- a drop-in for Go2NetSpectra's users (issue 18).
#
# Go2NetSpectra's own config (the reference one, copied) with its ${VAR}s
# set by a .env beside the copy, its file writers switched on under this
# test's directory and its ClickHouse writers off, run by `netspectra
# analyze` over a pcapgen capture.  The output tree is compared with
# Go2NetSpectra's layout file by file -- directory names (the period start
# in local time, 2006-01-02_15-04-05, under a TZ that is not UTC), file
# names, line formats, summary.json's keys, order and indentation -- and
# its contents with tshark's per-flow counts: every exact flow in the
# shard file Go2NetSpectra's FNV-1a would put it in, with tshark's packets
# and bytes; the heavy hitters exactly the sources whose tshark counts
# reach count_thereshold / size_thereshold, with their counts.  Then the
# same with the exact writer left a gob writer (JSON lines of
# Go2NetSpectra's Flow in shard_<i>.jsonl), the .env's precedence as
# netspectrad -t shows it, and a top_k that cuts the heavy hitters short
# counted as unreported.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/flows_lib.sh"
need tshark python3
ns_tmpdir
ref=${NS_REFERENCE_CONFIG:-$NS_SRCDIR/../shared/reference/go2netspectra-config.yaml}
[ -r "$ref" ] || ref=$NS_SRCDIR/tests/data/config/go2netspectra.yaml
[ -r "$ref" ] || skip "no copy of Go2NetSpectra's config"

# 40k packets, 3000 conversations, three scanners: a few dozen sources
# over the thresholds below.  The reference's 4096 packets and 4096000
# bytes would want a trace of millions of packets (tshark alone would take
# minutes), so they are scaled down with it; nothing else changes.
COUNT_T=300 SIZE_T=150000
"$PCAPGEN" -o "$T/t.pcap" -n 40000 -f 3000 -s 11 --ipv6 0.3 --scanners 3 \
	--scan-fanout 300 2>/dev/null || fail "pcapgen"

# The copy: writers on, under $T; ClickHouse off (point 5 of the issue,
# analyze driving it, is tested elsewhere); thresholds scaled.
mkdir "$T/g2" || fail "mkdir"
python3 - "$ref" "$T/g2/config.yaml" "$T/res" "$COUNT_T" "$SIZE_T" <<'EOP' ||
import re, sys
src, dst, root, ct, st = sys.argv[1:]
s = open(src).read()
def sub(pat, rep):
    global s
    s, n = re.subn(pat, rep, s, flags=re.M)
    assert n >= 1, pat
# The exact group's gob writer becomes a text writer; the sketch group's
# text writer is enabled; both write under root.
sub(r'(- type: )"gob"(\n\s+enabled: )false(\n\s+snapshot_interval: "\w+"\n\s+)gob:'
    r'(\n\s+root_path: )"test/res"', r'\1"text"\2true\3text:\4"%s"' % root)
sub(r'(- type: "text"\n\s+enabled: )false(\n\s+snapshot_interval: "\w+"\n\s+text:'
    r'\n\s+root_path: )"test/res"', r'\1true\2"%s"' % root)
sub(r'(- type: "clickhouse"\n\s+enabled: )true', r'\1false')
sub(r'size_thereshold: 4096000', 'size_thereshold: %s' % st)
sub(r'count_thereshold: 4096\b', 'count_thereshold: %s' % ct)
open(dst, "w").write(s)
EOP
	fail "cannot adapt $ref"
# Every ${VAR} of the reference, as a Go2NetSpectra user's .env sets them
# (comments, quotes, export); SMTP_HOST empty: no e-mail from a test.
cat >"$T/g2/.env" <<'EOE'
# Go2NetSpectra's .env
API_GRPC_LISTEN_ADDR=127.0.0.1:50051
API_HTTP_LISTEN_ADDR="127.0.0.1:18080"
AI_API_KEY='not-a-key'   # single quotes: literal
AI_GRPC_LISTEN_ADDR=127.0.0.1:50052
export NATS_URL=nats://127.0.0.1:4222
ALERTER_AI_SERVICE_ADDR=127.0.0.1:50053
SMTP_HOST=
SMTP_PORT=587
SMTP_USER=alerts
SMTP_PASSWORD="p#ss word"
SMTP_FROM=alerts@example.org
SMTP_TO=ops@example.org
CLICKHOUSE_HOST=ch.example
CLICKHOUSE_PORT=18123
CLICKHOUSE_DB=gons
CLICKHOUSE_USERNAME=default
CLICKHOUSE_PASSWORD=secret
EOE
unset API_GRPC_LISTEN_ADDR API_HTTP_LISTEN_ADDR AI_API_KEY AI_GRPC_LISTEN_ADDR \
	NATS_URL ALERTER_AI_SERVICE_ADDR SMTP_HOST SMTP_PORT SMTP_USER \
	SMTP_PASSWORD SMTP_FROM SMTP_TO CLICKHOUSE_HOST CLICKHOUSE_PORT \
	CLICKHOUSE_DB CLICKHOUSE_USERNAME CLICKHOUSE_PASSWORD

# ---- the .env, as the effective configuration shows it -----------------
"$NETSPECTRAD" -t -c "$T/g2/config.yaml" >"$T/eff.yaml" 2>"$T/eff.err" ||
	fail "netspectrad -t: $(cat "$T/eff.err")"
grep -q 'host: "ch.example"' "$T/eff.yaml" || fail ".env not read: $(grep host "$T/eff.yaml")"
grep -q 'port: 18123' "$T/eff.yaml" || fail ".env CLICKHOUSE_PORT not used"
grep -q 'password: "p#ss word"' "$T/eff.yaml" || fail ".env double quotes"
[ "$(grep -c 'layout: go2netspectra' "$T/eff.yaml")" = 2 ] ||
	fail "expected Go2NetSpectra's layout for both text writers: $(grep layout "$T/eff.yaml")"
CLICKHOUSE_HOST=from-env "$NETSPECTRAD" -t -c "$T/g2/config.yaml" >"$T/eff2.yaml" 2>&1 ||
	fail "netspectrad -t: $(cat "$T/eff2.yaml")"
grep -q 'host: "from-env"' "$T/eff2.yaml" || fail "the environment must win over .env"
echo "ok: .env read beside the config; the environment wins over it"

# ---- analyze into Go2NetSpectra's layout ---------------------------------
tshark_flows "$T/t.pcap" "$T/tflows"
first=$(sort -t'	' -k9,9n "$T/tflows" | head -1 | cut -f9)
TZ=JST-9 "$NETSPECTRA" analyze -c "$T/g2/config.yaml" --summary json "$T/t.pcap" \
	>"$T/sum.json" 2>"$T/err" || fail "analyze: $(cat "$T/err")"

python3 - "$T/res" "$T/tflows" "$first" "$COUNT_T" "$SIZE_T" "$T/sum.json" <<'EOP' ||
import calendar, ipaddress, json, os, re, sys, time
root, tflows, first_ns, ct, st, sumfile = sys.argv[1:]
ct, st = int(ct), int(st)
PERIOD = 720 * 3600

def fail(msg):
    sys.exit("FAIL: " + msg)

def fnv1a(s):
    h = 2166136261
    for c in s.encode():
        h = ((h ^ c) * 16777619) & 0xffffffff
    return h

# tshark's flows: key -> [packets, bytes]; per source packets and bytes.
flows, src_p, src_b = {}, {}, {}
for line in open(tflows):
    c = line.rstrip("\n").split("\t")
    key = tuple(c[1:6])
    flows[key] = (int(c[6]), int(c[7]))
    src_p[c[1]] = src_p.get(c[1], 0) + int(c[6])
    src_b[c[1]] = src_b.get(c[1], 0) + int(c[7])

# One directory: the period start in local time (TZ=JST-9: UTC+9).
start = int(first_ns) // 10**9 // PERIOD * PERIOD
want_dir = time.strftime("%Y-%m-%d_%H-%M-%S", time.gmtime(start + 9 * 3600))
dirs = os.listdir(root)
if dirs != [want_dir]:
    fail("directories %s, want [%s]" % (dirs, want_dir))
top = os.path.join(root, want_dir)
tasks = sorted(os.listdir(top))
if tasks != ["cm_src_left", "per_five_tuple", "ss_src_dst"]:
    fail("task directories: %s" % tasks)

# ---- per_five_tuple: shard_<i>.txt by FNV-1a of "src-dst-sport-dport-proto"
d = os.path.join(top, "per_five_tuple")
files = set(os.listdir(d))
want_shards = {"shard_%d.txt" % (fnv1a("-".join(k)) % 128) for k in flows}
if files != want_shards | {"summary.json"}:
    fail("per_five_tuple files: extra %s, missing %s" % (
        sorted(files - want_shards - {"summary.json"})[:5],
        sorted((want_shards | {"summary.json"}) - files)[:5]))
line_re = re.compile(r"^(\S+) (\S+) (\d+) (\d+) (\d+) (\d+) (\d+)$")
got = {}
for f in files - {"summary.json"}:
    for line in open(os.path.join(d, f)):
        m = line_re.match(line.rstrip("\n"))
        if not m:
            fail("%s: not '<SrcIP> <DstIP> <SrcPort> <DstPort> <Protocol> "
                 "<packets> <bytes>': %r" % (f, line))
        key = m.groups()[:5]
        if "shard_%d.txt" % (fnv1a("-".join(key)) % 128) != f:
            fail("%s: flow %s belongs in another shard" % (f, key))
        if key in got:
            fail("flow %s twice" % (key,))
        got[key] = (int(m.group(6)), int(m.group(7)))
if got != flows:
    diff = [(k, flows.get(k), got.get(k)) for k in set(flows) | set(got)
            if flows.get(k) != got.get(k)]
    fail("%d flows differ from tshark's, e.g. %s" % (len(diff), diff[:3]))

# summary.json: Go2NetSpectra's keys, in its order, Go's indentation.
text = open(os.path.join(d, "summary.json")).read()
pairs = json.loads(text, object_pairs_hook=lambda p: p)
keys = [k for k, _ in pairs]
if keys != ["task_name", "total_flows", "total_bytes", "total_packets",
            "shards", "timestamp"]:
    fail("summary.json keys %s" % keys)
if text != json.dumps(dict(pairs), indent=2) + "\n":
    fail("summary.json is not indented as Go's json.Encoder: %r" % text)
s = dict(pairs)
want = {"task_name": "per_five_tuple", "total_flows": len(flows),
        "total_bytes": sum(b for _, b in flows.values()),
        "total_packets": sum(p for p, _ in flows.values()), "shards": 128}
for k, v in want.items():
    if s[k] != v:
        fail("summary.json %s: %r, want %r" % (k, s[k], v))
if not re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", s["timestamp"]) or \
        abs(calendar.timegm(time.strptime(s["timestamp"], "%Y-%m-%dT%H:%M:%SZ"))
            - time.time()) > 600:
    fail("summary.json timestamp %r: not the time of the write" % s["timestamp"])

# ---- cm_src_left: count_hh.txt / size_hh.txt, "<SrcIP> <value>"
d = os.path.join(top, "cm_src_left")
if sorted(os.listdir(d)) != ["count_hh.txt", "size_hh.txt"]:
    fail("cm_src_left files: %s" % sorted(os.listdir(d)))
for name, truth, thr in (("count_hh.txt", src_p, ct), ("size_hh.txt", src_b, st)):
    rows = []
    for line in open(os.path.join(d, name)):
        m = re.match(r"^(\S+) (\d+)$", line.rstrip("\n"))
        if not m:
            fail("%s: not '<flow> <value>': %r" % (name, line))
        ipaddress.ip_address(m.group(1))
        rows.append((m.group(1), int(m.group(2))))
    if [v for _, v in rows] != sorted((v for _, v in rows), reverse=True):
        fail("%s: not largest first" % name)
    want = {k: v for k, v in truth.items() if v >= thr}
    if dict(rows) != want or len(rows) != len(want):
        fail("%s: %d keys, want the %d tshark puts at or over %d; "
             "differences %s" % (name, len(rows), len(want), thr,
             sorted(set(dict(rows).items()) ^ set(want.items()))[:4]))
    print("ok: %s: the %d sources at or over %d, as tshark counts them" % (name, len(want), thr))

# ---- ss_src_dst: spread_ss.txt, "<SrcIP> <distinct DstIPs>"
d = os.path.join(top, "ss_src_dst")
if os.listdir(d) != ["spread_ss.txt"]:
    fail("ss_src_dst files: %s" % os.listdir(d))
dsts = {}
for k in flows:
    dsts.setdefault(k[0], set()).add(k[1])
rows = {}
for line in open(os.path.join(d, "spread_ss.txt")):
    m = re.match(r"^(\S+) (\d+)$", line.rstrip("\n"))
    if not m or m.group(1) not in dsts:
        fail("spread_ss.txt: not '<SrcIP> <value>' of a source: %r" % line)
    rows[m.group(1)] = int(m.group(2))
scanners = [s for s, v in dsts.items() if len(v) >= 100]
for s in scanners:
    if s not in rows or abs(rows[s] - len(dsts[s])) > 0.25 * len(dsts[s]):
        fail("scanner %s: %s distinct destinations reported, %d true" %
             (s, rows.get(s), len(dsts[s])))

# The analyze summary: nothing over a threshold left unreported.
sk = {x["name"]: x for x in json.load(open(sumfile))["sketches"]}
if sk["cm_src_left"]["unreported"] != {"count": 0, "size": 0}:
    fail("unreported: %s" % sk["cm_src_left"])
print("ok: %d flows in %d shard files and summary.json as Go2NetSpectra "
      "writes them; %d spreaders, %d scanners within 25%%" % (
      len(flows), len(want_shards), len(rows), len(scanners)))
EOP
	fail "Go2NetSpectra's layout"

# ---- the exact writer as Go2NetSpectra has it: gob, served as JSON lines
python3 - "$T/g2/config.yaml" "$T/gob" <<'EOP' || fail "cannot make the gob config"
import re, sys
p, root = sys.argv[1:]
s = open(p).read()
# The first text writer (the exact group's) back to gob.
s = re.sub(r'- type: "text"(\n\s+enabled: true\n\s+snapshot_interval: "3600s"\n\s+)text:'
           r'(\n\s+root_path: )"[^"]*"', r'- type: "gob"\1gob:\2"%s"' % root, s, count=1)
open(p.replace("config.yaml", "gob.yaml"), "w").write(s)
EOP
"$NETSPECTRA" analyze -c "$T/g2/gob.yaml" "$T/t.pcap" >/dev/null 2>"$T/err" ||
	fail "analyze (gob): $(cat "$T/err")"
grep -q 'writer type "gob"' "$T/err" || fail "no warning that gob is written as JSON lines"
python3 - "$T/gob" "$T/tflows" <<'EOP' || fail "gob writer in Go2NetSpectra's layout"
import json, os, re, sys
root, tflows = sys.argv[1:]

def fail(msg):
    sys.exit("FAIL: " + msg)

def go_time(ns):
    import time
    sec, frac = divmod(ns, 10**9)
    base = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec))
    return base + ("." + ("%09d" % frac).rstrip("0") if frac else "") + "Z"

flows = {}
for line in open(tflows):
    c = line.rstrip("\n").split("\t")
    flows[tuple(c[1:6])] = c[6:10]
(top,) = os.listdir(root)
d = os.path.join(root, top, "per_five_tuple")
seen = 0
for f in os.listdir(d):
    if f == "summary.json":
        continue
    if not re.match(r"^shard_\d+\.jsonl$", f):
        fail("unexpected file %s" % f)
    for line in open(os.path.join(d, f)):
        o = json.loads(line, object_pairs_hook=lambda p: p)
        if [k for k, _ in o] != ["Key", "Fields", "StartTime", "EndTime",
                                 "ByteCount", "PacketCount"]:
            fail("not Go2NetSpectra's Flow: %s" % line)
        o = dict(o)
        fk = [k for k, _ in o["Fields"]]
        if fk != sorted(fk) or sorted(fk) != sorted(
                ["SrcIP", "DstIP", "SrcPort", "DstPort", "Protocol"]):
            fail("Fields not a Go map of the key: %s" % line)
        fl = dict(o["Fields"])
        key = (fl["SrcIP"], fl["DstIP"], str(fl["SrcPort"]), str(fl["DstPort"]),
               str(fl["Protocol"]))
        if o["Key"] != "-".join(key):
            fail("Key %r is not the fields joined by '-'" % o["Key"])
        p, b, first, last = flows[key]
        want = (int(p), int(b), go_time(int(first)), go_time(int(last)))
        got = (o["PacketCount"], o["ByteCount"], o["StartTime"], o["EndTime"])
        if got != want:
            fail("flow %s: %s, tshark %s" % (key, got, want))
        seen += 1
if seen != len(flows):
    fail("%d flows in the jsonl shards, tshark has %d" % (seen, len(flows)))
print("ok: gob writer: %d flows as JSON lines of Go2NetSpectra's Flow, times and counts as tshark's" % seen)
EOP

# ---- top_k cuts the heavy hitters short: counted as unreported ----------
# A netspectra-only key makes the file netspectra's: its own layout, so
# a root of its own.
sed -e "s/^\\(          count_thereshold: $COUNT_T\\)$/\\1\\n          top_k: 3/" \
	-e "s#$T/res#$T/res-topk#" "$T/g2/config.yaml" >"$T/topk.yaml"
grep -q 'top_k: 3' "$T/topk.yaml" || fail "cannot add top_k"
"$NETSPECTRA" analyze -c "$T/topk.yaml" --summary json "$T/t.pcap" >"$T/topk.json" 2>"$T/err" ||
	fail "analyze (top_k): $(cat "$T/err")"
python3 - "$T/topk.json" "$T/tflows" "$COUNT_T" "$SIZE_T" <<'EOP' || fail "top_k"
import json, sys
sumfile, tflows, ct, st = sys.argv[1:]
p, b = {}, {}
for line in open(tflows):
    c = line.split("\t")
    p[c[1]] = p.get(c[1], 0) + int(c[6])
    b[c[1]] = b.get(c[1], 0) + int(c[7])
over = {"count": sum(v >= int(ct) for v in p.values()),
        "size": sum(v >= int(st) for v in b.values())}
sk = {x["name"]: x for x in json.load(open(sumfile))["sketches"]}["cm_src_left"]
for kind in ("count", "size"):
    if sk["reported"][kind] != 3 or sk["unreported"][kind] != over[kind] - 3:
        sys.exit("FAIL: %s: reported %d, unreported %d; %d over the threshold, top_k 3"
                 % (kind, sk["reported"][kind], sk["unreported"][kind], over[kind]))
print("ok: top_k 3: %d and %d keys over the thresholds counted as unreported"
      % (over["count"] - 3, over["size"] - 3))
EOP
grep -q 'keys over the threshold not reported' "$T/err" ||
	fail "no warning about unreported heavy hitters: $(cat "$T/err")"
