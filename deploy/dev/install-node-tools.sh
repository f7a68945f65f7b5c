#!/bin/sh
# Installs the npm packages of tests/node/package.json (the OpenAPI 3.1 validator; Swagger UI,
# which GET /docs serves) into build-node/, once: again only when package.json changes.
# Needs node and npm (deploy/dev/install-deps.sh docs).
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
dest=$root/build-node
mkdir -p "$dest"
if [ -f "$dest/package.json" ] && cmp -s "$root/tests/node/package.json" "$dest/package.json" &&
   [ -d "$dest/node_modules/swagger-ui-dist" ]; then
  exit 0
fi
cp "$root/tests/node/package.json" "$dest/package.json"
echo "install-node-tools: npm install in $dest"
(cd "$dest" && npm install --no-audit --no-fund --no-save --silent)
