#!/usr/bin/env bash
# TIM-Net's network on the students' log-Mel image (`timnet-mel`, its published recipe:
# benchmarks/peers/recipes/timnet-mel.toml, otherwise recipe emovit's settings) on the bundled model's split
# (BENCHMARKS.md, "The bundled model"): the same corpora, labels, protocol and seed as
# scripts/train_bundled_model.sh, so the held-out speakers are the shipped student's, TIM-Net's (on MFCCs) and
# openSMILE + SVM's of that run; then its robustness and its validation part scored corpus by corpus.
# One thread; from the repository root, ../shared beside it. Resumable.
set -euo pipefail
D=../shared/data
out=runs/bundle-6class-timnet-mel
OMP_NUM_THREADS=1 .venv/bin/emovit compare --recipe benchmarks/peers/recipes/timnet-mel.toml --corpus emodb \
  --root $D/emodb --corpus savee --root $D/savee/ALL --corpus ravdess --root $D/ravdess \
  --labels anger,disgust,fear,happiness,neutral,sadness --protocol speaker --models timnet-mel --time-runs 0 \
  --precision fp32 --device cpu --compile timnet-mel --quiet --out "$out"
OMP_NUM_THREADS=1 .venv/bin/emovit evaluate "$out" --model timnet-mel --precision fp32
OMP_NUM_THREADS=1 .venv/bin/python scripts/part_scores.py "$out" --model timnet-mel > "$out/val-per-corpus.json"
