#!/usr/bin/env bash
# The runs behind BENCHMARKS.md's "Against the published state of the art" tables: per corpus and
# protocol (kfold: 10 stratified folds; emobox: EmoBox's published folds; loso: one speaker a fold), compare
# runs on the same folds (same seed):
#   emovit  the student with emovit's recipe, TIM-Net with its published recipe, openSMILE + SVM
#   paper   the paper's teacher, KT student and CE-only student (recipe paper-e20: 20 epochs a stage,
#           cut from the paper's 50 for compute; the rows say so)
#   paper-plain  the paper group's CE-only student alone (no teacher): the paper's recipe where the teacher is too costly
#   paper-plain-full  the same student with the paper's recipe at its full length (recipe paper: 50 epochs, the
#           learning rate halved every 10), where paper-plain cuts it to 20
#   paper-timnet-kd  the CE-only student (paper-e20) distilling the logits of TIM-Net trained on the same fold
#           (beyond the paper: + T^2 KL(TIM-Net || student) at T 4, weight 1; benchmarks/peers/recipes/), with
#           the same student without it (same initial weights) and that TIM-Net reported beside
#   paper-kd  the paper group's teacher and KT student with logit distillation added to the feature L1 (beyond
#           the paper: + T^2 KL(teacher || student) at T 4, weight 1, in stage 3; benchmarks/peers/recipes/)
#   emovit-2-kt  the paper's knowledge transfer given to recipe emovit-2's student: the paper group's teacher
#           (paper-e20), the student's match and CE + 10 x L1 stages at emovit-2's settings without crops and mixup
#           (benchmarks/peers/recipes/emovit-2-kt.toml): paired with the emovit-pick group's student
#   timnet-raw  TIM-Net alone on raw MFCCs, as its public code: rerun after that fix, on the same folds
#           (the committed emovit group's TIM-Net row read standardised MFCCs)
#   timnet-mel  TIM-Net's network with its published recipe on the students' log-Mel image instead of MFCCs
#           (beyond TIM-Net; benchmarks/peers/recipes/): beside timnet-raw, the input's share of the student's gap
#   paper-timnet-mel  the same network with the students' recipe paper-e20 (Adam 1e-4, batch 4, 20 epochs, the
#           paper's augmentations, best validation epoch): beside timnet-mel, the recipe's share of the gap
#   tim     the student-tim network (the student beside a 30-filter TIM-Net branch on the same image, its temporal
#           feature added to the CLS; beyond the paper, within its budget) with recipe emovit-2, CE only: paired with
#           the emovit-pick group's student (the same settings)
#   duo     the student-duo network (the student and a 33-filter TIM-Net on the same image as two experts, each with
#           its own classifier and loss, their log-probabilities averaged; beyond the paper, within its budget) with
#           recipe emovit-2: paired with the emovit-pick group's student and the timnet-mel group's TIM-Net
#   duo-lr  the same with its TIM-Net expert at TIM-Net's published optimiser settings (lr 1e-3, betas 0.93/0.98, no
#           weight decay; benchmarks/peers/recipes/duo.toml), the student's expert at emovit-2's
#   timnet-recipe  the paper's student network, CE only, with TIM-Net's published recipe (lr 1e-3, batch 64, label
#           smoothing 0.1, 500 epochs, original clips, last epoch; benchmarks/peers/recipes/timnet-recipe.toml):
#           beside paper-timnet-mel (TIM-Net's network with the students' recipe), the other half of the swap
#   joined  the paper's student (CE only) with recipe emovit-2 and TIM-Net's network on the same image at the duo's
#           width (timnet-mel-duo, 33 filters) with its published recipe, trained apart on the same folds, then each
#           fold's two joined into one student-duo file (emovit join; benchmarks/peers/recipes/joined.toml): the
#           duo with each expert at its own recipe; scores of each expert and of the pair in RUN/experts.txt, the
#           robustness of each (emovit evaluate) in RUN/robustness-{joined,plain,timnet-mel-duo}.json
#   joined-robust  the same with the TIM-Net expert trained on the students' four augmented views and random crops
#           (benchmarks/peers/recipes/joined-robust.toml), its optimiser and length still TIM-Net's
#   joined-kt  the joined-robust pair with the emovit-2-kt group's student (knowledge transfer) as its student expert
#           (benchmarks/peers/recipes/joined-kt.toml; where this machine has both groups' runs it only joins and scores)
#   stem    the student-stem network (a tiny conv stem, beyond the paper) with emovit's recipe, CE only:
#           paired with the emovit group's student on the same folds and seeds
#   paper-conv  the student-conv network (a depthwise conv over 7 frames' tokens added to them, beyond the
#           paper) with the paper's recipe (paper-e20), CE only: paired with the paper-plain group's student
#   paper-level  the student-level network (each token given its frame's mean and std, which the patch LayerNorm
#           removes; beyond the paper) with the paper's recipe (paper-e20), CE only: paired with paper-plain
#   paper-level-warm  the same, started from the student-level network pre-trained on the two other corpora
#           (runs/pretrain-<others>-level/models/plain.pt, made by benchmarks/pretrain/commands.sh CORPUS level)
#   warm    the student with emovit's recipe started from one pre-trained on the two other corpora (the
#           model file runs/pretrain-<others>/models/plain.pt, made by benchmarks/pretrain/commands.sh)
#   paper-warm  the CE-only student with the paper's recipe (paper-e20) started from the same pre-trained student
#   emovit-pick  the student with the recipe validation picked on EmoDB's speaker splits: recipe `emovit` without
#           SpecAugment masks and label smoothing (ablation variant 33, benchmarks/ablation-emodb-speaker/val2/recipes/;
#           the settings of the named recipe emovit-2)
#   svm     openSMILE + SVM alone (the reference where the emovit group's TIM-Net is too costly, e.g. loso)
#   paper-speaker  the paper-plain student with per-speaker normalisation (each part's clips centred on their
#           speaker's band means, the test speakers on their own unlabelled clips), and openSMILE + SVM with its
#           functionals standardised per speaker: both given the same speaker information
# Two processes (NPROC=1 for one, where the other core trains something else), one fold each at a time
# (torchrun --distribute folds), one thread each. Resumable:
# run it again and finished folds are not trained again. From the repository root, ../shared beside it:
#   bash benchmarks/peers/commands.sh emodb kfold emovit     (corpus: emodb savee ravdess; group: emovit emovit-pick paper paper-plain paper-plain-full paper-timnet-kd paper-kd emovit-2-kt timnet-raw timnet-mel paper-timnet-mel tim duo duo-lr timnet-recipe joined joined-robust joined-kt stem paper-conv paper-level paper-level-warm warm paper-warm svm paper-speaker)
# A fourth word, `continue`, first copies the finished folds (results, per-clip predictions, expert scores) of the run kept in benchmarks/peers/ (by
# scripts/keep_run.sh) into runs/peers/, so a run cut short in one session goes on in another from them.
set -euo pipefail
corpus=$1 protocol=$2 group=$3 mode=${4:-}
case $corpus in
  emodb) root=../shared/data/emodb ;;
  savee) root=../shared/data/savee/ALL ;;
  ravdess) root=../shared/data/ravdess ;;
