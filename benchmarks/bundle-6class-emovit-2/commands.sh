#!/usr/bin/env bash
# Recipe emovit-2 (recipe emovit without SpecAugment masks and label smoothing: validation's pick on EmoDB's speaker
# splits, ablation variant 33) on the bundled model's split (BENCHMARKS.md, "The bundled model"): the CE-only
# student, the same corpora, labels, protocol and seed as scripts/train_bundled_model.sh, then its robustness and its
# validation part scored corpus by corpus. One thread; from the repository root, ../shared beside it. Resumable.
set -euo pipefail
D=../shared/data
out=runs/bundle-6class-emovit-2
OMP_NUM_THREADS=1 .venv/bin/emovit reproduce --recipe emovit-2 --corpus emodb --root $D/emodb --corpus savee \
  --root $D/savee/ALL --corpus ravdess --root $D/ravdess --labels anger,disgust,fear,happiness,neutral,sadness \
  --protocol speaker --models plain --baseline none --precision fp32 --device cpu --quiet --out "$out"
OMP_NUM_THREADS=1 .venv/bin/emovit evaluate "$out" --model plain --precision fp32
OMP_NUM_THREADS=1 .venv/bin/python scripts/part_scores.py "$out" --model plain > "$out/val-per-corpus.json"
