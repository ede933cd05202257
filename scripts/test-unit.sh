#!/usr/bin/env bash
# The fast tier: the tests that need no server, in well under a minute, with no build.
# The rule (docs/development.md): unit tests sit beside the code, in src/ and scripts/, named
# *.test.ts; a test there that needs a server (Redis, Memcached, PostgreSQL, RGW, a browser or
# a spawned Sluice) is named *.server.test.ts, and end-to-end tests live in test/. Those run in
# `npm test` only. SLUICE_TEST_TIER=unit makes the test helpers refuse to start any server, so a
# misnamed test fails here rather than quietly slowing this tier down.
set -euo pipefail
cd "$(dirname "$0")/.."

mapfile -t files < <(find src scripts -name '*.test.ts' -not -name '*.server.test.ts' | sort)
echo "== unit tests (${#files[@]} files) on node $(node --version)"
SLUICE_TEST_TIER=unit node --import tsx --test --test-concurrency=2 --test-reporter=dot "${files[@]}"
