"""A run's model scored corpus by corpus on one part of its split (validation by default), through the
public recognizer on each clip's first 4 s as training saw it.

Why: a run's validation UA is one number over every corpus, but the validation parts differ in kind; in
the bundled model's `speaker` split EmoDB's and RAVDESS's validation clips come from speakers held out of
training, SAVEE's from its three training speakers (too few to hold one out). A recipe chosen on the
pooled number is chosen partly by how well it knows the training speakers; the per-corpus rows show which
part moved.

    python scripts/part_scores.py runs/bundle-paper-e20 --model plain --part val
    python scripts/part_scores.py runs/bundle-paper-e20 --model src/emovit/assets/bundled.pt   # same split
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from emovit.audio import AudioError
from emovit.inference import Recognizer
from emovit.metrics import classification_report, per_group_reports
from emovit.protocols import read_split


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("--model", default="plain",
                        help="NAME for RUN/models/NAME.pt, or a model file trained on the same split")
    parser.add_argument("--part", default="val", choices=("train", "val", "test"))
    args = parser.parse_args()
    split = read_split(args.run / "split.csv")
    clips = split.originals(args.part)
    if not clips:
        parser.error(f"{args.run / 'split.csv'} has no {args.part} clips")
    model = Path(args.model) if args.model.endswith(".pt") else args.run / "models" / f"{args.model}.pt"
    recognizer = Recognizer.load(model, precision="fp32")
    unknown = sorted({u.label for u in clips} - set(recognizer.labels))
    if unknown:
        parser.error(f"{model} has no class {', '.join(unknown)}: it was not trained on this split")
    recognizer.long_input = "first"  # as the run's own test read it
    predictions = recognizer.predict_batch([u.path for u in clips])
    for u, p in zip(clips, predictions):
        if isinstance(p, AudioError):
            print(f"{u.path}: {p}", file=sys.stderr)
    scored = [(u, recognizer.labels.index(p.label)) for u, p in zip(clips, predictions) if not isinstance(p, AudioError)]
    truth = [recognizer.labels.index(u.label) for u, _ in scored]
    predicted = [p for _, p in scored]
    corpora = [u.corpus for u, _ in scored]
    result = {"run": str(args.run), "model": str(model), "part": args.part, "failed": len(clips) - len(scored),
              "note": split.val_note if args.part == "val" else "",
              "all": classification_report(truth, predicted, recognizer.labels),
              "corpora": per_group_reports(truth, predicted, corpora, recognizer.labels)}
    for corpus, report in result["corpora"].items():
        report["speakers"] = sorted({u.speaker for u, _ in scored if u.corpus == corpus})
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
