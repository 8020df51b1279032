#!/bin/sh
# alerts.sh -- the alerter (ns-alert) end to end, against servers that are
# not netspectra's: an SMTP server and an HTTP receiver written here in
# python3's standard library, and a real nats-server with a subscriber
# that speaks the NATS text protocol over a plain socket.
#
# netspectrad reads Go2NetSpectra PacketInfo messages from NATS (periods of
# 10 s in packet time).  150 packets in the first period make the rule
# "total_packets > 100 on five" fire; 5 packets two periods later make the
# live period small and the rule resolve.  Mail (with AUTH, envelope to
# both recipients of a comma-separated smtp.to), webhook (a JSON POST) and
# NATS (JSON on alerter.nats_subject) each get exactly one firing and one
# resolved message naming the rule, with the same value on all three
# channels, within what the live period held; a rule that never holds
# sends nothing.  netspectra status and /metrics count evaluations,
# transitions and notifications by channel (promtool-clean).  A reload
# (SIGHUP) re-forks ns-alert, which takes the rule's state over from the
# segment and does not say "firing" again.  With the HTTP receiver gone,
# the next firing fails on the webhook only -- counted and logged -- while
# mail and NATS still deliver.  SIGTERM ends it all with exit 0.  A second
# daemon with smtp.tls auto and a username sends through a server that
# offers STARTTLS with a certificate from ca_file: TLS first, then AUTH.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/nats_lib.sh"
. "$(dirname "$0")/nats_input_lib.sh"
need_nats
need curl
ns_tmpdir

# ---- the peers: SMTP, HTTP, and what they and NATS received -------------
cat >"$T/peers.py" <<'EOPY'
"""smtp DIR USER PASS | http DIR | free-port | summary KIND DIR|FILE |
packets OUT SECONDS COUNT (PacketInfo messages, framed for natsin_publish)"""
import base64, email, email.policy, http.server, json, os, socket
import socketserver, ssl, sys, threading

lock = threading.Lock()
seq = [0]

def store(d, record):
    """One message a file, written whole (a poll never sees half)."""
    with lock:
        seq[0] += 1
        n = seq[0]
    tmp = os.path.join(d, ".%d.tmp" % n)
    with open(tmp, "w") as f:
        json.dump(record, f)
    os.rename(tmp, os.path.join(d, "%04d.json" % n))

def ready(d, port):
    with open(os.path.join(d, ".port"), "w") as f:
        f.write("%d\n" % port)
    os.rename(os.path.join(d, ".port"), os.path.join(d, "port"))

