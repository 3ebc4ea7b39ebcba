#!/usr/bin/env bash
# Runs every Go fuzz target of depot (every `func FuzzX(f *testing.F)` in a
# _test.go file) for a fixed time each and fails on the first crash. Their
# seed corpora (f.Add and testdata/fuzz/FuzzX/) already run in every
# `go test`; this explores beyond them. A crasher that go test finds is
# written to <package>/testdata/fuzz/FuzzX/<hash>: fix the bug and commit
# that file as a seed.
#
#   scripts/fuzz.sh            # 20s per target
#   scripts/fuzz.sh 1m         # one minute per target
#   DEPOT_FUZZTIME=5s scripts/fuzz.sh
set -euo pipefail
cd "$(dirname "$0")/.."

fuzztime=${1:-${DEPOT_FUZZTIME:-20s}}
targets=()
while IFS=: read -r file name; do
  targets+=("./$(dirname "$file") $name")
done < <(git ls-files '*_test.go' 2>/dev/null | xargs grep -oE '^func Fuzz[A-Za-z0-9_]+' /dev/null | sed -E 's/:func /:/' | sort)
if [ ${#targets[@]} -eq 0 ]; then
  echo "no fuzz targets found" >&2
  exit 1
fi
echo "== fuzzing ${#targets[@]} targets for $fuzztime each"
start=$SECONDS
for t in "${targets[@]}"; do
  read -r pkg name <<<"$t"
  echo "-- $name ($pkg)"
  if ! go test -run '^$' -fuzz "^${name}\$" -fuzztime "$fuzztime" "$pkg"; then
    echo "FAIL: $name in $pkg found a crasher (see $pkg/testdata/fuzz/$name/)" >&2
    exit 1
  fi
done
echo "== fuzzing done in $((SECONDS - start))s"
