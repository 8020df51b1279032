#!/bin/sh
# analyze_sample.sh -- `netspectra analyze` on the shipped sample capture:
# its totals equal tshark's count of frames and bytes, and bad input gets a
# clear message and a non-zero exit.
. "$(dirname "$0")/lib.sh"
need tshark
ns_tmpdir
s="$NS_SRCDIR/contrib/sample.pcap"

"$NETSPECTRA" analyze --summary json "$s" >"$T/sum.json" || fail "analyze failed"
frames=$(tshark -n -r "$s" -T fields -e frame.len | wc -l)
bytes=$(tshark -n -r "$s" -T fields -e frame.len | awk '{ b += $1 } END { print b }')
ipf=$(tshark -n -r "$s" -Y 'ip or ipv6' -T fields -e frame.len | wc -l)
grep -q "\"frames\":$frames," "$T/sum.json" || fail "frames: want $frames, got $(cat "$T/sum.json")"
grep -q "\"bytes\":$bytes," "$T/sum.json" || fail "bytes: want $bytes, got $(cat "$T/sum.json")"
grep -q "\"packets\":$ipf," "$T/sum.json" || fail "IP packets: want $ipf, got $(cat "$T/sum.json")"
"$NETSPECTRA" analyze "$s" >"$T/sum.txt" || fail "analyze (table) failed"
grep -q "^frames  *$frames\$" "$T/sum.txt" || fail "table: $(cat "$T/sum.txt")"
echo "ok: analyze: $frames frames, $bytes bytes, $ipf IP packets as tshark counts"

# Not a capture file: a clear message, exit 1.
echo "hello" >"$T/notpcap"
if "$NETSPECTRA" analyze "$T/notpcap" >/dev/null 2>"$T/err"; then fail "analyze accepted a text file"; fi
grep -q "notpcap: not a readable capture file" "$T/err" || fail "message: $(cat "$T/err")"
if "$NETSPECTRA" analyze "$T/missing.pcap" >/dev/null 2>"$T/err"; then fail "analyze accepted a missing file"; fi
grep -q "missing.pcap" "$T/err" || fail "message: $(cat "$T/err")"

# A capture cut in the middle of a frame: what was read is reported, exit 1.
head -c $(( $(wc -c <"$s") - 10 )) "$s" >"$T/cut.pcap"
if "$NETSPECTRA" analyze --summary json "$T/cut.pcap" >"$T/cut.json" 2>"$T/err"; then fail "analyze accepted a cut file"; fi
grep -q "\"frames\":$(( frames - 1 ))," "$T/cut.json" || fail "cut file: $(cat "$T/cut.json")"
grep -q "cut.pcap: read error" "$T/err" || fail "message: $(cat "$T/err")"
echo "ok: bad input rejected with a clear message"
