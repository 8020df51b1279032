#!/bin/sh
# api_bad_input.sh -- the query API turns bad requests away, and no request
# text reaches ClickHouse.  netspectrad (an exact and a sketch task,
# ClickHouse writers to a scratch clickhouse-server, the API on loopback)
# gets a table of bad requests on every endpoint: malformed JSON, wrong
# types, out-of-range ports, protocols, types and limits, bad addresses and
# times, unknown tasks, keys and flow keys, bodies of 2 MiB (with and
# without a Content-Length), and SQL fragments (' OR 1=1 --, '; DROP TABLE
# flow_metrics; --, \', backticks, unicode quotes) in every string field
# of every endpoint.  Each answers 4xx with a JSON {"error": "..."}, the
# API answers GET / after each, and after SYSTEM FLUSH LOGS ClickHouse's
# query log holds none of the fragments -- while it does hold the API's
# statements for the good requests made alongside (the check is not blind).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/ch_lib.sh"
need_ch
ns_tmpdir

ns_alone
ns_idle_if "$NSA"
ch_setup "$NSA"
ch_start
AP=$(ch_free_port 19700)
API_URL=http://127.0.0.1:$AP
ns_at_exit "rm -f /dev/shm/netspectra-apibad-$$*"

_ch="clickhouse: {host: 127.0.0.1, port: $CH_HTTP, node: bad}"
cat >"$T/d.yaml" <<EOC
daemon: {pidfile: $T/d.pid, shm_name: /netspectra-apibad-$$, state_dir: $T/state, log_level: info}
inputs: [{type: pcap, interface: idle0, snaplen: 128}]
prometheus: {enabled: false}
api: {enabled: true, http_listen_addr: 127.0.0.1:$AP}
aggregator:
  period: 1h
  num_workers: 2
  exact:
    writers: [{type: clickhouse, snapshot_interval: 1s, $_ch}]
    tasks:
      - {name: per_five_tuple, key_fields: [SrcIP, DstIP, SrcPort, DstPort, Protocol], max_flows: 1000}
  sketch:
    writers: [{type: clickhouse, snapshot_interval: 1s, $_ch}]
    tasks:
      - {name: hh, skt_type: 0, flow_fields: [SrcIP], width: 1024, depth: 2,
         count_threshold: 10, size_threshold: 10000, top_k: 10}
EOC
check_config "$T/d.yaml"
daemon_start "$NSA" "$T/d.yaml" "$T/d.log" "capturing on idle0"
wait_for 20 api_up || fail "the API does not answer GET / on $API_URL: $(tail -5 "$T/d.log")"
table_exists() { [ "$(ch_q "EXISTS TABLE $1")" = 1 ]; }
for t in flow_metrics heavy_hitters; do
	wait_for 20 table_exists "$t" || fail "the writers did not create $t"
done

cat >"$T/bad.py" <<'EOP'
import json, socket, sys, urllib.parse

HOST, PORT = sys.argv[1], int(sys.argv[2])
MARK = "nsq7z"		# in every fragment: what the query log is searched for

FRAGS = ["' OR 1=1 --", "'; DROP TABLE flow_metrics; --", "\\'", "`id`",
         "per_five_tuple\u2019 OR \u20191\u2019=\u20191", "\u03c0'\"\u00e9--",
         "1) UNION SELECT 1 --", "'+sleep(3)+'"]
FRAGS = ["%s %s%d" % (f, MARK, i) for i, f in enumerate(FRAGS)]

GOOD_AGG = {"task_name": "per_five_tuple"}
GOOD_TRACE = {"task_name": "per_five_tuple", "flow_keys": {
    "SrcIP": "10.1.2.3", "DstIP": "10.3.2.1", "SrcPort": "1000",
    "DstPort": "443", "Protocol": "6"}, "end_time": "2030-01-01T00:00:00Z"}
GOOD_HH = {"task_name": "hh", "type": 0, "limit": 10,
           "end_time": "2030-01-01T00:00:00Z"}
GOOD_Q = {"targets": [{"target": "per_five_tuple"}],
          "range": {"from": "2026-01-01T00:00:00Z", "to": "2026-01-02T00:00:00Z"}}


def with_(base, path, value):
    """A deep copy of base with the member at path (a tuple) set."""
    o = json.loads(json.dumps(base))
    cur = o
    for k in path[:-1]:
        cur = cur[k]
    cur[path[-1]] = value
    return o


