#!/bin/sh
# run.sh -- build the libFuzzer targets with clang (ASan + UBSan) and run
# each for a while from its seed corpus; exit 1 on the first crash.
#
#   sh tests/fuzz/run.sh [SECONDS [OUTDIR]]
#
# The test command runs each briefly (10 s); `make fuzz` longer.  A crash
# leaves its input as OUTDIR/<target>.crashes/crash-*: keep it in the
# target's seeds (tests/fuzz/corpus/<target>/) and make it a unit test.
# FUZZ_FLAGS adds libFuzzer options (e.g. -runs=10000000); FUZZ_TARGETS
# (e.g. "fuzz_reader fuzz_config") runs only those.
#
# Targets (tests/fuzz/<target>.c; seeds in tests/fuzz/corpus/<target>/,
# a libFuzzer dictionary in tests/fuzz/<target>.dict where there is one):
#   fuzz_parse    the packet parser; first byte picks the link type
#   fuzz_reader   pcap/pcapng files through the reader into the parser
#   fuzz_config   YAML configuration, or ".env NUL YAML" with ${VAR}s
#   fuzz_apireq   query API request decoder and SQL quoting
#   fuzz_natsmsg  NATS protobuf message decoder
set -eu
src=$(cd "$(dirname "$0")/../.." && pwd)
secs=${1:-10}
out=${2:-${TMPDIR:-/tmp}/netspectra-fuzz}
CC=${FUZZ_CC:-clang}
CFLAGS="-std=gnu11 -g -O1 -fsanitize=fuzzer,address,undefined
	-fno-sanitize-recover=undefined -I$src/src -I$src/shm -I$src/exporters"

if ! command -v "$CC" >/dev/null 2>&1; then
	echo "fuzz: $CC not found (Debian package clang)" >&2
	exit 1
fi

# target  max_len  sources (besides tests/fuzz/<target>.c)  libraries
targets() {
	echo "fuzz_parse 256 src/parse.c"
	echo "fuzz_reader 16384 src/reader.c src/parse.c src/log.c -lpcap"
	echo "fuzz_config 16384 src/config.c src/alert.c src/dotenv.c src/addr.c src/log.c -lyaml -ljansson -lxxhash"
	echo "fuzz_apireq 4096 exporters/apireq.c exporters/sqlq.c src/config.c src/alert.c src/dotenv.c src/addr.c src/log.c -lyaml -ljansson -lxxhash"
	# The message decoder needs proto/*.pb-c.[ch], generated here (as
	# make does in a build tree) beside a link to natsmsg.c, whose
	# #include "proto/..." then finds them: run.sh has no build tree.
	_g=$out/gen
	mkdir -p "$_g/proto" &&
	    protoc-c --c_out="$_g/proto" -I"$src/proto" \
		"$src/proto/traffic.proto" "$src/proto/netspectra.proto" &&
	    ln -sf "$src/src/natsmsg.c" "$_g/natsmsg.c" || return 1
	_g=$(realpath -m --relative-to="$src" "$_g")
	echo "fuzz_natsmsg 65536 $_g/natsmsg.c $_g/proto/traffic.pb-c.c src/parse.c -lprotobuf-c"
}

mkdir -p "$out"
fail=0
targets | while read -r name maxlen rest; do
	case " ${FUZZ_TARGETS:-$name} " in
	*" $name "*) ;;
	*) continue;;
	esac
	srcs= libs=
	for w in $rest; do
		case $w in
		-l*) libs="$libs $w";;
		*) srcs="$srcs $src/$w";;
		esac
	done
	bin=$out/$name
	# shellcheck disable=SC2086
	$CC $CFLAGS $srcs "$src/tests/fuzz/$name.c" $libs -o "$bin"
	mkdir -p "$out/$name.corpus" "$out/$name.crashes"
	seeds=$src/tests/fuzz/corpus/$name
	[ -d "$seeds" ] && cp -r "$seeds/." "$out/$name.corpus/"
	dict=
	[ -f "$src/tests/fuzz/$name.dict" ] &&
	    dict=-dict="$src/tests/fuzz/$name.dict"
	echo "fuzz: $name for ${secs}s"
	# shellcheck disable=SC2086
	if ! "$bin" -max_total_time="$secs" -max_len="$maxlen" $dict \
	    ${FUZZ_FLAGS:-} \
	    -artifact_prefix="$out/$name.crashes/" -print_final_stats=1 \
	    "$out/$name.corpus" >"$out/$name.log" 2>&1; then
		tail -40 "$out/$name.log"
		echo "fuzz: $name FAILED; inputs in $out/$name.crashes" >&2
		exit 1
	fi
	grep -E '^stat::number_of_executed_units|^#[0-9]+[[:space:]]+DONE' \
	    "$out/$name.log" | sed "s/^/fuzz: $name: /"
done || fail=1
exit $fail
