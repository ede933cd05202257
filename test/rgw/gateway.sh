#!/usr/bin/env bash
# Stops or starts only the radosgw of a cluster made by start-rgw.sh, leaving the monitor and
# the OSD (and so every object) in place: "S3 is down" for the fault tests.
# Usage: gateway.sh DIR stop|start
set -euo pipefail
DIR=${1:?dir}; ACTION=${2:?stop or start}
export CEPH_CONF="$DIR/ceph.conf"
case "$ACTION" in
  stop)
    pid=$(awk '$1 == "rgw" {print $2}' "$DIR/pids" | tail -1)
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
    kill -9 "$pid" 2>/dev/null || true
    # Forget the PID, so that stop-rgw.sh never signals whatever process reuses it.
    sed -i "/^rgw $pid\$/d" "$DIR/pids" ;;
  start)
    port=$(sed -n 's/^rgw frontends = beast endpoint=127.0.0.1:\([0-9]*\)$/\1/p' "$CEPH_CONF")
    setsid radosgw -n client.rgw.r -f >>"$DIR/log/rgw.out" 2>&1 & echo "rgw $!" >> "$DIR/pids"
    for _ in $(seq 1 360); do curl -sf -o /dev/null "http://127.0.0.1:$port/" && exit 0; sleep 0.25; done
    echo "gateway.sh: radosgw did not come back within 90s; logs in $DIR/log" >&2; exit 1 ;;
  *) echo "usage: gateway.sh DIR stop|start" >&2; exit 2 ;;
esac
