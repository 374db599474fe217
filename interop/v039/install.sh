#!/bin/sh
# Installs LanceDB 0.39.0 (Lance 12) into $FLIGHTWAL_CACHE/node-v039 for
# lance.TestInteropLance039ReadsOurs (skipped when absent). 0.39's lock
# file does not satisfy `npm ci` (it omits other platforms' optional
# binaries), so this uses `npm install` pinned by package-lock.json.
set -e
here=$(cd "$(dirname "$0")" && pwd)
cache=${FLIGHTWAL_CACHE:-$here/../../.cache}
mkdir -p "$cache/node-v039"
cp "$here/package.json" "$here/package-lock.json" "$cache/node-v039/"
cd "$cache/node-v039"
[ -f .installed ] && [ .installed -nt package-lock.json ] && exit 0
npm install --no-audit --no-fund --loglevel=error
touch .installed
