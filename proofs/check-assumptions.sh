#!/bin/sh
# Compiles theories/Check.v and fails unless every "Print Assumptions" in it
# reports "Closed under the global context"; names each theorem that does not.
set -u
cd "$(dirname "$0")"
COQC=${COQC:-coqc}
CHECK=theories/Check.v
LOG=.check.log
FLAGS="-Q theories DCSM"

if ! "$COQC" $FLAGS "$CHECK" > "$LOG" 2>&1; then
  cat "$LOG"
  echo "proofs: $CHECK does not compile" >&2
  exit 1
fi

expected=$(grep -c '^Print Assumptions ' "$CHECK")
closed=$(grep -c 'Closed under the global context' "$LOG")
if [ "$expected" -gt 0 ] && [ "$closed" -eq "$expected" ]; then
  echo "proofs: all $expected theorems are closed under the global context"
  exit 0
fi

# Name the culprits: check each theorem on its own.
cat "$LOG"
echo "proofs: only $closed of $expected theorems are closed under the global context" >&2
imports=$(grep '^From .* Require ' "$CHECK")
tmpdir=$(mktemp -d)
tmp=$tmpdir/CheckOne.v
for name in $(sed -n 's/^Print Assumptions \([A-Za-z0-9_.'"'"']*\)\.$/\1/p' "$CHECK"); do
  printf '%s\nPrint Assumptions %s.\n' "$imports" "$name" > "$tmp"
  if ! "$COQC" $FLAGS "$tmp" 2>&1 | grep -q 'Closed under the global context'; then
    echo "proofs: theorem $name is NOT closed under the global context" >&2
  fi
done
rm -rf "$tmpdir"
exit 1
