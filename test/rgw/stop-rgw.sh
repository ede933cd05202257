#!/usr/bin/env bash
# Stops what start-rgw.sh started, by the PIDs it recorded, and removes its directory.
set -u
DIR=${1:?dir}
[ -f "$DIR/pids" ] || exit 0
pids=$(awk '{print $2}' "$DIR/pids")
kill $pids 2>/dev/null
for _ in $(seq 1 40); do
  alive=0; for p in $pids; do kill -0 "$p" 2>/dev/null && alive=1; done
  [ $alive = 0 ] && break; sleep 0.25
done
kill -9 $pids 2>/dev/null
rm -rf "$DIR"
exit 0
