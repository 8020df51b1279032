# ch_lib.sh -- a scratch clickhouse-server for the ClickHouse tests, and
# clients of it and of netspectrad's query API (sourced after lib.sh, POSIX
# sh).
#
# The server is Debian's clickhouse-server (18.16), started as root with a
# config and data directory of its own under the test's scratch directory
# $T, on free loopback ports, optionally inside a network namespace (the
# live tests capture in one: netspectrad, its API and ClickHouse all sit on
# that namespace's loopback).  It is killed at exit whatever the outcome.
#
#   ch_setup [NETNS]     pick ports, write $CH_DIR/config.xml and users.xml
#                        (every query logged; user $CH_USER, password
#                        $CH_PASSWORD besides default); sets CH_HTTP, CH_TCP,
#                        CH_DIR, CH_NS, CH_URL
#   ch_start             start it (same data dir every time), wait for /ping
#   ch_stop              SIGTERM, wait until it has exited and freed its port
#   ch_kill              kill -9, the same wait
#   ch_query SQL         run SQL (in database $CH_DB, default "default");
#                        the reply in $CH_R (and $CH_DIR/reply);
#                        fails the test on an error reply
#   ch_q SQL             the same, reply on stdout, status 1 (message on
#                        stderr) on an error: for $(...)
#   ch_insert_file TABLE FILE   POST FILE as TabSeparated rows into TABLE
#   in_ch CMD...         run CMD where the server listens (its namespace)
#
#   api_post URL_PATH JSON_FILE OUT   POST to netspectrad's API at $API_URL
#                        (in $CH_NS); prints the HTTP status, body in OUT
#   api_get URL_PATH OUT  GET, the same
#   json_get FILE EXPR   a value out of a JSON reply (python: j is the
#                        document), e.g. json_get r.json 'j["summaries"][0]'
#   api_py MODE ...      aggregate / trace / heavy-hitters checks (below)
#   api_up               GET / answers {"status":"ok"}
#
#   daemon_start NS CFG LOG PATTERN, daemon_stop PID LOG   netspectrad -f
#   ns_idle_if NS        an idle veth pair (idle0) for an API-only daemon
#   check_config CFG     netspectrad -t accepts it
#   spool_files DIR, spool_empty DIR   batches waiting in a spool
#   tshark_totals PCAP   "packets bytes" of its IP packets
#   g2n_sql WORD         one of Go2NetSpectra's reference statements

CH_SERVER=${CH_SERVER:-clickhouse-server}
: "${NS_TEST_DATA:=$NS_SRCDIR/tests/data}"
# A second user, with a password, for writers and the API to log in as.
CH_USER=nswriter
CH_PASSWORD=ns-secret-$$

# need_ch: what every ClickHouse test needs; skipping only when it cannot
# run at all (not root: the server's files; the package missing).
need_ch() {
	need_root
	need "$CH_SERVER" curl python3
}

in_ch() {
	if [ -n "${CH_NS:-}" ]; then ip netns exec "$CH_NS" "$@"; else "$@"; fi
}

# ch_port_free PORT: nothing listens on PORT (TCP) where the server runs.
ch_port_free() { [ -z "$(in_ch ss -Hltn "sport = :$1")" ]; }

# ch_free_port FROM: the first port from FROM that nothing listens on where
# the server runs (callers keep their ranges apart).
ch_free_port() {
	_p=$1
	while ! ch_port_free "$_p"; do _p=$((_p + 1)); done
	echo "$_p"
}

