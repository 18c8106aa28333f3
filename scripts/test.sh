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

echo "== go test -race"
go test -race -count=1 ./...
