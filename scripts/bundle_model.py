"""Ship a trained student as emovit's bundled model, with a model card written from its run.

    python scripts/bundle_model.py RUN_DIR --command "the emovit command that made RUN_DIR"

Copies RUN_DIR/models/student.pt to src/emovit/assets/student.pt and writes
src/emovit/assets/MODEL_CARD.md from RUN_DIR/results.json and config.json, so every number in the
card comes from the run that produced the weights.
"""
from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

ASSETS = Path(__file__).resolve().parents[1] / "src" / "emovit" / "assets"


def card(results: dict, config: dict, command: str) -> str:
    split = results["split"]
    sizes, speakers = split["sizes"], split["speakers"]
    rows = []
    for name in ("student", "plain", "teacher", "opensmile"):
        m = results["models"].get(name)
        if m:
            rows.append(f"| {m.get('title', m.get('model', name))} | {m['wa']:.3f} | {m['ua']:.3f} | {m['macro_f1']:.3f} |")
    student = results["models"]["student"]
    machine = config["machine"]
    shared = sorted(set(speakers["test"]) & set(speakers["train"]))
    return f"""# Model card: emovit bundled student

**What it is**: the student ViT of Kim & Lee (2024) — 128x1 vertical patches, depth 3, dim 256,
{student['params_m']:.2f}M parameters, {student['gmacs']:.2f} GMACs per 4 s clip — trained by knowledge
transfer from a conv-stem + coordinate-encoding teacher (stages 1-3 of the paper, {student['epochs']}
epochs per stage, the `paper` recipe).

**Labels** ({len(results['labels'])}): {', '.join(results['labels'])}.

**Training data**: {', '.join(config['corpora'])} ({config['n_utterances']} utterances), German acted speech.
Split under the `{results['protocol']}` protocol, seed {results['seed']}: train {sizes['train']} /
validation {sizes['val']} / test {sizes['test']} clips; {len(speakers['test'])} speakers appear in the
test part, **{len(shared)} of them also in training** (the paper's protocol is not speaker-independent).
Leakage audit: {results['leakage']['verdict']}.

**Held-out accuracy** on that test part (touched once), next to the other models of the same run:

| model | WA | UA | macro-F1 |
|---|---|---|---|
{chr(10).join(rows)}

**How it was made**: `{command}` on {machine['cpu']} ({machine['cpu_count']} CPUs, torch
{machine['torch']}); then `python scripts/bundle_model.py RUN_DIR --command "..."`.

**Known limits**
- One corpus: 10 German actors, read sentences, studio quality. Expect much lower accuracy on
  other languages, spontaneous speech, noise, or telephone audio; this model has not been tested
  on any speaker it did not train on.
- Only the first 4 s of a clip are seen; use a timeline (`--window`) for longer recordings.
- Acted, exaggerated emotions; 7 classes including boredom; no "calm" or "surprise".
- A demonstration model for the quick start, not a general-purpose emotion recognizer.
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("--command", required=True, help="the emovit command that produced the run")
    args = parser.parse_args()
    results = json.loads((args.run / "results.json").read_text())
    config = json.loads((args.run / "config.json").read_text())
    ASSETS.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(args.run / "models" / "student.pt", ASSETS / "student.pt")
    (ASSETS / "MODEL_CARD.md").write_text(card(results, config, args.command))
    print(f"bundled {args.run}/models/student.pt -> {ASSETS}")


if __name__ == "__main__":
    main()