ch_setup() {
	CH_NS=${1:-}
	CH_DIR=$T/ch
	mkdir -p "$CH_DIR/data" "$CH_DIR/tmp" "$CH_DIR/uf" "$CH_DIR/fs"
	# Away from the defaults (8123/9000) and from each other's runs: a
	# base picked from the pid, then the first free ports from there.
	_base=$(( 20000 + ($$ % 400) * 20 ))
	CH_HTTP=$(ch_free_port "$_base")
	CH_TCP=$(ch_free_port $((CH_HTTP + 1)))
	CH_URL=http://127.0.0.1:$CH_HTTP/
	cat >"$CH_DIR/config.xml" <<EOC
<?xml version="1.0"?>
<yandex>
  <logger><level>warning</level><log>$CH_DIR/server.log</log><errorlog>$CH_DIR/err.log</errorlog></logger>
  <http_port>$CH_HTTP</http_port>
  <tcp_port>$CH_TCP</tcp_port>
  <listen_host>127.0.0.1</listen_host>
  <path>$CH_DIR/data/</path>
  <tmp_path>$CH_DIR/tmp/</tmp_path>
  <user_files_path>$CH_DIR/uf/</user_files_path>
  <format_schema_path>$CH_DIR/fs/</format_schema_path>
  <users_config>$CH_DIR/users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <timezone>UTC</timezone>
  <mark_cache_size>5368709120</mark_cache_size>
  <query_log>
    <database>system</database>
    <table>query_log</table>
    <flush_interval_milliseconds>500</flush_interval_milliseconds>
  </query_log>
</yandex>
EOC
	# Users of our own: the package's, with every query logged (so a test
	# can read what reached the server), and a user with a password.
	cat >"$CH_DIR/users.xml" <<EOC
<?xml version="1.0"?>
<yandex>
  <profiles>
    <default><log_queries>1</log_queries></default>
  </profiles>
  <users>
    <default>
      <password></password>
      <networks><ip>::/0</ip></networks>
      <profile>default</profile>
      <quota>default</quota>
    </default>
    <$CH_USER>
      <password>$CH_PASSWORD</password>
      <networks><ip>::/0</ip></networks>
      <profile>default</profile>
      <quota>default</quota>
    </$CH_USER>
  </users>
  <quotas>
    <default>
      <interval>
        <duration>3600</duration>
        <queries>0</queries><errors>0</errors><result_rows>0</result_rows>
        <read_rows>0</read_rows><execution_time>0</execution_time>
      </interval>
    </default>
  </quotas>
</yandex>
EOC
	ns_at_exit "ch_kill_quiet"
}

# ch_ping: the server answers /ping with "Ok.".
ch_ping() { [ "$(in_ch curl -s -m 2 "${CH_URL}ping" 2>/dev/null)" = "Ok." ]; }

ch_start() {
	[ -n "${CH_DIR:-}" ] || fail "ch_start before ch_setup"
	ch_port_free "$CH_HTTP" && ch_port_free "$CH_TCP" ||
		fail "ClickHouse ports $CH_HTTP/$CH_TCP are taken: $(in_ch ss -Hltnp "sport = :$CH_HTTP or sport = :$CH_TCP")"
	# ip netns exec execs the server: $! is the server itself.
	if [ -n "$CH_NS" ]; then
		ip netns exec "$CH_NS" "$CH_SERVER" --config-file="$CH_DIR/config.xml" \
			>>"$CH_DIR/stdout.log" 2>&1 &
	else
		"$CH_SERVER" --config-file="$CH_DIR/config.xml" >>"$CH_DIR/stdout.log" 2>&1 &
	fi
	CH_PID=$!
	_t0=$(date +%s)
	wait_for 90 ch_ping_or_dead ||
		fail "clickhouse-server did not answer /ping on $CH_URL within 90 s: $(tail -5 "$CH_DIR/err.log" 2>/dev/null; tail -5 "$CH_DIR/stdout.log")"
	ch_ping || fail "clickhouse-server (pid $CH_PID) exited at start: $(tail -5 "$CH_DIR/err.log" 2>/dev/null; tail -5 "$CH_DIR/stdout.log")"
	echo "clickhouse-server up on $CH_URL${CH_NS:+ (in $CH_NS)} after $(( $(date +%s) - _t0 )) s"
}
ch_ping_or_dead() { ch_ping || ! kill -0 "$CH_PID" 2>/dev/null; }

