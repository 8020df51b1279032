#!/bin/sh
# setup.sh -- the README's two commands, on a fresh Debian 12 machine (root).
#
#   sh contrib/setup.sh run    install the build dependencies, build, and run
#                              the main job on the shipped default config
#   sh contrib/setup.sh test   install what the tests need, build, and run
#                              every test: unit tests, integration tests
#                              against tshark and real servers, the unit tests
#                              again under ASan+UBSan, make distcheck, and an
#                              install into a scratch DESTDIR
set -eu
cd "$(dirname "$0")/.."
mode=${1:-}

BUILD_DEPS="build-essential autoconf automake pkg-config libpcap-dev liburcu-dev
	libyaml-dev libprotobuf-c-dev libnats-dev libcurl4-openssl-dev
	libmicrohttpd-dev libjansson-dev libxxhash-dev libcriterion-dev
	protobuf-c-compiler"
TEST_DEPS="tshark tcpdump curl python3 socat iproute2 iputils-ping tcpreplay systemd prometheus
	clickhouse-server clang nats-server protobuf-compiler python3-protobuf faketime"

say() { printf '\n==> %s\n' "$*"; }

install_deps() {
	if [ "$(id -u)" != 0 ]; then
		say "not root: assuming the Debian packages are installed"
		return
	fi
	say "installing Debian packages"
	export DEBIAN_FRONTEND=noninteractive
	# tshark asks whether non-root users may capture; the answer is no.
	echo "wireshark-common wireshark-common/install-setuid boolean false" |
		debconf-set-selections
	apt-get update -q
	# shellcheck disable=SC2086
	apt-get install -y -q --no-install-recommends $BUILD_DEPS "$@"
}

build() {	# build DIR CONFIGURE-ARGS...
	dir=$1; shift
	[ -x configure ] || autoreconf -fi
	mkdir -p "$dir"
	(cd "$dir" && ../configure -q "$@" && make -j"$(nproc)")
}

# Totals of automake's test-suite.log files, for the closing line.
PASS=0 FAIL=0 SKIP=0
tally() {
	for k in PASS FAIL ERROR XFAIL XPASS SKIP; do
		n=$(sed -n "s/^# $k: *\([0-9]*\)/\1/p" "$1/test-suite.log" | head -1)
		n=${n:-0}
		case $k in
		PASS|XFAIL) PASS=$((PASS + n));;
		FAIL|ERROR|XPASS) FAIL=$((FAIL + n));;
		SKIP) SKIP=$((SKIP + n));;
		esac
	done
}

check() {	# check DIR LABEL: make check, keep going on failure
	say "tests: $2"
	if ! (cd "$1" && make -j"$(nproc)" check); then
		cat "$1"/tests/*/*.log 2>/dev/null | tail -200 || true
	fi
	tally "$1"
}

case $mode in
run)
	install_deps
	build build
	say "netspectrad in the foreground on the shipped default config (Ctrl-C stops it)"
	exec build/netspectrad -f -c etc/netspectra.yaml
	;;
test)
	install_deps $TEST_DEPS
	build build
	check build "unit and integration"
	build build-asan --enable-sanitizers --disable-integration-tests
	check build-asan "unit, under ASan+UBSan"
	say "fuzz: every libFuzzer target briefly, from its seeds"
	if sh tests/fuzz/run.sh 10 build/fuzz; then
		PASS=$((PASS + 1))
	else
		FAIL=$((FAIL + 1))
	fi
	say "make distcheck"
	if (cd build && make -j"$(nproc)" distcheck >distcheck.out 2>&1); then
		PASS=$((PASS + 1))
	else
		tail -50 build/distcheck.out; FAIL=$((FAIL + 1))
	fi
	say "make install DESTDIR"
	if sh tests/install_check.sh build; then PASS=$((PASS + 1)); else FAIL=$((FAIL + 1)); fi
	echo
	echo "tests: $PASS passed, $FAIL failed, $SKIP skipped"
	[ "$FAIL" = 0 ]
	;;
*)
	echo "usage: sh contrib/setup.sh run|test" >&2
	exit 2
	;;
esac
