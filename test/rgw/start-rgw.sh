#!/usr/bin/env bash
# Starts a throwaway single-node Ceph cluster with one RADOS Gateway (a real S3 server) for
# the tests: one monitor, one in-memory OSD, one radosgw, on the loopback ports given.
# Usage: start-rgw.sh DIR MON_PORT RGW_PORT. Writes "name pid" lines to DIR/pids; stop.sh
# stops them. Needs Debian's ceph-mon ceph-osd radosgw ceph-common uuid-runtime curl.
set -euo pipefail
DIR=${1:?dir}; MON_PORT=${2:?mon port}; RGW_PORT=${3:?rgw port}
AK=${S3_ACCESS_KEY:-sluicetestaccesskey01}; SK=${S3_SECRET_KEY:-sluicetestsecretkey0000000000000000000001}
rm -rf "$DIR"; mkdir -p "$DIR"/{log,mon,osd,run}
export CEPH_CONF="$DIR/ceph.conf"
FSID=$(uuidgen)
cat > "$CEPH_CONF" <<CONF
[global]
fsid = $FSID
mon host = [v2:127.0.0.1:$MON_PORT]
public network = 127.0.0.0/8
run dir = $DIR/run
admin socket = $DIR/run/\$cluster-\$name.asok
auth cluster required = none
auth service required = none
auth client required = none
osd pool default size = 1
osd pool default min size = 1
mon allow pool size one = true
# One OSD: the default 32 PGs a pool exceed the per-OSD limit and RGW's pools never activate.
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
mon max pg per osd = 1000
osd crush chooseleaf type = 0
mon warn on pool no redundancy = false
[mon.a]
mon data = $DIR/mon
log file = $DIR/log/mon.log
mon data avail crit = 0
[osd.0]
osd data = $DIR/osd
log file = $DIR/log/osd.log
osd objectstore = memstore
# Memory is used only as objects fill it; the benchmark moves several 1 GiB files.
memstore device bytes = 10737418240
osd class load list = *
osd class default list = *
[client.rgw.r]
log file = $DIR/log/rgw.log
rgw frontends = beast endpoint=127.0.0.1:$RGW_PORT
# Deleted objects' data is freed within seconds rather than after 2 hours, so that a run
# that writes and deletes many large files never fills the in-memory OSD.
rgw gc obj min wait = 5
rgw gc processor period = 5
# A lifecycle "day" lasts 10 s, so lifecycle rules can be tested.
rgw lc debug interval = 10
# Without this radosgw waits forever on get_initial_auth_request (-13).
ms mon client mode = crc
# STS (AssumeRole with session policies), for the scoped-credentials endpoint.
rgw sts key = sluiceteststskey
rgw s3 auth use sts = true
CONF
: > "$DIR/pids"
wait_for() { # what, seconds, command...
  local what=$1 limit=$2; shift 2
  for _ in $(seq 1 $((limit * 4))); do "$@" >/dev/null 2>&1 && return 0; sleep 0.25; done
  echo "start-rgw: $what did not come up within ${limit}s; logs in $DIR/log" >&2; exit 1
}
# An explicit monmap names monitor "a" at our port; from "mon host" alone the map would hold
# "noname-a", and mon.a would fall back to the default ports 3300/6789.
monmaptool --create --clobber --fsid "$FSID" --addv a "[v2:127.0.0.1:$MON_PORT]" "$DIR/monmap" >/dev/null
ceph-mon --id a --mkfs --monmap "$DIR/monmap" --keyring /dev/null
setsid ceph-mon --id a -f >"$DIR/log/mon.out" 2>&1 & echo "mon $!" >> "$DIR/pids"
wait_for "the monitor" 60 ceph --connect-timeout 5 -s
OSD_ID=$(ceph --connect-timeout 30 osd create)
ceph --connect-timeout 30 osd crush add "osd.$OSD_ID" 1 root=default >/dev/null
ceph-osd --id "$OSD_ID" --mkfs >/dev/null 2>&1
setsid ceph-osd --id "$OSD_ID" -f >"$DIR/log/osd.out" 2>&1 & echo "osd $!" >> "$DIR/pids"
wait_for "the OSD" 60 bash -c 'ceph --connect-timeout 5 osd stat 2>/dev/null | grep -q "1 up"'
setsid radosgw -n client.rgw.r -f >"$DIR/log/rgw.out" 2>&1 & echo "rgw $!" >> "$DIR/pids"
wait_for "radosgw" 90 curl -sf -o /dev/null "http://127.0.0.1:$RGW_PORT/"
radosgw-admin user create --uid tester --display-name Tester --access-key="$AK" --secret-key="$SK" >/dev/null
# The role Sluice assumes for scoped upload credentials: tester may assume it, and it may
# upload to any bucket; each session's policy narrows it to one key.
radosgw-admin role create --role-name=sluice-uploader --path=/ \
  --assume-role-policy-doc='{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":["arn:aws:iam:::user/tester"]},"Action":["sts:AssumeRole"]}]}' >/dev/null
radosgw-admin role-policy put --role-name=sluice-uploader --policy-name=uploads \
  --policy-doc='{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:PutObject","s3:AbortMultipartUpload","s3:ListMultipartUploadParts"],"Resource":["arn:aws:s3:::*"]}]}' >/dev/null
echo "RGW ready on http://127.0.0.1:$RGW_PORT"
