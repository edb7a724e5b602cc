#!/usr/bin/env bash
# What broker.sh and cluster.sh share (they source this file): which Kafka
# release HTMQC_KAFKA_VERSION selects and where its jars are, and cluster ids.
# Run directly it prints the selected release:
#
#   tools/kafka/common.sh version          "<version> <libs dir>"
#
#   HTMQC_KAFKA_VERSION unset, '', 3, 3.9 or 3.9.1   -> 3.9.1 in .cache/kafka/libs (tools/pom.xml)
#   HTMQC_KAFKA_VERSION 4                             -> KAFKA4_VERSION of versions.env
#   HTMQC_KAFKA_VERSION 4.N.M                         -> that 4.x release in .cache/kafka-4.N.M/libs
#                                                        (assemble it: make kafka-jars HTMQC_KAFKA_VERSION=4.N.M)

# shellcheck source=tools/kafka/versions.env
. "$(dirname "${BASH_SOURCE[0]}")/versions.env"

# Sets KAFKA_VERSION, KAFKA_GENERATION (3 or 4) and KAFKA_LIBS; returns 2 with
# a message on stderr for a value it does not know.
resolve_kafka_version() { # repo-root
  local want="${HTMQC_KAFKA_VERSION:-}"
  case "$want" in
    ''|3|3.9|"$KAFKA3_VERSION") KAFKA_VERSION="$KAFKA3_VERSION" ;;
    4) KAFKA_VERSION="$KAFKA4_VERSION" ;;
    4.[0-9]*.[0-9]*)
      [[ "$want" =~ ^4\.[0-9]+\.[0-9]+$ ]] || { bad_kafka_version "$want"; return 2; }
      KAFKA_VERSION="$want" ;;
    *) bad_kafka_version "$want"; return 2 ;;
  esac
  if [ "$KAFKA_VERSION" = "$KAFKA3_VERSION" ]; then
    KAFKA_GENERATION=3
    KAFKA_LIBS="$1/.cache/kafka/libs"
  else
    KAFKA_GENERATION=4
    KAFKA_LIBS="$1/.cache/kafka-$KAFKA_VERSION/libs"
  fi
}

bad_kafka_version() {
  echo "kafka: ERROR: HTMQC_KAFKA_VERSION='$1' is not a release these scripts run: use $KAFKA3_VERSION (the default; also '3'), '4' for $KAFKA4_VERSION, or a full 4.N.M" >&2
}

# A Kafka Uuid: 16 random bytes, URL-safe base64 without padding (22 chars).
# Kafka's own generator never starts one with '-', so neither do we.
new_cluster_id() {
  local id
  while :; do
    id="$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')"
    [ "${id:0:1}" != "-" ] && [ "${#id}" -eq 22 ] && { echo "$id"; return; }
  done
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -euo pipefail
  [ "${1:-}" = version ] || { echo "usage: $0 version" >&2; exit 2; }
  resolve_kafka_version "$(cd "$(dirname "$0")/../.." && pwd)" || exit 2
  echo "$KAFKA_VERSION $KAFKA_LIBS"
fi
