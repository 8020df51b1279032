#!/bin/sh
# init_files.sh -- init/: the generated systemd unit passes systemd-analyze
# verify; the generated sysvinit script is valid sh with a well-formed LSB
# header, and its start, status, reload, restart and stop drive the build
# tree's netspectrad on lo with a scratch configuration.
#
# A part that cannot run here (no systemd-analyze, not root, no live
# daemon in this build) is reported and makes the test SKIP once the other
# parts have passed; nothing is installed.
. "$(dirname "$0")/lib.sh"
ns_tmpdir
unit=$NS_BUILDDIR/init/netspectrad.service
script=$NS_BUILDDIR/init/netspectrad.init
SKIPPED=
skip_part() { echo "skip: $*"; SKIPPED="$SKIPPED${SKIPPED:+; }$*"; }

# The Makefile's values, as the sed rule substituted them.
mkvar() {
	_v=$(sed -n "s/^$1 = //p" "$NS_BUILDDIR/Makefile")
	eval "$1=\"$_v\""
}
mkvar prefix; mkvar exec_prefix; mkvar sbindir; mkvar sysconfdir
[ -n "$sbindir" ] && [ -n "$sysconfdir" ] || fail "no sbindir/sysconfdir in $NS_BUILDDIR/Makefile"

for f in "$unit" "$script"; do
	[ -f "$f" ] || (cd "$NS_BUILDDIR" && make -s "${f#"$NS_BUILDDIR"/}") >/dev/null 2>&1 ||
		fail "$f is not generated (make ${f#"$NS_BUILDDIR"/})"
	! grep -n '@[a-z_]*@' "$f" || fail "$f: placeholders left"
done

# ---- (a) the systemd unit ---------------------------------------------------
grep -qxF "ExecStart=$sbindir/netspectrad -f -c $sysconfdir/netspectra/netspectra.yaml" "$unit" ||
	fail "$unit: ExecStart is not $sbindir/netspectrad -f -c $sysconfdir/netspectra/netspectra.yaml"
for kv in Type=notify User=netspectra Group=netspectra NoNewPrivileges=yes \
    ProtectSystem=strict ProtectHome=yes PrivateTmp=yes \
    RuntimeDirectory=netspectra StateDirectory=netspectra; do
	grep -qx "$kv" "$unit" || fail "$unit: no $kv"
done
if grep -q '^WatchdogSec=' "$unit"; then
	echo "note: WatchdogSec= is set: netspectrad must send WATCHDOG=1"
fi

if command -v systemd-analyze >/dev/null 2>&1; then
	# verify wants ExecStart's program to exist: the build tree's.
	mkdir -p "$T/unit"
	sed "s|^\(Exec[A-Za-z]*=[-@:+!]*\)$sbindir/netspectrad |\1$NETSPECTRAD |" \
	    "$unit" >"$T/unit/netspectrad.service"
	# The man pages of Documentation=, from the source tree.
	man=--man=no
	if command -v man >/dev/null 2>&1; then
		for p in netspectra.1 netspectrad.8 netspectra.yaml.5; do
			mkdir -p "$T/man/man${p##*.}"
			cp "$NS_SRCDIR/doc/$p" "$T/man/man${p##*.}/"
		done
		man=--man=yes
	fi
	MANPATH=$T/man SYSTEMD_LOG_COLOR=0 systemd-analyze verify "$man" \
	    --recursive-errors=no "$T/unit/netspectrad.service" >"$T/verify.out" 2>&1 ||
		fail "systemd-analyze verify: $(cat "$T/verify.out")"
	# Unknown keys and bad values are warnings only: none is accepted.
	! grep 'netspectrad' "$T/verify.out" ||
		fail "systemd-analyze verify warns about the unit"
	echo "ok: systemd-analyze verify accepts the unit ($man)"
else
	skip_part "systemd-analyze is not installed (Debian package systemd)"
fi

# ---- (b) the sysvinit script -------------------------------------------------
[ -x "$script" ] || fail "$script is not executable"
head -1 "$script" | grep -qx '#! */bin/sh' || fail "$script: not a /bin/sh script"
sh -n "$script" || fail "$script: sh -n"
if command -v shellcheck >/dev/null 2>&1; then
	shellcheck -s sh -S warning "$script" || fail "shellcheck $script"
fi
if command -v checkbashisms >/dev/null 2>&1; then
	checkbashisms "$script" || fail "checkbashisms $script"
fi

