"""Ship a trained student as emovit's bundled model, with a model card written from its run.

    python scripts/bundle_model.py RUN_DIR --model plain --command "the emovit command that made RUN_DIR"

Copies RUN_DIR/models/MODEL.pt to src/emovit/assets/student.pt and writes
src/emovit/assets/MODEL_CARD.md from RUN_DIR/results.json, config.json and (when `emovit evaluate`
has run) robustness.json, so every number in the card comes from the run that produced the weights.
`scripts/train_bundled_model.sh` runs every step.
"""
from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

from emovit.config import Recipe

ASSETS = Path(__file__).resolve().parents[1] / "src" / "emovit" / "assets"

# What a reader of the card needs to know about each corpus's speech.
CORPUS_NOTES = {
    "emodb": "EmoDB: 10 German actors (5 female, 5 male), 10 read sentences, studio quality",
    "savee": "SAVEE: 4 male British English speakers, read TIMIT sentences, studio quality",
    "ravdess": "RAVDESS: 24 North American English actors (12 female, 12 male), 2 fixed statements, "
               "normal and strong intensity",
    "cremad": "CREMA-D: 91 actors of varied ethnicity, 12 English sentences",
    "tess": "TESS: 2 female Canadian English speakers, carrier phrase + word",
}
ROWS = ("student", "plain", "teacher", "timnet", "opensmile")
# compare titles a registry model by its name; the card says what it is
TITLES = {"timnet": "TIM-Net (Ye et al. 2023), its published recipe"}


def _title(name: str, model: dict) -> str:
    return TITLES.get(name, model["title"]) if model["title"] == name else model["title"]


def _overall_table(models: dict) -> str:
    rows = [f"| {_title(n, m)} | {m['wa']:.3f} | {m['ua']:.3f} | {m['macro_f1']:.3f} |"
            for n in ROWS if (m := models.get(n))]
    return "| model | WA | UA | macro-F1 |\n|---|---|---|---|\n" + "\n".join(rows)


def _per_corpus_table(models: dict, split: dict) -> str:
    corpora = sorted({c for m in models.values() for c in m.get("per_corpus", {})})
    if not corpora:
        return ""
    speakers = split["speakers"]["test"]
    head = ["| model | " + " | ".join(f"{c} UA (WA)" for c in corpora) + " |", "|---|" + "---|" * len(corpora)]
    rows = [f"| {_title(n, m)} | " + " | ".join(
        f"{m['per_corpus'][c]['ua']:.3f} ({m['per_corpus'][c]['wa']:.3f})" if c in m["per_corpus"] else "—"
        for c in corpora) + " |" for n in ROWS if (m := models.get(n)) and "per_corpus" in m]
    n_test = next(m["per_corpus"] for m in models.values() if "per_corpus" in m)
    held = [f"{c}: {n_test[c]['n']} clips of speakers "
            + ", ".join(s.split(':', 1)[1] for s in speakers if s.startswith(f"{c}:")) for c in corpora]
    return "\n".join(head + rows) + "\n\nHeld-out test speakers per corpus — " + "; ".join(held) + "."


def _verdict(models: dict, shipped: str) -> str:
    """One plain sentence: does the student beat the classical baseline on this split?"""
    student, base = models.get(shipped), models.get("opensmile")
    if not student or not base:
        return ""
    ahead = [c for c, r in student.get("per_corpus", {}).items() if r["ua"] > base["per_corpus"][c]["ua"]]
    overall = "beats" if student["ua"] > base["ua"] else "does not beat"
    where = (f" (it is ahead on {', '.join(ahead)} only)" if ahead else ", nor on any single corpus") \
        if student.get("per_corpus") else ""
    return (f"**Said plainly**: the student {overall} the openSMILE baseline on this split: UA "
            f"{student['ua']:.3f} vs {base['ua']:.3f}{where if overall == 'does not beat' else ''}.")