class Smtp(socketserver.StreamRequestHandler):
    """Enough of RFC 5321 for libcurl: EHLO, STARTTLS (with a certificate),
    AUTH PLAIN/LOGIN, MAIL, RCPT, DATA (dot-unstuffed), RSET, NOOP, QUIT."""
    tls = False

    def starttls(self):
        self.say("220 2.0.0 ready to start TLS")
        self.connection = self.server.tls.wrap_socket(self.connection,
                                                      server_side=True)
        self.rfile = self.connection.makefile("rb")
        self.wfile = self.connection.makefile("wb", buffering=0)
        self.tls = True

    def say(self, *lines):
        self.wfile.write(b"".join(l.encode() + b"\r\n" for l in lines))

    def line(self):
        l = self.rfile.readline()
        if not l:
            raise EOFError
        return l.decode("utf-8", "replace").rstrip("\r\n")

    def auth(self, words):
        user, pw = self.server.creds
        if words[1].upper() == "PLAIN":
            arg = words[2] if len(words) > 2 else None
            if arg is None:
                self.say("334 ")
                arg = self.line()
            got = base64.b64decode(arg).split(b"\0")[1:]
        else:
            self.say("334 VXNlcm5hbWU6")
            u = base64.b64decode(self.line())
            self.say("334 UGFzc3dvcmQ6")
            got = [u, base64.b64decode(self.line())]
        if got == [user.encode(), pw.encode()]:
            self.say("235 2.7.0 authenticated")
            return True
        self.say("535 5.7.8 bad credentials")
        return False

    def data(self, mfrom, rcpts, authed):
        self.say("354 end with .")
        body = bytearray()
        while True:
            l = self.rfile.readline()
            if l in (b".\r\n", b""):
                break
            body += l[1:] if l.startswith(b"..") else l
        store(self.server.dir, {"from": mfrom, "to": rcpts, "auth": authed,
                                "tls": self.tls,
                                "data": body.decode("utf-8", "replace")})
        self.say("250 2.0.0 queued")

    def handle(self):
        mfrom, rcpts, authed = None, [], False
        self.say("220 alerts-test ESMTP")
        try:
            while True:
                cmd = self.line()
                w = cmd.split()
                verb = w[0].upper() if w else ""
                if verb == "EHLO":
                    offer = ["250-STARTTLS"] if self.server.tls and \
                        not self.tls else []
                    self.say("250-alerts-test", *offer,
                             "250-AUTH PLAIN LOGIN", "250 8BITMIME")
                elif verb == "STARTTLS" and self.server.tls and not self.tls:
                    self.starttls()
                elif verb == "HELO":
                    self.say("250 alerts-test")
                elif verb == "AUTH":
                    authed = self.auth(w)
                elif cmd.upper().startswith("MAIL FROM:"):
                    if not authed:
                        self.say("530 5.7.0 authentication required")
                        continue
                    mfrom, rcpts = cmd[10:].strip(), []
                    self.say("250 2.1.0 ok")
                elif cmd.upper().startswith("RCPT TO:"):
                    rcpts.append(cmd[8:].strip())
                    self.say("250 2.1.5 ok")
                elif verb == "DATA":
                    self.data(mfrom, rcpts, authed)
                elif verb in ("RSET", "NOOP"):
                    self.say("250 2.0.0 ok")
                elif verb == "QUIT":
                    self.say("221 2.0.0 bye")
                    return
                else:
                    self.say("502 5.5.2 not implemented")
        except EOFError:
            return

class Hook(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(n).decode("utf-8", "replace")
        store(self.server.dir, {"path": self.path, "body": body,
                                "type": self.headers.get("Content-Type")})
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *a):
        pass

def serve(srv, d):
    srv.dir = d
    ready(d, srv.server_address[1])
    srv.serve_forever()

def unframe(data):
    """Field 1 of a wrapper, repeated: what nats_lib's subscriber wrote."""
    i, out = 0, []
    while i < len(data):
        assert data[i] == 0x0A
        i, n, shift = i + 1, 0, 0
        while True:
            b = data[i]; i += 1
            n |= (b & 0x7F) << shift; shift += 7
            if b < 0x80:
                break
        out.append(data[i:i + n]); i += n
    return out

def summary(kind, where):
    """One line a message: status rule value [details]."""
    if kind == "nats":
        docs = [json.loads(m) for m in unframe(open(where, "rb").read())]
        for d in docs:
            print("%s %s %s" % (d["status"], d["rule"], d["value"]))
        return
    for name in sorted(os.listdir(where)):
        if not name.endswith(".json"):
            continue
        r = json.load(open(os.path.join(where, name)))
        if kind == "webhook":
            d = json.loads(r["body"])
            print("%s %s %s type=%s path=%s" % (d["status"], d["rule"],
                  d["value"], r["type"], r["path"]))
            continue
        m = email.message_from_string(r["data"], policy=email.policy.default)
        body = m.get_content()
        value = [l.split()[1] for l in body.splitlines()
                 if l.startswith("  value ")][0]
        print("%s %s %s from=%s to=%s auth=%s tls=%s subject=%s" % (
              m["X-Netspectra-Status"], m["X-Netspectra-Rule"], value,
              r["from"], ",".join(r["to"]), r["auth"], r["tls"],
              m["Subject"]))

def varint(n):
    out = bytearray()
    while n >= 0x80:
        out.append(n & 0x7F | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)

def field(num, payload):
    if isinstance(payload, int):
        return varint(num << 3) + varint(payload)
    return varint(num << 3 | 2) + varint(len(payload)) + payload

