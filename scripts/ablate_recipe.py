"""Ablation of a recipe: each ingredient switched off (or changed) in turn, on several splits, side by
side with the recipe itself; the table says which ingredient helps on validation data (what a
recipe may be chosen by) and what the test parts say.

    python scripts/ablate_recipe.py --out runs/ablation --corpus emodb --root ../shared/data/emodb \
        --splits paper:0,paper:1,speaker:0 --parallel 2

Every variant is a recipe file written to OUT/recipes/ (the base recipe with some settings replaced)
and trained with `emovit reproduce --recipe FILE`; runs resume when the script is run again, and
OUT/commands.sh lists every command. OUT/ablation.md has, per variant: validation UA at the
selected epoch and test WA/UA, mean +- std over the splits.
"""
from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from emovit.config import load_recipe
from emovit.robustness import NARROWBAND

# the student pre-trained on SAVEE + RAVDESS (benchmarks/pretrain/commands.sh emodb), and recipe emovit's crops
WARM_START = {"init_from": "runs/pretrain-savee-ravdess/models/plain.pt"}
# the same pre-training with per-speaker normalisation (benchmarks/pretrain/commands.sh emodb speaker)
WARM_START_SPEAKER = {"init_from": "runs/pretrain-savee-ravdess-speaker/models/plain.pt", "normalization": "speaker"}
# the student-level network pre-trained the same way (benchmarks/pretrain/commands.sh emodb level)
WARM_START_LEVEL = {"init_from": "runs/pretrain-savee-ravdess-level/models/plain.pt", "student_network": "student-level"}
HALF_CROPS = {"stage.crop_prob": 0.5, "stage.crop_min_frames": 16}
# the two switches of recipe emovit that raised validation UA on EmoDB's speaker splits (variants 3 and 6)
VALIDATION_PICK = {"stage.freq_masks": 0, "stage.time_masks": 0, "stage.label_smoothing": 0.0}
# variant -> recipe settings that replace the base recipe's ("stage.x" for stage settings)
VARIANTS = {
    "recipe": {},
    "paper optimiser (Adam 1e-4 halved every 10, batch 4, 50 epochs; masks, crops, mixup, average kept)": {
        "stage.optimizer": "adam", "stage.lr": 1e-4, "stage.weight_decay": 0.0, "stage.schedule": "step",
        "stage.lr_halve_every": 10, "stage.warmup_epochs": 0, "stage.batch_size": 4, "stage.epochs": 50},
    "no random crops": {"stage.crop_prob": 0.0},
    "no SpecAugment masks": {"stage.freq_masks": 0, "stage.time_masks": 0},
    "no mixup": {"stage.mixup_prob": 0.0},
    "no weight average": {"stage.ema_decay": 0.0},
    "no label smoothing": {"stage.label_smoothing": 0.0},
    "no augmented views (original clips only)": {"augment.views": 1},
    "dropout 0.1": {"dropout": 0.1},
    "batch 32, lr 1.2e-3 (scaled)": {"stage.batch_size": 32, "stage.lr": 1.2e-3},
    "+ per-utterance normalisation": {"normalization": "utterance"},
    "+ openSMILE functionals taught (weight 1)": {"stage.functionals_weight": 1.0},
    "+ both": {"normalization": "utterance", "stage.functionals_weight": 1.0},
    "network: student-learned (+ learned positional embedding)": {"student_network": "student-learned"},
    "network: student-stem (+ tiny conv stem, 8-8-1 channels)": {"student_network": "student-stem"},
    "noise view: speech-shaped noise at 5-25 dB (not white at 15-30)": {"augment.noise_kind": "speech",
                                                                        "augment.noise_snr_db": [5.0, 25.0]},
    "+ speaker-adversarial training (reversed gradient 0.3)": {"stage.speaker_adversarial": 0.3},
    "+ speaker-adversarial training (reversed gradient 1.0)": {"stage.speaker_adversarial": 1.0},
    "warm start: pre-trained on SAVEE + RAVDESS (all 8 classes, their `paper` split), then this recipe": WARM_START,
    "+ frequency warp (mel axis scaled by 0.9-1.1 per image)": {"stage.freq_warp": 0.1},
    "+ frequency warp 0.96-1.04 (at the top bins about VTLP's 0.9-1.1 in Hz)": {"stage.freq_warp": 0.04},
    "warm start, then a gentler fine-tuning (lr 1e-4, not 3e-4)": {**WARM_START, "stage.lr": 1e-4},
    "+ a classical model's probabilities taught (logistic regression on the functionals, cross-fitted by speaker; weight 1)": {
        "stage.classical_kd_weight": 1.0},
    "+ random crops of 0.5-4 s on half the clips (with --recipe paper-e20: the paper's recipe, robust to short input)": HALF_CROPS,
    "+ repeat padding (a clip shorter than 4 s repeated until the frame is full, in training and at test)": {
        "frontend.pad": "repeat"},
    "+ random crops of 0.5-4 s on a quarter of the clips": {"stage.crop_prob": 0.25, "stage.crop_min_frames": 16},
    "warm start (as above) + random crops of 0.5-4 s on half the clips": {**WARM_START, **HALF_CROPS},
    "+ per-speaker normalisation (each part's clips centred on their speaker's band means; test speakers on their own clips)": {
        "normalization": "speaker"},
    "network: student-conv (+ a depthwise conv over 7 frames' tokens: local order, beyond the paper)": {
        "student_network": "student-conv"},
    "+ per-speaker normalisation, warm start from a student pre-trained on SAVEE + RAVDESS with it": WARM_START_SPEAKER,
    "network: student-level (+ each frame's mean and std, which the patch LayerNorm removes, beyond the paper)": {
        "student_network": "student-level"},
    "network: student-level, warm start from the same network pre-trained on SAVEE + RAVDESS": WARM_START_LEVEL,
    "+ stochastic depth 0.1 (residual branches skipped in training: 0, 0.05, 0.1 over the three layers)": {
        "drop_path": 0.1},
    "validation's pick: no SpecAugment masks, no label smoothing (each raised validation UA on 2 of 3 splits)":
        VALIDATION_PICK,
    "validation's pick with the weight average off too (it raised validation UA on 3 of 3 splits)": {
        **VALIDATION_PICK, "stage.ema_decay": 0.0},
    "+ band limit: the mel bins above a random cutoff of 3.4-8 kHz silenced on half the images (narrowband audio)": {
        "stage.band_prob": 0.5},
    "+ speech-shaped noise mixed into half the images at every step, SNR uniform in 0-20 dB (noisy audio)": {
        "stage.noise_prob": 0.5},
}


