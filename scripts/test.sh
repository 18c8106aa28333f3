#!/usr/bin/env bash
# The whole test suite: vet, staticcheck, formatting, and every test with
# the race detector. The README's test command; .ci/run calls it.
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

echo "== go test -race"
go test -race -count=1 ./...
