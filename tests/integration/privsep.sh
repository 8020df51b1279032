#!/bin/sh
# privsep.sh -- started as root, netspectrad's children run as daemon.user:
# workers and the exporter with no capability, captures with CAP_NET_RAW
# and CAP_NET_ADMIN only; the snapshots they write belong to that user,
# and the capture still sees the traffic.
. "$(dirname "$0")/lib.sh"
need_root
need useradd
need socat
ns_tmpdir
ns_alone

u=nstest$$
useradd --system --no-create-home --shell /usr/sbin/nologin "$u" || fail "useradd"
ns_at_exit "userdel $u 2>/dev/null"
ns_at_exit "rm -f /dev/shm/netspectra-privsep-$$ /dev/shm/netspectra-privsep-$$.lock"
mkdir "$T/out" && chown "$u" "$T/out" && chmod 711 "$T"
{ cat <<EOC
daemon: {user: $u, group: $u, pidfile: $T/d.pid, shm_name: /netspectra-privsep-$$, log_level: info}
inputs: [{type: pcap, interface: lo, immediate: true}]
prometheus: {enabled: true, listen: "127.0.0.1:9571"}
EOC
five_tuple_aggregator "$T/out" 1000; } >"$T/d.yaml"
ip netns exec "$NSA" "$NETSPECTRAD" -f -c "$T/d.yaml" >"$T/d.log" 2>&1 &
dpid=$!
ns_at_exit "kill -9 $dpid 2>/dev/null"
wait_for 10 grep -q "capturing on lo" "$T/d.log" || fail "did not start: $(cat "$T/d.log")"
grep -q "children run as $u" "$T/d.log" || fail "no privilege drop logged: $(cat "$T/d.log")"
uid=$(id -u "$u")
for name in ns-worker-0 ns-worker-1 ns-export-files ns-capture-0; do
	p=$(pgrep -P "$dpid" -x "$name") || fail "$name not running"
	awk -v u="$uid" '/^Uid:/ { exit !($2 == u && $3 == u && $4 == u) }' "/proc/$p/status" ||
		fail "$name: $(grep ^Uid: "/proc/$p/status"), want $uid"
	eff=$(awk '/^CapEff:/ { print $2 }' "/proc/$p/status")
	case $name in
	ns-capture-*) want=0000000000003000 ;;	# CAP_NET_ADMIN | CAP_NET_RAW
	*) want=0000000000000000 ;;
	esac
	[ "$eff" = "$want" ] || fail "$name: CapEff $eff, want $want"
done
ip netns exec "$NSA" ping -c 3 -i 0.2 127.0.0.1 >/dev/null || fail "ping"
# The daemon's own ports (here Prometheus's) are not measured.
grep -q 'capture filter "not (tcp port 9571)"' "$T/d.log" || fail "own traffic not filtered: $(cat "$T/d.log")"
ip netns exec "$NSA" sh -c 'echo x | socat -u - TCP:127.0.0.1:9571,connect-timeout=1' 2>/dev/null || true
# An operator in the daemon's group runs status and top.
op=nsop$$
useradd --system --no-create-home --shell /usr/sbin/nologin -G "$u" "$op" || fail "useradd $op"
ns_at_exit "userdel $op 2>/dev/null"
need runuser
# The operator's own copy of the tool: the build tree may lie under a
# directory only root can enter (a clone in mktemp -d), $T is 711.
cp "$NETSPECTRA" "$T/netspectra" && chmod 755 "$T/netspectra" || fail "copying netspectra"
NETSPECTRA=$T/netspectra
runuser -u "$op" -- "$NETSPECTRA" status -c "$T/d.yaml" >"$T/status" 2>&1 ||
	fail "status as a member of $u: $(cat "$T/status")"
grep -q "worker    0   active" "$T/status" || fail "status: $(cat "$T/status")"
wait_for 10 sh -c "runuser -u $op -- \"$NETSPECTRA\" top -c $T/d.yaml --once --json five 2>&1 | grep -q '\"packets\":6'" ||
	fail "top as a member of $u: $(runuser -u "$op" -- "$NETSPECTRA" top -c "$T/d.yaml" --once --json five 2>&1)"
kill -TERM "$dpid"
wait_for 20 eval '! kill -0 $dpid 2>/dev/null' || fail "did not stop"
wait "$dpid" || fail "exit status: $(tail -3 "$T/d.log")"
f=$(find "$T/out" -name flows.jsonl | head -1)
[ -n "$f" ] && [ "$(stat -c %U "$f")" = "$u" ] || fail "snapshot not written by $u: $(ls -lR "$T/out")"
grep -q '"Protocol":1,"packets":6' "$f" || fail "the capture missed the pings: $(cat "$f")"
! grep -q '"DstPort":9571' "$f" || fail "traffic to the daemon's own port was counted: $(cat "$f")"
echo "ok: status and top work for $op, a member of group $u; workers and exporter run as $u with no capabilities, the capture with CAP_NET_RAW+CAP_NET_ADMIN only; 6 ICMP packets counted, snapshot owned by $u"
