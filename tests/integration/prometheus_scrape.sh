#!/bin/sh
# prometheus_scrape.sh -- a real Prometheus scrapes netspectrad: in a pair
# of network namespaces joined by veth, netspectrad captures on vb with its
# /metrics exporter on loopback, and Prometheus (Debian's package), started
# in the same namespace with a 1 s scrape interval, scrapes it while
# tcpreplay sends a pcapgen trace at 10 kpps.  A scrape taken under load
# passes `promtool check metrics` without a word; afterwards Prometheus'
# query API gives netspectra_task_packets_total equal to the exact packet
# count of the trace, the number of series is bounded by top_k whatever the
# number of flows, every query of contrib/grafana-netspectra.json runs, and
# with prometheus.basic_auth set a scrape without credentials gets 401.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/flows_lib.sh"
need_root
need tcpreplay
need tshark
need curl
need python3
need prometheus
need promtool
ns_tmpdir

N=30000		# packets in the trace: 3 s at 10 kpps, three scrapes or more
FLOWS=2000
TOP_K=5

# The shipped scrape configuration is valid, with its alerting rules,
# and the rules pass their unit tests.
promtool check config "$NS_SRCDIR/contrib/prometheus.yml" >"$T/check.out" 2>&1 ||
	fail "contrib/prometheus.yml: $(cat "$T/check.out")"
grep -q "SUCCESS: 5 rules found" "$T/check.out" ||
	fail "contrib/prometheus.yml did not load the 5 alerting rules: $(cat "$T/check.out")"
promtool test rules "$NS_SRCDIR/contrib/netspectra-alerts.test.yml" >"$T/rules.out" 2>&1 ||
	fail "contrib/netspectra-alerts.test.yml: $(cat "$T/rules.out")"

ns_bare_pair
ns_at_exit "rm -f /dev/shm/netspectra-prom-$$ /dev/shm/netspectra-prom-$$.lock /dev/shm/netspectra-promauth-$$ /dev/shm/netspectra-promauth-$$.lock"

# in_b CMD...: run CMD in the daemon's namespace (its loopback is where
# the exporter and Prometheus listen); not for what runs in the background,
# whose $! must be the process itself.
in_b() { ip netns exec "$NSB" "$@"; }

# free_port FROM: the first TCP port from FROM on that nothing in $NSB
# listens on.
free_port() {
	_p=$1
	while [ -n "$(in_b ss -Hltn "sport = :$_p")" ]; do _p=$((_p + 1)); done
	echo "$_p"
}
EP=$(free_port 19571)			# the exporter
PP=$(free_port $((EP + 1)))		# Prometheus
AP=$(free_port $((PP + 1)))		# the exporter with basic auth

"$PCAPGEN" -o "$T/trace.pcap" -n "$N" -f "$FLOWS" -s 43 --ipv6 0.3 --vlan 0.1 \
	--proto-mix tcp=60,udp=25,icmp=10,sctp=5 2>"$T/pcapgen.out" || fail "pcapgen"
# The oracle: tshark's count of IP packets, which must be pcapgen's too.
sent=$(tshark -n -r "$T/trace.pcap" -Y "ip or ipv6" -T fields -e frame.number 2>/dev/null | wc -l)
grep -q "packets $sent," "$T/pcapgen.out" ||
	fail "tshark reads $sent IP packets, pcapgen says: $(cat "$T/pcapgen.out")"

# cfg FILE NAME PORT [PROMETHEUS-EXTRA]: a daemon configuration, checked.
cfg() {
	cat >"$1" <<EOC
daemon: {pidfile: $T/$2.pid, shm_name: /netspectra-$2-$$, log_level: info}
inputs:
  - {type: pcap, interface: vb, snaplen: 256, promisc: true, immediate: true, buffer_size: 16MiB}
prometheus:
  enabled: true
  listen: 127.0.0.1:$3
  top_k: $TOP_K
$4
aggregator:
  period: 1h
  num_workers: 2
  exact:
    writers: [{type: jsonl, snapshot_interval: 1h, jsonl: {root_path: $T/out-$2}}]
    tasks:
      - {name: five, key_fields: [SrcIP, DstIP, SrcPort, DstPort, Protocol], max_flows: 100000}
      - {name: src, key_fields: [SrcIP], max_flows: 100000}
  sketch:
    tasks:
      - {name: hh_src, skt_type: 0, flow_fields: [SrcIP], width: 4096, depth: 3,
         count_threshold: 1, size_threshold: 1, top_k: 100, seed: 8}
      - {name: ss_src, skt_type: 1, flow_fields: [SrcIP], element_fields: [DstIP],
         width: 1024, depth: 3, m: 128, count_threshold: 1, top_k: 100, seed: 9}
EOC
	"$NETSPECTRAD" -t -c "$1" >/dev/null 2>"$1.err" || fail "config $1: $(cat "$1.err")"
}

