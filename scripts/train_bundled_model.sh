#!/usr/bin/env bash
# Retrain emovit's bundled model and write its model card: EmoDB + SAVEE + RAVDESS from ../shared/data,
# six shared emotions, speaker-independent split, teacher then student (knowledge transfer), with the
# openSMILE baseline on the same split. About 1.5 h on one core of a 2-vCPU AVX2 machine (a GPU: minutes).
# Resumable: run it again after an interruption. Usage: scripts/train_bundled_model.sh [RUN_DIR] [DATA_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
RUN=${1:-runs/bundle-6class-e8}
DATA=${2:-../shared/data}
COMMAND="emovit reproduce --corpus emodb --root $DATA/emodb --corpus savee --root $DATA/savee/ALL \
--corpus ravdess --root $DATA/ravdess --labels anger,disgust,fear,happiness,neutral,sadness --protocol speaker \
--recipe bundled-e8 --out $RUN"
.venv/bin/$COMMAND
.venv/bin/python scripts/bundle_model.py "$RUN" --command "$COMMAND"
