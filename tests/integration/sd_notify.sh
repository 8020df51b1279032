#!/bin/sh
# sd_notify.sh -- netspectrad speaks systemd's notify protocol when
# NOTIFY_SOCKET is set: READY=1 once running, WATCHDOG=1 at half of
# WATCHDOG_USEC, RELOADING=1 then READY=1 on SIGHUP, STOPPING=1 on SIGTERM.
. "$(dirname "$0")/lib.sh"
need_root
need python3
ns_tmpdir
ns_alone
ns_at_exit "rm -f /dev/shm/netspectra-notify-$$ /dev/shm/netspectra-notify-$$.lock"
cat >"$T/d.yaml" <<EOC
daemon: {pidfile: $T/d.pid, shm_name: /netspectra-notify-$$, log_level: info}
inputs: [{type: pcap, interface: lo, immediate: true}]
prometheus: {enabled: false}
aggregator:
  period: 1h
  num_workers: 1
  exact:
    tasks:
      - {name: five, key_fields: [SrcIP, DstIP, SrcPort, DstPort, Protocol], max_flows: 1000}
EOC
# The listener plays systemd: it starts the daemon, drives it with signals
# as each message arrives, and fails on a deadline.
python3 - "$NETSPECTRAD" "$T" "$NSA" <<'EOP' || fail "the notify exchange went wrong: $(cat "$T/d.log" 2>/dev/null)"
import os, signal, socket, subprocess, sys, time
daemon, t, ns = sys.argv[1:]
path = t + "/notify.sock"
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
env = dict(os.environ, NOTIFY_SOCKET=path, WATCHDOG_USEC="2000000")
log = open(t + "/d.log", "w")
p = subprocess.Popen(["ip", "netns", "exec", ns, daemon, "-f", "-c", t + "/d.yaml"],
                     env=env, stdout=log, stderr=log)
def expect(msg, timeout=10):
    end = time.time() + timeout
    while time.time() < end:
        s.settimeout(max(0.1, end - time.time()))
        try:
            got = s.recv(4096).decode()
        except socket.timeout:
            break
        if msg in got.split("\n"):
            return
    p.kill()
    sys.exit("no %s within %d s" % (msg, timeout))
def pid():
    return int(open(t + "/d.pid").read())
expect("READY=1")
expect("WATCHDOG=1", 3)
os.kill(pid(), signal.SIGHUP)
expect("RELOADING=1")
expect("READY=1")
os.kill(pid(), signal.SIGTERM)
expect("STOPPING=1")
sys.exit(p.wait(timeout=30))
EOP
grep -q "reloading" "$T/d.log" || fail "no reload logged"
grep -q "stopped$" "$T/d.log" || fail "no clean stop"
echo "ok: READY, WATCHDOG (every ~1 s for WATCHDOG_USEC=2000000), RELOADING and READY on SIGHUP, STOPPING on SIGTERM; exit 0"
