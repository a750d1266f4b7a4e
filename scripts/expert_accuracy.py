"""What each expert of a `student-duo` network is worth on its own, fold by fold: WA / UA of the student's
expert (the ViT's CLS and head), of TIM-Net's expert and of their answer together (the mean of their
log-probabilities, what the network says), from each fold's model file (`models/<model>.pt`; runs keep them,
benchmarks/ does not, so run the group first) on the fold's test clips and on its validation clips
(`split.csv`, view 0). The experts are never selected on these numbers: the fold's model is the one its
validation part chose.

With `--join STUDENT,TEMPORAL` each fold's duo is first made from two models the run trained apart
(`emovit join models/STUDENT.pt models/TEMPORAL.pt`, written to `models/<model>.pt`): the `joined` group of
benchmarks/peers/commands.sh. Each fold's scores (WA, UA, macro-F1, confusion) go to `folds/N/experts.json` (kept
by scripts/keep_run.sh and copied back by `commands.sh ... continue`, so a run resumed in another session, whose
earlier folds have no model files, still tables every fold). Over all folds that have one, each expert's mean and
(population) std and its pooled scores, as `emovit compare` summarises a model, go to `RUN/experts.json`
(scripts/peer_tables.py makes a row of the pair from it); their table is printed and, with `--out`, written there.

    python scripts/expert_accuracy.py runs/peers/emodb-kfold-duo
    python scripts/expert_accuracy.py runs/peers/emodb-kfold-joined --join plain,timnet-mel-duo --model joined
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from emovit.checkpoint import save_json, save_text
from emovit.inference import Recognizer
from emovit.join import EXPERTS as NAMES
from emovit.join import expert_answers, join
from emovit.metrics import classification_report, summarize_folds
from emovit.protocols import read_split
PARTS = ("test", "val")


def fold_scores(fold: Path, model: str) -> dict[str, dict[str, dict]]:
    """Per part (test, validation) and expert (and the network): its report on the fold's clips of that part."""
    recognizer = Recognizer.load(fold / "models" / f"{model}.pt", precision="fp32")
    split = read_split(fold / "split.csv")
    scores = {}
    for part in PARTS:
        clips = split.originals(part)
        truth = np.array([recognizer.labels.index(u.label) for u in clips])
        answers = expert_answers(recognizer, [u.path for u in clips])
        reports = {name: classification_report(truth, a, recognizer.labels) for name, a in answers.items()}
        scores[part] = {name: {k: r[k] for k in ("wa", "ua", "macro_f1", "confusion")} for name, r in reports.items()}
    return scores


def summary(scores: list[dict], folds: list[str]) -> dict:
    """Per part and expert, `emovit compare`'s summary of a model over the folds (mean, population std, pooled)."""
    return {"folds": folds, **{part: {name: summarize_folds([s[part][name] for s in scores]) for name in NAMES}
                               for part in PARTS}}


def table(summed: dict) -> str:
    """Per fold and part, then each expert's mean ± std over the folds and its pooled scores."""
    lines = ["fold  part  " + "  ".join(f"{n:>22}" for n in NAMES) + "   (WA / UA)"]
    for i, fold in enumerate(summed["folds"]):
        for part in PARTS:
            lines.append(f"{fold:>4}  {part:>4}  " + "  ".join(
                f"{summed[part][n]['wa']['folds'][i]:10.3f} / {summed[part][n]['ua']['folds'][i]:9.3f}" for n in NAMES))
    for part in PARTS:
        for name in NAMES:
            s = summed[part][name]
            lines.append(f"{part} {name}: WA {s['wa']['mean']:.3f} ± {s['wa']['std']:.3f}, UA {s['ua']['mean']:.3f} ± "
                         f"{s['ua']['std']:.3f} over {s['n_folds']} folds (population std); pooled WA "
                         f"{s['pooled']['wa']:.3f}, UA {s['pooled']['ua']:.3f}")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, help="a run directory of a student-duo (or joined) group")
    parser.add_argument("--model", default="student-duo", help="the duo's model name in the run's models/")
    parser.add_argument("--join", help="STUDENT,TEMPORAL: make each fold's duo from these two of its models first")
    parser.add_argument("--out", type=Path, help="also write the table to this file")
    args = parser.parse_args()
    fold_dirs = sorted((args.run / "folds").glob("*"), key=lambda p: int(p.name))
    if args.join:
        student, temporal = args.join.split(",")
        for fold in fold_dirs:
            parts = [fold / "models" / f"{name}.pt" for name in (student, temporal)]
            if all(p.is_file() for p in parts):
                join(*parts, fold / "models" / f"{args.model}.pt")
    for fold in fold_dirs:
        if (fold / "models" / f"{args.model}.pt").is_file():
            save_json(fold_scores(fold, args.model), fold / "experts.json")
    folds = [f for f in fold_dirs if (f / "experts.json").is_file()]
    if not folds:
        raise SystemExit(f"{args.run}: no fold has models/{args.model}.pt or experts.json")
    summed = summary([json.loads((fold / "experts.json").read_text()) for fold in folds], [f.name for f in folds])
    save_json(summed, args.run / "experts.json")
    text = table(summed)
    print(text, end="")
    if args.out:
        save_text(text, args.out)


if __name__ == "__main__":
    main()
