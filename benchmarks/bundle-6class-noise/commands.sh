#!/usr/bin/env bash
# The bundled pair retrained with speech-shaped noise mixed into half of each expert's training images at every step,
# SNR uniform in 0-20 dB (stage.noise_prob, emovit.batch_augment.add_noise): the student expert with recipe
# emovit-noise (recipe emovit + the noise), the TIM-Net expert with joined-noisy (joined-robust + the noise), on the
# bundled model's split (BENCHMARKS.md, "The bundled model": the same corpora, labels, protocol and seed as
# scripts/train_bundled_model.sh, so the held-out speakers are the shipped pair's); then the join, the robustness of
# the pair and of each expert, and the validation part scored corpus by corpus (the rule that decides what ships:
# validation UA, never the test part). The two trainings are independent: one thread each, two shells at once.
# From the repository root, ../shared beside it. Resumable.
set -euo pipefail
D=../shared/data
STUDENT=runs/bundle-6class-noise
TIM=runs/bundle-6class-noisy-timnet
SPLIT=(--corpus emodb --root $D/emodb --corpus savee --root $D/savee/ALL --corpus ravdess --root $D/ravdess
       --labels anger,disgust,fear,happiness,neutral,sadness --protocol speaker --time-runs 0 --precision fp32 --device cpu)
OMP_NUM_THREADS=1 .venv/bin/emovit compare --recipe benchmarks/peers/recipes/emovit-noise.toml "${SPLIT[@]}" \
  --models plain --out $STUDENT
OMP_NUM_THREADS=1 .venv/bin/emovit compare --recipe benchmarks/peers/recipes/joined-noisy.toml "${SPLIT[@]}" \
  --models timnet-mel-duo --compile timnet-mel-duo --quiet --out $TIM
.venv/bin/emovit join $STUDENT/models/plain.pt $TIM/models/timnet-mel-duo.pt --out $STUDENT/models/joined.pt
OMP_NUM_THREADS=1 .venv/bin/emovit evaluate $STUDENT --model joined --precision fp32 --out $STUDENT/robustness-joined.json
OMP_NUM_THREADS=1 .venv/bin/emovit evaluate $STUDENT --model plain --precision fp32
OMP_NUM_THREADS=1 .venv/bin/emovit evaluate $TIM --model timnet-mel-duo --precision fp32
for model in plain joined; do
  suffix=$([ $model = joined ] && echo -joined || true)
  OMP_NUM_THREADS=1 .venv/bin/python scripts/part_scores.py $STUDENT --model $model > $STUDENT/val-per-corpus$suffix.json
done
OMP_NUM_THREADS=1 .venv/bin/python scripts/part_scores.py $TIM --model timnet-mel-duo > $TIM/val-per-corpus.json
