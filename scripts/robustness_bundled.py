"""Robustness of the bundled model on its held-out EmoDB speakers (crops, joined timelines, noise).

    .venv/bin/python scripts/robustness_bundled.py --root ../shared/data/emodb --out /tmp/robustness-bundled.json

Test items: EmoDB utterances of the bundled model's held-out speakers (08 and 11, see
src/emovit/assets/MODEL_CARD.md) whose label is one of the model's six; the speech-shaped noise
is shaped by the long-term spectrum of every other EmoDB speaker's utterances (training side).
Prints the Markdown tables and writes the full result as JSON.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from emovit.corpora import index_corpus
from emovit.recognizer import Recognizer
from emovit.robustness import evaluate_robustness, robustness_markdown, targets_report

HELD_OUT = ("08", "11")  # MODEL_CARD.md: "emodb: 95 clips of speakers 08, 11"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", default="../shared/data/emodb", help="EmoDB folder (its wav/ inside or itself)")
    ap.add_argument("--model", default=None, help="model file or run directory (default: the bundled model)")
    ap.add_argument("--speakers", default=",".join(HELD_OUT), help="held-out (test) speakers, comma-separated")
    ap.add_argument("--out", default="/tmp/robustness-bundled.json", help="where to write the JSON result")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--precision", default="fp32", help="fp32 (reference), bf16 or auto")
    ap.add_argument("--no-joined", action="store_true", help="skip the joined-recording timeline")
    args = ap.parse_args(argv)

    root = Path(args.root)
    if (root / "wav").is_dir():
        root = root / "wav"
    rec = Recognizer.load(args.model, precision=args.precision)
    test_speakers = {s.strip() for s in args.speakers.split(",") if s.strip()}
    utts = index_corpus("emodb", root).utterances
    test = [u for u in utts if u.speaker in test_speakers]
    reference = [u.path for u in utts if u.speaker not in test_speakers and u.label in rec.labels]
    if not test:
        print(f"no utterances of speakers {sorted(test_speakers)} under {root}", file=sys.stderr)
        return 1

    began = time.perf_counter()
    result = evaluate_robustness(rec, [(u.path, u.label) for u in test], seed=args.seed,
                                 noise_reference=reference, joined=not args.no_joined)
    result["setup"] = {"corpus": "emodb", "root": str(root), "test_speakers": sorted(test_speakers),
                       "reference_speakers": sorted({u.speaker for u in utts} - test_speakers),
                       "precision": args.precision, "seconds": round(time.perf_counter() - began, 1)}
    result["targets"] = targets_report(result)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1))
    print(robustness_markdown(result))
    print(f"{len(test)} test items ({result['evaluated']} evaluated, skipped {result['skipped_labels']}); "
          f"JSON: {out}; {result['setup']['seconds']} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
