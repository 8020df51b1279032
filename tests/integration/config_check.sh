#!/bin/sh
# config_check.sh -- `netspectrad -t`: the shipped config and Go2NetSpectra's
# config are valid and print their effective configuration, which loads
# again; a misspelled key fails with file:line:col and a suggestion.
. "$(dirname "$0")/lib.sh"
ns_tmpdir
g2n="$NS_TEST_DATA/config/go2netspectra.yaml"

for f in "$NS_SRCDIR/etc/netspectra.yaml" "$g2n"; do
	"$NETSPECTRAD" -t -c "$f" >"$T/eff.yaml" 2>"$T/err" || fail "$f: $(cat "$T/err")"
	grep -q "is valid" "$T/err" || fail "$f: no verdict"
	"$NETSPECTRAD" -t -c "$T/eff.yaml" >"$T/eff2.yaml" 2>"$T/err" || fail "effective config of $f does not load: $(cat "$T/err")"
	cmp -s "$T/eff.yaml" "$T/eff2.yaml" || fail "effective config of $f is not stable"
done
grep -q "per_five_tuple" "$T/eff.yaml" || fail "Go2NetSpectra task missing from the effective config"

sed 's/key_fields:/key_feilds:/' "$g2n" >"$T/typo.yaml"
line=$(grep -n 'key_feilds' "$T/typo.yaml" | cut -d: -f1)
if "$NETSPECTRAD" -t -c "$T/typo.yaml" >/dev/null 2>"$T/err"; then fail "typo accepted"; fi
grep -q "typo.yaml:$line:[0-9]*: .*\"key_feilds\".*did you mean \"key_fields\"" "$T/err" ||
	fail "typo message: $(cat "$T/err")"
if "$NETSPECTRAD" -t -c "$T/missing.yaml" >/dev/null 2>"$T/err"; then fail "missing file accepted"; fi
echo "ok: netspectrad -t"
