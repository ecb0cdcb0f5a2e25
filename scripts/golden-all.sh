#!/usr/bin/env bash
# `tuneloop golden` on every golden folder in ROOT: by default ../shared/golden beside the repository,
# or test/fixtures/golden when that is absent. Every folder in ROOT must be a golden folder (hold
# golden.json), and there must be at least one: a stage that checked nothing has not passed.
#   bash scripts/golden-all.sh [ROOT]
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
if [ $# -gt 1 ]; then
  echo "usage: $0 [ROOT]" >&2
  exit 2
fi
if [ $# -eq 1 ]; then
  root=$1
elif [ -e "$repo/../shared/golden" ]; then
  root=$repo/../shared/golden
else
  root=$repo/test/fixtures/golden
fi
if [ ! -d "$root" ]; then
  echo "golden: $root is not a folder" >&2
  exit 1
fi
root=$(cd "$root" && pwd)

shopt -s nullglob
dirs=("$root"/*/)
bad=0
for d in "${dirs[@]}"; do
  if [ ! -f "$d/golden.json" ]; then
    echo "golden: ${d%/} has no golden.json" >&2
    bad=1
  fi
done
[ "$bad" -eq 0 ] || exit 1
if [ ${#dirs[@]} -eq 0 ]; then
  echo "golden: no golden folders in $root" >&2
  exit 1
fi

cd "$repo"
for d in "${dirs[@]}"; do
  npx --no-install tuneloop golden "${d%/}" --threads 2
  # The training checks again with the memory options on (fed weights, a chunked loss, checkpointing).
  npx --no-install tuneloop golden "${d%/}" --threads 2 --only grad,adamw,train2 --memory-options
done
echo "golden: ${#dirs[@]} folders checked in $root"