def renamed_key(base, path, new):
    o = json.loads(json.dumps(base))
    cur = o
    for k in path[:-1]:
        cur = cur[k]
    cur[new] = cur.pop(path[-1])
    return o


AGG, TRACE, HH, Q = "/api/v1/aggregate", "/api/v1/flows/trace", "/api/v1/heavy-hitters", "/query"
cases = []      # (name, method, path, body bytes or None)


def post(name, path, body):
    if not isinstance(body, (bytes, str)):
        body = json.dumps(body)
    if isinstance(body, str):
        body = body.encode()
    cases.append((name, "POST", path, body))


# Malformed JSON, on every POST endpoint.
for p in (AGG, TRACE, HH, Q, "/search"):
    for i, raw in enumerate(['{', '{"task_name": "per_five_tuple",}', '[1, 2',
                             '{"task_name": per_five_tuple}', '\x00\x01',
                             '{"task_name": "a\\x"}', '"\\ud800"']):
        post("malformed %d" % i, p, raw)
    for i, raw in enumerate(['[]', '"per_five_tuple"', '42']):
        post("not an object %d" % i, p, raw)

# Wrong types.
for k, v in (("task_name", 5), ("task_name", ["per_five_tuple"]), ("task_name", {}),
             ("src_port", "abc"), ("src_port", True), ("src_port", 1.5),
             ("dst_port", [443]), ("protocol", "tcp"), ("src_ip", 167772161),
             ("end_time", 1767225600), ("end_time", "yesterday"),
             ("end_time", "2026-13-01T00:00:00Z"), ("start_time", "2026-01-01 00:00:00"),
             ("end_time", "2026-01-01T25:00:00Z")):
    post("aggregate %s=%r" % (k, v), AGG, with_(GOOD_AGG, (k,), v))
for k, v in (("flow_keys", "SrcIP=10.1.2.3"), ("flow_keys", ["10.1.2.3"]),
             ("task_name", 1), ("end_time", True)):
    post("trace %s=%r" % (k, v), TRACE, with_(GOOD_TRACE, (k,), v))
for k, v in (("SrcPort", "http"), ("Protocol", True), ("SrcIP", 10), ("DstPort", 1.5)):
    post("trace flow key %s=%r" % (k, v), TRACE, with_(GOOD_TRACE, ("flow_keys", k), v))
for k, v in (("type", "bogus"), ("type", 1.5), ("limit", "ten"), ("limit", [10]),
             ("task_name", 7)):
    post("heavy-hitters %s=%r" % (k, v), HH, with_(GOOD_HH, (k,), v))

# Out of range.
for k, v in (("src_port", 65536), ("dst_port", -1), ("src_port", "70000"),
             ("protocol", 256), ("protocol", -3), ("dst_port", 2 ** 64),
             ("src_ip", "300.1.1.1"), ("dst_ip", "10.0.0.1/33"), ("src_ip", "::g")):
    post("aggregate %s=%r" % (k, v), AGG, with_(GOOD_AGG, (k,), v))
for k, v in (("SrcPort", "65536"), ("DstPort", "-1"), ("Protocol", "256"),
             ("SrcIP", "10.1.2.300"), ("DstIP", "fe80::1::2")):
    post("trace flow key %s=%r" % (k, v), TRACE, with_(GOOD_TRACE, ("flow_keys", k), v))
for k, v in (("type", 3), ("type", -1), ("type", 255), ("limit", -5), ("limit", 2 ** 40)):
    post("heavy-hitters %s=%r" % (k, v), HH, with_(GOOD_HH, (k,), v))

# Unknown tasks, keys and flow keys.
post("aggregate unknown task", AGG, with_(GOOD_AGG, ("task_name",), "no_such_task"))
post("aggregate sketch task", AGG, with_(GOOD_AGG, ("task_name",), "hh"))
post("aggregate unknown key", AGG, with_(GOOD_AGG, ("bogus",), 1))
post("trace unknown task", TRACE, with_(GOOD_TRACE, ("task_name",), "no_such_task"))
post("trace unknown key", TRACE, with_(GOOD_TRACE, ("bogus",), "x"))
post("trace unknown flow key", TRACE, with_(GOOD_TRACE, ("flow_keys", "Bogus"), "1"))
post("trace flow key TaskName", TRACE, with_(GOOD_TRACE, ("flow_keys", "TaskName"), "hh"))
post("heavy-hitters unknown task", HH, with_(GOOD_HH, ("task_name",), "no_such_task"))
post("heavy-hitters exact task", HH, with_(GOOD_HH, ("task_name",), "per_five_tuple"))
post("heavy-hitters unknown key", HH, with_(GOOD_HH, ("bogus",), 1))

