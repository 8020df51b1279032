#!/bin/sh
# restart_file.sh -- a daemon restarted on the segment of a file input it
# has read to the end has nothing to do: it exits 0 by itself, its lifetime
# totals as they were, its writers' files untouched.  (It used to hang: the
# exporter waited for the earlier run's end generation to close, and no
# capture would ever close it.)
. "$(dirname "$0")/lib.sh"
ns_tmpdir

"$PCAPGEN" -o "$T/t.pcap" -n 20000 -f 500 -s 7 2>/dev/null || fail "pcapgen"
shm=/netspectra-restart-file-$$
ns_at_exit "rm -f /dev/shm$shm /dev/shm$shm.lock"
{ cat <<EOC
daemon: {pidfile: $T/d.pid, shm_name: $shm, log_level: info}
inputs: [{type: file, path: $T/t.pcap}]
prometheus: {enabled: false}
EOC
five_tuple_aggregator "$T/out" 10000; } >"$T/f.yaml"

# run N: netspectrad in the foreground; it must stop by itself in time.
run() {
	"$NETSPECTRAD" -f -c "$T/f.yaml" >"$T/run$1.log" 2>&1 &
	dpid=$!
	ns_at_exit "kill -9 $dpid 2>/dev/null"
	wait_for 30 eval '! kill -0 $dpid 2>/dev/null' ||
		fail "run $1 did not stop by itself: $(tail -5 "$T/run$1.log")"
	wait "$dpid" || fail "run $1 exited non-zero: $(tail -5 "$T/run$1.log")"
}
lifetime() { sed -n 's/.*task five: lifetime packets \([0-9]*\).*/\1/p' "$1"; }
files() { find "$T/out" -type f | sort | xargs md5sum; }

run 1
[ "$(lifetime "$T/run1.log")" = 20000 ] ||
	fail "run 1: lifetime packets '$(lifetime "$T/run1.log")', not 20000"
files >"$T/files1"
[ -s "$T/files1" ] || fail "run 1 wrote no files"

for n in 2 3; do
	run $n
	grep -q "reattached the shared memory segment" "$T/run$n.log" ||
		fail "run $n did not take the segment over: $(head -5 "$T/run$n.log")"
	[ "$(lifetime "$T/run$n.log")" = 20000 ] ||
		fail "run $n: lifetime packets '$(lifetime "$T/run$n.log")', not 20000"
	files >"$T/files$n"
	cmp -s "$T/files1" "$T/files$n" || fail "run $n changed the files: $(diff "$T/files1" "$T/files$n")"
done
echo "ok: restarted twice on a finished file input: each run exits 0 by itself, 20000 lifetime packets, files unchanged"
