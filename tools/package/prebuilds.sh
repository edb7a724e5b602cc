#!/usr/bin/env bash
# make prebuilds: the binaries `npm pack` puts in the tarball (package.json
# "prepack"), for linux-x64 with glibc, built on this machine against
# /usr/include/node (npm_config_nodedir, exported by the Makefile); nothing
# is downloaded.
#   prebuilds/linux-x64/htmqc.glibc.node   the native core, Node-API (any Node >= 20);
#                                          prebuildify's layout, loaded by node-gyp-build
#   prebuilds/better-sqlite3-v<version>-node-v<abi>-linux-x64.tar.gz
#                                          better-sqlite3's addon as the file prebuild-install
#                                          looks for (.prebuild-installrc points it here)
# Each is rebuilt only when older than what it is built from.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

platform="$(node -p 'process.platform + "-" + process.arch')"
if [ "$platform" != linux-x64 ] || [ -e /etc/alpine-release ]; then
  echo "prebuilds: only linux-x64 (glibc) is prebuilt, this is $platform; the tarball would carry no binary for it" >&2
  exit 1
fi

addon=prebuilds/linux-x64/htmqc.glibc.node
if [ ! -e "$addon" ] || [ -n "$(find binding.gyp native/src -newer "$addon" -type f | head -1)" ]; then
  node_modules/.bin/prebuildify --napi --strip --tag-libc --target "$(node -p process.versions.node)" --quiet
  # prebuildify moves build/Release/htmqc_native.node into prebuilds/; the
  # checkout's own build (make native) is the same binary.
  mkdir -p build/Release && cp "$addon" build/Release/htmqc_native.node
fi
node -e "require(require('node-gyp-build').path('.'))" || { echo "prebuilds: $addon does not load" >&2; exit 1; }

sqlite_dir=node_modules/better-sqlite3
sqlite_version="$(node -p "require('./$sqlite_dir/package.json').version")"
sqlite_tar="prebuilds/better-sqlite3-v$sqlite_version-node-v$(node -p process.versions.modules)-linux-x64.tar.gz"
sqlite_node="$sqlite_dir/build/Release/better_sqlite3.node"
if [ ! -e "$sqlite_tar" ] || [ "$sqlite_node" -nt "$sqlite_tar" ]; then
  node -e "new (require('better-sqlite3'))(':memory:').close()" || { echo "prebuilds: $sqlite_node does not load (npm ci builds it)" >&2; exit 1; }
  rm -f prebuilds/better-sqlite3-*.tar.gz
  stage="$(mktemp -d)"
  mkdir -p "$stage/build/Release"
  strip --strip-unneeded -o "$stage/build/Release/better_sqlite3.node" "$sqlite_node"
  tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -czf "$sqlite_tar" -C "$stage" build
  rm -rf "$stage"
fi
ls -l prebuilds/linux-x64/*.node prebuilds/*.tar.gz | awk '{ printf "prebuilds: %s (%d bytes)\n", $NF, $5 }'
