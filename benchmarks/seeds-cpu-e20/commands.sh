#!/usr/bin/env bash
# The runs behind BENCHMARKS.md's "Seed spread" table: per corpus (emodb or savee), paper protocol,
# 20 epochs a stage, lr halved every 4, CPU fp32, one thread each:
#   bash benchmarks/seeds-cpu-e20/commands.sh emodb    (from the repository root; ../shared beside it)
# CE-only student seed 0, then teacher + KT student seeds 1 and 2, then CE-only seeds 3 and 4.
set -euo pipefail
corpus=$1
run() {  # models seed
  PYTHONUNBUFFERED=1 OMP_NUM_THREADS=1 .venv/bin/emovit compare --recipe paper --corpus "$corpus" --root "../shared/data/$corpus" \
    --protocol paper --models "$1" --epochs 20 --lr-halve-every 4 --seed "$2" --device cpu --precision auto \
    --time-runs 0 --quiet --out "runs/seeds/$corpus-paper-$1-s$2"
}
run plain 0
run student 1
run student 2
run plain 3
run plain 4
