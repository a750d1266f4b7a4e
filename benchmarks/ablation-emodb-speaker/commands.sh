#!/usr/bin/env bash
set -euo pipefail
# The ablation runs of BENCHMARKS.md "The student's recipe": EmoDB, speaker-independent splits (seeds 0-2),
# the CE-only student with recipe emovit and variants of it (indices of scripts/ablate_recipe.py VARIANTS),
# one thread each, two at a time; then the robustness of the recipe and of the speech-noise variant.
.venv/bin/python scripts/ablate_recipe.py --out runs/ablation-si2 --corpus emodb --root ../shared/data/emodb \
    --splits speaker:0 --variants 0,2,10,11 --parallel 2
.venv/bin/python scripts/ablate_recipe.py --out runs/ablation-si2 --corpus emodb --root ../shared/data/emodb \
    --splits speaker:0,speaker:1,speaker:2 --variants 0,13,14,15 --parallel 2
# beyond the paper for new speakers: speaker-adversarial training (16, 17) and a warm start from the student
# pre-trained on SAVEE + RAVDESS (18; the pre-training first: one thread, ~21 min)
bash benchmarks/pretrain/commands.sh emodb
.venv/bin/python scripts/ablate_recipe.py --out runs/ablation-si2 --corpus emodb --root ../shared/data/emodb \
    --splits speaker:0,speaker:1,speaker:2 --variants 16,17,18 --parallel 2
# a frequency warp of the training images (19: mel axis scaled by 0.9-1.1; 20: by 0.96-1.04)
.venv/bin/python scripts/ablate_recipe.py --out runs/ablation-si2 --corpus emodb --root ../shared/data/emodb \
    --splits speaker:0,speaker:1,speaker:2 --variants 19,20 --parallel 2
# the warm start with a gentler fine-tuning (21: lr 1e-4)
.venv/bin/python scripts/ablate_recipe.py --out runs/ablation-si2 --corpus emodb --root ../shared/data/emodb \
    --splits speaker:0,speaker:1,speaker:2 --variants 21 --parallel 1
# the functionals taught, on the other two splits (11); a classical model's cross-fitted probabilities taught (22)
.venv/bin/python scripts/ablate_recipe.py --out runs/ablation-si2 --corpus emodb --root ../shared/data/emodb \
    --splits speaker:1,speaker:2 --variants 11 --parallel 1
.venv/bin/python scripts/ablate_recipe.py --out runs/ablation-si2 --corpus emodb --root ../shared/data/emodb \
    --splits speaker:0,speaker:1,speaker:2 --variants 22 --parallel 1
# recipe emovit with the paper's optimiser (1: Adam 1e-4 halved every 10 epochs, batch 4, 50 epochs)
.venv/bin/python scripts/ablate_recipe.py --out runs/ablation-si2 --corpus emodb --root ../shared/data/emodb \
    --splits speaker:0,speaker:1,speaker:2 --variants 1 --parallel 1
# the paper's recipe (paper-e20, CE only) on the same splits: alone (0), warm-started (18), with random crops (23),
# with repeat padding (24), with random crops on a quarter of the clips (25)
.venv/bin/python scripts/ablate_recipe.py --out runs/ablation-paper --recipe paper-e20 --corpus emodb \
    --root ../shared/data/emodb --splits speaker:0,speaker:1,speaker:2 --variants 0,18,23,24,25 --parallel 2
for v in v0 v18 v23 v24 v25; do for s in 0 1 2; do
  .venv/bin/emovit evaluate runs/ablation-paper/$v-speaker-s$s --model plain --precision fp32
done; done
for v in v0 v15 v18; do for s in 0 1 2; do
  .venv/bin/emovit evaluate runs/ablation-si2/$v-speaker-s$s --model plain --precision fp32
done; done
.venv/bin/python scripts/ablate_recipe.py --out runs/ablation-si2 --corpus emodb --root ../shared/data/emodb \
    --splits speaker:0,speaker:1,speaker:2 --variants 0,1,2,10,11,13,14,15,16,17,18,19,20,21,22 --table-only   # ablation.md
.venv/bin/python scripts/ablate_recipe.py --out runs/ablation-paper --recipe paper-e20 --corpus emodb \
    --root ../shared/data/emodb --splits speaker:0,speaker:1,speaker:2 --variants 0,18,23,24,25 --table-only   # paper-e20/ablation.md
# the same two recipes (paper-e20 alone, 0; with random crops, 23) with two validation speakers a split, not one
.venv/bin/python scripts/ablate_recipe.py --out runs/ablation-paper-val2 --recipe paper-e20 --corpus emodb \
    --root ../shared/data/emodb --splits speaker:0,speaker:1,speaker:2 --variants 0,23 --val-speakers 2 --parallel 1
