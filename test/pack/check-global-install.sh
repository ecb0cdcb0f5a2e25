#!/usr/bin/env bash
# How users' CI gets the CLI: `npm pack`, then `npm install -g` of the tarball into an empty prefix,
# then `tuneloop` run from a folder outside the repository.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

(cd "$root" && npm pack --pack-destination "$tmp" --loglevel=error >/dev/null)
tarball=$(ls "$tmp"/tuneloop-*.tgz)
echo "pack: $(basename "$tarball") $(du -k "$tarball" | cut -f1) KiB"
# onnxruntime-node's postinstall would download CUDA libraries Tuneloop does not use.
ONNXRUNTIME_NODE_INSTALL=skip npm install -g --prefix "$tmp/prefix" --no-audit --no-fund --loglevel=error "$tarball" >/dev/null
mkdir "$tmp/elsewhere"
cp -r "$root/test/fixtures/golden/llama" "$tmp/elsewhere/model"
cd "$tmp/elsewhere"
"$tmp/prefix/bin/tuneloop" --version
out=$("$tmp/prefix/bin/tuneloop" info model)
echo "$out"
grep -q 'LlamaForCausalLM' <<<"$out"
grep -q 'parameters    158,016' <<<"$out"
# The example workspace and the embedded model travel in the package: the demo runs from here.
demo=$("$tmp/prefix/bin/tuneloop" demo --threads 2)
echo "$demo" | tail -12
grep -q 'all evaluators: base' <<<"$demo"
grep -q 'regressions: ' <<<"$demo"
echo "pack: the globally installed tuneloop works, and runs the example from another folder"