# ch_gone: the server process has exited and its ports are free.
ch_gone() {
	! kill -0 "$CH_PID" 2>/dev/null && ch_port_free "$CH_HTTP" && ch_port_free "$CH_TCP"
}
ch_stop() {
	kill -TERM "$CH_PID" 2>/dev/null
	wait_for 60 ch_gone || fail "clickhouse-server (pid $CH_PID) did not stop within 60 s"
	wait "$CH_PID" 2>/dev/null || true
}
ch_kill() {
	kill -KILL "$CH_PID" 2>/dev/null
	wait_for 30 ch_gone || fail "clickhouse-server (pid $CH_PID) survived kill -9 for 30 s"
	wait "$CH_PID" 2>/dev/null || true
}
ch_kill_quiet() {
	[ -n "${CH_PID:-}" ] || return 0
	kill -KILL "$CH_PID" 2>/dev/null
	_i=0
	while kill -0 "$CH_PID" 2>/dev/null && [ "$_i" -lt 100 ]; do sleep 0.05; _i=$((_i + 1)); done
}

# ch_post OUT ARGS...: POST to the server (curl ARGS), reply in OUT; prints
# the HTTP status ("000" when it could not be reached).
ch_post() {
	_o=$1; shift
	in_ch curl -sS -m 120 -o "$_o" -w '%{http_code}' "$@" 2>"$_o.curl" || true
}

ch_q() {
	_c=$(ch_post "$CH_DIR/q.out" --data-binary "$1" "${CH_URL}?database=${CH_DB:-default}")
	if [ "$_c" != 200 ]; then
		echo "clickhouse: HTTP $_c for: $1" >&2
		cat "$CH_DIR/q.out" "$CH_DIR/q.out.curl" >&2
		return 1
	fi
	cat "$CH_DIR/q.out"
}
ch_query() {
	_c=$(ch_post "$CH_DIR/reply" --data-binary "$1" "${CH_URL}?database=${CH_DB:-default}")
	[ "$_c" = 200 ] || fail "clickhouse: HTTP $_c for: $1: $(cat "$CH_DIR/reply" "$CH_DIR/reply.curl")"
	CH_R=$(cat "$CH_DIR/reply")
}

# ch_insert_file TABLE FILE: what a writer's batch does, by hand.
ch_insert_file() {
	_c=$(ch_post "$CH_DIR/ins.out" --data-binary "@$2" \
		"${CH_URL}?database=${CH_DB:-default}&query=INSERT%20INTO%20$1%20FORMAT%20TabSeparated")
	[ "$_c" = 200 ] || fail "INSERT INTO $1 of $2: HTTP $_c: $(cat "$CH_DIR/ins.out" "$CH_DIR/ins.out.curl")"
}

# ch_query_log FILE: every statement ClickHouse has logged so far, one JSON
# string per line (after SYSTEM FLUSH LOGS).  The statement fetching them
# names no fragment a test looks for.
ch_query_log() {
	ch_query "SYSTEM FLUSH LOGS"
	ch_query "SELECT query FROM system.query_log FORMAT JSONEachRow"
	cp "$CH_DIR/reply" "$1"
}

# ---- the query API ---------------------------------------------------------
# API_URL: http://127.0.0.1:PORT, set by the test (the API listens where
# ClickHouse does).  API_CURL_ARGS: extra curl arguments (credentials).
api_post() {
	in_ch curl -sS -m 60 -o "$3" -w '%{http_code}' ${API_CURL_ARGS:-} \
		-H 'Content-Type: application/json' --data-binary "@$2" "$API_URL$1" \
		2>"$3.curl" || true
}
api_get() {
	in_ch curl -sS -m 60 -o "$2" -w '%{http_code}' ${API_CURL_ARGS:-} "$API_URL$1" \
		2>"$2.curl" || true
}
api_up() { [ "$(api_get / "$T/api-up.json")" = 200 ] && grep -q '"ok"' "$T/api-up.json"; }

