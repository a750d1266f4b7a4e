"""Which timeline window suits continuous speech: the bundled model reads clips joined into ~60 s
recordings (emovit.robustness, as `emovit evaluate` does) with several windows and hops, on the
validation part of its own split (what a test-time setting may be chosen by) and on its held-out test
speakers (reported, never used to choose).

    python scripts/timeline_window.py --data ../shared/data --out benchmarks/timeline-window

The split is rebuilt from the corpora exactly as `scripts/train_bundled_model.sh` made it (`speaker`,
seed 0, six emotions) and checked against the held-out speakers the model card names.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from emovit.checkpoint import save_json, save_text
from emovit.corpora import index_corpus, merge_corpora, select_labels
from emovit.hardware import machine
from emovit.inference import Recognizer
from emovit.protocols import make_split
from emovit.robustness import evaluate_robustness

LABELS = ["anger", "disgust", "fear", "happiness", "neutral", "sadness"]
CORPORA = {"emodb": "emodb", "savee": "savee/ALL", "ravdess": "ravdess"}
HELD_OUT = {"emodb:08", "emodb:11", "savee:DC", "ravdess:03", "ravdess:17", "ravdess:22", "ravdess:23", "ravdess:24"}
SETTINGS = ((4.0, 2.0), (4.0, 1.0), (3.0, 1.5), (2.0, 1.0), (2.0, 0.5), (1.5, 0.75), (1.0, 0.5))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--model", type=Path, default=Path("src/emovit/assets/bundled.pt"))
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    utterances = merge_corpora([index_corpus(name, args.data / folder).utterances for name, folder in CORPORA.items()])
    utterances, _ = select_labels(utterances, LABELS)
    split = make_split(utterances, "speaker", seed=0)
    held_out = {u.speaker for u in split.test}
    if held_out != HELD_OUT:
        raise SystemExit(f"the rebuilt split holds out {sorted(held_out)}, not the model card's {sorted(HELD_OUT)}")
    recognizer = Recognizer.load(args.model, precision="fp32")
    rows, started = [], time.perf_counter()
    for window, hop in SETTINGS:
        row = {"window": window, "hop": hop}
        for part in ("val", "test"):
            items = [(u.path, u.label) for u in split.originals(part)]
            joined = evaluate_robustness(recognizer, items, crops=(), snrs=(), noises=(), narrow=False, window=window,
                                         hop=hop)["joined"]
            row[part] = {k: joined[k] for k in ("timeline_wa", "timeline_ua", "timeline_n", "clip_wa", "clip_wa_scored",
                                                "excluded_no_majority", "clips_scored", "clips")}
        rows.append(row)
        print(f"window {window:g} s, hop {hop:g} s: validation timeline WA {row['val']['timeline_wa']:.3f} "
              f"(clips {row['val']['clip_wa_scored']:.3f}), test {row['test']['timeline_wa']:.3f} "
              f"(clips {row['test']['clip_wa_scored']:.3f})", flush=True)
    chosen = max(rows, key=lambda r: r["val"]["timeline_wa"])
    result = {"model": str(args.model), "machine": machine(), "seconds": time.perf_counter() - started,
              "split": "speaker, seed 0, six emotions (scripts/train_bundled_model.sh)", "settings": rows,
              "chosen_on_validation": {"window": chosen["window"], "hop": chosen["hop"]}}
    lines = ["| window / hop (s) | validation: timeline WA | validation: the same clips one by one | "
             "test: timeline WA | test: the same clips one by one | test windows |", "|---|---|---|---|---|---|"]
    for r in rows:
        mark = " (chosen)" if r is chosen else ""
        lines.append(f"| {r['window']:g} / {r['hop']:g}{mark} | {r['val']['timeline_wa']:.3f} | "
                     f"{r['val']['clip_wa_scored']:.3f} | {r['test']['timeline_wa']:.3f} | "
                     f"{r['test']['clip_wa_scored']:.3f} | {r['test']['timeline_n']} |")
    args.out.mkdir(parents=True, exist_ok=True)
    save_json(result, args.out / "timeline-window.json")
    save_text("\n".join(lines) + "\n", args.out / "timeline-window.md")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
