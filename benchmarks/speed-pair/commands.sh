#!/usr/bin/env bash
# The bundled pair (student + TIM-Net expert, joined; 2026-12-07) against the student it replaced, side by side:
# `emovit benchmark speed` on each, alternating, twice each, fp32, then the pair's one-hour timeline and its peak
# memory. The student alone is the pair's own student expert file (runs/bundle-6class-emovit/models/plain.pt, made
# by scripts/train_bundled_model.sh; the model shipped 2026-11-30 to 12-07). From the repository root, on an idle
# machine (the figures are ratios of one run; absolute times move by a third between rounds on a small VM).
set -euo pipefail
cd "$(dirname "$0")/../.."
out=benchmarks/speed-pair
student=${1:-runs/bundle-6class-emovit/models/plain.pt}
for round in 1 2; do
  .venv/bin/emovit benchmark speed --model "$student" --hour-seconds 0 --precision fp32 --json "$out/student-$round.json"
  .venv/bin/emovit benchmark speed --hour-seconds 0 --precision fp32 --json "$out/pair-$round.json"
done
.venv/bin/emovit benchmark speed --no-onnx --precision fp32 --json "$out/pair-hour.json"
