#!/usr/bin/env bash
# Runs `make <stage>` for each stage in order, prints how long each took, and
# stops at the first failure with that stage's exit code.
#
# A stage written `a,b+c,d` runs two lanes at the same time: `make a` then
# `make b` in one, `make c` then `make d` in the other (each line prefixed
# with its stage, `[a] ...`); a lane stops at its first failure, the group
# waits for every lane and fails if any stage failed. Every stage's own time
# is reported, and the group's wall time. Stages in a group do not rebuild
# (`make -o build`): a group comes after the `build` stage, and two tsc runs
# writing dist/ at once would race.
set -uo pipefail
declare -a names=() secs=()
total_start=$(date +%s)
report() {
  printf '\n%-34s %10s\n' stage seconds
  for i in "${!names[@]}"; do printf '%-34s %10s\n' "${names[$i]}" "${secs[$i]}"; done
  printf '%-34s %10s\n' total $(( $(date +%s) - total_start ))
}
stamp() { date -u +%H:%M:%S; }
for stage in "$@"; do
  echo "=== stage: $stage ($(stamp) UTC)"
  start=$(date +%s)
  if [[ "$stage" == *+* ]]; then
    IFS='+' read -r -a lanes <<<"$stage"
    tmp="$(mktemp -d)"
    pids=()
    for lane in "${lanes[@]}"; do
      (
        IFS=',' read -r -a seq <<<"$lane"
        for m in "${seq[@]}"; do
          echo "=== stage: $m (lane ${lane//,/ then }, $(stamp) UTC)"
          s=$(date +%s)
          make --no-print-directory -o build "$m" 2>&1 | sed -u "s/^/[$m] /"
          r=${PIPESTATUS[0]}
          echo "$m $r $(( $(date +%s) - s ))" >>"$tmp/results"
          echo "=== stage: $m took $(( $(date +%s) - s )) s (rc $r, $(stamp) UTC)"
          [ "$r" -eq 0 ] || exit "$r"
        done
      ) &
      pids+=($!)
    done
    rc=0
    for p in "${pids[@]}"; do wait "$p" || rc=$?; done
    while read -r m mrc msecs; do
      names+=("  $m"); secs+=("$msecs")
    done <"$tmp/results"
    rm -rf "$tmp"
  else
    make --no-print-directory "$stage"
    rc=$?
  fi
  names+=("$stage"); secs+=($(( $(date +%s) - start )))
  echo "=== stage: $stage took ${secs[-1]} s (rc $rc, $(stamp) UTC)"
  if [ "$rc" -ne 0 ]; then
    report
    echo "FAILED: stage '$stage' exited with $rc"
    exit "$rc"
  fi
done
report
echo "verify: all $# stages passed"