# start CFG LOG PORT: netspectrad in $NSB; skip when it has no exporter.
start() {
	daemon_start "$NSB" "$1" "$2" "capturing on vb"
	wait_for 10 grep -q "serving /metrics on" "$2" ||
		skip "netspectrad has no Prometheus exporter (no \"serving /metrics on\" in its log within 10 s): $(grep -i prometheus "$2")"
	grep -q "serving /metrics on 127.0.0.1:$3" "$2" || fail "exporter not on 127.0.0.1:$3: $(cat "$2")"
}
stop_daemon() { daemon_stop "$DPID" "$1"; }	# stop_daemon LOG

# get URL OUT [CURL-ARGS...]: GET in $NSB, body to OUT, prints the status.
get() {
	_u=$1 _o=$2; shift 2
	in_b curl -sS -m 10 -o "$_o" -D "$_o.headers" -w '%{http_code}' "$@" "$_u"
}

# ---- Prometheus ------------------------------------------------------------
printf 'netspectra-test-%s\n' "$$" >"$T/password"
cat >"$T/prometheus.yml" <<EOC
global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files:
  - $NS_SRCDIR/contrib/netspectra-alerts.yml
scrape_configs:
  - job_name: netspectra
    scrape_timeout: 1s
    static_configs:
      - targets: ['127.0.0.1:$EP']
  - job_name: netspectra-auth
    scrape_timeout: 1s
    basic_auth:
      username: scraper
      password_file: $T/password
    static_configs:
      - targets: ['127.0.0.1:$AP']
EOC
promtool check config "$T/prometheus.yml" >"$T/check.out" 2>&1 ||
	fail "the test's Prometheus configuration: $(cat "$T/check.out")"

cfg "$T/d.yaml" prom "$EP"
start "$T/d.yaml" "$T/d.log" "$EP"

ip netns exec "$NSB" prometheus --config.file="$T/prometheus.yml" --storage.tsdb.path="$T/tsdb" \
	--web.listen-address="127.0.0.1:$PP" >"$T/prometheus.log" 2>&1 &
ppid=$!
ns_at_exit "kill $ppid 2>/dev/null; wait $ppid 2>/dev/null"
PROM=http://127.0.0.1:$PP
wait_for 60 in_b curl -sf -m 2 "$PROM/-/ready" ||
	fail "Prometheus is not ready: $(tail -5 "$T/prometheus.log")"

# query EXPR: the first value of an instant query's result ("" if empty).
query() {
	in_b curl -sS -m 10 -G --data-urlencode "query=$1" "$PROM/api/v1/query" >"$T/q.json" ||
		return 1
	python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))
assert r["status"] == "success", r
res = r["data"]["result"]
if r["data"]["resultType"] == "scalar":
    print(res[1])
elif res:
    print(res[0]["value"][1])
' "$T/q.json"
}
q_is() { [ "$(query "$1")" = "$2" ]; }	# q_is EXPR VALUE

wait_for 20 q_is 'up{job="netspectra"}' 1 ||
	fail "Prometheus does not scrape the exporter: $(cat "$T/q.json"); $(tail -5 "$T/prometheus.log")"