# The LSB header: "# Key: value" lines between the markers, continuation
# lines ("#" and blanks) folded into the value.
awk '
	/^### BEGIN INIT INFO$/ { begin++; next }
	/^### END INIT INFO$/ { end++; next }
	begin == 1 && !end {
		if ($0 ~ /^# [A-Za-z-]+:/) {
			i = index($0, ":")
			key = substr($0, 3, i - 3)
			val[key] = substr($0, i + 1)
		} else if ($0 ~ /^#(\t|  )/ && key != "")
			val[key] = val[key] " " substr($0, 2)
		else
			bad = bad " " NR
	}
	END {
		if (begin != 1 || end != 1) { print "markers"; exit 1 }
		if (bad != "") { print "malformed lines" bad; exit 1 }
		for (k in val) {
			v = val[k]; gsub(/[ \t]+/, " ", v); sub(/^ /, "", v); sub(/ $/, "", v)
			print k "=" v
		}
	}' "$script" >"$T/lsb" || fail "$script: LSB header: $(cat "$T/lsb")"
lsb_is() {
	grep -qxF "$1=$2" "$T/lsb" || fail "LSB header: $1 is \"$(sed -n "s/^$1=//p" "$T/lsb")\", not \"$2\""
}
lsb_is Provides netspectrad
lsb_is Required-Start '$network $remote_fs $syslog'
lsb_is Required-Stop '$network $remote_fs $syslog'
lsb_is Default-Start '2 3 4 5'
lsb_is Default-Stop '0 1 6'
grep -q '^Short-Description=.' "$T/lsb" || fail "LSB header: no Short-Description"
grep -q '^Description=.' "$T/lsb" || fail "LSB header: no Description"
# Debian's own reader agrees.
if [ -r /lib/lsb/init-functions ]; then
	for k in Provides Default-Start Default-Stop; do
		v=$(sh -c '. /lib/lsb/init-functions; get_lsb_header_val "$1" "$2"' sh "$script" "$k")
		lsb_is "$k" "$(echo $v)"
	done
fi
# So does systemd's, which turns it into a unit.
gen=/lib/systemd/system-generators/systemd-sysv-generator
if [ -x "$gen" ]; then
	mkdir -p "$T/init.d" "$T/rc.d" "$T/gen"
	cp "$script" "$T/init.d/netspectrad"
	SYSTEMD_SYSVINIT_PATH=$T/init.d SYSTEMD_SYSVRCND_PATH=$T/rc.d \
	    "$gen" "$T/gen" "$T/gen" "$T/gen" >/dev/null 2>&1 || fail "$gen failed"
	g=$T/gen/netspectrad.service
	[ -f "$g" ] || fail "systemd-sysv-generator made no unit of $script"
	grep -qx 'Description=LSB: netspectra network traffic aggregation daemon' "$g" &&
	    grep -qx 'After=network-online.target' "$g" &&
	    grep -qx 'After=remote-fs.target' "$g" ||
		fail "systemd-sysv-generator reads the header otherwise: $(cat "$g")"
fi
echo "ok: $script: sh -n, LSB header"

# ---- (c) the sysvinit script drives netspectrad ------------------------------
# proc_alive PID: a process that has not exited (a zombie waiting for init
# to reap it has).
proc_alive() {
	_st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null) || return 1
	case $_st in ''|Z*|X*) return 1;; esac
}
pidfile_pid() { { read -r _p <"$PIDF"; } 2>/dev/null && echo "$_p"; }
# daemon_up: the pid file names a live process.
daemon_up() { _p=$(pidfile_pid) && [ -n "$_p" ] && proc_alive "$_p"; }
proc_gone() { ! proc_alive "$1"; }

