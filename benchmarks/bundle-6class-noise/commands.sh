#!/usr/bin/env bash
# The bundled pair retrained with speech-shaped noise mixed into half of each expert's training images at every step,
# SNR uniform in 0-20 dB (stage.noise_prob, emovit.batch_augment.add_noise): the student expert with recipe
# emovit-noise (recipe emovit + the noise), the TIM-Net expert with joined-noisy (joined-robust + the noise), on the
# bundled model's split (BENCHMARKS.md, "The bundled model": the same corpora, labels, protocol and seed as
# scripts/train_bundled_model.sh, so the held-out speakers are the shipped pair's); then the join, the robustness of
# the pair and of each expert, and the validation part scored corpus by corpus, clean (scripts/part_scores.py) and
# under the robustness conditions (`emovit evaluate --part val`): what RULE.md chooses by, never the test part. Also
# the first pair's student expert (runs/bundle-6class-emovit) joined to the noisy TIM-Net expert, and the students
# with milder noise (emovit-noise-mild, shipped) and with white or speech-shaped noise per image (emovit-noise-mixed,
# a later candidate) joined to it. The trainings are independent: one thread each, two shells at once. From the
# repository root, ../shared beside it. Resumable.
set -euo pipefail
D=../shared/data
TIM=runs/bundle-6class-noisy-timnet
SPLIT=(--corpus emodb --root $D/emodb --corpus savee --root $D/savee/ALL --corpus ravdess --root $D/ravdess
       --labels anger,disgust,fear,happiness,neutral,sadness --protocol speaker --time-runs 0 --precision fp32 --device cpu)
export OMP_NUM_THREADS=1

candidate() {  # candidate RECIPE RUN: a student expert trained with RECIPE, joined to the noisy TIM-Net expert, scored
  local recipe=$1 run=$2
  .venv/bin/emovit compare --recipe "$recipe" "${SPLIT[@]}" --models plain --out "$run"
  .venv/bin/emovit join "$run/models/plain.pt" $TIM/models/timnet-mel-duo.pt --out "$run/models/joined.pt"
  .venv/bin/python scripts/part_scores.py "$run" --model plain > "$run/val-per-corpus.json"
  .venv/bin/python scripts/part_scores.py "$run" --model joined > "$run/val-per-corpus-joined.json"
  .venv/bin/emovit evaluate "$run" --model joined --precision fp32 --part val --out "$run/robustness-val-joined.json"
  .venv/bin/emovit evaluate "$run" --model joined --precision fp32 --out "$run/robustness-joined.json"
  .venv/bin/emovit evaluate "$run" --model plain --precision fp32
}

.venv/bin/emovit compare --recipe benchmarks/peers/recipes/joined-noisy.toml "${SPLIT[@]}" \
  --models timnet-mel-duo --compile timnet-mel-duo --quiet --out $TIM
.venv/bin/emovit evaluate $TIM --model timnet-mel-duo --precision fp32
.venv/bin/python scripts/part_scores.py $TIM --model timnet-mel-duo > $TIM/val-per-corpus.json
candidate benchmarks/peers/recipes/emovit-noise.toml runs/bundle-6class-noise
# the first pair and its student + the noisy TIM-Net expert, on the validation part (and that pair on test)
OLD=runs/bundle-6class-emovit
.venv/bin/emovit join $OLD/models/plain.pt $TIM/models/timnet-mel-duo.pt --out $OLD/models/joined-noisytim.pt
.venv/bin/python scripts/part_scores.py $OLD --model joined-noisytim > $OLD/val-per-corpus-joined-noisytim.json
.venv/bin/emovit evaluate $OLD --model joined-noisytim --precision fp32 --out $OLD/robustness-joined-noisytim.json
for model in joined joined-noisytim; do
  .venv/bin/emovit evaluate $OLD --model $model --precision fp32 --part val --out $OLD/robustness-val-$model.json
done
# the student expert with milder noise (30% of the images, 5-25 dB): the pair shipped
candidate benchmarks/peers/recipes/emovit-noise-mild.toml runs/bundle-6class-noise-mild
# white or speech-shaped noise drawn per image: a later candidate under the same rule (RULE.md)
candidate benchmarks/peers/recipes/emovit-noise-mixed.toml runs/bundle-6class-noise-mixed
