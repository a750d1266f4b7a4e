#!/usr/bin/env bash
# The paper's recipe (paper-e20) and paper-e20 + random crops on the bundled model's split (BENCHMARKS.md, "The
# bundled model"): the CE-only student, the same corpora, labels, protocol and seed as scripts/train_bundled_model.sh,
# then its robustness and its validation part scored corpus by corpus (and the shipped model's, same split).
# One thread a run; from the repository root, ../shared beside it. Resumable.
set -euo pipefail
D=../shared/data
for pair in "paper-e20:runs/bundle-paper-e20" \
            "benchmarks/ablation-emodb-speaker/paper-e20/recipes/v23.toml:runs/bundle-paper-e20-crops"; do
  recipe=${pair%%:*} out=${pair#*:}
  OMP_NUM_THREADS=1 .venv/bin/emovit reproduce --recipe "$recipe" --corpus emodb --root $D/emodb --corpus savee \
    --root $D/savee/ALL --corpus ravdess --root $D/ravdess --labels anger,disgust,fear,happiness,neutral,sadness \
    --protocol speaker --models plain --baseline none --device cpu --quiet --out "$out"
  OMP_NUM_THREADS=1 .venv/bin/emovit evaluate "$out" --model plain --precision fp32
  OMP_NUM_THREADS=1 .venv/bin/python scripts/part_scores.py "$out" --model plain > "$out/val-per-corpus.json"
done
OMP_NUM_THREADS=1 .venv/bin/python scripts/part_scores.py runs/bundle-paper-e20 --model src/emovit/assets/bundled.pt \
  > runs/bundle-paper-e20/val-per-corpus-shipped.json   # kept as benchmarks/bundle-6class-emovit/val-per-corpus.json