for v in v0 v23; do for s in 0 1 2; do
  .venv/bin/emovit evaluate runs/ablation-paper-val2/$v-speaker-s$s --model plain --precision fp32
done; done
# with two validation speakers: the paper's recipe warm-started (18), warm-started with random crops (26);
# recipe emovit alone (0) and warm-started (18)
.venv/bin/python scripts/ablate_recipe.py --out runs/ablation-paper-val2 --recipe paper-e20 --corpus emodb \
    --root ../shared/data/emodb --splits speaker:0,speaker:1,speaker:2 --variants 18,26 --val-speakers 2 --parallel 1
.venv/bin/python scripts/ablate_recipe.py --out runs/ablation-si2-val2 --corpus emodb --root ../shared/data/emodb \
    --splits speaker:0,speaker:1,speaker:2 --variants 0,18 --val-speakers 2 --parallel 2
for s in 0 1 2; do
  for v in v18 v26; do .venv/bin/emovit evaluate runs/ablation-paper-val2/$v-speaker-s$s --model plain --precision fp32; done
  for v in v0 v18; do .venv/bin/emovit evaluate runs/ablation-si2-val2/$v-speaker-s$s --model plain --precision fp32; done
done
.venv/bin/python scripts/ablate_recipe.py --out runs/ablation-paper-val2 --recipe paper-e20 --corpus emodb \
    --root ../shared/data/emodb --splits speaker:0,speaker:1,speaker:2 --variants 0,23,18,26 --val-speakers 2 --table-only   # paper-e20-val2/ablation.md
.venv/bin/python scripts/ablate_recipe.py --out runs/ablation-si2-val2 --corpus emodb --root ../shared/data/emodb \
    --splits speaker:0,speaker:1,speaker:2 --variants 0,18 --val-speakers 2 --table-only   # val2/ablation.md
# per-speaker normalisation (27: each part's clips centred on their speaker's band means, the test speakers on their
# own unlabelled clips), with two validation speakers, under the paper's recipe and recipe emovit (Intel Xeon with AMX,
# bf16 autocast by precision auto; the models need a speaker's reference, so `emovit evaluate` does not run them)
.venv/bin/python scripts/ablate_recipe.py --out runs/ablation-paper-val2 --recipe paper-e20 --corpus emodb \
    --root ../shared/data/emodb --splits speaker:0,speaker:1,speaker:2 --variants 0,27 --val-speakers 2 --parallel 1
.venv/bin/python scripts/ablate_recipe.py --out runs/ablation-si2-val2 --corpus emodb --root ../shared/data/emodb \
    --splits speaker:0,speaker:1,speaker:2 --variants 27 --val-speakers 2 --parallel 1
# the student-conv network (28: a depthwise conv over 7 frames' tokens added to them) under the paper's recipe,
# two validation speakers (Intel Xeon with AMX, bf16 autocast, 2026-12-02)
.venv/bin/python scripts/ablate_recipe.py --out runs/ablation-paper-val2 --recipe paper-e20 --corpus emodb \
    --root ../shared/data/emodb --splits speaker:0,speaker:1,speaker:2 --variants 28 --val-speakers 2 --parallel 1
# per-utterance normalisation (10) under the paper's recipe, two validation speakers; then the robustness of it and
# of the per-speaker-normalised students (27), which `emovit evaluate` calibrates on each test speaker's clips in
# each condition (Intel Xeon with AMX, 2026-12-02)
.venv/bin/python scripts/ablate_recipe.py --out runs/ablation-paper-val2 --recipe paper-e20 --corpus emodb \
    --root ../shared/data/emodb --splits speaker:0,speaker:1,speaker:2 --variants 10 --val-speakers 2 --parallel 1
for s in 0 1 2; do for v in v27 v10; do
  .venv/bin/emovit evaluate runs/ablation-paper-val2/$v-speaker-s$s --model plain --precision fp32
done; done
# per-speaker normalisation with a warm start from a student pre-trained on SAVEE + RAVDESS with it (29)
bash benchmarks/pretrain/commands.sh emodb speaker
.venv/bin/python scripts/ablate_recipe.py --out runs/ablation-paper-val2 --recipe paper-e20 --corpus emodb \
    --root ../shared/data/emodb --splits speaker:0,speaker:1,speaker:2 --variants 29 --val-speakers 2 --parallel 1
# the student-level network (30: each frame's mean and std, which the patch LayerNorm removes, given to its token)
# under both recipes, and (31) warm-started from the same network pre-trained on SAVEE + RAVDESS, two validation
# speakers (AMD EPYC with AVX-512, no AMX, fp32, 2026-12-02)
bash benchmarks/pretrain/commands.sh emodb level
.venv/bin/python scripts/ablate_recipe.py --out runs/ablation-paper-val2 --recipe paper-e20 --corpus emodb \
    --root ../shared/data/emodb --splits speaker:0,speaker:1,speaker:2 --variants 30,31 --val-speakers 2 --parallel 2