json_get() {
	python3 -c '
import json, sys
j = json.load(open(sys.argv[1]))
v = eval(sys.argv[2])
print(v if not isinstance(v, (dict, list)) else json.dumps(v))
' "$1" "$2"
}

# ns_idle_if NS: a veth pair idle0--idle1 inside NS, IPv6 off, carrying
# nothing: the input of a daemon that only serves the API after the
# capturing one has stopped (a daemon needs one input; this VM kernel has
# no dummy interfaces).
ns_idle_if() {
	ns_in "$1" ip link add idle0 type veth peer name idle1 || fail "veth idle0"
	for _i in idle0 idle1; do
		ns_in "$1" sysctl -q -w "net.ipv6.conf.$_i.disable_ipv6=1"
		ns_in "$1" ip link set "$_i" up
	done
}

# spool_files DIR: the number of batch files queued under DIR (all writers).
spool_files() {
	find "$1" -type f \( -name '*.flows.tsv' -o -name '*.hh.tsv' \) 2>/dev/null | wc -l
}
spool_empty() { [ "$(spool_files "$1")" = 0 ]; }

# check_config CFG: netspectrad -t accepts CFG, else fail with its message.
check_config() {
	"$NETSPECTRAD" -t -c "$1" >"$1.t" 2>&1 || fail "config $1: $(cat "$1.t")"
}

# tshark_totals PCAP: "packets bytes" of the IP packets in PCAP, by tshark.
tshark_totals() {
	tshark -n -r "$1" -Y "ip or ipv6" -T fields -e frame.len 2>/dev/null |
		awk '{ p++; b += $1 } END { printf "%d %d\n", p, b }'
}

# g2n_sql WORD: the statement of Go2NetSpectra's reference SQL
# (tests/data/go2netspectra-clickhouse.sql, a copy of the shared reference)
# that contains WORD, unchanged but for its comments.
g2n_sql() {
	python3 - "$NS_TEST_DATA/go2netspectra-clickhouse.sql" "$1" <<'EOP'
import sys
text = "\n".join(l for l in open(sys.argv[1]).read().splitlines()
                 if not l.lstrip().startswith("--"))
q = [s.strip() for s in text.split(";") if sys.argv[2] in s]
if len(q) != 1:
    sys.exit("%d statements with %r in %s" % (len(q), sys.argv[2], sys.argv[1]))
print(q[0])
EOP
}

