#!/usr/bin/env bash
# Copy a run's small outputs into the repository: results.json/md, config.json, leakage.json,
# robustness.json/md, confusion PNGs and each stage's history.json (as history-STAGE.json), at the top
# and in every fold; no model files, checkpoints or caches. This is the form of every run directory
# under benchmarks/, and a kept run with some folds finished goes on from them in another session
# (benchmarks/peers/commands.sh ... continue).
#   bash scripts/keep_run.sh runs/peers/savee-kfold-emovit benchmarks/peers/savee-kfold-emovit
set -euo pipefail
src=${1:?usage: keep_run.sh RUN DEST} dest=${2:?usage: keep_run.sh RUN DEST}
[ -d "$src" ] || { echo "keep_run.sh: $src is not a run directory" >&2; exit 2; }
keep() {  # keep DIR_IN_RUN DIR_IN_DEST
  mkdir -p "$2"
  for f in results.json results.md config.json leakage.json robustness.json robustness.md; do
    [ -f "$1/$f" ] && cp "$1/$f" "$2/"
  done
  for f in "$1"/confusion-*.png; do [ -f "$f" ] && cp "$f" "$2/"; done
  for f in "$1"/*/history.json; do
    [ -f "$f" ] && cp "$f" "$2/history-$(basename "$(dirname "$f")").json"
  done
  return 0
}
keep "$src" "$dest"
for fold in "$src"/folds/*/; do
  [ -f "$fold/results.json" ] && keep "$fold" "$dest/folds/$(basename "$fold")"
done
exit 0
