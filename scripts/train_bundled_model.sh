#!/usr/bin/env bash
# Retrain emovit's bundled model and write its model card: EmoDB + SAVEE + RAVDESS from ../shared/data,
# six shared emotions, speaker-independent split (the same held-out speakers as every earlier bundled
# model). The shipped model (since 2026-12-07, the second pair) is joined from two runs of that split: the paper's
# student (CE only, recipe emovit-noise-mild: recipe emovit with speech-shaped noise mixed into 30% of its training
# images at every step, 5-25 dB) and TIM-Net's network on the same log-Mel image (timnet-mel-duo, recipe
# joined-noisy: TIM-Net's published optimiser, the students' augmented views and random crops, and the noise on half
# its images, 0-20 dB); `emovit join` makes them one student-duo file. A third run on the same split trains the
# peers of the card (TIM-Net on MFCCs with its published recipe, openSMILE + SVM) and the student without noise
# (the first pair's student expert). The pair's robustness is measured on the held-out speakers and on the
# validation part, which chose it (benchmarks/bundle-6class-noise/RULE.md), and its card written from the runs
# (scripts/bundle_model.py scores the pair on the test part). The three trainings are independent: run the compare
# commands below at once in separate shells on a machine with the cores. Resumable: run it again after an
# interruption.
# fp32 throughout: the shipped model was trained and evaluated in fp32 (`auto` on an AMD CPU without AMX),
# and an AMX CPU would otherwise train under bf16 autocast and give other figures than its card's.
# Usage: scripts/train_bundled_model.sh [RUN_DIR] [DATA_DIR] [TIMNET_RUN_DIR] [PEERS_RUN_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
RUN=${1:-runs/bundle-6class-noise-mild}
DATA=${2:-../shared/data}
TIM=${3:-runs/bundle-6class-noisy-timnet}
PEERS=${4:-runs/bundle-6class-emovit}
SPLIT="--corpus emodb --root $DATA/emodb --corpus savee --root $DATA/savee/ALL --corpus ravdess --root $DATA/ravdess \
--labels anger,disgust,fear,happiness,neutral,sadness --protocol speaker"
PEER_RUN="emovit compare --recipe emovit $SPLIT --models plain,timnet,opensmile --time-runs 0 --precision fp32 --out $PEERS"
STUDENT="emovit compare --recipe benchmarks/peers/recipes/emovit-noise-mild.toml $SPLIT --models plain --time-runs 0 \
--precision fp32 --device cpu --out $RUN"
EXPERT="emovit compare --recipe benchmarks/peers/recipes/joined-noisy.toml $SPLIT --models timnet-mel-duo --time-runs 0 \
--precision fp32 --device cpu --compile timnet-mel-duo --quiet --out $TIM"
JOIN="emovit join $RUN/models/plain.pt $TIM/models/timnet-mel-duo.pt --out $RUN/models/joined.pt"
.venv/bin/$PEER_RUN
OMP_NUM_THREADS=1 .venv/bin/$STUDENT
OMP_NUM_THREADS=1 .venv/bin/$EXPERT
.venv/bin/$JOIN
.venv/bin/emovit evaluate "$RUN" --model plain --precision fp32
.venv/bin/emovit evaluate "$RUN" --model joined --precision fp32 --out "$RUN/robustness-joined.json"
.venv/bin/emovit evaluate "$TIM" --model timnet-mel-duo --precision fp32
# the validation part, clean and under the robustness conditions: what chose the pair (RULE.md above)
.venv/bin/emovit evaluate "$RUN" --model joined --precision fp32 --part val --out "$RUN/robustness-val-joined.json"
.venv/bin/python scripts/part_scores.py "$RUN" --model plain > "$RUN/val-per-corpus.json"
.venv/bin/python scripts/part_scores.py "$RUN" --model joined > "$RUN/val-per-corpus-joined.json"
.venv/bin/python scripts/part_scores.py "$TIM" --model timnet-mel-duo > "$TIM/val-per-corpus.json"
.venv/bin/python scripts/bundle_model.py "$RUN" --model joined --temporal-run "$TIM" --peers-run "$PEERS" \
  --command "$STUDENT; $EXPERT; $JOIN (peers: $PEER_RUN)"
