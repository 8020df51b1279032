# nats_lib.sh -- a scratch nats-server for the NATS tests, and an
# independent subscriber that speaks the NATS text protocol over a plain
# socket (sourced after lib.sh, POSIX sh).
#
# The server is Debian's nats-server, on a free loopback port, optionally
# inside a network namespace (the live tests capture in one: the probe,
# the engine and the server all sit on that namespace's loopback), with
# JetStream when asked.  It is killed at exit whatever the outcome.
#
#   need_nats            skip unless nats-server and python3 are there
#   nats_setup [NETNS] [AVOID_FILE]   pick a port (one not in AVOID_FILE, a
#                        list of port numbers in use by test traffic); sets
#                        NATS_PORT, NATS_URL, NATS_NS, NATS_DIR
#   nats_start [-js]     start it (JetStream: store in $NATS_DIR/js), wait
#                        until it answers a client's CONNECT and PING; with
#                        NATS_CONF set, it reads that configuration file too
#                        (max_payload, ...)
#   nats_stop            SIGTERM, wait until it has exited and freed its port
#   nats_kill            kill -9, the same wait
#   in_nats CMD...       run CMD where the server listens (its namespace)
#   nats_sub_start SUBJECT OUT   the subscriber: subscribed once this returns
#   nats_sub_stop        make it PING the server and wait for the PONG (so it
#                        holds every message published before the call
#                        whose publisher has flushed), then exit; writes
#                        OUT.single (each message without a Content-Type
#                        header, framed as field 1 of a wrapper message),
#                        OUT.batch (the batch payloads one after another:
#                        a merged netspectra.PacketBatch) and OUT.count
#                        ("messages M single S batch B other O")
#   nats_pub SUBJECT FILE [CONTENT_TYPE]   publish FILE as one message
#   nats_stream_create NAME SUBJECT   a JetStream stream (file storage) of
#                        SUBJECT: it keeps what is published while no
#                        subscriber is connected, across server restarts
#   nats_stream_count NAME   how many messages the stream holds
#
# The subscriber is python3's standard library only: what it receives does
# not depend on nats.c, the library under test.

NATS_SERVER=${NATS_SERVER:-nats-server}

need_nats() {
	need "$NATS_SERVER" python3
}

in_nats() {
	if [ -n "${NATS_NS:-}" ]; then ip netns exec "$NATS_NS" "$@"; else "$@"; fi
}
# Background processes start through $NATS_IN, not in_nats: "cmd &" of a
# shell function forks a subshell, and its pid would be the one signalled.
# (ip netns exec execs the command: the pid stays the command's.)

nats_port_free() { [ -z "$(in_nats ss -Hltn "sport = :$1")" ]; }

nats_setup() {
	NATS_NS=${1:-}
	NATS_IN=${NATS_NS:+ip netns exec $NATS_NS}
	_avoid=${2:-/dev/null}
	NATS_DIR=$T/nats
	mkdir -p "$NATS_DIR"
	# Away from 4222 and from each other's runs: a base from the pid.
	NATS_PORT=$(( 30000 + ($$ % 500) * 7 ))
	while ! nats_port_free "$NATS_PORT" ||
	    grep -qx "$NATS_PORT" "$_avoid" 2>/dev/null; do
		NATS_PORT=$((NATS_PORT + 1))
	done
	NATS_URL=nats://127.0.0.1:$NATS_PORT
	NATS_PY=$NATS_DIR/nats_peer.py
	nats_write_peer >"$NATS_PY"
}

# nats_up: a client gets INFO, and PONG for its PING.
nats_up() {
	in_nats python3 "$NATS_PY" ping "$NATS_PORT" >/dev/null 2>&1
}

nats_start() {
	_js=
	[ "${1:-}" = -js ] && _js="-js -sd $NATS_DIR/js"
	# shellcheck disable=SC2086
	$NATS_IN "$NATS_SERVER" ${NATS_CONF:+-c "$NATS_CONF"} -a 127.0.0.1 \
	    -p "$NATS_PORT" $_js >>"$NATS_DIR/server.log" 2>&1 &
	NATS_PID=$!
	ns_at_exit "kill -9 $NATS_PID"
	wait_for 20 nats_up || fail "nats-server did not start: $(tail -5 "$NATS_DIR/server.log")"
}

