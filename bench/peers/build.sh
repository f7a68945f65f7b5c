#!/bin/bash
# Builds the peers of make bench into DEST (bench/peers/README.md): the Go peer offline against
# Debian's Go sources (golang-go, golang-github-jackc-pgx-v4-dev), the Node peer's npm packages
# (fastify, pg) into DEST/node/node_modules, once (again when package.json changes). The FastAPI
# peer needs nothing built (python3-fastapi, -uvicorn, -uvloop, -httptools, -asyncpg).
# Usage: build.sh DEST
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
dest=$(mkdir -p "${1:?usage: build.sh DEST}" && cd "$1" && pwd)
mkdir -p "$dest/node" "$dest/gocache"
if [ ! -x "$dest/peer-go" ] || [ "$here/go/main.go" -nt "$dest/peer-go" ]; then
  echo "bench: building the Go peer" >&2
  (cd "$here/go" && env GOPATH=/usr/share/gocode GO111MODULE=off GOFLAGS= GOPROXY=off \
     GOCACHE="$dest/gocache" go build -o "$dest/peer-go" .)
fi
if ! cmp -s "$here/node/package.json" "$dest/node/package.json" || [ ! -d "$dest/node/node_modules/fastify" ]; then
  echo "bench: npm install of the Node peer's packages in $dest/node" >&2
  cp "$here/node/package.json" "$dest/node/package.json"
  (cd "$dest/node" && npm install --no-audit --no-fund --no-save --silent)
fi