def packets(out, seconds, count):
    """COUNT PacketInfos of one UDP flow at Unix time SECONDS + i ms."""
    with open(out, "ab") as f:
        for i in range(int(count)):
            ts = field(1, int(seconds)) + field(2, i * 1000000)
            ft = (field(1, bytes([10, 0, 0, 1])) + field(2, bytes([10, 0, 0, 2]))
                  + field(3, 40000) + field(4, 53) + field(5, 17))
            m = field(1, ts) + field(2, ft) + field(3, 100)
            f.write(b"\x0a" + varint(len(m)) + m)

if __name__ == "__main__":
    mode = sys.argv[1]
    if mode == "smtp":
        srv = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Smtp)
        srv.daemon_threads = True
        srv.creds = (sys.argv[3], sys.argv[4])
        srv.tls = None
        if len(sys.argv) > 6:       # CERT KEY: offer STARTTLS
            srv.tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            srv.tls.load_cert_chain(sys.argv[5], sys.argv[6])
        serve(srv, sys.argv[2])
    elif mode == "http":
        srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hook)
        serve(srv, sys.argv[2])
    elif mode == "free-port":
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        print(s.getsockname()[1])
    elif mode == "summary":
        summary(sys.argv[2], sys.argv[3])
    elif mode == "packets":
        packets(*sys.argv[2:5])
EOPY
peers() { python3 "$T/peers.py" "$@"; }

mkdir -p "$T/mail" "$T/hook"
python3 "$T/peers.py" smtp "$T/mail" alerter 's3cret' 2>"$T/smtp.err" &
SMTP_PID=$!
ns_at_exit "kill $SMTP_PID"
python3 "$T/peers.py" http "$T/hook" 2>"$T/http.err" &
HTTP_PID=$!
ns_at_exit "kill $HTTP_PID"
wait_for 20 test -s "$T/mail/port" || fail "SMTP server did not start: $(cat "$T/smtp.err")"
wait_for 20 test -s "$T/hook/port" || fail "HTTP receiver did not start: $(cat "$T/http.err")"
SMTP_PORT=$(cat "$T/mail/port")
HTTP_PORT=$(cat "$T/hook/port")
PROM_PORT=$(peers free-port)

nats_setup
nats_start
nats_sub_start alerts.test.out "$T/nsub"

# ---- the daemon ----------------------------------------------------------
P0=1767225600		# 2026-01-01T00:00:00Z, a multiple of the 10 s period
SHM=/netspectra-alerts-$$
ns_at_exit "rm -f /dev/shm$SHM /dev/shm$SHM.lock"
cat >"$T/d.yaml" <<EOC
daemon: {pidfile: $T/d.pid, shm_name: $SHM, log_level: info}
inputs:
  - {type: nats, url: $NATS_URL, subject: alerts.test.packets}
prometheus: {enabled: true, listen: 127.0.0.1:$PROM_PORT}
alerter:
  enabled: true
  check_interval: 1s
  min_notify_interval: 0s
  timeout: 5s
  webhook_url: http://127.0.0.1:$HTTP_PORT/hook?token=t1
  nats_url: $NATS_URL
  nats_subject: alerts.test.out
  ai_analysis: {enabled: true}
  rules:
    - {name: Many_Packets, task_name: five, metric: total_packets, operator: ">", threshold: 100}
    - {name: Never, task_name: five, metric: total_bytes, operator: ">=", threshold: 1e12}
smtp:
  host: 127.0.0.1
  port: $SMTP_PORT
  username: alerter
  password: s3cret
  from: netspectra@test.example
  to: "ops@test.example, noc@test.example"
  tls: none
aggregator:
  period: 10s
  num_workers: 2
  exact:
    writers: [{type: jsonl, snapshot_interval: 1h, jsonl: {root_path: $T/out}}]
    tasks:
      - {name: five, key_fields: [SrcIP, DstIP, SrcPort, DstPort, Protocol], max_flows: 1000}
EOC
"$NETSPECTRAD" -t -c "$T/d.yaml" >/dev/null 2>"$T/t.err" || fail "config: $(cat "$T/t.err")"
"$NETSPECTRAD" -f -c "$T/d.yaml" >"$T/d.log" 2>&1 &
DPID=$!
ns_at_exit "kill -9 $DPID 2>/dev/null"