# ---- the exporter's pages --------------------------------------------------
[ "$(get "http://127.0.0.1:$EP/-/healthy" "$T/healthy")" = 200 ] ||
	fail "/-/healthy: $(cat "$T/healthy.headers")"
[ "$(get "http://127.0.0.1:$EP/" "$T/index")" = 200 ] || fail "/: $(cat "$T/index.headers")"
grep -qi '^content-type: text/html' "$T/index.headers" || fail "/ is not HTML: $(cat "$T/index.headers")"
grep -qi 'href="/metrics"' "$T/index" || fail "/ does not link /metrics: $(cat "$T/index")"
[ "$(get "http://127.0.0.1:$EP/no-such-page" "$T/nope")" = 404 ] ||
	fail "an unknown path is not a 404: $(cat "$T/nope.headers")"

# ---- a scrape under load ---------------------------------------------------
rx0=$(rx)
ip netns exec "$NSA" tcpreplay -q -i va --pps 10000 "$T/trace.pcap" >"$T/replay.log" 2>&1 &
rpid=$!
ns_at_exit "kill $rpid 2>/dev/null"
wait_for 10 rx_at_least "$rx0" "1000" ||
	fail "no traffic reaches vb: $(cat "$T/replay.log")"
kill -0 "$rpid" 2>/dev/null || fail "the replay ended before the scrape"
code=$(get "http://127.0.0.1:$EP/metrics" "$T/load.prom")
[ "$code" = 200 ] || fail "/metrics under load: HTTP $code: $(cat "$T/load.prom.headers")"
under_load=$(( $(rx) - rx0 ))
grep -qi '^content-type: text/plain; version=0.0.4' "$T/load.prom.headers" ||
	fail "/metrics: not the text exposition format: $(cat "$T/load.prom.headers")"
promtool check metrics <"$T/load.prom" >"$T/lint.out" 2>&1 ||
	fail "promtool check metrics failed: $(cat "$T/lint.out")"
[ ! -s "$T/lint.out" ] || fail "promtool check metrics reports: $(cat "$T/lint.out")"
wait "$rpid" || fail "tcpreplay: $(cat "$T/replay.log")"
wait_for 10 rx_at_least "$rx0" "$sent" ||
	fail "vb received fewer than $sent packets"
echo "ok: a scrape taken after $under_load of $sent packets: HTTP 200, text format 0.0.4, promtool check metrics silent; /-/healthy 200, / links /metrics"

# Every metric of the contract, with HELP and TYPE.
for m in build_info:gauge task_packets_total:counter task_bytes_total:counter \
    task_flows_total:counter task_period_flows:gauge period_start_seconds:gauge \
    input_packets_total:counter dropped_packets_total:counter \
    ring_fill_ratio:gauge process_restarts_total:counter \
    exporter_periods_total:counter top_flow_packets:gauge top_flow_bytes:gauge \
    sketch_packets:gauge sketch_bytes:gauge sketch_spread:gauge sketch_unreported:gauge; do
	name=netspectra_${m%:*}
	grep -q "^# HELP $name " "$T/load.prom" || fail "no HELP for $name"
	grep -q "^# TYPE $name ${m#*:}$" "$T/load.prom" || fail "no \"TYPE $name ${m#*:}\""
done

# ---- what Prometheus got ---------------------------------------------------
for task in five src; do
	wait_for 20 q_is "netspectra_task_packets_total{job=\"netspectra\",task=\"$task\"}" "$sent" ||
		fail "task $task: Prometheus has netspectra_task_packets_total $(query "netspectra_task_packets_total{job=\"netspectra\",task=\"$task\"}"), want $sent"
done
sent_bytes=$(tshark -n -r "$T/trace.pcap" -T fields -e frame.len 2>/dev/null | awk '{ b += $1 } END { print b }')
wait_for 10 q_is 'netspectra_input_bytes_total{job="netspectra"}' "$sent_bytes" ||
	fail "netspectra_input_bytes_total: $(query 'netspectra_input_bytes_total{job="netspectra"}'), want $sent_bytes"
wait_for 10 q_is 'sum(netspectra_input_packets_total{job="netspectra"}) >= bool '"$sent" 1 ||
	fail "netspectra_input_packets_total: $(query 'sum(netspectra_input_packets_total{job="netspectra"})'), want at least $sent"
q_is 'sum(netspectra_dropped_packets_total{job="netspectra"}) or vector(0)' 0 ||
	fail "drops: $(query 'sum by (layer) (netspectra_dropped_packets_total{job="netspectra"})')"
# Prometheus scraped while the traffic flowed: some raw samples lie between
# 0 and the total, and none goes down.
in_b curl -sS -m 10 -G --data-urlencode \
	'query=netspectra_task_packets_total{job="netspectra",task="five"}[10m]' \
	"$PROM/api/v1/query" >"$T/samples.json" || fail "range query"
mid=$(python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))
v = [int(float(s[1])) for s in r["data"]["result"][0]["values"]]
assert v == sorted(v), "the counter went down: %s" % v
print(sum(1 for x in v if 0 < x < int(sys.argv[2])))
' "$T/samples.json" "$sent") || fail "samples: $(cat "$T/samples.json")"
[ "$mid" -ge 1 ] || fail "Prometheus took no sample while the traffic flowed: $(cat "$T/samples.json")"
echo "ok: Prometheus (1 s scrapes, $mid of them during the replay) has netspectra_task_packets_total = $sent for both tasks, the exact IP packet count of the trace; no drop"

# Series are bounded: top_k flows per task, whatever the number of flows.
for task in five src; do
	n=$(query "count(netspectra_top_flow_packets{job=\"netspectra\",task=\"$task\"})")
	[ "$n" = "$TOP_K" ] || fail "task $task: $n top-K series of netspectra_top_flow_packets, want $TOP_K"
	n=$(query "count(netspectra_top_flow_bytes{job=\"netspectra\",task=\"$task\"})")
	[ "$n" = "$TOP_K" ] || fail "task $task: $n top-K series of netspectra_top_flow_bytes, want $TOP_K"
done
# The flows in the period and the top-K's values are tshark's: the counts
# of the heaviest flows, rank 1 first.
tshark_flows "$T/trace.pcap" "$T/tshark.flows"
cut -f7 "$T/tshark.flows" | sort -rn | head -"$TOP_K" | tr '\n' ' ' | sed 's/ $//' >"$T/five.top"
awk -F'\t' '{ p[$2] += $7 } END { for (s in p) print p[s] }' "$T/tshark.flows" |
	sort -rn | head -"$TOP_K" | tr '\n' ' ' | sed 's/ $//' >"$T/src.top"
nflows_five=$(wc -l <"$T/tshark.flows")
nflows_src=$(cut -f2 "$T/tshark.flows" | sort -u | wc -l)
# topk TASK NKEYS: the top-K packet counts Prometheus has, by rank; each
# series labelled with the task's NKEYS key fields, each flow once.
# topk TASK NKEYS [METRIC]: the same of METRIC (netspectra_top_flow_packets).
topk() {
	in_b curl -sS -m 10 -G --data-urlencode \
		"query=${3:-netspectra_top_flow_packets}{job=\"netspectra\",task=\"$1\"}" \
		"$PROM/api/v1/query" >"$T/topk.json" || return 1
	python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))["data"]["result"]
r.sort(key=lambda s: int(s["metric"]["rank"]))
assert [int(s["metric"]["rank"]) for s in r] == list(range(1, len(r) + 1)), r
keys = [tuple(sorted((k, v) for k, v in s["metric"].items()
                     if k not in ("__name__", "job", "instance", "task", "rank")))
        for s in r]
assert all(len(k) == int(sys.argv[2]) for k in keys), "want %s key labels: %s" % (sys.argv[2], keys)
assert len(set(keys)) == len(keys), "a flow twice: %s" % keys
print(" ".join("%d" % int(float(s["value"][1])) for s in r))
' "$T/topk.json" "$2"
}
for task in five src; do
	want_top=$(cat "$T/$task.top")
	case $task in five) nkeys=5;; *) nkeys=1;; esac
	got=$(topk "$task" "$nkeys") || fail "task $task: top-K: $(cat "$T/topk.json")"
	[ "$got" = "$want_top" ] || fail "task $task: top-K packets by rank \"$got\", tshark's heaviest flows \"$want_top\""