esac
case $group in
  emovit) models=plain,timnet,opensmile recipe=emovit ;;
  emovit-pick) models=plain recipe=benchmarks/ablation-emodb-speaker/val2/recipes/v33.toml ;;
  paper) models=student,plain recipe=paper-e20 ;;
  paper-plain) models=plain recipe=paper-e20 ;;
  paper-plain-full) models=plain recipe=paper ;;
  paper-kd) models=student recipe=benchmarks/peers/recipes/paper-e20-kd.toml ;;
  emovit-2-kt) models=student recipe=benchmarks/peers/recipes/emovit-2-kt.toml ;;
  paper-timnet-kd) models=plain,plain-timnet recipe=benchmarks/peers/recipes/paper-e20-timnet-kd.toml ;;
  timnet-raw) models=timnet recipe=emovit ;;
  timnet-mel) models=timnet-mel recipe=benchmarks/peers/recipes/timnet-mel.toml ;;
  paper-timnet-mel) models=timnet-mel recipe=paper-e20 ;;
  tim) models=student-tim recipe=emovit-2 ;;
  duo) models=student-duo recipe=emovit-2 ;;
  duo-lr) models=student-duo recipe=benchmarks/peers/recipes/duo.toml ;;
  timnet-recipe) models=plain recipe=benchmarks/peers/recipes/timnet-recipe.toml ;;
  joined) models=plain,timnet-mel-duo recipe=benchmarks/peers/recipes/joined.toml ;;
  joined-robust) models=plain,timnet-mel-duo recipe=benchmarks/peers/recipes/joined-robust.toml ;;
  joined-kt) models=student,timnet-mel-duo recipe=benchmarks/peers/recipes/joined-kt.toml ;;
  stem) models=student-stem recipe=emovit ;;
  paper-conv) models=student-conv recipe=paper-e20 ;;
  paper-level) models=student-level recipe=paper-e20 ;;
  paper-level-warm) models=student-level recipe=paper-e20 ;;
  warm) models=plain recipe=emovit ;;
  paper-warm) models=plain recipe=paper-e20 ;;
  svm) models=opensmile recipe=emovit ;;
  paper-speaker) models=plain,opensmile recipe=benchmarks/peers/recipes/paper-e20-speaker.toml ;;
  *) echo "unknown group $group: emovit, emovit-pick, paper, paper-plain, paper-plain-full, paper-timnet-kd, paper-kd, emovit-2-kt, timnet-raw, timnet-mel, paper-timnet-mel, tim, duo, duo-lr, timnet-recipe, joined, joined-robust, joined-kt, stem, paper-conv, paper-level, paper-level-warm, warm, paper-warm, svm or paper-speaker" >&2; exit 2 ;;
