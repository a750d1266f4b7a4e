#!/usr/bin/env bash
# Copy a run's small outputs into the repository: results.json/md, predictions.csv, config.json, leakage.json,
# robustness.json/md (and each model's robustness-NAME.json/md), experts.txt/json, confusion PNGs and each stage's
# history.json (as history-STAGE.json); of every finished fold its results.json, predictions.csv, leakage.json,
# robustness.json, experts.json and histories; no model files, checkpoints or caches. This is the form of every run
# directory under benchmarks/, and a kept run with some folds finished goes on from them in another session
# (benchmarks/peers/commands.sh ... continue).
#   bash scripts/keep_run.sh runs/peers/savee-kfold-emovit benchmarks/peers/savee-kfold-emovit
set -euo pipefail
src=${1:?usage: keep_run.sh RUN DEST} dest=${2:?usage: keep_run.sh RUN DEST}
[ -d "$src" ] || { echo "keep_run.sh: $src is not a run directory" >&2; exit 2; }
keep() {  # keep DIR_IN_RUN DIR_IN_DEST FILES...: the named files, and each stage's history
  local from=$1 to=$2; shift 2
  mkdir -p "$to"
  for f in "$@"; do [ -f "$from/$f" ] && cp "$from/$f" "$to/"; done
  for f in "$from"/*/history.json; do
    [ -f "$f" ] && cp "$f" "$to/history-$(basename "$(dirname "$f")").json"
  done
  return 0
}
keep "$src" "$dest" results.json results.md predictions.csv config.json leakage.json robustness.json robustness.md experts.txt \
  experts.json $(cd "$src" && ls confusion-*.png robustness-*.json robustness-*.md 2>/dev/null)
for fold in "$src"/folds/*/; do  # a fold: what the pooled tables and a continued run read
  [ -f "$fold/results.json" ] && keep "$fold" "$dest/folds/$(basename "$fold")" results.json predictions.csv leakage.json robustness.json experts.json
done
exit 0
