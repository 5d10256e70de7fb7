#!/bin/sh
# Runs every fuzz target of the module for $FUZZTIME (default 60s) each.
# A target that panics or hangs makes this script fail; the failing input is
# written by `go test` under the package's testdata/fuzz/ directory.
set -eu
GO=${GO:-go}
FUZZTIME=${FUZZTIME:-60s}
cd "$(dirname "$0")/.."
status=0
for pkg in $($GO list ./...); do
	for target in $($GO test -list '^Fuzz' "$pkg" | grep '^Fuzz' || true); do
		echo "== $pkg $target ($FUZZTIME)"
		if ! $GO test -run '^$' -fuzz "^${target}\$" -fuzztime "$FUZZTIME" "$pkg"; then
			status=1
		fi
	done
done
exit $status