.venv/bin/python scripts/ablate_recipe.py --out runs/ablation-si2-val2 --corpus emodb --root ../shared/data/emodb \
    --splits speaker:0,speaker:1,speaker:2 --variants 30 --val-speakers 2 --parallel 1
for s in 0 1 2; do
  for v in v30 v31; do .venv/bin/emovit evaluate runs/ablation-paper-val2/$v-speaker-s$s --model plain --precision fp32; done
  .venv/bin/emovit evaluate runs/ablation-si2-val2/v30-speaker-s$s --model plain --precision fp32
done
# each ingredient of recipe emovit switched off in turn (5 no weight average, 3 no masks, 4 no mixup, 6 no label
# smoothing), dropout 0.1 (8), batch 32 with lr 1.2e-3 (9), stochastic depth 0.1 (32), and the combinations the
# validation scores pick (33, 34), two validation speakers (AMD EPYC with AVX-512, no AMX, fp32, 2026-12-02/03)
for v in 5 3 4 6 8 9 32 33 34; do
  .venv/bin/python scripts/ablate_recipe.py --out runs/ablation-si2-val2 --corpus emodb --root ../shared/data/emodb \
      --splits speaker:0,speaker:1,speaker:2 --variants $v --val-speakers 2 --parallel 1
  for s in 0 1 2; do .venv/bin/emovit evaluate runs/ablation-si2-val2/v$v-speaker-s$s --model plain --precision fp32; done
done
# a band limit for narrowband audio (35: the mel bins above a random cutoff of 3.4-8 kHz silenced on half the images)
# beside the paper-e20 recipe rerun, both evaluated with narrowband audio (AMD EPYC with AVX-512, no AMX, fp32,
# 2026-12-07)
.venv/bin/python scripts/ablate_recipe.py --out runs/ablation-paper-val2-band --recipe paper-e20 --corpus emodb \
    --root ../shared/data/emodb --splits speaker:0,speaker:1,speaker:2 --variants 0,35 --val-speakers 2 --parallel 1
for s in 0 1 2; do for v in v0 v35; do
  .venv/bin/emovit evaluate runs/ablation-paper-val2-band/$v-speaker-s$s --model plain --precision fp32
done; done
# the band limit (35) under recipe emovit beside the recipe rerun (0) (same machine, 2026-12-07)
.venv/bin/python scripts/ablate_recipe.py --out runs/ablation-si2-val2 --corpus emodb --root ../shared/data/emodb \
    --splits speaker:0,speaker:1,speaker:2 --variants 35,0 --val-speakers 2 --parallel 1
for s in 0 1 2; do for v in v0 v35; do
  .venv/bin/emovit evaluate runs/ablation-si2-val2/$v-speaker-s$s --model plain --precision fp32
done; done
# speech-shaped noise mixed into half the images at every step, 0-20 dB (36), beside the same rerun of the recipe
.venv/bin/python scripts/ablate_recipe.py --out runs/ablation-si2-val2 --corpus emodb --root ../shared/data/emodb \
    --splits speaker:0,speaker:1,speaker:2 --variants 36 --val-speakers 2 --parallel 1
for s in 0 1 2; do .venv/bin/emovit evaluate runs/ablation-si2-val2/v36-speaker-s$s --model plain --precision fp32; done
# The six tables again, robustness columns included (means over the splits of each run's robustness.json,
# the 0.7 s and speech-noise top answers as ranges), read from the outputs kept in this folder: no run needed
B=benchmarks/ablation-emodb-speaker
T=(--corpus emodb --root ../shared/data/emodb --splits speaker:0,speaker:1,speaker:2 --table-only)
.venv/bin/python scripts/ablate_recipe.py --out $B "${T[@]}" --variants 0,1,2,10,11,13,14,15,16,17,18,19,20,21,22
.venv/bin/python scripts/ablate_recipe.py --out $B/paper-e20 --recipe paper-e20 "${T[@]}" --variants 0,18,23,24,25
.venv/bin/python scripts/ablate_recipe.py --out $B/paper-e20-val2 --recipe paper-e20 "${T[@]}" --variants 0,23,18,26,27,28,10,29,30,31 --val-speakers 2
.venv/bin/python scripts/ablate_recipe.py --out $B/val2 "${T[@]}" --variants 0,5,3,4,6,8,9,32,33,34,18,27,30 --val-speakers 2
.venv/bin/python scripts/ablate_recipe.py --out $B/paper-e20-val2-band --recipe paper-e20 "${T[@]}" --variants 0,35 --val-speakers 2
.venv/bin/python scripts/ablate_recipe.py --out $B/val2-band "${T[@]}" --variants 0,35,36 --val-speakers 2