esac
out=runs/peers/$corpus-$protocol-$group kept=benchmarks/peers/$corpus-$protocol-$group
if [ "$mode" = continue ]; then
  [ -f "$kept/config.json" ] || { echo "nothing kept in $kept to continue from" >&2; exit 2; }
  mkdir -p "$out"
  [ -f "$out/config.json" ] || cp "$kept/config.json" "$out/"
  for done in "$kept"/folds/*/results.json; do
    fold=$out/folds/$(basename "$(dirname "$done")")
    if [ ! -f "$fold/results.json" ]; then
      mkdir -p "$fold"
      cp "$done" "$fold/"
      for f in predictions.csv experts.json; do  # per-clip answers; a joined fold's expert scores
        if [ -f "$(dirname "$done")/$f" ]; then cp "$(dirname "$done")/$f" "$fold/"; fi
      done
    fi
  done
elif [ -n "$mode" ]; then
  echo "unknown fourth word $mode: continue, or nothing" >&2; exit 2
fi
# A trained stage is copied in from another group's run on this machine (same corpus and protocol) and not trained
# again where both recipes train it alike: the joined groups' student expert from the emovit-pick group's run (recipe
# emovit-2's settings), the emovit-2-kt group's teacher from the paper group's (recipe paper-e20's), the joined-kt
# group's teacher, student and TIM-Net expert from the emovit-2-kt and joined-robust groups'. Training is
# deterministic by seed, so the result is the same either way (EmoDB and SAVEE emobox trained the joined student
# again and reproduced emovit-pick's fold for fold). same_stage checks that two recipes train MODEL alike: every
# setting of its stages (a KT student's teacher's too) and of the recipe but the name, the model list, the baseline,
# the other models' overrides, the other networks' shapes and execution-only settings (the width of zero masks
# aside); a later edit of either recipe retrains it.
same_stage() { .venv/bin/python - "$1" "$2" "$3" <<'PY'
import sys
from dataclasses import asdict, replace
from emovit.config import EXECUTION_ONLY, StageConfig, load_recipe
model = sys.argv[1]
other = {"teacher": ("student_depth", "student_network"), "plain": ("teacher_depth",), "student": (),
         "timnet-mel-duo": ("teacher_depth", "student_depth", "student_network")}[model]
def stage(r, name):
    s = r.stage_for(name)
    return replace(s, **{k: getattr(StageConfig(), k) for k in EXECUTION_ONLY},
                   **({"freq_width": 0} if not s.freq_masks else {}), **({"time_width": 0} if not s.time_masks else {}))
def settings(path):
    r = load_recipe(path)
    out = asdict(replace(r, stage=stage(r, model)))
    if model == "student":  # it learns from the teacher
        out["teacher"] = asdict(stage(r, "teacher"))
    for key in ("name", "models", "baseline", "per_model", *other):
        del out[key]
    return out
sys.exit(settings(sys.argv[2]) != settings(sys.argv[3]))
PY
}
reuse() {  # reuse MODEL STAGE FROM-GROUP FROM-RECIPE: FROM-GROUP's finished STAGE folders, where trained alike
  same_stage "$1" "$4" "$recipe" || return 0
  for stage in runs/peers/$corpus-$protocol-$3/folds/*/"$2"/final.pt; do
    [ -f "$stage" ] || continue
    fold=$out/folds/$(basename "$(dirname "$(dirname "$stage")")")
    if [ ! -e "$fold/$2" ] && [ ! -f "$fold/results.json" ]; then
      mkdir -p "$fold" && cp -r "$(dirname "$stage")" "$fold/$2"
    fi
  done
}
case $group in
  joined|joined-robust) reuse plain plain emovit-pick benchmarks/ablation-emodb-speaker/val2/recipes/v33.toml ;;
  emovit-2-kt) reuse teacher teacher paper paper-e20 ;;
  joined-kt) kt=benchmarks/peers/recipes/emovit-2-kt.toml
    reuse teacher teacher emovit-2-kt "$kt"; reuse student match emovit-2-kt "$kt"; reuse student student emovit-2-kt "$kt"
    reuse timnet-mel-duo timnet-mel-duo joined-robust benchmarks/peers/recipes/joined-robust.toml ;;
