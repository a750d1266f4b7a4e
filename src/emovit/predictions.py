"""Per-clip test predictions: what each model answered for each test clip, and paired comparisons on them.

Scores averaged over folds say which model is ahead, not whether the lead is larger than chance: two
models tested on the same clips differ only on the clips one gets right and the other wrong, and the
exact McNemar test asks whether those split evenly. A run writes `predictions.csv` per split (per fold,
and pooled over the folds in the run directory) with one column per model, so a lead can be tested
within a run (results.md) and between runs on the same folds (`emovit paired`).

predictions.csv: fold, path, view, corpus, speaker, label, then one column per model holding its
predicted label (empty where the model's front end could not read the clip).
"""
from __future__ import annotations

import csv
import io
from itertools import combinations
from pathlib import Path

from .checkpoint import save_text

KEYS = ("fold", "path", "view", "corpus", "speaker", "label")


class PredictionsError(ValueError):
    """Predictions that cannot be read or paired: the file and the problem, said plainly."""


def prediction_rows(split, labels_by_model: dict[str, dict[tuple[str, int], str]]) -> list[dict[str, str]]:
    """One row per test clip (and view) of `split`, in the split's order, with each model's answer."""
    rows = []
    for u, view in split.test_views:
        row = {"fold": split.fold or "", "path": u.path, "view": str(view), "corpus": u.corpus, "speaker": u.speaker,
               "label": u.label}
        row.update({name: answers.get((u.path, view), "") for name, answers in labels_by_model.items()})
        rows.append(row)
    return rows


def write_predictions(rows: list[dict[str, str]], path: str | Path) -> None:
    """Write the rows as CSV, atomically; the model columns are the keys after KEYS."""
    if not rows:
        raise PredictionsError(f"{path}: no test clips to write")
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    save_text(out.getvalue(), path)


def read_predictions(path: str | Path) -> list[dict[str, str]]:
    """The rows of a predictions.csv, or of a run directory: its pooled file, or where the run has not pooled
    one (folds still to train) its finished folds' files together. A file that is missing or lacks the key
    columns is refused by name."""
    path = Path(path)
    if path.is_dir():
        folds = sorted((path / "folds").glob("*/predictions.csv"))
        if folds and not (path / "predictions.csv").exists():
            return pool_predictions(folds)
        path = path / "predictions.csv"
    if not path.is_file():
        raise PredictionsError(f"{path}: no such file (runs write predictions.csv per split since 2026-12-02; "
                               "older runs have none)")
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        missing = [k for k in KEYS if k not in (reader.fieldnames or [])]
        if missing:
            raise PredictionsError(f"{path}: not a predictions file (no {', '.join(missing)} column)")
        return list(reader)


def model_names(rows: list[dict[str, str]]) -> list[str]:
    return [k for k in rows[0] if k not in KEYS] if rows else []


def pool_predictions(files: list[Path]) -> list[dict[str, str]]:
    """The folds' rows one after the other (each row names its fold)."""
    return [row for f in files for row in read_predictions(f)]


def mcnemar(a_right: list[bool], b_right: list[bool]) -> dict:
    """Exact McNemar test of two models on the same items: of the items exactly one of them gets right,
    is A's share different from one half? Two-sided binomial p-value; 1.0 when they never disagree."""
    from scipy.stats import binomtest  # scikit-learn's dependency

    if len(a_right) != len(b_right):
        raise ValueError(f"{len(a_right)} answers of A against {len(b_right)} of B")
    a_only = sum(a and not b for a, b in zip(a_right, b_right))
    b_only = sum(b and not a for a, b in zip(a_right, b_right))
    p = binomtest(a_only, a_only + b_only, 0.5).pvalue if a_only + b_only else 1.0
    return {"n": len(a_right), "a_right": sum(a_right), "b_right": sum(b_right), "a_only": a_only, "b_only": b_only,
            "p": float(p)}


def _answered(row: dict[str, str], model: str) -> bool:
    return bool(row.get(model))


def paired_within(rows: list[dict[str, str]]) -> list[dict]:
    """Every pair of the rows' models, tested on the clips both answered."""
    out = []
    for a, b in combinations(model_names(rows), 2):
        both = [r for r in rows if _answered(r, a) and _answered(r, b)]
        if both:
            out.append({"a": a, "b": b, **mcnemar([r[a] == r["label"] for r in both],
                                                  [r[b] == r["label"] for r in both])})
    return out


def paired_between(rows_a: list[dict[str, str]], model_a: str, rows_b: list[dict[str, str]], model_b: str,
                   names: tuple[str, str] = ("A", "B")) -> dict:
    """Model A of one file against model B of another on the test clips both answered. A clip is its corpus,
    speaker, file name and view, not its full path, so runs that read the same corpus from other folders (another
    checkout, another machine) pair. The files must agree on every shared clip's label (else they are not the same
    test clips), and share one."""
    def answers(rows, model, name):
        keyed = {}
        for r in rows:
            if _answered(r, model):
                key = (r["corpus"], r["speaker"], Path(r["path"]).name, r["view"])
                if key in keyed:
                    raise PredictionsError(f"{name}: two test clips named {key[2]} for speaker {key[1]} of {key[0]}, "
                                           "so its clips cannot be paired by name")
                keyed[key] = r
        return keyed

    a, b = answers(rows_a, model_a, names[0]), answers(rows_b, model_b, names[1])
    shared = sorted(a.keys() & b.keys())
    if not shared:
        raise PredictionsError(f"{names[0]} and {names[1]} have no test clip in common: not runs on the same folds")
    disagree = [k for k in shared if a[k]["label"] != b[k]["label"]]
    if disagree:
        raise PredictionsError(f"{names[0]} and {names[1]} give different labels to {len(disagree)} shared clips "
                               f"(first: {disagree[0][2]}): not the same corpus index")
    result = mcnemar([a[k][model_a] == a[k]["label"] for k in shared], [b[k][model_b] == b[k]["label"] for k in shared])
    return {**result, "only_a": len(a.keys() - b.keys()), "only_b": len(b.keys() - a.keys())}


__all__ = ["KEYS", "PredictionsError", "mcnemar", "model_names", "paired_between", "paired_within",
           "pool_predictions", "prediction_rows", "read_predictions", "write_predictions"]
