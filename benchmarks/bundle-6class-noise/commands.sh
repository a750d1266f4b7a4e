#!/usr/bin/env bash
# The bundled pair retrained with speech-shaped noise mixed into half of each expert's training images at every step,
# SNR uniform in 0-20 dB (stage.noise_prob, emovit.batch_augment.add_noise): the student expert with recipe
# emovit-noise (recipe emovit + the noise), the TIM-Net expert with joined-noisy (joined-robust + the noise), on the
# bundled model's split (BENCHMARKS.md, "The bundled model": the same corpora, labels, protocol and seed as
# scripts/train_bundled_model.sh, so the held-out speakers are the shipped pair's); then the join, the robustness of
# the pair and of each expert, and the validation part scored corpus by corpus, clean (scripts/part_scores.py) and
# under the robustness conditions (`emovit evaluate --part val`): what RULE.md chooses by, never the test part. Also
# the shipped student expert (runs/bundle-6class-emovit, scripts/train_bundled_model.sh) joined to the noisy TIM-Net
# expert, and the student with milder noise (recipe emovit-noise-mild) joined to it. The trainings are independent:
# one thread each, two shells at once. From the repository root, ../shared beside it. Resumable.
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
# the shipped pair and the shipped student + the noisy TIM-Net expert, on the validation part (and that pair on test)
OLD=runs/bundle-6class-emovit
.venv/bin/emovit join $OLD/models/plain.pt $TIM/models/timnet-mel-duo.pt --out $OLD/models/joined-noisytim.pt
OMP_NUM_THREADS=1 .venv/bin/python scripts/part_scores.py $OLD --model joined-noisytim > $OLD/val-per-corpus-joined-noisytim.json
OMP_NUM_THREADS=1 .venv/bin/emovit evaluate $OLD --model joined-noisytim --precision fp32 --out $OLD/robustness-joined-noisytim.json
for model in joined joined-noisytim; do
  OMP_NUM_THREADS=1 .venv/bin/emovit evaluate $OLD --model $model --precision fp32 --part val --out $OLD/robustness-val-$model.json
done
OMP_NUM_THREADS=1 .venv/bin/emovit evaluate $STUDENT --model joined --precision fp32 --part val --out $STUDENT/robustness-val-joined.json
# the student expert with milder noise (30% of the images, 5-25 dB), joined to the noisy TIM-Net expert
MILD=runs/bundle-6class-noise-mild
OMP_NUM_THREADS=1 .venv/bin/emovit compare --recipe benchmarks/peers/recipes/emovit-noise-mild.toml "${SPLIT[@]}" \
  --models plain --out $MILD
.venv/bin/emovit join $MILD/models/plain.pt $TIM/models/timnet-mel-duo.pt --out $MILD/models/joined.pt
for model in plain joined; do
  suffix=$([ $model = joined ] && echo -joined || true)
  OMP_NUM_THREADS=1 .venv/bin/python scripts/part_scores.py $MILD --model $model > $MILD/val-per-corpus$suffix.json
done
OMP_NUM_THREADS=1 .venv/bin/emovit evaluate $MILD --model joined --precision fp32 --part val --out $MILD/robustness-val-joined.json
OMP_NUM_THREADS=1 .venv/bin/emovit evaluate $MILD --model joined --precision fp32 --out $MILD/robustness-joined.json
OMP_NUM_THREADS=1 .venv/bin/emovit evaluate $MILD --model plain --precision fp32
# the student expert with white or speech-shaped noise drawn per image (recipe emovit-noise-mixed), joined to the same
# noisy TIM-Net expert: a later candidate under the same rule (RULE.md)
MIXED=runs/bundle-6class-noise-mixed
OMP_NUM_THREADS=1 .venv/bin/emovit compare --recipe benchmarks/peers/recipes/emovit-noise-mixed.toml "${SPLIT[@]}" \
  --models plain --out $MIXED
.venv/bin/emovit join $MIXED/models/plain.pt $TIM/models/timnet-mel-duo.pt --out $MIXED/models/joined.pt
for model in plain joined; do
  suffix=$([ $model = joined ] && echo -joined || true)
  OMP_NUM_THREADS=1 .venv/bin/python scripts/part_scores.py $MIXED --model $model > $MIXED/val-per-corpus$suffix.json
done
OMP_NUM_THREADS=1 .venv/bin/emovit evaluate $MIXED --model joined --precision fp32 --part val --out $MIXED/robustness-val-joined.json
OMP_NUM_THREADS=1 .venv/bin/emovit evaluate $MIXED --model joined --precision fp32 --out $MIXED/robustness-joined.json
OMP_NUM_THREADS=1 .venv/bin/emovit evaluate $MIXED --model plain --precision fp32