functional() {
	[ "$(id -u)" = 0 ] || { skip_part "start/stop needs root (capture on lo)"; return; }
	command -v start-stop-daemon >/dev/null 2>&1 ||
		{ skip_part "start-stop-daemon is not installed"; return; }
	[ -r /proc/self/stat ] || { skip_part "no /proc"; return; }

	SHM=/netspectra-inittest-$$
	PIDF=$T/run/netspectrad.pid
	mkdir -p "$T/out" "$T/state"
	cat >"$T/ns.yaml" <<-EOF
	daemon:
	  user: $(id -un)
	  group: $(id -gn)
	  pidfile: $PIDF
	  shm_name: $SHM
	  state_dir: $T/state
	  log_level: debug
	inputs:
	  - type: pcap
	    interface: lo
	    snaplen: 128
	    buffer_size: 1MiB
	prometheus:
	  enabled: false
	aggregator:
	  num_workers: 1
	  size_of_packet_channel: 1024
	  exact:
	    writers:
	      - type: jsonl
	        snapshot_interval: 1s
	        jsonl:
	          root_path: $T/out
	    tasks:
	      - name: inittest
	        key_fields: [SrcIP, DstIP, Protocol]
	        max_flows: 1024
	EOF
	"$NETSPECTRAD" -t -c "$T/ns.yaml" >/dev/null 2>"$T/t.err" ||
		fail "test configuration: $(cat "$T/t.err")"
	ns_at_exit "rm -f /dev/shm${SHM} /dev/shm${SHM}.lock"
	for f in "$PIDF" "$T/probe.pid"; do
		ns_at_exit "p=\$(cat '$f'); [ -n \"\$p\" ] && kill -KILL \"\$p\""
	done

	# Is there a live daemon in this build?  One writes its pid file and
	# stays; this release's exits 2 at once.
	( "$NETSPECTRAD" -f -c "$T/ns.yaml" -p "$T/probe.pid" >"$T/probe.log" 2>&1
	  echo $? >"$T/probe.rc" ) &
	wait_for 20 sh -c "[ -s '$T/probe.rc' ] || [ -s '$T/probe.pid' ]" ||
		fail "netspectrad -f neither exited nor wrote its pid file: $(cat "$T/probe.log")"
	if [ -s "$T/probe.pid" ] && [ ! -s "$T/probe.rc" ]; then
		kill -TERM "$(cat "$T/probe.pid")"
		wait_for 60 test -s "$T/probe.rc" || fail "netspectrad -f did not stop on SIGTERM"
		[ "$(cat "$T/probe.rc")" = 0 ] || fail "netspectrad -f: exit $(cat "$T/probe.rc") after SIGTERM: $(cat "$T/probe.log")"
	else
		wait
		case $(cat "$T/probe.rc") in
		2)	skip_part "netspectrad -f exits 2 at once, no live daemon in this build: $(tail -1 "$T/probe.log")"
			return;;
		*)	fail "netspectrad -f exited $(cat "$T/probe.rc"): $(cat "$T/probe.log")";;
		esac
	fi
	wait

	# The script, pointed at the build tree by a defaults file.
	cat >"$T/default" <<-EOF
	DAEMON=$NETSPECTRAD
	NETSPECTRAD_CONFIG=$T/ns.yaml
	NETSPECTRAD_PIDFILE=$PIDF
	NETSPECTRAD_USER=
	STOP_WAIT=60
	EOF
	initd() {
		NETSPECTRAD_DEFAULTS=$T/default "$script" "$@" >>"$T/init.log" 2>&1
		_rc=$?
		echo "[$* -> $_rc]" >>"$T/init.log"
		return "$_rc"
	}
	status_is() {
		initd status
		_rc=$?
		[ "$_rc" = "$1" ] || fail "status: $_rc, not $1 ($2): $(cat "$T/init.log")"
	}

	status_is 3 "before start"
	initd start || fail "start: $(cat "$T/init.log")"
	wait_for 20 daemon_up || fail "no live pid in $PIDF after start: $(cat "$T/init.log")"
	pid=$(pidfile_pid)
	status_is 0 "after start"
	initd start || fail "start when running: $(cat "$T/init.log")"
	[ "$(pidfile_pid)" = "$pid" ] || fail "start when running started another daemon"

	initd reload || fail "reload: $(cat "$T/init.log")"
	# SIGHUP must not end the daemon: it is still there when a second
	# reload has been delivered too.
	initd reload || fail "second reload: $(cat "$T/init.log")"
	proc_alive "$pid" && [ "$(pidfile_pid)" = "$pid" ] ||
		fail "netspectrad $pid did not survive SIGHUP: $(cat "$T/init.log")"
	status_is 0 "after reload"

	initd restart || fail "restart: $(cat "$T/init.log")"
	wait_for 20 daemon_up || fail "no live pid after restart: $(cat "$T/init.log")"
	! proc_alive "$pid" || fail "restart left the old daemon $pid running"
	pid=$(pidfile_pid)

	initd stop || fail "stop: $(cat "$T/init.log")"
	wait_for 60 proc_gone "$pid" ||
		fail "netspectrad $pid still running after stop"
	[ ! -e "$PIDF" ] || fail "$PIDF left after stop"
	status_is 3 "after stop"
	initd stop || fail "stop when stopped: $(cat "$T/init.log")"
	if initd reload; then fail "reload of a stopped daemon succeeded"; fi

	# A configuration that does not load is refused before start.
	echo 'bogus_key: 1' >>"$T/ns.yaml"
	initd start
	[ $? = 6 ] || fail "start with an invalid configuration: not exit 6: $(cat "$T/init.log")"
	! daemon_up || fail "started on an invalid configuration"
	echo "ok: $script start, status, reload, restart, stop"
}
functional

[ -z "$SKIPPED" ] || skip "$SKIPPED"
echo "ok: init files"
