"""BENCHMARKS.md's tables against the published state of the art, from the runs of
benchmarks/peers/commands.sh: per corpus and protocol, every measured row (mean +- std over the
folds and pooled), with the published figures beside them and each network's size and CPU time
from `emovit profile --time` (a JSON file of it: --profile). A joined pair (two models a run trained apart, joined
into one network per fold) is a row from the run's experts.json (scripts/expert_accuracy.py) once it covers every fold.

    python scripts/peer_tables.py --runs runs/peers --profile benchmarks/peers/profile.json > tables.md
"""
from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

CORPORA = ("emodb", "savee", "ravdess")
PROTOCOLS = ("kfold", "emobox", "loso")
# the emovit group's TIM-Net: runs before the fix read standardised MFCCs; their config.json says which
TIMNET_TITLES = {True: "TIM-Net, measured here (its published recipe, raw MFCCs as its code)",
                 False: "TIM-Net, first run here: MFCCs standardised, unlike its code"}
# (group, model name in the run) -> the row's name and the registry name whose size it has
ROWS = [
    (("emovit", "plain"), "emovit student (recipe `emovit`, CE only)", "student"),
    (("emovit-pick", "plain"), "emovit student, recipe `emovit` without masks and label smoothing (`emovit-2`: "
                               "validation's pick on EmoDB's speaker splits; CE only)", "student"),
    (("tim", "student-tim"), "student-tim: the student beside a 30-filter TIM-Net branch, its temporal feature added "
                             "to the CLS (recipe `emovit-2`, CE only)", "student-tim"),
    (("duo", "student-duo"), "student-duo: the student and a 33-filter TIM-Net on the same image as two experts, each "
                             "with its own classifier and loss, their log-probabilities averaged (recipe `emovit-2`)",
     "student-duo"),
    (("joined", "together"), "joined: the student (recipe `emovit-2`, CE only) and a 33-filter TIM-Net on the same "
                             "image (its published recipe), trained apart, joined as student-duo's two experts",
     "student-duo"),
    (("joined-robust", "together"), "joined-robust: the same pair, its TIM-Net expert trained on the students' four "
                                    "augmented views and random crops (its optimiser and length kept)", "student-duo"),
    (("joined-kt", "together"), "joined-kt: the joined-robust pair with the emovit-2-kt student (knowledge transfer) "
                                "as its student expert", "student-duo"),
    (("stem", "student-stem"), "student-stem: the student behind a tiny conv stem (recipe `emovit`, CE only)",
     "student-stem"),
    (("paper-conv", "student-conv"), "student-conv: the student with a convolutional positional encoding "
                                     "(recipe `paper-e20`, CE only)", "student-conv"),
    (("paper-level", "student-level"), "student-level: each frame's token also given the frame's mean and std "
                                       "(recipe `paper-e20`, CE only)", "student-level"),
    (("paper-level-warm", "student-level"), "student-level pre-trained on the two other corpora, then recipe "
                                            "`paper-e20` (CE only)", "student-level"),
    (("warm", "plain"), "emovit student pre-trained on the two other corpora, then recipe `emovit` (CE only)",
     "student"),
    (("paper-warm", "plain"), "student pre-trained on the two other corpora, then recipe `paper-e20` (CE only)",
     "student"),
    (("paper-plain", "plain"), "student, CE only (recipe `paper-e20`)", "student"),
    (("paper-timnet-kd", "plain-timnet"), "student distilling TIM-Net's logits (KL at T 4, weight 1; recipe "
                                          "`paper-e20`, CE + KD)", "student"),
    (("paper-timnet-kd", "plain"), "student, CE only (recipe `paper-e20`; the distilling run's pair, same "
                                   "initial weights)", "student"),
    (("paper-timnet-kd", "timnet"), "TIM-Net retrained in the distilling run as its teacher (published recipe)",
     "timnet"),
    (("paper", "student"), "student with knowledge transfer (recipe `paper-e20`)", "student"),
    (("paper-kd", "student"), "student with knowledge transfer, feature L1 + logit distillation "
                              "(KL at T 4, weight 1; recipe `paper-e20`)", "student"),
    (("emovit-2-kt", "student"), "emovit student with knowledge transfer from the paper's teacher (teacher: recipe "
                                 "`paper-e20`; the student's two stages: `emovit-2`'s settings, no crops or mixup)",
     "student"),
    (("emovit-2-kt", "teacher"), "teacher (recipe `paper-e20`)", "teacher"),
    (("paper", "plain"), "student, CE only (recipe `paper-e20`)", "student"),
    (("paper", "teacher"), "teacher (recipe `paper-e20`)", "teacher"),
    (("paper-plain-full", "plain"), "student, CE only (recipe `paper`: the paper's, 50 epochs)", "student"),
    (("timnet-raw", "timnet"), TIMNET_TITLES[True], "timnet"),
    (("emovit", "timnet"), None, "timnet"),  # titled by the input its run recorded (TIMNET_TITLES)
    (("timnet-mel", "timnet-mel"), "TIM-Net's network on the students' log-Mel image (its published recipe; beyond "
                                   "TIM-Net)", "timnet-mel"),
    (("paper-timnet-mel", "timnet-mel"), "TIM-Net's network on the students' log-Mel image, trained with the students' "
                                         "recipe `paper-e20` (beyond TIM-Net)", "timnet-mel"),
    (("emovit", "opensmile"), "openSMILE ComParE 2016 + linear SVM", None),
    (("svm", "opensmile"), "openSMILE ComParE 2016 + linear SVM", None),
    (("paper-speaker", "plain"), "student, CE only (recipe `paper-e20`), **per-speaker normalisation** (test speakers' "
                                 "own unlabelled clips)", "student"),
    (("paper-speaker", "opensmile"), "openSMILE ComParE 2016 + linear SVM, **functionals standardised per speaker** "
                                     "(the same)", None),
]
# Published figures (WA, UA in %), each with its source.
PUBLISHED = {
    ("kfold", "emodb"): [("TIM-Net, corrected (10-fold, last of 500 epochs; Ye et al. 2023, public code)", 90.28, 89.19)],
    ("kfold", "ravdess"): [("TIM-Net, corrected (10-fold, last of 500 epochs; Ye et al. 2023, public code)", 90.07, 90.04)],
    ("kfold", "savee"): [("TIM-Net, corrected (10-fold, last of 500 epochs; Ye et al. 2023, public code)", 79.36, 77.26)],
    ("emobox", "emodb"): [("EmoBox best frozen 300M-parameter SSL model: WavLM-large (Ma et al. 2024)", None, 92.58)],
    ("emobox", "savee"): [("EmoBox best frozen 300M-parameter SSL model: data2vec2-large (Ma et al. 2024)", None, 75.75)],
    ("emobox", "ravdess"): [("EmoBox best frozen 300M-parameter SSL model: Whisper-large-v3 (Ma et al. 2024)", None, 75.32)],
}


