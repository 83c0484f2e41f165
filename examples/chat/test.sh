#!/usr/bin/env bash
# Packs switchyard from this repository, installs the tarball into the example like any dependency, and runs
# the example's Playwright suite (Chromium and Firefox; root, nftables and nginx for the network fixtures).
# Used by CI (.ci/run) and by `npm run test:example` at the repository root.
set -euo pipefail
example="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$example/../.." && pwd)"
cd "$repo"
tarball="$(npm pack --silent --pack-destination "$example" | tail -n 1)"
mv -f "$example/$tarball" "$example/switchyard.tgz"
cd "$example"
rm -rf node_modules/switchyard
npm install --no-audit --no-fund --no-package-lock
npm run typecheck
npm test
