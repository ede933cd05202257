#!/usr/bin/env bash
# Installs the system packages the test suite needs (Debian), or says exactly what is missing.
# SLUICE_POLICY_RC moves the policy file (the script's own test points it into a temporary folder).
set -euo pipefail

missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
# A real S3 server for the S3 suites: Ceph's RADOS Gateway with one monitor and one OSD.
command -v ceph-mon >/dev/null 2>&1 || missing+=(ceph-mon)
command -v ceph-osd >/dev/null 2>&1 || missing+=(ceph-osd)
command -v radosgw >/dev/null 2>&1 || missing+=(radosgw)
command -v ceph >/dev/null 2>&1 || missing+=(ceph-common)
command -v uuidgen >/dev/null 2>&1 || missing+=(uuid-runtime)
command -v curl >/dev/null 2>&1 || missing+=(curl)
# Real servers for the ticket, metadata and rate-limit backends; the tests start throwaway
# instances of each on free loopback ports (never the system's own service).
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
command -v memcached >/dev/null 2>&1 || missing+=(memcached)
compgen -G "/usr/lib/postgresql/*/bin/postgres" >/dev/null || missing+=(postgresql)
command -v setpriv >/dev/null 2>&1 || missing+=(util-linux)
# The S3 tools people use, uploading with Sluice's scoped credentials (test/s3-tools.test.ts).
# Debian's own, by path: an `aws` from pip or a pyenv shim earlier on PATH is not what is tested.
# SLUICE_USR_BIN moves /usr/bin for the script's own test.
usr_bin=${SLUICE_USR_BIN:-/usr/bin}
[ -x "$usr_bin/aws" ] || missing+=(awscli)
[ -x "$usr_bin/rclone" ] || missing+=(rclone)
[ -x "$usr_bin/s3cmd" ] || missing+=(s3cmd)

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "The test suite needs these Debian packages: ${missing[*]}" >&2
  echo "Install them with: sudo apt-get install -y --no-install-recommends ${missing[*]}" >&2
  exit 1
fi

echo "Installing system packages for the tests: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# Keep the packages' own services from starting (their postinst would start Redis, Memcached
# and PostgreSQL on their default ports): the tests start their own. A policy file that was
# already there (Debian's container images ship one) is left as it was; one made here is
# removed on every way out of this script, and never decides its exit status.
policy=${SLUICE_POLICY_RC:-/usr/sbin/policy-rc.d}
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' >"$policy"
  chmod 755 "$policy"
  trap 'rm -f "$policy"' EXIT
fi
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "Installed: ${missing[*]}"