def _cell(score) -> str:
    return f"{score['mean']:.3f} ± {score['std']:.3f}"


def _same_scores(model: dict, other: dict) -> bool:
    """The same network's means, stds and pooled scores over the same folds: trained the same way."""
    return all(model[k] == other[k] for k in ("wa", "ua", "pooled"))


def joined(run: Path, results: dict) -> dict | None:
    """The pair of a joined run (the "together" expert of its experts.json) as a model of its results, with the
    epochs of the two models it joins and its validation score; None until it covers every fold of the run."""
    path = run / "experts.json"
    if not path.exists():
        return None
    experts = json.loads(path.read_text())
    if len(experts["folds"]) != len(results.get("folds", [])):
        return None
    epochs = {f"{name}.{stage}": n for name, model in results["models"].items()
              for stage, n in model.get("epochs", {}).items()}
    return {**experts["test"]["together"], "epochs": epochs, "val_ua": experts["val"]["together"]["ua"]}


def validation(run: Path, name: str) -> tuple[float, float] | None:
    """Mean and std over the folds of `name`'s validation UA at the epoch each fold kept: the score a row
    may be chosen by (the test folds may not). Reads each fold's history, as a run writes it
    (folds/N/NAME/history.json) or as benchmarks/peers/ keeps it (folds/N/history-NAME.json)."""
    values = []
    for fold in sorted((run / "folds").glob("*/results.json")):
        model = json.loads(fold.read_text())["models"].get(name)
        history = [p for p in (fold.parent / f"history-{name}.json", fold.parent / name / "history.json") if p.exists()]
        if model is None or not history or not model.get("selected_epoch"):
            return None
        epoch = list(model["selected_epoch"].values())[-1]
        values.append(json.loads(history[0].read_text())[epoch - 1]["val_ua"])
    return (statistics.fmean(values), statistics.pstdev(values)) if values else None


