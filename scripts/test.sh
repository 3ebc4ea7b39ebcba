#!/usr/bin/env bash
# Runs every test of depot with the race detector: unit tests, the store and
# blob conformance suites, the end-to-end HTTP suite against a real server,
# the memory check (2 GiB through a real depot binary), and the web UI in a
# headless Chromium (installed with apt-get when missing and running as root).
#
# Set DEPOT_TEST_REQUIRE_ALL=1 (CI does) to make tests that need an external
# service fail instead of skipping when it is missing.
#
# Set DEPOT_TEST_FUZZTIME (e.g. 15s; CI does) to run every fuzz target for
# that long after the tests (scripts/fuzz.sh); the seed corpora run in the
# tests anyway.
#
# The S3 blob store's tests run against a throwaway MinIO that this script
# starts (scripts/minio.sh) and stops on exit, unless DEPOT_TEST_S3_ENDPOINT
# (with DEPOT_TEST_S3_ACCESS_KEY and DEPOT_TEST_S3_SECRET_KEY) names an S3
# server already.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== go vet"
go vet ./...
echo "== gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then
  echo "gofmt would change: $unformatted" >&2
  exit 1
fi
if [ -z "${DEPOT_TEST_S3_ENDPOINT:-}" ]; then
  echo "== MinIO"
  source scripts/minio.sh
  trap minio_stop EXIT
  if ! minio_start; then
    if [ "${DEPOT_TEST_REQUIRE_ALL:-}" = 1 ]; then
      exit 1
    fi
    echo "MinIO did not start: the S3 tests will skip" >&2
  fi
fi
# Tests drive real clients from Debian: Chromium for the web UI
# (/usr/bin/chromium), python-gitlab and curl for the GitLab dialect.
missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
/usr/bin/python3 -c 'import gitlab' 2>/dev/null || missing+=(python3-gitlab)
command -v curl >/dev/null || missing+=(curl)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "== installing ${missing[*]}"
    timeout 600 apt-get update -qq >/dev/null &&
      DEBIAN_FRONTEND=noninteractive timeout 900 apt-get install -y -qq "${missing[@]}" >/dev/null ||
      echo "${missing[*]} could not be installed: their tests will skip (or fail in CI)" >&2
  else
    echo "missing ${missing[*]} and not root: their tests will skip (or fail in CI)" >&2
  fi
fi
echo "== go test -race"
go test -race -count=1 -timeout 30m "$@" ./...
if [ -n "${DEPOT_TEST_FUZZTIME:-}" ]; then
  scripts/fuzz.sh "$DEPOT_TEST_FUZZTIME"
fi
