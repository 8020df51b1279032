#!/usr/bin/env python3
# flows.py -- per-flow aggregates for the flow tests (see flows_lib.sh).
#
# Every mode prints one line per flow, sorted, tab-separated:
#
#   period src dst sport dport proto packets bytes first_ns last_ns flags
#
# period is the period start in UNIX seconds, or * when summed over periods;
# addresses go through ipaddress (RFC 5952 for IPv6); first_ns and last_ns
# are UNIX nanoseconds, flags the OR of TCP flags as a number; a column a
# source does not know is -.
#
#   flows.py ns [--period] TASK FILE       `netspectra analyze --flows jsonl`
#   flows.py tshark [--period SECS] DUMP TIMES
#                                          tshark_dump output joined by frame
#                                          number with `frame.number
#                                          frame.time_epoch tcp.flags`
#   flows.py dump DUMP                     `netspectra dump` (the stand-in)
#   flows.py truth FILE                    pcapgen --truth
#   flows.py fake TASK PERIOD DUMP TIMES   jsonl as analyze --flows would print
#                                          it, from dump + times (the
#                                          stand-in for the engine)
#   flows.py diff A B FIELD...             compare two outputs on FIELDs
#                                          (packets bytes first last flags);
#                                          exit 1 on any difference
#   flows.py periods FILE                  per period: start packets bytes flows
#
# The ns mode is strict: every line must be a JSON object of the task's
# shape, and a (period, key) pair may appear only once.
import calendar
import ipaddress
import json
import sys
import time

KEY = ("SrcIP", "DstIP", "SrcPort", "DstPort", "Protocol")
FLAGBITS = {c: 1 << i for i, c in enumerate("FSRPAUEW")}
PROTO = {"tcp": 6, "udp": 17, "icmp": 1, "icmpv6": 58, "sctp": 132}


def die(msg):
    sys.stderr.write("flows.py: %s\n" % msg)
    sys.exit(2)


def addr(s):
    return ipaddress.ip_address(s).compressed


def rfc3339_ns(s):
    """2026-01-01T00:00:00[.ffffff[fff]]Z to UNIX nanoseconds."""
    if not isinstance(s, str) or not s.endswith("Z") or "T" not in s:
        raise ValueError("not an RFC 3339 UTC time: %r" % (s,))
    body = s[:-1]
    frac = ""
    if "." in body:
        body, frac = body.split(".", 1)
        if not frac.isdigit() or len(frac) > 9:
            raise ValueError("bad fraction in %r" % (s,))
    date, time_ = body.split("T")
    y, mo, d = (int(x) for x in date.split("-"))
    h, mi, sec = (int(x) for x in time_.split(":"))
    secs = calendar.timegm((y, mo, d, h, mi, sec, 0, 0, 0))
    return secs * 10**9 + int((frac + "000000000")[:9])


def epoch_ns(s):
    """tshark's frame.time_epoch (1767225600.000089000) to nanoseconds."""
    sec, _, frac = s.partition(".")
    return int(sec) * 10**9 + int((frac + "000000000")[:9])