def table(runs: Path, corpus: str, protocol: str, profile: dict) -> str | None:
    results, raw_mfccs = {}, False
    for group in dict.fromkeys(group for (group, _), _, _ in ROWS):
        path = runs / f"{corpus}-{protocol}-{group}" / "results.json"
        if path.exists():
            results[group] = json.loads(path.read_text())
            pair = joined(path.parent, results[group])
            if pair:
                results[group]["models"]["together"] = pair
    config = runs / f"{corpus}-{protocol}-emovit" / "config.json"
    if config.exists():
        raw_mfccs = "raw" in json.loads(config.read_text()).get("descriptions", {}).get("timnet", "")
    if not results:
        return None
    folds = {g: len(r.get("folds", [])) for g, r in results.items()}
    lines = [f"### {corpus}, `{protocol}`", "",
             "| model | WA (mean ± std) | UA (mean ± std) | pooled WA / UA | epochs | params (M) | GMACs as run | CPU ms/clip |",
             "|---|---|---|---|---|---|---|---|"]
    shown = []  # (model name, its scores) of the rows made
    for (group, name), title, size_of in ROWS:
        m = results.get(group, {}).get("models", {}).get(name)
        if m is None or any(n == name and _same_scores(m, other) for n, other in shown):
            continue  # one model trained alike in two groups (the svm group's SVM, a group's CE-only pair): one row
        shown.append((name, m))
        title = title or TIMNET_TITLES[raw_mfccs]
        size = profile.get(size_of, {}) if size_of else {}
        epochs = "+".join(str(v) for v in m.get("epochs", {}).values()) or "—"
        lines.append(f"| {title} | {_cell(m['wa'])} | {_cell(m['ua'])} | {m['pooled']['wa']:.3f} / {m['pooled']['ua']:.3f} "
                     f"| {epochs} | {size.get('params_m', float('nan')):.3f} | {size.get('gmacs_run', float('nan')):.3f} "
                     f"| {size.get('ms_per_clip', float('nan')):.1f} |".replace("nan", "—"))
    for title, wa, ua in PUBLISHED.get((protocol, corpus), []):
        lines.append(f"| *published:* {title} | {wa / 100:.3f} |" if wa is not None else f"| *published:* {title} | — |")
        lines[-1] += f" {ua / 100:.3f} | — | — | — | — | — |"
    chosen_by = []
    for (group, name), title, _ in ROWS:
        model = results.get(group, {}).get("models", {}).get(name)
        if model is not None and name != "opensmile":
            score = (model["val_ua"]["mean"], model["val_ua"]["std"]) if "val_ua" in model else \
                validation(runs / f"{corpus}-{protocol}-{group}", name)
            if score:
                chosen_by.append(f"{group} {name} {score[0]:.3f} ± {score[1]:.3f}")
    if chosen_by:
        lines += ["", "Validation UA at the epoch each fold kept (mean ± std over folds): " + ", ".join(chosen_by) + "."]
    lines += ["", "Folds: " + ", ".join(f"{g} {n}" for g, n in folds.items())
              + f". Runs: `{runs}/{corpus}-{protocol}-*` (`bash benchmarks/peers/commands.sh {corpus} {protocol} GROUP`)."]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=Path, default=Path("runs/peers"))
    parser.add_argument("--profile", type=Path, help="`emovit profile --time --json` output (sizes, CPU ms/clip)")
    args = parser.parse_args()
    profile = {r["model"]: r for r in json.loads(args.profile.read_text())} if args.profile else {}
    for protocol in PROTOCOLS:
        for corpus in CORPORA:
            text = table(args.runs, corpus, protocol, profile)
            if text:
                print(text + "\n")


if __name__ == "__main__":
    main()