status() { "$NETSPECTRA" status -c "$T/d.yaml" 2>&1; }
# channel_has CHANNEL FIELD N: status shows the channel's FIELD at N.
channel_has() { status | grep -q "^  $1: configured, .*$2 $3\b"; }
alert_up() {
	grep -q "\[alert\]: NATS: connected to" "$T/d.log" &&
	    status | grep -q "nats: connected"
}
wait_for 30 alert_up || fail "netspectrad (or ns-alert) did not connect to NATS: $(tail -5 "$T/d.log")"
n=$(grep -c "AI analysis of alerts is not supported" "$T/d.log")
[ "$n" = 1 ] || fail "ai_analysis.enabled: $n warnings, want 1: $(cat "$T/d.log")"

# summary KIND: the messages KIND got, one a line.
mails() { peers summary mail "$T/mail"; }
hooks() { peers summary webhook "$T/hook"; }
has() { _k=$1; shift; "$_k" | grep -q "$@"; }

# ---- it fires ----------------------------------------------------------
peers packets "$T/p1" $((P0 + 1)) 150
[ "$(natsin_publish alerts.test.packets "$T/p1")" = 150 ] || fail "publishing the first period"
wait_for 30 has mails "^firing Many_Packets" || fail "no firing mail: $(tail -5 "$T/d.log")"
wait_for 30 has hooks "^firing Many_Packets" || fail "no firing webhook: $(tail -5 "$T/d.log")"
wait_for 30 channel_has nats sent 1 || fail "nothing published on NATS: $(status)"

# ---- a reload re-forks ns-alert, which keeps the rule's state -----------
evals() { status | sed -n 's/^alerter: evaluations \([0-9]*\),.*/\1/p'; }
evals_past() { [ "$(evals)" -ge "$1" ]; }
restarted() { [ "$(grep -c "\[alert\]: 2 rule(s) every" "$T/d.log")" -ge 2 ]; }
kill -HUP "$DPID"
wait_for 30 restarted || fail "the reload did not re-fork ns-alert: $(tail -5 "$T/d.log")"
e0=$(evals)
wait_for 30 evals_past $((e0 + 2)) || fail "no evaluation after the reload: $(status)"
[ "$(mails | grep -c '^firing')" = 1 ] || fail "firing sent again after the reload: $(mails)"
echo "ok: reload: ns-alert re-forked, the firing rule not notified again"

# ---- and resolves, once a later period holds little ------------------
peers packets "$T/p2" $((P0 + 21)) 5
[ "$(natsin_publish alerts.test.packets "$T/p2")" = 5 ] || fail "publishing the third period"
wait_for 30 has mails "^resolved Many_Packets" || fail "no resolved mail: $(tail -5 "$T/d.log")"
wait_for 30 has hooks "^resolved Many_Packets" || fail "no resolved webhook: $(tail -5 "$T/d.log")"
wait_for 30 channel_has nats sent 2 || fail "no second message on NATS: $(status)"

# ---- what each channel got ---------------------------------------------
mails >"$T/mails"
hooks >"$T/hooks"
[ "$(wc -l <"$T/mails")" = 2 ] || fail "mails: want 2, got: $(cat "$T/mails")"
[ "$(wc -l <"$T/hooks")" = 2 ] || fail "webhooks: want 2, got: $(cat "$T/hooks")"
# value VALUE-LIST STATUS: the value of that status's message.
value() { awk -v s="$2" '$1 == s { print $3 }' "$1"; }
fire=$(value "$T/mails" firing) res=$(value "$T/mails" resolved)
# The live period when the rule was evaluated: more than 100 of the
# first 150 packets, then at most the 5 of the later period.
[ "$fire" -gt 100 ] && [ "$fire" -le 150 ] || fail "firing value $fire, want 101..150"
[ "$res" -ge 0 ] && [ "$res" -le 5 ] || fail "resolved value $res, want 0..5"
[ "$(value "$T/hooks" firing)" = "$fire" ] && [ "$(value "$T/hooks" resolved)" = "$res" ] ||
	fail "webhook values differ from the mail's ($fire, $res): $(cat "$T/hooks")"