# ---- API clients in python -------------------------------------------------
# api_py MODE ARGS...: chapi.py (below) run where the API listens, against
# $API_URL; prints what the mode prints, exits 1 (with the reason on
# stderr) on a failed request or check.
#
#   aggregate TASK [JSON_EXTRA]   "packets bytes flows" of TASK's summary
#   trace TASK FLOWS N            N flows of FLOWS (flows.py format: the
#                                 20 heaviest, the rest drawn at random)
#                                 traced; each lifecycle's packets and
#                                 bytes must be FLOWS'; prints N
#   hh TASK TYPE LIMIT            "flow<TAB>value" lines of the reply
api_py() {
	[ -s "$T/chapi.py" ] || ch_write_chapi "$T/chapi.py"
	in_ch env API_URL="$API_URL" API_AUTH="${API_AUTH:-}" python3 "$T/chapi.py" "$@"
}
ch_write_chapi() {
	cat >"$1" <<'EOP'
import base64, json, os, random, sys, urllib.request, urllib.error

URL = os.environ["API_URL"]
AUTH = os.environ.get("API_AUTH", "")


def die(msg):
    sys.stderr.write("chapi: %s\n" % msg)
    sys.exit(1)


def request(path, body=None, raw=None, method=None):
    """(status, parsed JSON or None, raw text)."""
    data = raw if raw is not None else (
        None if body is None else json.dumps(body).encode())
    req = urllib.request.Request(URL + path, data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    if AUTH:
        req.add_header("Authorization",
                       "Basic " + base64.b64encode(AUTH.encode()).decode())
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            status, text = r.status, r.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as e:
        status, text = e.code, e.read().decode("utf-8", "replace")
    try:
        j = json.loads(text)
    except ValueError:
        j = None
    return status, j, text


def post_ok(path, body):
    status, j, text = request(path, body)
    if status != 200 or not isinstance(j, dict):
        die("POST %s %s: HTTP %d: %s" % (path, json.dumps(body), status, text[:500]))
    return j


def u64(obj, name, where):
    """A uint64 sent as a string; absent = 0 (zero fields are omitted)."""
    v = obj.get(name, "0")
    if not isinstance(v, str) or not v.isdigit():
        die("%s: %s is %r, want a uint64 as a string" % (where, name, v))
    return int(v)


def aggregate(task, extra=None):
    body = {"task_name": task}
    if extra:
        body.update(json.loads(extra))
    j = post_ok("/api/v1/aggregate", body)
    s = [x for x in j.get("summaries", []) if x.get("taskName") == task]
    if len(s) != 1:
        die("aggregate %s: want one summary for the task: %s" % (task, json.dumps(j)[:500]))
    w = "aggregate %s" % task
    print(u64(s[0], "totalPackets", w), u64(s[0], "totalBytes", w),
          u64(s[0], "flowCount", w))


def trace(task, flows_path, n):
    flows = []
    with open(flows_path) as fp:
        for line in fp:
            c = line.rstrip("\n").split("\t")
            flows.append((c[1:6], int(c[6]), int(c[7])))
    flows.sort(key=lambda f: -f[1])
    rest = flows[20:]
    random.Random(14).shuffle(rest)
    sample = (flows[:20] + rest)[:n]
    if len(sample) < n:
        die("trace: only %d flows to sample" % len(sample))
    bad = 0
    for key, packets, nbytes in sample:
        keys = dict(zip(("SrcIP", "DstIP", "SrcPort", "DstPort", "Protocol"), key))
        body = {"task_name": task, "flow_keys": keys,
                "end_time": "2099-01-01T00:00:00Z"}
        j = post_ok("/api/v1/flows/trace", body)
        lc = j.get("lifecycle")
        if not isinstance(lc, dict):
            die("trace %s: no lifecycle: %s" % (keys, json.dumps(j)[:300]))
        got = (u64(lc, "totalPackets", "trace"), u64(lc, "totalBytes", "trace"))
        if got != (packets, nbytes) or not lc.get("firstSeen") or not lc.get("lastSeen"):
            bad += 1
            sys.stderr.write("trace %s: packets/bytes %s, tshark %s; %s\n" % (
                " ".join(key), got, (packets, nbytes), json.dumps(lc)))
    if bad:
        die("%d of %d traced flows differ from tshark" % (bad, len(sample)))
    print(len(sample))


def hh(task, typ, limit):
    body = {"task_name": task, "type": int(typ), "limit": int(limit),
            "end_time": "2099-01-01T00:00:00Z"}
    j = post_ok("/api/v1/heavy-hitters", body)
    h = j.get("hitters", [])
    if not isinstance(h, list):
        die("heavy-hitters: hitters is not a list: %s" % json.dumps(j)[:300])
    for x in h:
        if not isinstance(x.get("flow"), str):
            die("heavy-hitters: flow not a string: %s" % json.dumps(x))
        print("%s\t%d" % (x["flow"], u64(x, "value", "heavy-hitters")))


def main(argv):
    mode, args = argv[1], argv[2:]
    if mode == "aggregate":
        aggregate(args[0], args[1] if len(args) > 1 else None)
    elif mode == "trace":
        trace(args[0], args[1], int(args[2]))
    elif mode == "hh":
        hh(args[0], args[1], args[2])
    else:
        die("unknown mode %s" % mode)


if __name__ == "__main__":
    main(sys.argv)
EOP
}
