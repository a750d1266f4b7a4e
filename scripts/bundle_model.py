"""Ship a trained model as emovit's bundled model, with a model card written from its run.

    python scripts/bundle_model.py RUN_DIR --model plain --command "the emovit command that made RUN_DIR"
    python scripts/bundle_model.py RUN_DIR --model joined --temporal-run TIMNET_RUN_DIR --command "..."

Copies RUN_DIR/models/MODEL.pt to src/emovit/assets/bundled.pt and writes
src/emovit/assets/MODEL_CARD.md from RUN_DIR/results.json, config.json and (when `emovit evaluate`
has run) robustness-MODEL.json or robustness.json, so every number in the card comes from the run that produced
the weights. A joined pair (`emovit join RUN_DIR/models/plain.pt TIMNET_RUN_DIR/models/timnet-mel-duo.pt --out
RUN_DIR/models/joined.pt`) was not tested by either run: it is scored here on RUN_DIR's test part (each expert too;
its student's expert must give the student's own figures, or the two files are not what the runs made), and its
TIM-Net expert's row and recipe come from TIMNET_RUN_DIR, which must hold the same split.
`scripts/train_bundled_model.sh` runs every step.
"""
from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import numpy as np

from emovit.checkpoint import save_json
from emovit.config import Recipe
from emovit.inference import Recognizer
from emovit.join import expert_answers
from emovit.metrics import classification_report, per_group_reports
from emovit.profile import count
from emovit.protocols import read_split

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
ROWS = ("joined", "student", "plain", "timnet-mel-duo", "teacher", "timnet", "opensmile")
# compare titles a registry model by its name; the card says what it is
TITLES = {"timnet": "TIM-Net (Ye et al. 2023), its published recipe"}
# stage.noise_kind (config.IMAGE_NOISES) as the card names it
NOISE_NAMES = {"speech": "speech-shaped", "white": "white", "mixed": "white or speech-shaped (drawn per image)"}
PAIR = "joined"  # the model name of a student joined to a TIM-Net expert (`emovit join`)
PAIR_TITLES = {"joined": "The pair: student + TIM-Net expert, log-probabilities averaged (shipped)",
               "plain": "its student expert alone (CE only)",
               "timnet-mel-duo": "its TIM-Net expert alone (33 filters, log-Mel image)"}


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
    """One plain sentence: does the shipped model beat the classical baseline on this split, and where?"""
    student, base = models.get(shipped), models.get("opensmile")
    if not student or not base:
        return ""
    who = "the pair" if shipped == PAIR else "the student"
    per_corpus = student.get("per_corpus", {})
    ahead = [c for c, r in per_corpus.items() if r["ua"] > base["per_corpus"][c]["ua"]]
    overall = "beats" if student["ua"] > base["ua"] else "does not beat"
    if not per_corpus:
        where = ""
    elif len(ahead) == len(per_corpus):
        where = ", and on every corpus"
    elif ahead:
        where = f" (ahead on {', '.join(ahead)} only)"
    else:
        where = ", nor on any single corpus"
    return (f"**Said plainly**: {who} {overall} the openSMILE baseline on this split: UA "
            f"{student['ua']:.3f} vs {base['ua']:.3f}{where}.")


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
    n_views = stage.views or recipe.augment.views
    views = ("no augmented copies" if n_views == 1 else f"{n_views} views per training clip "
             "(original + noise, time-shift and speed copies; one drawn per clip each epoch)")
    schedule = (f"halved every {stage.lr_halve_every} epochs" if stage.schedule == "step" else
                f"warm-up {stage.warmup_epochs} epochs then cosine" if stage.schedule == "cosine" else stage.schedule)
    extras = [f"label smoothing {stage.label_smoothing:g}" if stage.label_smoothing else "",
              f"SpecAugment {stage.freq_masks}x{stage.freq_width} bins, {stage.time_masks}x{stage.time_width} frames"
              if stage.freq_masks or stage.time_masks else "",
              f"random crops of >= {stage.crop_min_frames} frames on {stage.crop_prob:.0%} of the clips" if stage.crop_prob else "",
              f"{NOISE_NAMES[stage.noise_kind]} noise at {stage.noise_snr[0]:g}-{stage.noise_snr[1]:g} dB SNR mixed into "
              f"{stage.noise_prob:.0%} of the images at every step" if stage.noise_prob else "",
              f"mixup on {stage.mixup_prob:.0%} of the batches" if stage.mixup_prob else "",
              f"moving average of the weights ({stage.ema_decay:g})" if stage.ema_decay else ""]
    how = ("by knowledge transfer (stage 2: L1 to the teacher's pooled feature; stage 3: CE + "
           f"{stage.alpha:g} x L1) from the paper's teacher" if shipped == "student" else "with cross-entropy alone (no teacher)")
    selected = ("the last epoch's weights" if stage.select == "last" else "weights of the best validation epoch: "
                + ", ".join(f"{k} {v}" for k, v in model.get("selected_epoch", {}).items()))
    betas = f" (betas {stage.betas[0]:g}/{stage.betas[1]:g})" if tuple(stage.betas) != (0.9, 0.999) else ""
    return (f"trained {how}; {'+'.join(str(v) for v in model['epochs'].values())} epochs ({selected}); recipe "
            f"`{recipe.name}`: {stage.optimizer}{betas} lr {stage.lr:g}"
            + (f", weight decay {stage.weight_decay:g}" if stage.weight_decay else "")
            + f", {schedule}, batch {stage.batch_size}, {views}"
            + "".join(f", {e}" for e in extras if e) + f"; seed {recipe.seed}.")