line=$(grep '^firing' "$T/mails")
for want in "from=<netspectra@test.example>" "to=<ops@test.example>,<noc@test.example>" \
    "auth=True" "subject=[netspectra] FIRING: Many_Packets (total_packets $fire > 100 on five)"; do
	case $line in *"$want"*) ;; *) fail "firing mail lacks \"$want\": $line";; esac
done
grep -q "^resolved Many_Packets $res .*subject=\[netspectra\] RESOLVED: Many_Packets (total_packets $res, no longer > 100, on five)" "$T/mails" ||
	fail "resolved mail: $(cat "$T/mails")"
grep -q "type=application/json path=/hook?token=t1" "$T/hooks" || fail "webhook request: $(cat "$T/hooks")"
echo "ok: mail and webhook: Many_Packets firing at $fire, resolved at $res, nothing from Never"

# NATS: the subscriber has all the server routed before its PING.
nats_sub_stop
peers summary nats "$T/nsub.single" >"$T/nats.got"
printf 'firing Many_Packets %s\nresolved Many_Packets %s\n' "$fire" "$res" >"$T/nats.want"
cmp -s "$T/nats.got" "$T/nats.want" || fail "NATS got: $(cat "$T/nats.got"), want: $(cat "$T/nats.want")"
echo "ok: NATS alerts.test.out: the same two messages"

# ---- counters: status and /metrics --------------------------------------
status >"$T/status"
for want in "fired 1, resolved 1," "  email: configured, sent 2, failed 0, dropped 0" \
    "  webhook: configured, sent 2, failed 0" "  nats: configured, sent 2, failed 0" \
    "  rule Many_Packets: ok, total_packets " "  rule Never: ok, total_bytes "; do
	grep -qF -- "$want" "$T/status" || fail "status lacks \"$want\": $(cat "$T/status")"
done
curl -fsS "http://127.0.0.1:$PROM_PORT/metrics" >"$T/metrics" || fail "scrape"
for want in 'netspectra_alert_fired_total 1' 'netspectra_alert_resolved_total 1' \
    'netspectra_alert_notifications_total{channel="email",result="sent"} 2' \
    'netspectra_alert_notifications_total{channel="nats",result="sent"} 2' \
    'netspectra_alert_notifications_total{channel="webhook",result="failed"} 0' \
    'netspectra_alert_firing{rule="Many_Packets"} 0' 'netspectra_alert_firing{rule="Never"} 0'; do
	grep -qxF -- "$want" "$T/metrics" || fail "/metrics lacks $want: $(grep alert "$T/metrics")"
done
# The alerter's series pass Prometheus' linter, when it is installed.
if command -v promtool >/dev/null 2>&1; then
	grep '^netspectra_alert_\|^# [A-Z]* netspectra_alert_' "$T/metrics" |
	    promtool check metrics >"$T/lint" 2>&1 || fail "promtool: $(cat "$T/lint")"
fi
ev=$(sed -n 's/^netspectra_alert_evaluations_total //p' "$T/metrics")
[ "${ev:-0}" -ge 2 ] || fail "evaluations: $ev"
echo "ok: status and /metrics: $ev evaluations, fired 1, resolved 1, 2 sent on each channel"

# ---- a channel that fails is counted, and holds back no other ------------
kill "$HTTP_PID"
wait "$HTTP_PID" 2>/dev/null
peers packets "$T/p3" $((P0 + 31)) 150
[ "$(natsin_publish alerts.test.packets "$T/p3")" = 150 ] || fail "publishing the fourth period"
wait_for 30 channel_has webhook failed 1 || fail "the webhook's failure is not counted: $(status)"
wait_for 30 channel_has email sent 3 || fail "mail held back by the webhook: $(status)"
wait_for 30 channel_has nats sent 3 || fail "NATS held back by the webhook: $(status)"
grep -q "\[alert\]: webhook: rule Many_Packets firing: not delivered: " "$T/d.log" ||
	fail "the failure is not logged: $(tail -5 "$T/d.log")"