done
# Distinct keys, also for task src, whose keys sit in several workers'
# shards (packets go to workers by 5-tuple).
q_is 'netspectra_task_period_flows{job="netspectra",task="five"}' "$nflows_five" ||
	fail "task five: netspectra_task_period_flows $(query 'netspectra_task_period_flows{job="netspectra",task="five"}'), tshark counts $nflows_five flows"
q_is 'netspectra_task_period_flows{job="netspectra",task="src"}' "$nflows_src" ||
	fail "task src: netspectra_task_period_flows $(query 'netspectra_task_period_flows{job="netspectra",task="src"}'), tshark counts $nflows_src sources"
# The sketch tasks' keys: the heavy hitters' packets by rank are the exact
# counts of the heaviest sources (the sketch task is linked to the exact
# task of its key); the spreaders' estimates, by rank, stay near tshark's
# distinct destinations of the sources they name.
got=$(topk hh_src 1 netspectra_sketch_packets) || fail "hh_src: $(cat "$T/topk.json")"
[ "$got" = "$(cat "$T/src.top")" ] ||
	fail "hh_src: netspectra_sketch_packets by rank \"$got\", tshark's heaviest sources \"$(cat "$T/src.top")\""
n=$(query 'count(netspectra_sketch_bytes{job="netspectra",task="hh_src"})')
[ "$n" = "$TOP_K" ] || fail "hh_src: $n series of netspectra_sketch_bytes, want $TOP_K"
topk ss_src 1 netspectra_sketch_spread >"$T/ss.top" || fail "ss_src: $(cat "$T/topk.json")"
python3 - "$T/topk.json" "$T/tshark.flows" "$TOP_K" <<'EOP' || fail "ss_src: netspectra_sketch_spread $(cat "$T/ss.top")"
import json, sys
r = json.load(open(sys.argv[1]))["data"]["result"]
dst = {}
for line in open(sys.argv[2]):
    f = line.rstrip("\n").split("\t")
    dst.setdefault(f[1], set()).add(f[2])
