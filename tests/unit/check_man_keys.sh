#!/bin/sh
# Fails when a setting that fleetreg --help lists is missing from the man
# page, so the documentation cannot fall behind the key table.
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
binary=${FLEETREG_BINARY:-src/fleetreg}
page="$top/man/fleetreg.conf.5"
keys=$("$binary" --help | sed -n 's/^  \([a-z_]*\) .*/\1/p')
[ -n "$keys" ] || { echo "no keys found in fleetreg --help"; exit 1; }
missing=0
for key in $keys; do
    if ! grep -q "^\.B $key\$" "$page"; then
        echo "setting $key is missing from man/fleetreg.conf.5"
        missing=1
    fi
done
exit $missing
