#!/bin/sh
# shm_small.sh -- /dev/shm too small for the segment.  netspectrad runs in
# a mount namespace of its own whose /dev/shm is a small tmpfs of this
# test (the real /dev/shm is never touched):
#
#   - at start, a segment larger than the tmpfs: a clear error naming the
#     segment, its size and "No space left on device", exit 1 at once (no
#     child forked, no SIGBUS), and nothing left in /dev/shm;
#   - at a restart after a crash with a changed task whose segment does not
#     fit: the old configuration's live period is written to its writers
#     first (its flows = tshark's of the trace), then the same clear error
#     and exit 1; a second start fails the same way, loudly, instead of
#     looping; the old configuration starts again afresh.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/flows_lib.sh"
need_root
need tcpreplay tshark unshare mount umount
ns_tmpdir
ns_bare_pair

NAME=/netspectra-shs-$$
SHM=$T/shm
mkdir -p "$SHM"
mount -t tmpfs -o size=1m,mode=1777 "shm-small-$$" "$SHM" || skip "cannot mount a tmpfs"
ns_at_exit "umount -l $SHM"

# in_shm CMD...: CMD in $NSB with $SHM as its /dev/shm.
in_shm() {
	ip netns exec "$NSB" unshare -m --propagation private \
		sh -c 'mount --bind "$0" /dev/shm && exec "$@"' "$SHM" "$@"
}
cfg() {	# cfg FILE OUTDIR [EXTRA-TASK]
	{ cat <<EOC
daemon: {pidfile: $T/d.pid, shm_name: $NAME, log_level: info}
inputs: [{type: pcap, interface: vb, promisc: true, immediate: true}]
prometheus: {enabled: false}
EOC
	five_tuple_aggregator "$2" 10000
	printf '%s\n' "$3"; } >"$1"
	"$NETSPECTRAD" -t -c "$1" >/dev/null 2>"$1.err" || fail "config $1: $(cat "$1.err")"
}
cfg "$T/a.yaml" "$T/out-a"
cfg "$T/b.yaml" "$T/out-b" "      - {name: src, key_fields: [SrcIP], max_flows: 200000}"
"$PCAPGEN" -o "$T/trace.pcap" -n 5000 -f 500 -s 42 2>/dev/null || fail "pcapgen"

# start CFG LOG: netspectrad -f in the small /dev/shm, in the background;
# $dpid is netspectrad itself (ip, unshare and sh all exec).
start() {
	ip netns exec "$NSB" unshare -m --propagation private \
		sh -c 'mount --bind "$0" /dev/shm && exec "$@"' "$SHM" \
		"$NETSPECTRAD" -f -c "$1" >"$2" 2>&1 &
	dpid=$!
	ns_at_exit "kill -9 $dpid 2>/dev/null"
}
# refused CFG LOG WHAT: a start that must fail at once, with a clear error.
refused() {
	start "$1" "$2"
	wait_for 30 eval '! kill -0 $dpid 2>/dev/null' ||
		fail "$3: netspectrad still runs 30 s after its start: $(tail -5 "$2")"
	wait "$dpid" && fail "$3: netspectrad exited 0: $(tail -5 "$2")"
	grep -q "shared memory $NAME ([0-9]* bytes): No space left on device" "$2" ||
		fail "$3: no clear error: $(cat "$2")"
	! grep -qi "signal\|restarting" "$2" || fail "$3: a child died: $(cat "$2")"
	[ ! -e "$SHM/${NAME#/}" ] || fail "$3: a segment was left in /dev/shm: $(ls -l "$SHM")"
	[ ! -e "$T/d.pid" ] || fail "$3: the pid file was left"
	need_bytes=$(sed -n 's/.*shared memory [^ ]* (\([0-9]*\) bytes).*/\1/p' "$2" | tail -1)
}

