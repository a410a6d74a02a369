#!/usr/bin/env bash
# node `soap` builds its client from the WSDL at run time; the package comes from this directory's
# node_modules (`make interop` runs `npm ci` here from the committed package-lock.json).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
[ -d "$here/node_modules/soap" ] || { echo "node_modules/soap missing: run 'make interop' (npm ci in $here)" >&2; exit 3; }
exec node "$here/scenario.js"