def toml_value(value) -> str:
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if value is None:
        return '""'
    return repr(value)


def write_recipe(base: str, overrides: dict, path: Path) -> None:
    """The base recipe with `overrides`, as a self-contained TOML file."""
    recipe = load_recipe(base).with_overrides(overrides).to_dict()
    lines = []
    for key, value in recipe.items():
        if not isinstance(value, dict) and value is not None:
            lines.append(f"{key} = {toml_value(value)}")
    for section in ("frontend", "augment", "stage"):
        lines += ["", f"[{section}]"] + [f"{k} = {toml_value(v)}" for k, v in recipe[section].items() if v is not None]
    for model, settings in recipe["per_model"].items():
        lines += ["", f"[per_model.{model}]"] + [f"{k} = {toml_value(v)}" for k, v in settings.items()]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")


def planned(args) -> list[tuple[str, str, list[str]]]:
    """(variant, split name, emovit arguments) of every run."""
    runs = []
    for i, (variant, overrides) in enumerate(VARIANTS.items()):
        if args.variants and str(i) not in args.variants.split(","):
            continue
        recipe = args.out / "recipes" / f"v{i}.toml"
        if not args.table_only:  # a table is read from the runs as they were made
            write_recipe(args.recipe, overrides, recipe)
        for split in args.splits.split(","):
            protocol, seed = split.split(":")
            out = args.out / f"v{i}-{protocol}-s{seed}"
            validation = ["--val-speakers", str(args.val_speakers)] if args.val_speakers else []
            runs.append((variant, split, ["reproduce", "--recipe", str(recipe), "--corpus", args.corpus, "--root",
                                          str(args.root), "--protocol", protocol, "--seed", seed, "--models", "plain",
                                          *validation, "--baseline", "none", "--device", "cpu", "--quiet",
                                          "--out", str(out)]))
    return runs


def run_all(args, runs) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    emovit = [sys.executable, "-m", "emovit.cli"]
    (args.out / "commands.sh").write_text("".join(f"emovit {shlex.join(a)}\n" for _, _, a in runs))
    waiting = [r for r in runs if not (Path(r[2][-1]) / "results.json").exists()]
    running: list[subprocess.Popen] = []
    while waiting or running:
        while waiting and len(running) < args.parallel:
            _, _, arguments = waiting.pop(0)
            log = open(f"{arguments[-1]}.log", "a")
            running.append(subprocess.Popen(emovit + arguments, stdout=log, stderr=subprocess.STDOUT, env=env))
        time.sleep(5)
        running = [p for p in running if p.poll() is None]


