#!/usr/bin/env bash
# The whole test suite: vet, staticcheck, formatting, every test with the
# race detector on SQLite, then the store, application and CLI tests on
# PostgreSQL when it is installed (or CTEM_TEST_POSTGRES names a server).
# The README's test command; .ci/run calls it.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== go vet"
go vet ./...

echo "== staticcheck"
# A go tool dependency (go.mod's tool directive): the version is pinned
# by go.mod, and building it needs only the module proxy.
go tool staticcheck ./...

echo "== gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './vendor/*'))
if [ -n "$unformatted" ]; then
  echo "gofmt would change:"; echo "$unformatted"; exit 1
fi

echo "== chromium (the dashboard's browser tests)"
chromium_bin="${CTEM_CHROMIUM:-}"
for name in chromium chromium-browser google-chrome google-chrome-stable headless-shell; do
  [ -n "$chromium_bin" ] && break
  chromium_bin=$(command -v "$name" 2>/dev/null || true)
done
if [ -z "$chromium_bin" ]; then
  if [ -n "${CI:-}" ]; then
    echo "no Chromium found: CI must run the browser tests (.ci/run installs Debian's chromium)"; exit 1
  fi
  echo "*** NO CHROMIUM FOUND: internal/web's browser tests will be SKIPPED (apt-get install chromium, or set CTEM_CHROMIUM) ***"
else
  echo "$chromium_bin: $("$chromium_bin" --version 2>/dev/null || echo unknown version)"
fi


# run_tests LABEL ARGS...: go test -v into a log; on failure the failing
# tests' output; the count of tests passed is printed either way.
run_tests() {
  local label=$1 log rc=0; shift
  log=$(mktemp)
  go test -v "$@" >"$log" 2>&1 || rc=$?
  if [ "$rc" != 0 ]; then
    grep -v -E '^(=== (RUN|PAUSE|CONT|NAME)|\s*--- (PASS|SKIP)|PASS$)' "$log" | grep -v -E '^\s+\w+_test\.go:[0-9]+: ' | tail -300
    # The failed tests' names last (run one alone with go test -run to see
    # its messages): the output above may have cut them.
    echo "failed tests:"; grep -E '^\s*--- FAIL' "$log" || true
  fi
  local passed skipped failed
  passed=$(grep -c -E '^\s*--- PASS' "$log" || true)
  skipped=$(grep -c -E '^\s*--- SKIP' "$log" || true)
  failed=$(grep -c -E '^\s*--- FAIL' "$log" || true)
  echo "$label: $passed tests passed, $skipped skipped, $failed failed"
  rm -f "$log"
  return "$rc"
}

echo "== go test -race (SQLite)"
# -timeout above go test's 10 minutes: internal/cli's transcripts take about
# 9 minutes under -race on a loaded 2-core machine, and testscript stops its
# commands at the test's deadline.
CTEM_TEST_POSTGRES= run_tests "SQLite" -race -count=1 -timeout 40m ./...

# The store, application and CLI tests again on PostgreSQL (storetest):
# the server named by CTEM_TEST_POSTGRES, else a throwaway one when
# PostgreSQL is installed. No race detector here, to keep CI's time.
echo "== go test (PostgreSQL)"
. scripts/postgres.sh
if [ -z "${CTEM_TEST_POSTGRES:-}" ] && ! start_postgres; then
  if [ "${CI:-}" = true ]; then
    echo "PostgreSQL not found: CI must run the PostgreSQL tests (.ci/run installs it)"; exit 1
  fi
  echo "PostgreSQL not found: skipped (install Debian's postgresql, or set CTEM_TEST_POSTGRES to a server's URL)"
  exit 0
fi
run_tests "PostgreSQL" -count=1 -timeout 30m ./internal/store/... ./internal/app/... ./internal/kpi/... ./internal/cli/...
run_tests "PostgreSQL, two servers" -count=1 -timeout 20m -run 'TestTwoServersOneDatabase' ./internal/server