def _robustness(robustness: dict | None) -> str:
    """The shipped model on the held-out speakers under short crops, noise and joined recordings."""
    if not robustness:
        return ""
    result = next(iter(robustness["splits"].values()))
    rows = [f"| {name} | {c['wa']:.3f} | {c['ua']:.3f} | {c['top_answer']['label']} {c['top_answer']['fraction']:.2f} |"
            for name, c in result["conditions"].items()]
    joined = result.get("joined")
    if joined:
        rows.append(f"| clips joined into ~60 s recordings, {joined['window']:g} s windows every {joined['hop']:g} s | "
                    f"{joined['timeline_wa']:.3f} | {joined['timeline_ua']:.3f} | (the same clips one by one: WA "
                    f"{joined['clip_wa_scored']:.3f}) |")
    targets = [f"{t['target']}: {'met' if t['met'] else 'missed' if t['met'] is False else 'not measured'}"
               + (f" by {t['missed_by']:.3f}" if t.get("missed_by") else "") for t in result.get("targets", [])]
    return ("**On held-out speakers, off the corpora's conditions** (`emovit evaluate RUN --model ...`: centre "
            "crops, white and speech-shaped noise at an SNR over the active speech, clips joined and read as a "
            "timeline):\n\n| condition | WA | UA | most frequent answer |\n|---|---|---|---|\n" + "\n".join(rows)
            + ("\n\nTargets: " + "; ".join(targets) + "." if targets else ""))


def _training(recipe: Recipe, models: dict, shipped: str) -> str:
    """How the shipped network was trained, in a sentence or two."""
    model = models[shipped]
    stage = recipe.stage_for(shipped)
    views = ("no augmented copies" if recipe.augment.views == 1 else f"{recipe.augment.views} views per training clip "
             "(original + noise, time-shift and speed copies; one drawn per clip each epoch)")
    schedule = (f"halved every {stage.lr_halve_every} epochs" if stage.schedule == "step" else
                f"warm-up {stage.warmup_epochs} epochs then cosine" if stage.schedule == "cosine" else stage.schedule)
    extras = [f"label smoothing {stage.label_smoothing:g}" if stage.label_smoothing else "",
              f"SpecAugment {stage.freq_masks}x{stage.freq_width} bins, {stage.time_masks}x{stage.time_width} frames"
              if stage.freq_masks or stage.time_masks else "",
              f"random crops of >= {stage.crop_min_frames} frames on {stage.crop_prob:.0%} of the clips" if stage.crop_prob else "",
              f"mixup on {stage.mixup_prob:.0%} of the batches" if stage.mixup_prob else "",
              f"moving average of the weights ({stage.ema_decay:g})" if stage.ema_decay else ""]
    how = ("by knowledge transfer (stage 2: L1 to the teacher's pooled feature; stage 3: CE + "
           f"{stage.alpha:g} x L1) from the paper's teacher" if shipped == "student" else "with cross-entropy alone (no teacher)")
    selected = ", ".join(f"{k} {v}" for k, v in model.get("selected_epoch", {}).items())
    return (f"trained {how}; {'+'.join(str(v) for v in model['epochs'].values())} epochs (weights of the best "
            f"validation epoch: {selected}); recipe `{recipe.name}`: {stage.optimizer} lr {stage.lr:g}"
            + (f", weight decay {stage.weight_decay:g}" if stage.weight_decay else "")
            + f", {schedule}, batch {stage.batch_size}, {views}"
            + "".join(f", {e}" for e in extras if e) + f"; seed {recipe.seed}.")


