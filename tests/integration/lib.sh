# lib.sh -- shared helpers of the integration tests (sourced, POSIX sh).
#
# Exit codes follow automake's test protocol: 0 pass, 1 fail, 77 skip.

: "${NS_SRCDIR:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${NS_BUILDDIR:=$NS_SRCDIR}"
NETSPECTRA=${NETSPECTRA:-$NS_BUILDDIR/netspectra}
NETSPECTRAD=${NETSPECTRAD:-$NS_BUILDDIR/netspectrad}
PCAPGEN=${PCAPGEN:-$NS_BUILDDIR/contrib/pcapgen}

skip() { echo "SKIP: $*"; exit 77; }
fail() { echo "FAIL: $*" >&2; exit 1; }
need() { for t in "$@"; do command -v "$t" >/dev/null 2>&1 || skip "$t is not installed"; done; }
need_root() { [ "$(id -u)" = 0 ] || skip "needs root (network namespaces, tcpdump)"; }

# A scratch directory removed at exit, whatever the outcome.
ns_tmpdir() {
	T=$(mktemp -d "${TMPDIR:-/tmp}/netspectra-test.XXXXXX")
	trap 'ns_cleanup' EXIT INT TERM
}
NS_CLEANUP_CMDS=
ns_at_exit() { NS_CLEANUP_CMDS="$1; $NS_CLEANUP_CMDS"; }
ns_cleanup() {
	eval "$NS_CLEANUP_CMDS" 2>/dev/null
	[ -n "${T:-}" ] && rm -rf "$T"
}

# five_tuple_aggregator OUTDIR MAX_FLOWS [PERIOD [SNAPSHOT_INTERVAL]]: the
# daemon tests' usual aggregator section -- two workers, one 5-tuple task
# "five" written as jsonl under OUTDIR; periods and snapshots of 1h.
five_tuple_aggregator() {
	cat <<EOC
aggregator:
  period: ${3:-1h}
  num_workers: 2
  exact:
    writers: [{type: jsonl, snapshot_interval: ${4:-1h}, jsonl: {root_path: $1}}]
    tasks:
      - {name: five, key_fields: [SrcIP, DstIP, SrcPort, DstPort, Protocol], max_flows: $2}
EOC
}

# wait_for SECONDS CMD...: poll CMD until it succeeds or the deadline passes.
wait_for() {
	_deadline=$(( $(date +%s) + $1 )); shift
	until "$@" >/dev/null 2>&1; do
		[ "$(date +%s)" -lt "$_deadline" ] || return 1
		sleep 0.05
	done
}

# ---- the daemon --------------------------------------------------------------
# ns_in NS CMD...: CMD in network namespace NS, or here when NS is empty.
ns_in() {
	_n=$1; shift
	if [ -n "$_n" ]; then ip netns exec "$_n" "$@"; else "$@"; fi
}

# daemon_start NS CFG LOG READY_PATTERN [WRAPPER...]: netspectrad -f in
# network namespace NS (here when empty), run through WRAPPER (env with a
# preload, say) when given; sets DPID, to netspectrad itself (ip netns exec
# and env exec it) so that signals reach it; waits for READY_PATTERN in LOG.
daemon_start() {
	_ns=$1 _cfg=$2 _log=$3 _ready=$4; shift 4
	[ -n "$_ns" ] && set -- ip netns exec "$_ns" "$@"
	"$@" "$NETSPECTRAD" -f -c "$_cfg" >"$_log" 2>&1 &
	DPID=$!
	ns_at_exit "kill -9 $DPID 2>/dev/null"
	wait_for 20 grep -q "$_ready" "$_log" || fail "netspectrad did not start ($_ready): $(tail -20 "$_log")"
}

# daemon_stop PID LOG: SIGTERM, a clean exit 0 within 60 s.
daemon_stop() {
	kill -TERM "$1"
	wait_for 60 eval "! kill -0 $1 2>/dev/null" || fail "netspectrad did not stop: $(tail "$2")"
	wait "$1" || fail "netspectrad exited non-zero: $(tail -5 "$2")"
	grep -q "stopped$" "$2" || fail "no clean stop: $(tail "$2")"
}

