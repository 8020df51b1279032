#!/bin/sh
# install_check.sh BUILDDIR -- `make install DESTDIR=...` puts the programs,
# the default config and the man pages where a distro server expects them.
set -eu
b=$1
d=$(mktemp -d)
trap 'rm -rf "$d"' EXIT
(cd "$b" && make -s install DESTDIR="$d" >/dev/null)
prefix=$(sed -n "s/^prefix = //p" "$b/Makefile")
sysconf=$(sed -n "s/^sysconfdir = //p" "$b/Makefile" | sed "s|\${prefix}|$prefix|")
missing=0
for f in "$prefix/sbin/netspectrad" "$prefix/bin/netspectra" \
    "$sysconf/netspectra/netspectra.yaml" \
    "$prefix/share/man/man1/netspectra.1" "$prefix/share/man/man8/netspectrad.8" \
    "$prefix/share/man/man5/netspectra.yaml.5"; do
	[ -e "$d$f" ] || { echo "FAIL: not installed: $f"; missing=1; }
done
[ $missing = 0 ] || exit 1
"$d$prefix/sbin/netspectrad" -t -c "$d$sysconf/netspectra/netspectra.yaml" >/dev/null
echo "ok: make install DESTDIR: programs, config and man pages in place"