assert len(r) == int(sys.argv[3]), r
r.sort(key=lambda s: int(s["metric"]["rank"]))
vals = [int(float(s["value"][1])) for s in r]
assert vals == sorted(vals, reverse=True), vals
most = max(len(d) for d in dst.values())
for s in r:
    true = len(dst[s["metric"]["src_ip"]])
    assert 0.7 * true <= int(float(s["value"][1])) <= 1.3 * most + 1, (s, true, most)
assert vals[0] >= 0.7 * most, (vals, most)
EOP
n=$(query 'count(netspectra_sketch_unreported{job="netspectra"})')
[ "$n" = 3 ] || fail "$n netspectra_sketch_unreported series, want 3 (hh_src count and size, ss_src spread)"
echo "ok: sketch series: hh_src's top $TOP_K sources by packets = tshark's ($got); ss_src's top $TOP_K spreaders ($(cat "$T/ss.top")) near tshark's distinct destinations"
total=$(query 'count({__name__=~"netspectra_.*",job="netspectra"})')
perflow=$(query 'count({__name__=~"netspectra_(top_flow|sketch)_(packets|bytes|spread)",job="netspectra"})')
[ "$perflow" -le $((2 * 2 * TOP_K + 3 * TOP_K)) ] && [ $((total - perflow)) -le 200 ] ||
	fail "$total series ($perflow top-K) for $FLOWS flows"
echo "ok: $total netspectra_* series for $nflows_five flows, $perflow of them top-K (top_k $TOP_K, 2 tasks), labelled with the tasks' key fields; task five's period flows ($nflows_five) and top-K packets by rank ($(cat "$T/five.top")) are tshark's"

# ---- the Grafana dashboard's queries ---------------------------------------
# Each runs against this Prometheus, the dashboard's variables given values;
# those that plot the traffic return series.
python3 - "$NS_SRCDIR/contrib/grafana-netspectra.json" "$T/load.prom" >"$T/dash.exprs" <<'EOP' ||
import json, re, sys
d = json.load(open(sys.argv[1]))
exposed = set(re.findall(r"^# TYPE (\S+) ", open(sys.argv[2]).read(), re.M))
names = [v["name"] for v in d["templating"]["list"]]
assert "DS_PROMETHEUS" in names, names
def walk(panels):
    for p in panels:
        yield p
        yield from walk(p.get("panels", []))