def _what(recipe: Recipe, models: dict, shipped: str, temporal_recipe: Recipe | None) -> str:
    """The shipped network and how it was trained; a joined pair expert by expert."""
    vit = (f"the student ViT of Kim & Lee (2024) — 128x1 vertical patches, no positional information, depth "
           f"{recipe.student_depth}, dim 256")
    model = models[shipped]
    size = f"{model['params_m']:.2f}M parameters, {model['gmacs']:.2f} GMACs per 4 s clip"
    if shipped != PAIR:
        return f"**What it is**: {vit}, {size} —\n{_training(recipe, models, shipped)}"
    return (f"**What it is**: two experts reading the same 128x128 log-Mel image, the answer the mean of their "
            f"log-probabilities (a `student-duo` file made by `emovit join`), {size} together:\n"
            f"- {vit}, {models['plain']['params_m']:.2f}M parameters, {_training(recipe, models, 'plain')}\n"
            f"- TIM-Net's network (Ye et al. 2023) reading that image, 33 filters, "
            f"{models['timnet-mel-duo']['params_m']:.2f}M parameters, "
            f"{_training(temporal_recipe, models, 'timnet-mel-duo')}")


def _machine(config: dict) -> str:
    machine = config["machine"]
    return f"{machine['cpu']} ({machine['cpu_count']} CPUs, torch {machine['torch']})"


def card(results: dict, config: dict, command: str, shipped: str = "student", robustness: dict | None = None,
         temporal_config: dict | None = None, peers_run: str | None = None) -> str:
    """The card of `shipped`, one of results' models; a joined pair also needs the config of the run that trained
    its TIM-Net expert (`temporal_config`), whose row main() has put into results; `peers_run` names the run of the
    same split the peers' rows come from, where the shipped model's run did not train them."""
    split = results["split"]
    sizes, speakers = split["sizes"], split["speakers"]
    models = results["models"]
    recipe = Recipe.from_dict(config["recipe"])
    temporal_recipe = Recipe.from_dict(temporal_config["recipe"]) if temporal_config else None
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
    if peers_run:
        peers += f" (from the run `{peers_run}` on the identical split: `split.csv` byte for byte)"
    machines = _machine(config) + (f"; the TIM-Net expert's run on {_machine(temporal_config)}" if temporal_config else "")
    return f"""# Model card: emovit bundled model

{_what(recipe, models, shipped, temporal_recipe)}

**Labels** ({len(results['labels'])}): {', '.join(results['labels'])}. {left}

**Training data** ({config['n_utterances']} utterances, acted speech):
{data_lines}

**Split**: protocol `{results['protocol']}`, seed {results['seed']} — train {sizes['train']} / validation
{sizes['val']} / test {sizes['test']} clips; {protocol_line}. Validation comes from the training side
and picks the epoch; the test part was scored once. Leakage audit: {results['leakage']['verdict']}.
{('Validation note: ' + split['val_note']) if split.get('val_note') else ''}

**Held-out accuracy** (test part), next to openSMILE {baseline} functionals + linear SVM{peers},
trained and tested on the same split (C chosen on the validation part):

{_overall_table(models)}

{per_corpus_table}

{_verdict(models, shipped)}

{_robustness(robustness)}

**How it was made**: `{command}` on {machines}, then `emovit evaluate RUN_DIR --model {shipped}` and
`python scripts/bundle_model.py RUN_DIR --model {shipped} ...` (`scripts/train_bundled_model.sh` runs every step).
The runs' results, split, leakage audit and robustness figures are committed under `benchmarks/`.

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


def pair_models(run: Path, temporal_run: Path) -> dict:
    """results.json's models of RUN with the joined pair and its TIM-Net expert added: the pair scored on RUN's test
    part (as compare scores a model: overall and per corpus, with its size), the expert's row from TEMPORAL_RUN.
    Refuses runs of other splits, and a pair whose student's expert does not give the run's student's figures."""
    if (run / "split.csv").read_bytes() != (temporal_run / "split.csv").read_bytes():
        raise SystemExit(f"{run} and {temporal_run} hold different splits: join models of one split")
    models = json.loads((run / "results.json").read_text())["models"]
    expert = json.loads((temporal_run / "results.json").read_text())["models"]["timnet-mel-duo"]
    recognizer = Recognizer.load(run / "models" / f"{PAIR}.pt", precision="fp32")
    clips = read_split(run / "split.csv").originals("test")
    truth = np.array([recognizer.labels.index(u.label) for u in clips])
    answers = expert_answers(recognizer, [u.path for u in clips])
    for name, answer, reference in (("student's expert", answers["student's expert"], models["plain"]),
                                    ("TIM-Net's expert", answers["TIM-Net's expert"], expert)):
        measured = classification_report(truth, answer, recognizer.labels)["wa"]
        if abs(measured - reference["wa"]) > 1e-9:
            raise SystemExit(f"{run}/models/{PAIR}.pt: its {name} gives WA {measured:.4f} on the test part, its run "
                             f"{reference['wa']:.4f}: not the runs' models (join them again)")
    pair = classification_report(truth, answers["together"], recognizer.labels)
    pair["per_corpus"] = per_group_reports(truth, answers["together"], [u.corpus for u in clips], recognizer.labels)
    pair.update(count(recognizer.model), title=PAIR_TITLES[PAIR])
    titled = {name: {**m, "title": PAIR_TITLES.get(name, m["title"])} for name, m in models.items()}
    return {PAIR: pair, **titled, "timnet-mel-duo": {**expert, "title": PAIR_TITLES["timnet-mel-duo"]}}