def card(results: dict, config: dict, command: str, shipped: str = "student", robustness: dict | None = None) -> str:
    split = results["split"]
    sizes, speakers = split["sizes"], split["speakers"]
    models = results["models"]
    student = models[shipped]
    recipe, machine = Recipe.from_dict(config["recipe"]), config["machine"]
    shared = sorted(set(speakers["test"]) & set(speakers["train"]))
    independent = not shared
    corpora = config["corpora"]
    per_corpus = config.get("utterances_per_corpus", {})
    left_out = config.get("labels_left_out", {})
    data_lines = "\n".join(f"- {CORPUS_NOTES.get(c, c)}" + (f" — {per_corpus[c]} utterances used" if c in per_corpus else "")
                           for c in corpora)
    left = ("Left out of training (labels outside the set): "
            + ", ".join(f"{k} ({v} utterances)" for k, v in left_out.items()) + ".") if left_out else ""
    protocol_line = ("speaker-independent: no test speaker is in training or validation"
                     if independent else f"**{len(shared)} test speakers also appear in training**")
    per_corpus_table = _per_corpus_table(models, split)
    baseline = models.get("opensmile", {}).get("feature_set", recipe.baseline or "ComParE_2016")
    peers = " and TIM-Net (its published recipe)" if "timnet" in models else ""
    return f"""# Model card: emovit bundled student

**What it is**: the student ViT of Kim & Lee (2024) — 128x1 vertical patches, no positional
information, depth {recipe.student_depth}, dim 256, {student['params_m']:.2f}M parameters, {student['gmacs']:.2f} GMACs per 4 s clip —
{_training(recipe, models, shipped)}

**Labels** ({len(results['labels'])}): {', '.join(results['labels'])}. {left}

**Training data** ({config['n_utterances']} utterances, acted speech):
{data_lines}

**Split**: protocol `{results['protocol']}`, seed {results['seed']} — train {sizes['train']} / validation
{sizes['val']} / test {sizes['test']} clips; {protocol_line}. Validation comes from the training side
and picks the epoch; the test part was scored once. Leakage audit: {results['leakage']['verdict']}.
{('Validation note: ' + split['val_note']) if split.get('val_note') else ''}

**Held-out accuracy** (test part), next to openSMILE {baseline} functionals + linear SVM{peers},
trained and tested on the same split in the same run (C chosen on the validation part):

{_overall_table(models)}

{per_corpus_table}

{_verdict(models, shipped)}

{_robustness(robustness)}

**How it was made**: `{command}` on {machine['cpu']} ({machine['cpu_count']} CPUs, torch
{machine['torch']}), then `emovit evaluate RUN_DIR --model {shipped}` and `python scripts/bundle_model.py RUN_DIR
--model {shipped} --command "..."` (`scripts/train_bundled_model.sh` runs every step). The run's results,
split, leakage audit and robustness figures are committed under `benchmarks/`.

**Known limits**
- Acted, read speech by {sum(1 for _ in speakers['train'])} training speakers in studio conditions. Expect lower
  accuracy on spontaneous speech, other languages, noise, far-field or telephone audio.
- One prediction reads 4 s; a longer recording is judged on 4 s windows every 2 s, averaged (use a timeline,
  `--window`, to follow how it changes).
- {len(results['labels'])} classes only: audio expressing anything else (calm, boredom, surprise, mixed states)
  is forced into one of them.
- Trained on a 2-core CPU; the held-out numbers above are what it does on these corpora, not a
  promise for others.
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("--model", default="student", help="which of RUN/models/*.pt to ship (student, plain)")
    parser.add_argument("--command", required=True, help="the emovit command that produced the run")
    args = parser.parse_args()
    results = json.loads((args.run / "results.json").read_text())
    config = json.loads((args.run / "config.json").read_text())
    robustness_file = args.run / "robustness.json"
    robustness = json.loads(robustness_file.read_text()) if robustness_file.exists() else None
    ASSETS.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(args.run / "models" / f"{args.model}.pt", ASSETS / "student.pt")
    (ASSETS / "MODEL_CARD.md").write_text(card(results, config, args.command, args.model, robustness))
    print(f"bundled {args.run}/models/{args.model}.pt -> {ASSETS}")


if __name__ == "__main__":
    main()