status | grep -q "  rule Many_Packets: FIRING, " || fail "status: $(status)"
# Processes by name: ns-alert shares the exporter role with the writers.
status | grep -q "^  slot .* exporter  0 .* active .* ns-alert$" ||
	fail "status does not name ns-alert: $(status)"
echo "ok: webhook down: failed 1 counted and logged; mail and NATS delivered"

# ---- a clean stop --------------------------------------------------------
kill -TERM "$DPID"
wait_for 60 eval '! kill -0 $DPID 2>/dev/null' || fail "netspectrad did not stop: $(tail -5 "$T/d.log")"
wait "$DPID" || fail "netspectrad exited non-zero: $(tail -5 "$T/d.log")"
grep -q "stopped$" "$T/d.log" || fail "no clean stop: $(tail -5 "$T/d.log")"
# Its one death is the reload's SIGTERM, re-raised once its queue was empty.
[ "$(grep -c "ns-alert (pid [0-9]*) \(killed\|exited\)" "$T/d.log")" = 1 ] &&
    grep -q "ns-alert (pid [0-9]*) killed by signal 15; restarting" "$T/d.log" ||
	fail "ns-alert died: $(grep ns-alert "$T/d.log")"
echo "ok: SIGTERM: exit 0"

# ---- e-mail over STARTTLS, the server's certificate checked -------------
# smtp.tls auto with a username: STARTTLS is required before AUTH.  The
# rule "total_packets >= 0" holds at the first evaluation.
command -v openssl >/dev/null 2>&1 || { echo "ok: (no openssl: STARTTLS not tested)"; exit 0; }
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 \
    -addext subjectAltName=IP:127.0.0.1 -keyout "$T/key.pem" \
    -out "$T/cert.pem" >"$T/openssl.out" 2>&1 || fail "openssl: $(cat "$T/openssl.out")"
mkdir -p "$T/tmail"
python3 "$T/peers.py" smtp "$T/tmail" alerter 's3cret' "$T/cert.pem" "$T/key.pem" \
    2>"$T/tsmtp.err" &
ns_at_exit "kill $!"
wait_for 20 test -s "$T/tmail/port" || fail "TLS SMTP server did not start: $(cat "$T/tsmtp.err")"
SHM2=/netspectra-alerts2-$$
ns_at_exit "rm -f /dev/shm$SHM2 /dev/shm$SHM2.lock"
cat >"$T/t.yaml" <<EOC
daemon: {pidfile: $T/t.pid, shm_name: $SHM2, log_level: info}
inputs:
  - {type: nats, url: $NATS_URL, subject: alerts.test.none}
prometheus: {enabled: false}
alerter:
  enabled: true
  check_interval: 1s
  nats_enabled: false
  rules:
    - {name: Always, task_name: five, metric: total_packets, operator: ">=", threshold: 0}
smtp:
  host: 127.0.0.1
  port: $(cat "$T/tmail/port")
  username: alerter
  password: s3cret
  to: [ops@test.example]
  tls: auto
  ca_file: $T/cert.pem
$(five_tuple_aggregator "$T/out2" 1000)
EOC
"$NETSPECTRAD" -f -c "$T/t.yaml" >"$T/t.log" 2>&1 &
TPID=$!
ns_at_exit "kill -9 $TPID 2>/dev/null"
tmails() { peers summary mail "$T/tmail"; }
wait_for 30 has tmails "^firing Always 0 " ||
	fail "no mail over STARTTLS: $(grep alert "$T/t.log" | tail -5)"
has tmails "auth=True tls=True subject=\[netspectra\] FIRING: Always" ||
	fail "mail not authenticated over TLS: $(tmails)"
has tmails "from=<netspectra@$(hostname)> " || fail "default sender: $(tmails)"
kill -TERM "$TPID"
wait_for 60 eval '! kill -0 $TPID 2>/dev/null' || fail "the second netspectrad did not stop"
wait "$TPID" || fail "the second netspectrad exited non-zero: $(tail -5 "$T/t.log")"
echo "ok: STARTTLS (tls: auto with a username), certificate from ca_file, AUTH after TLS, default sender"