# SQL fragments in every string field of every endpoint: as values, and
# as the names of keys.
for i, f in enumerate(FRAGS):
    for k in ("task_name", "src_ip", "dst_ip", "src_port", "dst_port", "protocol",
              "end_time", "start_time"):
        post("aggregate %s frag %d" % (k, i), AGG, with_(GOOD_AGG, (k,), f))
    post("aggregate key frag %d" % i, AGG, with_(GOOD_AGG, (f,), "1"))
    for k in ("task_name", "end_time"):
        post("trace %s frag %d" % (k, i), TRACE, with_(GOOD_TRACE, (k,), f))
    for k in ("SrcIP", "DstIP", "SrcPort", "DstPort", "Protocol"):
        post("trace flow key %s frag %d" % (k, i), TRACE, with_(GOOD_TRACE, ("flow_keys", k), f))
        post("trace flow key name frag %d for %s" % (i, k), TRACE,
             renamed_key(GOOD_TRACE, ("flow_keys", k), f))
    for k in ("task_name", "end_time", "type", "limit"):
        post("heavy-hitters %s frag %d" % (k, i), HH, with_(GOOD_HH, (k,), f))
    post("query target frag %d" % i, Q, with_(GOOD_Q, ("targets", 0, "target"), f))
    post("query range.from frag %d" % i, Q, with_(GOOD_Q, ("range", "from"), f))
    post("query range.to frag %d" % i, Q, with_(GOOD_Q, ("range", "to"), f))
    q = urllib.parse.urlencode({"task": f, "n": "5"})
    cases.append(("live top task frag %d" % i, "GET", "/api/v1/live/top?" + q, None))
    q = urllib.parse.urlencode({"task": "per_five_tuple", "n": f})
    cases.append(("live top n frag %d" % i, "GET", "/api/v1/live/top?" + q, None))
for q in ("task=no_such_task", "task=per_five_tuple&n=abc", "task=per_five_tuple&n=-1",
          "task=per_five_tuple&n=100001", "task=hh", "n=5",
          "task=per_five_tuple&by=flows"):
    cases.append(("live top " + q, "GET", "/api/v1/live/top?" + q, None))

# 2 MiB bodies, with a Content-Length; chunked ones are below.
BIG = json.dumps({"task_name": "per_five_tuple", "pad": "x" * (2 << 20)}).encode()
for p in (AGG, TRACE, HH, Q):
    cases.append(("2 MiB body", "POST", p, BIG))


def send(method, path, body, chunked=False):
    """(status, body text) over a plain socket: a server may answer (413)
    and close before it has read a large body, which http.client cannot
    take."""
    sock = socket.create_connection((HOST, PORT), timeout=30)
    try:
        head = "%s %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n" % (method, path, HOST)
        if body is not None:
            head += "Content-Type: application/json\r\n"
            head += ("Transfer-Encoding: chunked\r\n" if chunked
                     else "Content-Length: %d\r\n" % len(body))
        data = (head + "\r\n").encode()
        if body is not None and chunked:
            for off in range(0, len(body), 65536):
                part = body[off:off + 65536]
                data += b"%x\r\n%s\r\n" % (len(part), part)
            data += b"0\r\n\r\n"
        elif body is not None:
            data += body
        try:
            for off in range(0, len(data), 65536):
                sock.sendall(data[off:off + 65536])
        except (BrokenPipeError, ConnectionResetError):
            pass        # refused before the end: the answer is what counts
        reply = b""
        while True:
            try:
                b = sock.recv(65536)
            except ConnectionResetError:
                break
            if not b:
                break
            reply += b
    finally:
        sock.close()
    head, _, rest = reply.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    if not lines[0].startswith("HTTP/1."):
        raise OSError("no HTTP reply: %r" % reply[:100])
    status = int(lines[0].split()[1])
    hdrs = {l.split(":", 1)[0].strip().lower(): l.split(":", 1)[1].strip()
            for l in lines[1:] if ":" in l}
    if hdrs.get("transfer-encoding", "").lower() == "chunked":
        out = b""
        while rest:
            size, _, rest = rest.partition(b"\r\n")
            n = int(size.split(b";")[0], 16)
            if n == 0:
                break
            out, rest = out + rest[:n], rest[n + 2:]
        rest = out
    return status, rest.decode("utf-8", "replace")


