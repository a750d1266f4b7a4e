"""A run's model scored corpus by corpus on one part of its split (validation by default), through the
public recognizer on each clip's first 4 s as training saw it.

Why: a run's validation UA is one number over every corpus, but the validation parts differ in kind; in
the bundled model's `speaker` split EmoDB's and RAVDESS's validation clips come from speakers held out of
training, SAVEE's from its three training speakers (too few to hold one out). A recipe chosen on the
pooled number is chosen partly by how well it knows the training speakers; the per-corpus rows show which
part moved.

    python scripts/part_scores.py runs/bundle-paper-e20 --model plain --part val
    python scripts/part_scores.py runs/bundle-paper-e20 --model src/emovit/assets/student.pt   # same split
"""
from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

from sklearn.metrics import accuracy_score, balanced_accuracy_score

from emovit.audio import AudioError
from emovit.inference import Recognizer


def part_clips(run: Path, part: str) -> list[dict]:
    """The original clips (view 0) of `part` in RUN/split.csv."""
    with open(run / "split.csv", newline="") as f:
        return [row for row in csv.DictReader(f) if row["part"] == part and row["view"] in ("", "0")]


def scores(truth: list[str], predicted: list[str]) -> dict:
    return {"n": len(truth), "wa": accuracy_score(truth, predicted), "ua": balanced_accuracy_score(truth, predicted)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("--model", default="plain",
                        help="NAME for RUN/models/NAME.pt, or a model file trained on the same split")
    parser.add_argument("--part", default="val", choices=("train", "val", "test"))
    args = parser.parse_args()
    clips = part_clips(args.run, args.part)
    if not clips:
        parser.error(f"{args.run / 'split.csv'} has no {args.part} clips")
    model = Path(args.model) if args.model.endswith(".pt") else args.run / "models" / f"{args.model}.pt"
    recognizer = Recognizer.load(model, precision="fp32")
    recognizer.long_input = "first"  # as the run's own test read it
    predictions = recognizer.predict_batch([c["path"] for c in clips])
    failed = [(c["path"], p) for c, p in zip(clips, predictions) if isinstance(p, AudioError)]
    for path, error in failed:
        print(f"{path}: {error}", file=sys.stderr)
    scored = [(c, p.label) for c, p in zip(clips, predictions) if not isinstance(p, AudioError)]
    result = {"run": str(args.run), "model": str(model), "part": args.part, "failed": len(failed),
              "note": clips[0].get("val_note", "") if args.part == "val" else "",
              "all": scores([c["label"] for c, _ in scored], [p for _, p in scored]), "corpora": {}}
    for corpus in sorted({c["corpus"] for c, _ in scored}):
        rows = [(c, p) for c, p in scored if c["corpus"] == corpus]
        result["corpora"][corpus] = {**scores([c["label"] for c, _ in rows], [p for _, p in rows]),
                                     "speakers": sorted({c["speaker"] for c, _ in rows})}
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