# ---- at start --------------------------------------------------------------
refused "$T/a.yaml" "$T/run0.log" "1 MiB /dev/shm"
[ -z "$(ls -A "$SHM")" ] || fail "a refused first start left files in /dev/shm: $(ls -l "$SHM")"
# All but the last pages fit: still refused whole at start (preallocated),
# not a SIGBUS when a worker first touches a page beyond the end.
mount -o remount,size=$(( need_bytes - 65536 )) "$SHM" || fail "remount"
refused "$T/a.yaml" "$T/run0b.log" "/dev/shm 64 KiB short"
[ -z "$(ls -A "$SHM")" ] || fail "a refused start left files in /dev/shm: $(ls -l "$SHM")"
echo "ok: a $need_bytes-byte segment in a 1 MiB /dev/shm, and in one 64 KiB short: '$(grep -o "shared memory.*" "$T/run0.log")', exit 1, nothing left behind"

# ---- a layout change on restart ---------------------------------------------------
# Room for the first configuration's segment, not for the second's.
mount -o remount,size=$(( need_bytes / 1048576 + 2 ))m "$SHM" || fail "remount"
start "$T/a.yaml" "$T/run1.log"
wait_for 20 grep -q "capturing on vb" "$T/run1.log" || fail "run 1 did not start: $(cat "$T/run1.log")"
rx0=$(rx)
ip netns exec "$NSA" tcpreplay -q -i va --pps 5000 "$T/trace.pcap" >/dev/null 2>&1 || fail "tcpreplay"
status_has() { in_shm "$NETSPECTRA" status -c "$T/a.yaml" >"$T/status" 2>&1 && grep -q "$1" "$T/status"; }
wait_for 30 status_has "task five: lifetime packets 5000" || fail "run 1: status: $(cat "$T/status")"
# A crash in the middle of the period: its flows are only in the segment.
kids=$(pgrep -P "$dpid" | tr '\n' ' ')
kill -9 "$dpid"
wait "$dpid" 2>/dev/null
gone() { for k in $kids; do kill -0 "$k" 2>/dev/null && return 1; done; return 0; }
wait_for 10 gone || fail "children outlived the supervisor: $kids"
[ -z "$(ls "$T/out-a" 2>/dev/null)" ] || fail "run 1 wrote flows before the crash: $(ls "$T/out-a")"

refused "$T/b.yaml" "$T/run2.log" "changed task"
free=$(df -B1 --output=size "$SHM" | tail -1 | tr -d ' ')
[ "$need_bytes" -gt "$free" ] || fail "the new segment ($need_bytes bytes) would fit in $free"
grep -q "another layout" "$T/run2.log" || fail "run 2: layout change not logged: $(cat "$T/run2.log")"
grep -q "layout changed: wrote the old configuration's current period" "$T/run2.log" ||
	fail "run 2: the old live period was not written: $(cat "$T/run2.log")"
tshark_flows "$T/trace.pcap" "$T/tshark.flows"
cat "$T"/out-a/*/five/flows.jsonl >"$T/old.jsonl" 2>/dev/null
flows_py ns five "$T/old.jsonl" >"$T/old.flows" || fail "bad flow output"
n=$(flows_py diff "$T/tshark.flows" "$T/old.flows" packets bytes) ||
	fail "the old period's flows differ from tshark (< tshark, > written)"
echo "ok: crash, then a changed task whose $need_bytes-byte segment does not fit in $free: the old live period was written first ($n flows = tshark), then a clear error and exit 1"

# Started again (a service manager's restart): the same error, at once.
refused "$T/b.yaml" "$T/run3.log" "second start"
! grep -q "another layout" "$T/run3.log" || fail "run 3 found an old segment again"
# The old configuration fits: a fresh start, which counts from 0.
start "$T/a.yaml" "$T/run4.log"
wait_for 20 grep -q "capturing on vb" "$T/run4.log" || fail "run 4 did not start: $(cat "$T/run4.log")"
kill -TERM "$dpid"
wait_for 30 eval '! kill -0 $dpid 2>/dev/null' || fail "run 4 did not stop"
wait "$dpid" || fail "run 4 exited non-zero: $(tail -5 "$T/run4.log")"
grep -q "task five: lifetime packets 0," "$T/run4.log" || fail "run 4 did not start afresh: $(tail -5 "$T/run4.log")"
echo "ok: a second start with the changed task fails the same way; the old configuration starts afresh"
