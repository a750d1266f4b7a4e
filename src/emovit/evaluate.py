"""`emovit evaluate`: a trained run's model on its own test part under the conditions users meet
and the corpora do not show: short crops, added noise, narrowband audio, clips joined into a continuous recording
(`emovit.robustness`). Folds are evaluated one by one (each with its own model and test part) and
summarised as mean +- std; speech-shaped noise takes its spectrum from the fold's training part. A model
trained with per-speaker normalisation is calibrated on each test speaker's clips in each condition."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .checkpoint import save_json, save_text
from .inference import ModelFileError, Recognizer
from .protocols import read_split
from .robustness import evaluate_robustness, robustness_markdown, targets_report


def _split_dirs(run_dir: Path) -> list[Path]:
    folds = sorted(p for p in (run_dir / "folds").glob("*") if (p / "split.csv").exists()) \
        if (run_dir / "folds").is_dir() else []
    if folds:
        return folds
    if (run_dir / "split.csv").exists():
        return [run_dir]
    raise FileNotFoundError(f"{run_dir}: no split.csv (nor folds/*/split.csv): not a run directory of "
                            "`emovit reproduce` or `emovit compare`")


PARTS = ("test", "val")  # the parts of a split a robustness evaluation reads


def evaluate_run(run_dir: str | Path, model: str | None = None, precision: str = "auto", seed: int = 0,
                 window: float | None = None, hop: float | None = None, progress=None,
                 out: str | Path | None = None, part: str = "test") -> dict:
    """Robustness of RUN/models/MODEL.pt (default: the run's student, else plain, else teacher) on the
    test part of each split of the run, or its validation part (`part="val"`: what a choice between models may
    read); writes `out` (default RUN/robustness.json, RUN/robustness-val.json for the validation part) and the
    same name with .md: another name keeps each model of a run (e.g. a joined pair and its two experts) side by
    side."""
    if part not in PARTS:
        raise ValueError(f"part must be one of {', '.join(PARTS)}, not {part!r}")
    run_dir = Path(run_dir)
    out = Path(out) if out else run_dir / ("robustness.json" if part == "test" else f"robustness-{part}.json")
    if out.suffix != ".json":
        raise ValueError(f"{out}: the robustness summary is written as JSON; name it NAME.json")
    per_split = {}
    for folder in _split_dirs(run_dir):
        split = read_split(folder / "split.csv")
        path = folder / "models" / f"{model}.pt" if model else folder
        if model and not path.exists():
            raise ModelFileError(f"{path}: no such model in the run (models/: "
                                 f"{', '.join(sorted(p.stem for p in (folder / 'models').glob('*.pt')))})")
        recognizer = Recognizer.load(path, precision=precision)
        clips = split.originals(part)
        if not clips:
            raise ValueError(f"{folder / 'split.csv'} has no {part} clips")
        items = [(u.path, u.label) for u in clips]
        speakers = [(u.corpus, u.speaker) for u in clips]  # a per-speaker model is calibrated on each, as in training
        reference = sorted({u.path for u in split.originals("train")})
        if progress:
            progress(f"{folder.name}: {recognizer.path.name} on {len(items)} {part} clips"
                     + (f" of {len(set(speakers))} speakers, calibrated on each" if recognizer.per_speaker else ""))
        result = evaluate_robustness(recognizer, items, noise_reference=reference, seed=seed, window=window, hop=hop,
                                     speakers=speakers)
        result["targets"] = targets_report(result)
        per_split[split.fold or "split"] = result
    summary = {"run": str(run_dir), "model": model, "part": part, "splits": per_split, "mean": _mean(per_split)}
    save_json(summary, out)
    save_text(robustness_report(summary), out.with_suffix(".md"))
    return summary


def _mean(per_split: dict) -> dict:
    """WA and UA of each condition, mean and std over the splits."""
    results = list(per_split.values())
    out = {}
    for condition in results[0]["conditions"]:
        for score in ("wa", "ua"):
            values = np.array([r["conditions"][condition][score] for r in results], dtype=float)
            out.setdefault(condition, {})[score] = {"mean": float(values.mean()), "std": float(values.std())}
    if all(r.get("joined") for r in results):
        for name, key in (("timeline", "timeline_wa"), ("timeline clips one by one", "clip_wa_scored")):
            values = np.array([r["joined"][key] for r in results], dtype=float)
            out[name] = {"wa": {"mean": float(values.mean()), "std": float(values.std())}}
    return out


def robustness_report(summary: dict) -> str:
    """One split: its tables; several: the mean table, then each split's. Read on the validation part, it says so."""
    splits = summary["splits"]
    head = "Read on the validation part of the split, not the test part.\n\n" if summary.get("part") == "val" else ""
    if len(splits) == 1:
        return head + robustness_markdown(next(iter(splits.values())))
    lines = [f"# Robustness over {len(splits)} folds (mean ± std)", "", head + "| condition | WA | UA |", "|---|---|---|"]
    for condition, scores in summary["mean"].items():
        ua = scores.get("ua")
        lines.append(f"| {condition} | {scores['wa']['mean']:.3f} ± {scores['wa']['std']:.3f} | "
                     + (f"{ua['mean']:.3f} ± {ua['std']:.3f} |" if ua else "— |"))
    for name, result in splits.items():
        lines += ["", f"## fold {name}", "", robustness_markdown(result)]
    return "\n".join(lines) + "\n"
