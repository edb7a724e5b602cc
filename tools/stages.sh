#!/usr/bin/env bash
# Runs `make <stage>` for each stage in order, prints how long each took, and
# stops at the first failure with that stage's exit code.
set -uo pipefail
declare -a names=() secs=()
total_start=$(date +%s)
report() {
  printf '\n%-20s %10s\n' stage seconds
  for i in "${!names[@]}"; do printf '%-20s %10s\n' "${names[$i]}" "${secs[$i]}"; done
  printf '%-20s %10s\n' total $(( $(date +%s) - total_start ))
}
for stage in "$@"; do
  echo "=== stage: $stage"
  start=$(date +%s)
  make --no-print-directory "$stage"
  rc=$?
  names+=("$stage"); secs+=($(( $(date +%s) - start )))
  if [ "$rc" -ne 0 ]; then
    report
    echo "FAILED: stage '$stage' exited with $rc"
    exit "$rc"
  fi
done
report
echo "verify: all ${#names[@]} stages passed"