def peer_models(run: Path, peers_run: Path, models: dict) -> dict:
    """TIM-Net's and openSMILE + SVM's rows from PEERS_RUN, a run of RUN's split (refused otherwise), for a card
    whose model's run did not train them; a row RUN has is never replaced."""
    if (run / "split.csv").read_bytes() != (peers_run / "split.csv").read_bytes():
        raise SystemExit(f"{run} and {peers_run} hold different splits: the peers must be scored on the same one")
    peers = json.loads((peers_run / "results.json").read_text())["models"]
    return {name: peers[name] for name in ("timnet", "opensmile") if name in peers and name not in models}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("--model", default="student", help="which of RUN/models/*.pt to ship (student, plain, joined)")
    parser.add_argument("--temporal-run", type=Path, help="for a joined pair: the run that trained its TIM-Net expert")
    parser.add_argument("--peers-run", type=Path, help="a run of the same split whose TIM-Net and openSMILE + SVM "
                        "rows the card shows, where RUN did not train them")
    parser.add_argument("--command", required=True, help="the commands that produced the run(s)")
    args = parser.parse_args()
    results = json.loads((args.run / "results.json").read_text())
    config = json.loads((args.run / "config.json").read_text())
    temporal_config = None
    if args.model == PAIR:
        if not args.temporal_run:
            raise SystemExit("--model joined needs --temporal-run: the run that trained its TIM-Net expert")
        results["models"] = pair_models(args.run, args.temporal_run)
    if args.peers_run:
        results["models"] = {**results["models"], **peer_models(args.run, args.peers_run, results["models"])}
    if args.model == PAIR:
        save_json({"models": results["models"]}, args.run / f"results-{args.model}.json")  # the card's rows, kept
        temporal_config = json.loads((args.temporal_run / "config.json").read_text())
    found = [json.loads(f.read_text()) for f in (args.run / f"robustness-{args.model}.json", args.run / "robustness.json")
             if f.exists()]
    robustness = next((r for r in found if r["model"] == args.model), None)  # `emovit evaluate` of this model only
    ASSETS.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(args.run / "models" / f"{args.model}.pt", ASSETS / "bundled.pt")
    (ASSETS / "MODEL_CARD.md").write_text(card(results, config, args.command, args.model, robustness, temporal_config,
                                               str(args.peers_run) if args.peers_run else None))
    print(f"bundled {args.run}/models/{args.model}.pt -> {ASSETS}")


if __name__ == "__main__":
    main()