def ns_text(ns):
    sec, frac = divmod(ns, 10**9)
    base = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec))
    if frac == 0:
        return base + "Z"
    if frac % 1000 == 0:
        return "%s.%06dZ" % (base, frac // 1000)
    return "%s.%09dZ" % (base, frac)


def flags_num(s):
    if s is None or s == "":
        return 0
    if isinstance(s, int):
        return s
    n = 0
    for c in s:
        if c not in FLAGBITS:
            raise ValueError("unknown TCP flag %r in %r" % (c, s))
        n |= FLAGBITS[c]
    return n


class Agg:
    def __init__(self):
        self.flows = {}

    def add(self, period, key, packets, nbytes, first=None, last=None, flags=None):
        f = self.flows.get((period,) + key)
        if f is None:
            self.flows[(period,) + key] = [packets, nbytes, first, last, flags]
            return
        f[0] += packets
        f[1] += nbytes
        if first is not None:
            f[2] = first if f[2] is None else min(f[2], first)
        if last is not None:
            f[3] = last if f[3] is None else max(f[3], last)
        if flags is not None:
            f[4] = flags if f[4] is None else f[4] | flags

    def write(self, out=sys.stdout):
        lines = []
        for k, v in self.flows.items():
            cols = [str(x) for x in k] + [str(v[0]), str(v[1])]
            cols += ["-" if x is None else str(x) for x in v[2:]]
            lines.append("\t".join(cols))
        lines.sort()
        out.write("".join(line + "\n" for line in lines))


def read_ns(task, path, by_period):
    agg, seen = Agg(), set()
    with open(path) as fp:
        for n, line in enumerate(fp, 1):
            where = "%s:%d" % (path, n)
            if not line.startswith("{"):
                die("%s: not a JSON object: %r" % (where, line[:80]))
            try:
                o = json.loads(line)
            except ValueError as e:
                die("%s: bad JSON: %s" % (where, e))
            if not isinstance(o, dict):
                die("%s: not a JSON object" % where)
            if o.get("task") != task:
                continue
            try:
                ps = rfc3339_ns(o["period_start"])
                key = (addr(o["SrcIP"]), addr(o["DstIP"]), int(o["SrcPort"]),
                       int(o["DstPort"]), int(o["Protocol"]))
                pk, by = int(o["packets"]), int(o["bytes"])
                first = rfc3339_ns(o["first_seen"]) if "first_seen" in o else None
                last = rfc3339_ns(o["last_seen"]) if "last_seen" in o else None
                flags = flags_num(o.get("tcp_flags"))
            except (KeyError, ValueError, TypeError) as e:
                die("%s: bad flow record (%s): %s" % (where, e, line.strip()))
            if (ps,) + key in seen:
                die("%s: flow printed twice in one period: %s" % (where, line.strip()))
            seen.add((ps,) + key)
            if pk <= 0 or by <= 0:
                die("%s: empty flow: %s" % (where, line.strip()))
            agg.add(ps // 10**9 if by_period else "*", key, pk, by, first, last, flags)
    return agg


def read_times(path):
    times = {}
    with open(path) as fp:
        for line in fp:
            c = line.rstrip("\n").split("\t")
            fl = c[2].split(",")[0] if len(c) > 2 else ""
            times[c[0]] = (epoch_ns(c[1]), int(fl, 16) & 0xff if fl else 0)
    return times


def read_dump(path, times=None, period=None):
    """Yield (period, key, wirelen, ts_ns, flags) from dump-format lines."""
    with open(path) as fp:
        for line in fp:
            c = line.rstrip("\n").split("\t")
            if len(c) == 2 and c[1].startswith("!"):
                continue  # malformed: not a flow
            if len(c) != 7:
                die("%s: bad dump line %r" % (path, line))
            key = (addr(c[1]), addr(c[2]), int(c[3]), int(c[4]), int(c[5]))
            ts = fl = None
            p = "*"
            if times is not None:
                ts, fl = times[c[0]]
                if key[4] != 6:
                    fl = 0
                if period:
                    p = ts // (period * 10**9) * period
            yield p, key, int(c[6]), ts, fl


def main(argv):
    if len(argv) < 2:
        die("usage: see the header of flows.py")
    mode, args = argv[1], argv[2:]
    if mode == "ns":
        by_period = args[:1] == ["--period"]
        if by_period:
            args = args[1:]
        read_ns(args[0], args[1], by_period).write()
    elif mode in ("tshark", "dump"):
        period = None
        if args[:1] == ["--period"]:
            period, args = int(args[1]), args[2:]
        times = read_times(args[1]) if mode == "tshark" else None
        agg = Agg()
        for p, key, wl, ts, fl in read_dump(args[0], times, period):
            agg.add(p, key, 1, wl, ts, ts, fl)
        agg.write()
    elif mode == "truth":
        agg = Agg()
        with open(args[0]) as fp:
            for line in fp:
                pr, s, d, sp, dp, pk, by = line.split()
                agg.add("*", (addr(s), addr(d), int(sp), int(dp), PROTO[pr]),
                        int(pk), int(by))
        agg.write()
    elif mode == "fake":
        task, period = args[0], int(args[1])
        times = read_times(args[3])
        agg = Agg()
        for p, key, wl, ts, fl in read_dump(args[2], times, period):
            agg.add(p, key, 1, wl, ts, ts, fl)
        for k, v in sorted(agg.flows.items()):
            fs = "".join(c for c in "SFRPAUEW" if v[4] & FLAGBITS[c])
            print(json.dumps({
                "task": task, "period_start": ns_text(k[0] * 10**9),
                "SrcIP": k[1], "DstIP": k[2], "SrcPort": k[3], "DstPort": k[4],
                "Protocol": k[5], "packets": v[0], "bytes": v[1],
                "first_seen": ns_text(v[2]), "last_seen": ns_text(v[3]),
                "tcp_flags": fs}, separators=(",", ":")))
    elif mode == "diff":
        sys.exit(diff(args[0], args[1], args[2:]))
    elif mode == "periods":
        per = {}
        with open(args[0]) as fp:
            for line in fp:
                c = line.split("\t")
                t = per.setdefault(c[0], [0, 0, 0])
                t[0] += int(c[6])
                t[1] += int(c[7])
                t[2] += 1
        for p in sorted(per, key=lambda x: int(x)):
            print("%s\t%d\t%d\t%d" % (p, *per[p]))
    else:
        die("unknown mode %r" % mode)


COLS = {"packets": 6, "bytes": 7, "first": 8, "last": 9, "flags": 10}


def load(path):
    d = {}
    with open(path) as fp:
        for line in fp:
            c = line.rstrip("\n").split("\t")
            d[tuple(c[:6])] = c
    return d


def diff(a_path, b_path, fields):
    a, b = load(a_path), load(b_path)
    bad = []
    for k in sorted(set(a) | set(b)):
        if k not in a:
            bad.append("only in %s: %s" % (b_path, "\t".join(b[k])))
        elif k not in b:
            bad.append("only in %s: %s" % (a_path, "\t".join(a[k])))
        else:
            for f in fields:
                if a[k][COLS[f]] != b[k][COLS[f]]:
                    bad.append("%s differs: %s: %s vs %s" % (
                        f, " ".join(k), a[k][COLS[f]], b[k][COLS[f]]))
    for line in bad[:30]:
        sys.stderr.write(line + "\n")
    if bad:
        sys.stderr.write("%d differences over %d/%d flows\n" % (len(bad), len(a), len(b)))
        return 1
    print(len(a))
    return 0


if __name__ == "__main__":
    main(sys.argv)