nats_gone() {
	! kill -0 "$NATS_PID" 2>/dev/null && nats_port_free "$NATS_PORT"
}

nats_stop() {
	kill -TERM "$NATS_PID" 2>/dev/null
	wait "$NATS_PID" 2>/dev/null
	wait_for 20 nats_gone || fail "nats-server did not stop"
}

nats_kill() {
	kill -9 "$NATS_PID" 2>/dev/null
	wait "$NATS_PID" 2>/dev/null
	wait_for 20 nats_gone || fail "nats-server did not die"
}

nats_sub_start() {
	NATS_SUB_OUT=$2
	rm -f "$2.ready"
	# shellcheck disable=SC2086
	$NATS_IN python3 "$NATS_PY" sub "$NATS_PORT" "$1" "$2" 2>"$2.err" &
	NATS_SUB_PID=$!
	ns_at_exit "kill -9 $NATS_SUB_PID"
	wait_for 20 test -e "$2.ready" || fail "subscriber did not start: $(cat "$2.err")"
}

nats_sub_stop() {
	kill -USR1 "$NATS_SUB_PID"
	wait "$NATS_SUB_PID" || fail "subscriber failed: $(cat "$NATS_SUB_OUT.err")"
}

nats_pub() {
	in_nats python3 "$NATS_PY" pub "$NATS_PORT" "$1" "$2" "${3:-}" ||
	    fail "publish to $1 failed"
}

nats_stream_create() {
	in_nats python3 "$NATS_PY" stream "$NATS_PORT" create "$1" "$2" ||
	    fail "cannot create stream $1"
}

nats_stream_count() {
	in_nats python3 "$NATS_PY" stream "$NATS_PORT" info "$1" ||
	    fail "cannot read stream $1"
}

