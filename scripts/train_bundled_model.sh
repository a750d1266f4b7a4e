#!/usr/bin/env bash
# Retrain emovit's bundled model and write its model card: EmoDB + SAVEE + RAVDESS from ../shared/data,
# six shared emotions, speaker-independent split (the same held-out speakers as every earlier bundled
# model), the student trained with emovit's recipe next to TIM-Net and openSMILE + SVM on the same
# split; then its robustness on the held-out speakers. Resumable: run it again after an interruption.
# fp32 throughout: the shipped model was trained and evaluated in fp32 (`auto` on an AMD CPU without AMX),
# and an AMX CPU would otherwise train under bf16 autocast and give other figures than its card's.
# Usage: scripts/train_bundled_model.sh [RUN_DIR] [DATA_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
RUN=${1:-runs/bundle-6class-emovit}
DATA=${2:-../shared/data}
COMMAND="emovit compare --recipe emovit --corpus emodb --root $DATA/emodb --corpus savee --root $DATA/savee/ALL \
--corpus ravdess --root $DATA/ravdess --labels anger,disgust,fear,happiness,neutral,sadness --protocol speaker \
--models plain,timnet,opensmile --time-runs 0 --precision fp32 --out $RUN"
.venv/bin/$COMMAND
.venv/bin/emovit evaluate "$RUN" --model plain --precision fp32
.venv/bin/python scripts/bundle_model.py "$RUN" --model plain --command "$COMMAND"