esac
# TIM-Net's training steps run under torch.compile (its many small operations; from 2026-12-02, RAVDESS kfold
# fold 3 on: the same arithmetic up to rounding, BENCHMARKS.md "Training speed")
compile=()
case $models in timnet-mel) compile=(--compile timnet-mel) ;; *timnet-mel-duo) compile=(--compile timnet-mel-duo) ;;
  *timnet*) compile=(--compile timnet) ;; esac
others=$(printf '%s\n' emodb savee ravdess | grep -vx "$corpus" | paste -sd- -)  # what a warm start was pre-trained on
init=()
case $group in
  warm|paper-warm) init=(--init-from "runs/pretrain-$others/models/plain.pt") ;;
  paper-level-warm) init=(--init-from "runs/pretrain-$others-level/models/plain.pt") ;;
esac
OMP_NUM_THREADS=1 PYTHONUNBUFFERED=1 .venv/bin/torchrun --standalone --nproc-per-node "${NPROC:-2}" -m emovit.cli compare \
  --recipe "$recipe" --corpus "$corpus" --root "$root" --protocol "$protocol" --folds 10 --models "$models" \
  --distribute folds --device cpu --time-runs 0 --quiet "${compile[@]}" "${init[@]}" --out "$out"
case $group in joined|joined-robust|joined-kt)  # each fold's student and TIM-Net joined into one student-duo file, scored
  student=${models%%,*}  # the group's first model: plain, or joined-kt's KT student
  .venv/bin/python scripts/expert_accuracy.py "$out" --join $student,timnet-mel-duo --model joined --out "$out/experts.txt"
  for m in joined $student timnet-mel-duo; do  # the pair and each expert off the corpus's conditions, each fold's test clips
    OMP_NUM_THREADS=1 .venv/bin/emovit evaluate "$out" --model "$m" --precision fp32 --out "$out/robustness-$m.json" >/dev/null
  done ;;
esac
