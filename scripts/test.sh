#!/usr/bin/env bash
# The whole test suite: system packages, lint, type-check, build, then every unit,
# conformance, end-to-end and browser test.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/ensure-system-deps.sh
echo "== lint";       npx eslint --max-warnings 0 . && npm run --silent lint:deps
echo "== typecheck";  npx tsc --noEmit
echo "== build";      npm run --silent build

# One real S3 server (Ceph RGW) for the whole run, on free loopback ports, stopped by PID.
free_port() { node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }
rgw_dir=$(mktemp -d /tmp/sluice-rgw-XXXXXX)
trap 'bash test/rgw/stop-rgw.sh "$rgw_dir"' EXIT
rgw_port=$(free_port)
echo "== starting Ceph RGW"
S3_ACCESS_KEY=sluicetestaccesskey01 S3_SECRET_KEY=sluicetestsecretkey0000000000000000000001 \
  bash test/rgw/start-rgw.sh "$rgw_dir" "$(free_port)" "$rgw_port"
export SLUICE_TEST_RGW_ENDPOINT="http://127.0.0.1:$rgw_port"
export SLUICE_TEST_RGW_ACCESS_KEY=sluicetestaccesskey01
export SLUICE_TEST_RGW_SECRET_KEY=sluicetestsecretkey0000000000000000000001

mapfile -t files < <(find src test scripts packages -name '*.test.ts' -not -path '*/node_modules/*' | sort)
echo "== tests (${#files[@]} files)"
node --import tsx --test --test-concurrency=2 --test-reporter=spec "${files[@]}"