def table(runs) -> str:
    """The ablation table of the finished runs; where every split of a variant has an `emovit evaluate`
    robustness.json, its means (WA) beside: 1 s and 0.7 s centre crops, 10 dB of white and of
    speech-shaped noise, joined clips read as a timeline, and the range over splits of the 0.7 s top answer;
    narrowband audio too where a robustness.json has it (evaluated since 2026-12-07).
    Reads a run directory as emovit writes it or as scripts/keep_run.sh keeps it."""
    by_variant: dict[str, list[dict]] = {}
    for variant, split, arguments in runs:
        out = Path(arguments[-1])
        if not (out / "results.json").exists():
            continue
        results = json.loads((out / "results.json").read_text())
        model = results["models"]["plain"]
        history_file = out / "plain" / "history.json"
        history = json.loads((history_file if history_file.exists() else out / "history-plain.json").read_text())
        val = history[model["selected_epoch"]["plain"] - 1]["val_ua"]
        row = {"val_ua": val, "wa": model["wa"], "ua": model["ua"], "split": split}
        if (out / "robustness.json").exists():
            row["robustness"] = json.loads((out / "robustness.json").read_text())["splits"]["split"]
        by_variant.setdefault(variant, []).append(row)
    robust = any("robustness" in r for rows in by_variant.values() for r in rows)
    narrow = any(NARROWBAND in r["robustness"]["conditions"] for rows in by_variant.values() for r in rows
                 if "robustness" in r)
    lines = ["| variant | splits | validation UA | test WA | test UA | validation UA per split |"
             + (" 1 s crops | 0.7 s crops (top answer) | white 10 dB | speech-shaped 10 dB (top answer) | timeline |"
                if robust else "") + (" narrowband 8 kHz (top answer) |" if narrow else ""),
             "|---|---|---|---|---|---|" + ("---|" * 5 if robust else "") + ("---|" if narrow else "")]
    for variant, rows in by_variant.items():
        cells = []
        for key in ("val_ua", "wa", "ua"):
            values = np.array([r[key] for r in rows])
            cells.append(f"{values.mean():.3f} ± {values.std():.3f}")
        per_split = ", ".join(f"{r['val_ua']:.3f}" for r in rows)
        line = f"| {variant} | {', '.join(r['split'] for r in rows)} | " + " | ".join(cells) + f" | {per_split} |"
        if robust:
            line += robustness_cells([r.get("robustness") for r in rows], narrow)
        lines.append(line)
    return "\n".join(lines) + "\n"


def robustness_cells(splits: list[dict | None], narrow: bool = False) -> str:
    """The robustness columns of one variant: means over its splits, or dashes where a split has none."""
    if any(s is None for s in splits):
        return " – |" * (6 if narrow else 5)
    conditions = [s["conditions"] for s in splits]

    def cell(name: str, top: bool = False) -> str:
        text = f"{np.mean([c[name]['wa'] for c in conditions]):.3f}"
        return f"{text} ({top_answer([c[name]['top_answer'] for c in conditions])})" if top else text

    timeline = np.mean([s["joined"]["timeline_wa"] for s in splits])
    out = (f" {cell('crop_1s')} | {cell('crop_0.7s', top=True)} | {cell('white_10dB')} | "
           f"{cell('speech_10dB', top=True)} | {timeline:.3f} |")
    if narrow:
        out += f" {cell(NARROWBAND, top=True)} |" if all(NARROWBAND in c for c in conditions) else " – |"
    return out


def top_answer(tops: list[dict]) -> str:
    """The range over splits of the most frequent answer's share; the classes over 40% (the robustness
    target: no class over 40% of the answers) named and in bold."""
    low, high = (round(100 * f) for f in (min(t["fraction"] for t in tops), max(t["fraction"] for t in tops)))
    share = f"{low}%" if low == high else f"{low}-{high}%"
    collapsed = list(dict.fromkeys(t["label"] for t in tops if t["fraction"] > 0.4))
    return f"**{'/'.join(collapsed)} {share}**" if collapsed else share


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--corpus", default="emodb")
    parser.add_argument("--root", type=Path, default=Path("../shared/data/emodb"))
    parser.add_argument("--recipe", default="emovit", help="The base recipe (a name or a .toml file).")
    parser.add_argument("--splits", default="paper:0,paper:1,speaker:0", help="protocol:seed,...")
    parser.add_argument("--variants", default="", help="Indices of VARIANTS to run (default: all).")
    parser.add_argument("--val-speakers", type=int, help="Validation speakers of each split (emovit reproduce "
                                                         "--val-speakers; default: the protocol's).")
    parser.add_argument("--parallel", type=int, default=2)
    parser.add_argument("--table-only", action="store_true", help="Only write the table of finished runs.")
    args = parser.parse_args()
    runs = planned(args)
    if not args.table_only:
        run_all(args, runs)
    text = table(runs)
    (args.out / "ablation.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