# ---- network namespaces ----------------------------------------------------
# ns_pair: two namespaces $NSA and $NSB joined by a veth pair (va/vb), IPv4
# and IPv6 on both, and an 802.1Q VLAN 100 sub-interface on top where the
# kernel has 802.1Q (NS_VLAN=1 then; minimal VM kernels often lack it).
ns_pair() {
	NSA=nsa-$$ NSB=nsb-$$
	ip netns add "$NSA" && ip netns add "$NSB" || fail "cannot create network namespaces"
	ns_at_exit "ip netns del $NSA; ip netns del $NSB"
	ip link add va netns "$NSA" type veth peer name vb netns "$NSB"
	for side in "A 1 va" "B 2 vb"; do
		set -- $side
		ns=$(eval echo "\$NS$1")
		ip -n "$ns" link set lo up
		ip -n "$ns" link set "$3" up
		ip -n "$ns" addr add "10.200.0.$2/24" dev "$3"
		ip -n "$ns" -6 addr add "fd00:200::$2/64" dev "$3" nodad
		ip -n "$ns" link add link "$3" name "$3.100" type vlan id 100 \
			2>/dev/null || { NS_VLAN=0; continue; }
		NS_VLAN=1
		ip -n "$ns" link set "$3.100" up
		ip -n "$ns" addr add "10.200.100.$2/24" dev "$3.100"
		ip -n "$ns" -6 addr add "fd00:200:100::$2/64" dev "$3.100" nodad
	done
}

# ns_bare_pair: namespaces $NSA and $NSB joined by veth va--vb with no
# addresses and IPv6 off, so the kernel sends nothing of its own (router
# solicitations, MLD) into a capture there: for replaying traces.
ns_bare_pair() {
	NSA=nba-$$ NSB=nbb-$$
	ip netns add "$NSA" && ip netns add "$NSB" || fail "cannot create network namespaces"
	ns_at_exit "ip netns del $NSA; ip netns del $NSB"
	ip link add va netns "$NSA" type veth peer name vb netns "$NSB" || fail "veth"
	for ns in "$NSA va" "$NSB vb"; do
		set -- $ns
		ip netns exec "$1" sysctl -q -w "net.ipv6.conf.$2.disable_ipv6=1"
		ip netns exec "$1" sysctl -q -w "net.ipv6.conf.all.disable_ipv6=1"
		ip -n "$1" link set "$2" up
		ip -n "$1" link set lo up
	done
}

# rx [IF]: the packets IF (vb) in $NSB has received so far.
rx() { ip netns exec "$NSB" cat "/sys/class/net/${1:-vb}/statistics/rx_packets"; }
# rx_at_least FROM N: vb has received N packets since its count was FROM.
rx_at_least() { [ $(( $(rx) - $1 )) -ge "$2" ]; }

# ns_alone: one namespace $NSA with only its loopback.
ns_alone() {
	NSA=nsl-$$
	ip netns add "$NSA" || fail "cannot create a network namespace"
	ns_at_exit "ip netns del $NSA"
	ip -n "$NSA" link set lo up
}

# ns_record NS OUT TCPDUMP-ARGS...: start tcpdump in NS, wait until it listens.
ns_record() {
	_ns=$1 _out=$2; shift 2
	ip netns exec "$_ns" tcpdump -n -U -Z root -w "$_out" "$@" 2>"$_out.err" &
	NS_TCPDUMP=$!
	ns_at_exit "kill $NS_TCPDUMP"
	wait_for 10 grep -q "listening on" "$_out.err" || fail "tcpdump did not start: $(cat "$_out.err")"
}

