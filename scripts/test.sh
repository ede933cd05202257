#!/usr/bin/env bash
# The whole test suite: system packages, lint, type-check, build, then every unit,
# conformance, end-to-end and browser test.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/ensure-system-deps.sh
echo "== lint";       npx eslint --max-warnings 0 .
echo "== typecheck";  npx tsc --noEmit
echo "== build";      npm run --silent build

mapfile -t files < <(find src test -name '*.test.ts' -not -path '*/node_modules/*' | sort)
echo "== tests (${#files[@]} files)"
node --import tsx --test --test-concurrency=2 --test-reporter=spec "${files[@]}"
