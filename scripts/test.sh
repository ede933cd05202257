#!/usr/bin/env bash
# The whole test suite: system packages, lint, type-check, build and the unit tier on this
# machine's Node, then the unit tier on Node 22 and every unit, conformance, end-to-end and
# browser test on Node 24 (each installed from npm into a cache; scripts/install-node.sh).
# The whole suite runs once, on the current LTS, to keep the command near ten minutes; Node 20
# (better-sqlite3) and 22 (node:sqlite with its warning, or better-sqlite3) run the tests that
# need no server. docs/development.md says which Node runs what.
set -euo pipefail
cd "$(dirname "$0")/.."

NODE_LTS=24.22.3
NODE_PREVIOUS=22.23.5
started=$SECONDS
machine_node=$(node --version)

bash scripts/ensure-system-deps.sh
echo "== node $machine_node (this machine's)"
echo "== lint";       npx eslint --max-warnings 0 . && npm run --silent lint:deps
echo "== typecheck";  npx tsc --noEmit
echo "== build";      npm run --silent build
bash scripts/test-unit.sh

node22=$(bash scripts/install-node.sh "$NODE_PREVIOUS")
node24=$(bash scripts/install-node.sh "$NODE_LTS")
# First on PATH, so that whatever a test starts as `node` (a shell script's, npm's) is this one
# too; tests start Sluice itself with process.execPath.
echo "== node $("$node22" --version)"
PATH="$(dirname "$node22"):$PATH" SLUICE_TEST_NODE=$NODE_PREVIOUS bash scripts/test-unit.sh
export PATH="$(dirname "$node24"):$PATH" SLUICE_TEST_NODE=$NODE_LTS
echo "== node $(node --version)"

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
echo "== tests (${#files[@]} files) on node $(node --version)"
node --import tsx --test --test-concurrency=2 --test-reporter=spec "${files[@]}"
echo "== passed: lint, types, build and unit tests on node $machine_node, unit tests on v$NODE_PREVIOUS, every test on v$NODE_LTS, in $((SECONDS - started)) s"