# ns_record_stop NS OUT ADDR: send a sentinel datagram to ADDR port 9 and
# stop tcpdump once the sentinel is in the file: packets are written in
# order, so everything before it is there too.
ns_record_stop() {
	printf 'sentinel' | ip netns exec "$1" socat -u - "UDP:$(sock_addr "$3"):9"
	wait_for 10 sh -c "tcpdump -n -r '$2' 'udp dst port 9' 2>/dev/null | grep -q ." ||
		fail "sentinel never reached the capture"
	kill -INT "$NS_TCPDUMP"
	wait "$NS_TCPDUMP" || true
}

# sock_addr ADDR: an address as socat wants it (IPv6 in brackets).
sock_addr() { case $1 in *:*) echo "[$1]";; *) echo "$1";; esac; }

# ns_traffic CLIENT_NS SERVER_NS ADDR...: real programs talking: curl against
# python's http.server, ping, and UDP datagrams to a closed port (which
# brings ICMP port-unreachable errors) -- to each address given.
ns_traffic() {
	_cns=$1 _sns=$2; shift 2
	mkdir -p "$T/www" && head -c 20000 /dev/urandom >"$T/www/blob"
	ip netns exec "$_sns" python3 -m http.server --bind :: --directory "$T/www" 8080 \
		>/dev/null 2>&1 &
	_http=$!
	ns_at_exit "kill $_http"
	wait_for 10 sh -c "ip netns exec $_sns ss -ltn | grep -q ':8080 '" || fail "http.server did not start"
	for a in "$@"; do
		url="http://$(sock_addr "$a"):8080/blob"
		ip netns exec "$_cns" curl -sS -g -o /dev/null "$url" || fail "curl $url"
		ip netns exec "$_cns" curl -sS -g -o /dev/null "${url%blob}" || fail "curl ${url%blob}"
		ip netns exec "$_cns" ping -q -c 2 -i 0.2 "$a" >/dev/null || fail "ping $a"
		for i in 1 2 3; do
			printf 'datagram %s' "$i" | ip netns exec "$_cns" socat -u - "UDP:$(sock_addr "$a"):5353"
		done
	done
	kill "$_http"; wait "$_http" 2>/dev/null || true
}

# ---- the independent oracle -----------------------------------------------
# tshark_dump FILE: the fields netspectra's parser extracts, read by tshark,
# in the format of `netspectra dump`: frame, src, dst, sport, dport, proto,
# wire length; one line per IPv4/IPv6 frame.  IP reassembly is off so that
# every fragment stays its own packet, as netspectra counts them.
tshark_dump() {
	tshark_fields "$1" | awk -F'\t' -f "$NS_SRCDIR/tests/integration/tshark_dump.awk"
}

# tshark_fields FILE [-e FIELD...]: the 20 fields tshark_dump.awk reads,
# then any more asked for.
tshark_fields() {
	_tf=$1; shift
	tshark -n -r "$_tf" -o ip.defragment:FALSE -o ipv6.defragment:FALSE \
	    -T fields -E separator=/t -E occurrence=a \
	    -e frame.number -e frame.len -e frame.protocols \
	    -e ip.src -e ip.dst -e ipv6.src -e ipv6.dst -e ip.proto -e ipv6.nxt \
	    -e tcp.srcport -e tcp.dstport -e udp.srcport -e udp.dstport \
	    -e sctp.srcport -e sctp.dstport \
	    -e ipv6.hopopts.nxt -e ipv6.dstopts.nxt -e ipv6.routing.nxt -e ipv6.fraghdr.nxt \
	    -e ah.next_header "$@"
}

# compare_dump FILE: packet by packet, netspectra's parser against tshark.
compare_dump() {
	tshark_dump "$1" >"$1.tshark" || fail "tshark failed on $1"
	"$NETSPECTRA" dump "$1" >"$1.ns" || fail "netspectra dump failed on $1"
	[ -s "$1.tshark" ] || fail "tshark read no IP packet from $1"
	if ! diff -u "$1.tshark" "$1.ns" >"$1.diff"; then
		head -40 "$1.diff" >&2
		fail "$1: $(grep -c '^[-+][0-9]' "$1.diff") lines differ from tshark"
	fi
	echo "ok: $1: $(wc -l <"$1.ns") packets identical to tshark"
}