nats_write_peer() {
	cat <<'EOPY'
# The NATS text protocol over a plain socket: INFO, CONNECT, SUB, PUB,
# HPUB, MSG, HMSG, PING, PONG (docs.nats.io, "Client Protocol").
import select, signal, socket, sys

class Reader:
    """Lines and counted reads over a socket, buffered by hand: a timeout
    never loses what was read."""
    def __init__(self, s):
        self.s, self.buf = s, bytearray()

    def fill(self):
        d = self.s.recv(1 << 16)
        if not d:
            sys.exit("connection closed by the server")
        self.buf += d

    def readline(self):
        while b"\r\n" not in self.buf:
            self.fill()
        i = self.buf.index(b"\r\n") + 2
        line, self.buf = bytes(self.buf[:i]), self.buf[i:]
        return line

    def read(self, n):
        while len(self.buf) < n:
            self.fill()
        data, self.buf = bytes(self.buf[:n]), self.buf[n:]
        return data

    def has_line(self):
        return b"\r\n" in self.buf

def connect(port):
    s = socket.create_connection(("127.0.0.1", int(port)), timeout=30)
    f = Reader(s)
    line = f.readline()
    if not line.startswith(b"INFO "):
        sys.exit("no INFO from the server: %r" % line)
    s.sendall(b'CONNECT {"verbose":false,"pedantic":false,"headers":true,'
              b'"no_responders":false,"name":"test-peer","lang":"python",'
              b'"version":"0","protocol":1}\r\n')
    return s, f

def round_trip(s, f, on_msg=None):
    """PING, then read until its PONG; messages before it go to on_msg."""
    s.sendall(b"PING\r\n")
    while True:
        line = f.readline()
        if not line:
            sys.exit("connection closed by the server")
        if line.startswith(b"PONG"):
            return
        handle(s, f, line, on_msg)

def handle(s, f, line, on_msg):
    words = line.split()
    if not words:
        return
    op = words[0]
    if op == b"PING":
        s.sendall(b"PONG\r\n")
    elif op == b"MSG":
        n = int(words[-1])
        data = f.read(n + 2)[:n]
        on_msg(None, data)
    elif op == b"HMSG":
        hlen, total = int(words[-2]), int(words[-1])
        raw = f.read(total + 2)[:total]
        on_msg(raw[:hlen], raw[hlen:])
    elif op == b"-ERR":
        sys.exit("server: %s" % line.decode(errors="replace").strip())

def content_type(hdr):
    if hdr is None:
        return None
    for l in hdr.split(b"\r\n")[1:]:
        k, _, v = l.partition(b":")
        if k.strip().lower() == b"content-type":
            return v.strip().decode()
    return None

def varint(n):
    out = bytearray()
    while n >= 0x80:
        out.append(n & 0x7F | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)

def sub(port, subject, out):
    stop = []
    signal.signal(signal.SIGUSR1, lambda *a: stop.append(1))
    s, f = connect(port)
    s.sendall(b"SUB %s 1\r\n" % subject.encode())
    single = open(out + ".single", "wb")
    batch = open(out + ".batch", "wb")
    n = {"messages": 0, "single": 0, "batch": 0, "other": 0}

    def on_msg(hdr, data):
        n["messages"] += 1
        ct = content_type(hdr)
        if ct is None:
            n["single"] += 1
            single.write(b"\x0a" + varint(len(data)) + data)
        elif "proto=netspectra.PacketBatch" in ct:
            n["batch"] += 1
            batch.write(data)
        else:
            n["other"] += 1

    round_trip(s, f, on_msg)        # the server has the SUB
    open(out + ".ready", "w").close()
    while not stop:
        # Wait for a line at most 0.2 s, so that SIGUSR1 is seen; once
        # one starts, read it whole.
        if not f.has_line() and not select.select([s], [], [], 0.2)[0]:
            continue
        handle(s, f, f.readline(), on_msg)
    round_trip(s, f, on_msg)        # everything sent before is here
    single.close()
    batch.close()
    with open(out + ".count", "w") as c:
        c.write("messages %(messages)d single %(single)d batch %(batch)d "
                "other %(other)d\n" % n)

def pub(port, subject, path, ct):
    s, f = connect(port)
    data = open(path, "rb").read()
    if ct:
        hdr = b"NATS/1.0\r\nContent-Type: " + ct.encode() + b"\r\n\r\n"
        s.sendall(b"HPUB %s %d %d\r\n" % (subject.encode(), len(hdr),
                  len(hdr) + len(data)) + hdr + data + b"\r\n")
    else:
        s.sendall(b"PUB %s %d\r\n" % (subject.encode(), len(data)) + data +
                  b"\r\n")
    round_trip(s, f, lambda h, d: None)

def request(s, f, subject, body):
    """A JetStream API request: its JSON reply."""
    import json
    s.sendall(b"SUB _INBOX.t 99\r\n")
    s.sendall(b"PUB %s _INBOX.t %d\r\n" % (subject.encode(), len(body)) +
              body + b"\r\n")
    got = []
    while not got:
        handle(s, f, f.readline(), lambda h, d: got.append(d))
    reply = json.loads(got[0])
    if "error" in reply:
        sys.exit("%s: %s" % (subject, reply["error"]))
    return reply

def stream(port, op, name, subject=None):
    import json
    s, f = connect(port)
    if op == "create":
        request(s, f, "$JS.API.STREAM.CREATE." + name, json.dumps(
            {"name": name, "subjects": [subject], "storage": "file"}).encode())
    else:
        st = request(s, f, "$JS.API.STREAM.INFO." + name, b"")["state"]
        print(st["messages"])

if __name__ == "__main__":
    mode = sys.argv[1]
    if mode == "ping":
        s, f = connect(sys.argv[2])
        round_trip(s, f)
    elif mode == "sub":
        sub(*sys.argv[2:5])
    elif mode == "pub":
        pub(*sys.argv[2:6])
    elif mode == "stream":
        stream(*sys.argv[2:6])
EOPY
}
