#!/bin/sh
# Installs kcat (librdkafka's command-line client, Debian package "kcat"),
# the native-ceiling consumer of bench/main.ts.  No-op when it is on PATH.
set -eu
if command -v kcat >/dev/null 2>&1; then
  exit 0
fi
SUDO=""
if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi
if ! $SUDO apt-get install -y kcat; then
  $SUDO apt-get update
  $SUDO apt-get install -y kcat
fi
command -v kcat >/dev/null 2>&1