for p in walk(d["panels"]):
    for t in p.get("targets", []):
        assert t["datasource"]["uid"] == "${DS_PROMETHEUS}", p["title"]
        e = t["expr"]
        for m in re.findall(r"\bnetspectra_\w+", e):
            assert m in exposed, "%s: %s is not exposed" % (p["title"], m)
        e = (e.replace("$__rate_interval", "5s").replace("$__range", "1m")
             .replace('task="$task"', 'task="five"').replace("$task", ".*")
             .replace("$instance", ".*").replace("$input", ".*"))
        assert "$" not in e, e
        print("%s\t%s" % (p["title"], e))
EOP
	fail "contrib/grafana-netspectra.json: see above"
nq=0
while IFS='	' read -r title expr; do
	v=$(query "$expr") || fail "dashboard panel \"$title\": $expr: $(cat "$T/q.json")"
	case $title in
	"Packet rate per task"|"Byte rate per task"|"Flows in the current period"|\
	"Received per input"|"Ring fill"|"Top flows: \$task"|Version|\
	"Heavy hitters"|Spreaders|"Keys left out of sketch reports")
		[ -n "$v" ] || fail "dashboard panel \"$title\": $expr returns nothing";;
	esac
	nq=$((nq + 1))
done <"$T/dash.exprs"
echo "ok: contrib/grafana-netspectra.json: $nq queries run on Prometheus, every metric they use is exposed"

# ---- the alerting rules ----------------------------------------------------
# Prometheus evaluates every rule of contrib/netspectra-alerts.yml on the
# real series without an error, and none fires: no restart, no lost
# packet, a daemon that answers.
rules_ok() {
	in_b curl -sS -m 10 "$PROM/api/v1/rules" >"$T/rules.json" 2>"$T/rules.err" ||
		return 1
	python3 - "$T/rules.json" 2>"$T/rules.err" <<'EOP'
import json, sys
rules = [r for g in json.load(open(sys.argv[1]))["data"]["groups"]
         for r in g["rules"]]
assert len(rules) == 5, len(rules)
for r in rules:
    assert r["health"] == "ok", (r["name"], r.get("lastError"))
    assert r["lastEvaluation"][:4] >= "2000", (r["name"], r["lastEvaluation"])
    assert r["state"] == "inactive", (r["name"], r["state"], r["alerts"])
EOP
}
wait_for 10 rules_ok || fail "alerting rules on the live series: $(cat "$T/rules.err")"
echo "ok: contrib/netspectra-alerts.yml: 5 rules evaluated on the live series, healthy, none firing; their unit tests pass"

stop_daemon "$T/d.log"

# ---- basic auth ------------------------------------------------------------
cfg "$T/auth.yaml" promauth "$AP" "  basic_auth: {username: scraper, password: netspectra-test-$$}"
start "$T/auth.yaml" "$T/auth.log" "$AP"
code=$(get "http://127.0.0.1:$AP/metrics" "$T/noauth")
[ "$code" = 401 ] || fail "a scrape without credentials: HTTP $code, want 401"
grep -qi '^www-authenticate: basic' "$T/noauth.headers" || fail "401 without a Basic challenge: $(cat "$T/noauth.headers")"
code=$(get "http://127.0.0.1:$AP/metrics" "$T/badauth" -u "scraper:wrong")
[ "$code" = 401 ] || fail "a scrape with a wrong password: HTTP $code, want 401"
code=$(get "http://127.0.0.1:$AP/metrics" "$T/auth.prom" -u "scraper:netspectra-test-$$")
[ "$code" = 200 ] || fail "a scrape with the credentials: HTTP $code, want 200"
promtool check metrics <"$T/auth.prom" >"$T/lint.out" 2>&1 && [ ! -s "$T/lint.out" ] ||
	fail "promtool check metrics (with auth): $(cat "$T/lint.out")"
# Prometheus with basic_auth in its scrape configuration gets in.
wait_for 20 q_is 'up{job="netspectra-auth"}' 1 ||
	fail "Prometheus cannot scrape with basic_auth: $(query 'up{job="netspectra-auth"}')"
! grep -q "netspectra-test-$$" "$T/auth.log" || fail "the log shows the password: $(cat "$T/auth.log")"
stop_daemon "$T/auth.log"
echo "ok: basic auth: 401 with a Basic challenge without credentials or with a wrong password, 200 with them; Prometheus scrapes with basic_auth"
