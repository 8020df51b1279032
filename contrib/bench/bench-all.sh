#!/bin/bash
# bench-all.sh -- what `make bench` runs: the machine first, then every
# benchmark of contrib/bench/ (those needing root only as root), all of it
# also written to doc/bench-results.md, the latest figures the README
# links to.  The figures differ from one machine to the next: each script
# reports ratios to a baseline measured in the same run.
#
# Environment: NS_SRCDIR, NS_BUILDDIR; BENCH_OUT (default
# $NS_SRCDIR/doc/bench-results.md); BENCH_ONLY="analyze sketch ..." to run
# some of analyze, sketch, idle, live, scrape, ch, nats.
set -u
export LC_ALL=C
here=$(cd "$(dirname "$0")" && pwd)
NS_SRCDIR=${NS_SRCDIR:-$(cd "$here/../.." && pwd)}
NS_BUILDDIR=${NS_BUILDDIR:-$NS_SRCDIR/build}
export NS_SRCDIR NS_BUILDDIR
out=${BENCH_OUT:-$NS_SRCDIR/doc/bench-results.md}
only=${BENCH_ONLY:-analyze sketch idle live scrape ch nats}
root_only=" idle live scrape ch nats "

machine() {
	local cpu mem
	cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
	mem=$(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
	echo "- CPU: ${cpu:-unknown}, $(nproc) cores online"
	echo "- Kernel: $(uname -sr), $(uname -m); memory $mem"
	echo "- Virtualization: $(systemd-detect-virt 2>/dev/null || echo unknown)"
	echo "- Load average at the start: $(cut -d' ' -f1-3 /proc/loadavg)"
}

run_all() {
	local b rc=0
	echo "# Latest benchmark figures"
	echo
	echo "Written by \`make bench\` on $(date -u +%Y-%m-%dT%H:%M:%SZ) at commit" \
	    "$(git -C "$NS_SRCDIR" describe --always --dirty 2>/dev/null || echo unknown)."
	echo
	machine
	echo "- Benchmarks run: $only"
	for b in $only; do
		echo
		echo "## $b"
		echo
		echo '```'
		if [ "$(id -u)" != 0 ] && [ "${root_only#* $b }" != "$root_only" ]; then
			echo "$b-bench: needs root (network namespaces, servers): skipped"
		else
			bash "$here/$b-bench.sh" 2>&1 || { echo "$b-bench: failed ($?)"; rc=1; }
		fi
		echo '```'
	done
	return $rc
}

tmp="$out.tmp.$$"
run_all | tee "$tmp"
rc=${PIPESTATUS[0]}
mv "$tmp" "$out"
echo "bench-all: written to $out"
exit "$rc"
