"""What each expert of a `student-duo` network is worth on its own, fold by fold: WA / UA of the student's
expert (the ViT's CLS and head), of TIM-Net's expert and of their answer together (the mean of their
log-probabilities, what the network says), from each fold's model file (`models/<model>.pt`; runs keep them,
benchmarks/ does not, so run the group first) on the fold's test clips and on its validation clips
(`split.csv`, view 0). The experts are never selected on these numbers: the fold's model is the one its
validation part chose.

With `--join STUDENT,TEMPORAL` each fold's duo is first made from two models the run trained apart
(`emovit join models/STUDENT.pt models/TEMPORAL.pt`, written to `models/<model>.pt`): the `joined` group of
benchmarks/peers/commands.sh. Each fold's scores go to `folds/N/experts.json` (kept by scripts/keep_run.sh and
copied back by `commands.sh ... continue`, so a run resumed in another session, whose earlier folds have no model
files, still tables every fold); the table of all folds that have one is printed and, with `--out`, written there.

    python scripts/expert_accuracy.py runs/peers/emodb-kfold-duo
    python scripts/expert_accuracy.py runs/peers/emodb-kfold-joined --join plain,timnet-mel-duo --model joined
"""
from __future__ import annotations

import argparse
import csv
import json
import statistics
from pathlib import Path

import numpy as np
import torch

from emovit.audio import decode
from emovit.checkpoint import save_json, save_text
from emovit.inference import Recognizer
from emovit.join import join
from emovit.metrics import classification_report

NAMES = ("student's expert", "TIM-Net's expert", "together")
PARTS = ("test", "val")


def fold_scores(fold: Path, model: str) -> dict[str, list[tuple[float, float]]]:
    """Per part (test, validation): (WA, UA) of each expert and of the network on the fold's clips of it."""
    recognizer = Recognizer.load(fold / "models" / f"{model}.pt", precision="fp32")
    network = recognizer.model
    with (fold / "split.csv").open() as f:
        split = [r for r in csv.DictReader(f) if r["view"] == "0"]
    scores = {}
    for part in PARTS:
        rows = [r for r in split if r["part"] == part]
        clips = [recognizer.clip(decode(r["path"], recognizer.sample_rate).wave) for r in rows]
        truth = np.array([recognizer.labels.index(r["label"]) for r in rows])
        pooled = torch.from_numpy(np.concatenate([recognizer.embeddings(clips[i:i + 32])
                                                  for i in range(0, len(clips), 32)]))
        with torch.no_grad():
            experts = network.head.experts(pooled)
            answers = [z.argmax(1).numpy() for z in (*experts, network.head(pooled))]
        reports = [classification_report(truth, a, recognizer.labels) for a in answers]
        scores[part] = [(r["wa"], r["ua"]) for r in reports]
    return scores


def table(rows: dict[str, list[list[tuple[float, float]]]], folds: list[str]) -> str:
    """Per fold and part, then each expert's mean ± std over the folds."""
    lines = ["fold  part  " + "  ".join(f"{n:>22}" for n in NAMES) + "   (WA / UA)"]
    for i, fold in enumerate(folds):
        for part in PARTS:
            lines.append(f"{fold:>4}  {part:>4}  " + "  ".join(f"{wa:10.3f} / {ua:9.3f}" for wa, ua in rows[part][i]))
    for part in PARTS:
        for j, name in enumerate(NAMES):
            was, uas = [r[j][0] for r in rows[part]], [r[j][1] for r in rows[part]]
            spread = (statistics.stdev(was), statistics.stdev(uas)) if len(was) > 1 else (0.0, 0.0)
            lines.append(f"{part} {name}: WA {statistics.mean(was):.3f} ± {spread[0]:.3f}, UA "
                         f"{statistics.mean(uas):.3f} ± {spread[1]:.3f} over {len(was)} folds")
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
    scores = [json.loads((fold / "experts.json").read_text()) for fold in folds]
    rows = {part: [s[part] for s in scores] for part in PARTS}
    text = table(rows, [f.name for f in folds])
    print(text, end="")
    if args.out:
        save_text(text, args.out)


if __name__ == "__main__":
    main()
