"""What each expert of a `student-duo` network is worth on its own, fold by fold: test WA / UA of the student's
expert (the ViT's CLS and head), of TIM-Net's expert and of their answer together (the mean of their
log-probabilities, what the network says), from each fold's model file (`models/<model>.pt`; runs keep them,
benchmarks/ does not, so run the group first) on the fold's test clips (`split.csv`, view 0). The experts are
never selected on these numbers: the fold's model is the one its validation part chose.

    python scripts/expert_accuracy.py runs/peers/emodb-kfold-duo
"""
from __future__ import annotations

import argparse
import csv
import statistics
from pathlib import Path

import numpy as np
import torch

from emovit.audio import decode
from emovit.inference import Recognizer
from emovit.metrics import classification_report

NAMES = ("student's expert", "TIM-Net's expert", "together")


def fold_scores(fold: Path, model: str) -> list[tuple[float, float]]:
    """(WA, UA) of each expert and of the network on the fold's test clips."""
    recognizer = Recognizer.load(fold / "models" / f"{model}.pt", precision="fp32")
    network = recognizer.model
    with (fold / "split.csv").open() as f:
        test = [r for r in csv.DictReader(f) if r["part"] == "test" and r["view"] == "0"]
    clips = [recognizer.clip(decode(r["path"], recognizer.sample_rate).wave) for r in test]
    truth = np.array([recognizer.labels.index(r["label"]) for r in test])
    pooled = torch.from_numpy(np.concatenate([recognizer.embeddings(clips[i:i + 32])
                                              for i in range(0, len(clips), 32)]))
    with torch.no_grad():
        experts = network.head.experts(pooled)
        answers = [z.argmax(1).numpy() for z in (*experts, network.head(pooled))]
    reports = [classification_report(truth, a, recognizer.labels) for a in answers]
    return [(r["wa"], r["ua"]) for r in reports]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, help="a run directory of a student-duo group")
    parser.add_argument("--model", default="student-duo", help="the model's registry name, as in the run")
    args = parser.parse_args()
    folds = [f for f in sorted((args.run / "folds").glob("*"), key=lambda p: int(p.name))
             if (f / "models" / f"{args.model}.pt").is_file()]
    if not folds:
        raise SystemExit(f"{args.run}: no fold has models/{args.model}.pt")
    rows = []
    print("fold  " + "  ".join(f"{n:>22}" for n in NAMES) + "   (WA / UA)")
    for fold in folds:
        scores = fold_scores(fold, args.model)
        rows.append(scores)
        print(f"{fold.name:>4}  " + "  ".join(f"{wa:10.3f} / {ua:9.3f}" for wa, ua in scores))
    for i, name in enumerate(NAMES):
        was, uas = [r[i][0] for r in rows], [r[i][1] for r in rows]
        spread = (statistics.stdev(was), statistics.stdev(uas)) if len(rows) > 1 else (0.0, 0.0)
        print(f"{name}: WA {statistics.mean(was):.3f} ± {spread[0]:.3f}, UA {statistics.mean(uas):.3f} ± "
              f"{spread[1]:.3f} over {len(rows)} folds")


if __name__ == "__main__":
    main()
