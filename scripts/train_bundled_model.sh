#!/usr/bin/env bash
# Retrain emovit's bundled model and write its model card: EmoDB + SAVEE + RAVDESS from ../shared/data,
# six shared emotions, speaker-independent split (the same held-out speakers as every earlier bundled
# model). The shipped model is a pair joined from two runs of that split: the paper's student (CE only,
# recipe emovit) trained next to TIM-Net and openSMILE + SVM, and TIM-Net's network on the same log-Mel image
# (timnet-mel-duo, the `joined-robust` expert of BENCHMARKS.md: TIM-Net's published optimiser, the students'
# augmented views and random crops); `emovit join` makes them one student-duo file, whose robustness on the
# held-out speakers is then measured and whose card is written from both runs (scripts/bundle_model.py scores
# the pair on the test part). The two trainings are independent: run the two compare commands below at once
# in two shells on a machine with the cores. Resumable: run it again after an interruption.
# fp32 throughout: the shipped model was trained and evaluated in fp32 (`auto` on an AMD CPU without AMX),
# and an AMX CPU would otherwise train under bf16 autocast and give other figures than its card's.
# Usage: scripts/train_bundled_model.sh [RUN_DIR] [DATA_DIR] [TIMNET_RUN_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
RUN=${1:-runs/bundle-6class-emovit}
DATA=${2:-../shared/data}
TIM=${3:-runs/bundle-6class-joined-timnet}
SPLIT="--corpus emodb --root $DATA/emodb --corpus savee --root $DATA/savee/ALL --corpus ravdess --root $DATA/ravdess \
--labels anger,disgust,fear,happiness,neutral,sadness --protocol speaker"
STUDENT="emovit compare --recipe emovit $SPLIT --models plain,timnet,opensmile --time-runs 0 --precision fp32 --out $RUN"
EXPERT="emovit compare --recipe benchmarks/peers/recipes/joined-robust.toml $SPLIT --models timnet-mel-duo --time-runs 0 \
--precision fp32 --device cpu --compile timnet-mel-duo --quiet --out $TIM"
JOIN="emovit join $RUN/models/plain.pt $TIM/models/timnet-mel-duo.pt --out $RUN/models/joined.pt"
.venv/bin/$STUDENT
OMP_NUM_THREADS=1 .venv/bin/$EXPERT
.venv/bin/$JOIN
.venv/bin/emovit evaluate "$RUN" --model plain --precision fp32
.venv/bin/emovit evaluate "$RUN" --model joined --precision fp32 --out "$RUN/robustness-joined.json"
.venv/bin/emovit evaluate "$TIM" --model timnet-mel-duo --precision fp32
# the validation part scored corpus by corpus: the rule that ships the pair (its validation UA at least the student's)
.venv/bin/python scripts/part_scores.py "$RUN" --model plain > "$RUN/val-per-corpus.json"
.venv/bin/python scripts/part_scores.py "$RUN" --model joined > "$RUN/val-per-corpus-joined.json"
.venv/bin/python scripts/part_scores.py "$TIM" --model timnet-mel-duo > "$TIM/val-per-corpus.json"
.venv/bin/python scripts/bundle_model.py "$RUN" --model joined --temporal-run "$TIM" --command "$STUDENT; $EXPERT; $JOIN"