def api_up():
    try:
        s, t = send("GET", "/", None)
        return s == 200 and json.loads(t).get("status") == "ok"
    except (OSError, ValueError):
        return False


bad, n = [], 0


def check(name, method, path, status, text, want=None):
    global n
    n += 1
    try:
        j = json.loads(text)
    except ValueError:
        j = None
    ok = (400 <= status < 500 if want is None else status == want)
    ok = ok and isinstance(j, dict) and isinstance(j.get("error"), str) and j["error"] != ""
    if not ok:
        bad.append("%s %s %s: HTTP %d %r" % (name, method, path[:80], status, text[:200]))
    if not api_up():
        bad.append("%s: the API does not answer GET / after it" % name)
        print("\n".join(bad))
        sys.exit(1)


for name, method, path, body in cases:
    try:
        status, text = send(method, path, body)
    except OSError as e:
        status, text = 0, "no reply: %s" % e
    check(name, method, path, status, text, 413 if name == "2 MiB body" else None)
for p in (AGG, TRACE, HH, Q):
    try:
        status, text = send("POST", p, BIG, chunked=True)
    except OSError as e:
        status, text = 0, "no reply: %s" % e
    check("2 MiB chunked body", "POST", p, status, text, 413)

# The good requests, for the query log's control: they must work.
for p, body in ((AGG, dict(GOOD_AGG, src_ip="10.99.88.77")), (HH, GOOD_HH)):
    status, text = send("POST", p, json.dumps(body).encode())
    if status != 200:
        bad.append("good request %s %s: HTTP %d %r" % (p, json.dumps(body), status, text[:200]))
status, text = send("GET", "/api/v1/live/top?task=per_five_tuple&n=5", None)
if status != 200:
    bad.append("good request live top: HTTP %d %r" % (status, text[:200]))

print("\n".join(bad))
print("%d bad requests" % n, file=sys.stderr)
with open(sys.argv[3], "w") as fp:
    json.dump(FRAGS, fp)
sys.exit(1 if bad else 0)
EOP
in_ch python3 "$T/bad.py" 127.0.0.1 "$AP" "$T/frags.json" >"$T/bad.out" 2>"$T/bad.err" ||
	fail "bad requests not turned away properly ($(grep -c . "$T/bad.out") of $(cat "$T/bad.err")):
$(head -40 "$T/bad.out")"
nreq=$(sed -n 's/^\([0-9]*\) bad requests$/\1/p' "$T/bad.err")
kill -0 "$DPID" 2>/dev/null || fail "netspectrad died: $(tail -5 "$T/d.log")"
! grep -q "restarting" "$T/d.log" || fail "a child was restarted: $(grep restarting "$T/d.log")"
echo "ok: $nreq bad requests over aggregate, trace, heavy-hitters, /query, /search and live top: each 4xx with a JSON error (413 for 2 MiB bodies), the API up after each, none restarted"

# ---- what reached ClickHouse -------------------------------------------------
ch_query_log "$T/qlog"
python3 - "$T/qlog" "$T/frags.json" <<'EOP' || fail "request text reached ClickHouse"
import json, sys
queries = [json.loads(l)["query"] for l in open(sys.argv[1]) if l.strip()]
frags = json.load(open(sys.argv[2]))
# The good requests' statements are there: the log does show the API's SQL.
assert any("10.99.88.77" in q for q in queries), \
    "no statement with the good aggregate's 10.99.88.77 in %d logged queries" % len(queries)
hits = [(f, q) for q in queries for f in frags + ["nsq7z"] if f in q]
for f, q in hits[:10]:
    print("fragment %r in: %s" % (f, q[:300]))
sys.exit(1 if hits else 0)
EOP
echo "ok: ClickHouse's query log ($(wc -l <"$T/qlog") statements, the good requests' among them) holds none of the fragments"
daemon_stop "$DPID" "$T/d.log"
