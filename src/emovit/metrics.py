"""Metrics and plots shared by every model (ViT, baselines) so their numbers are comparable.

WA is plain accuracy, UA is balanced accuracy (mean per-class recall over classes present in
the ground truth), as in the speech-emotion literature. Plots use matplotlib's object API with
the Agg canvas, so importing this module never switches the process-wide backend.
"""
from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
from sklearn.metrics import accuracy_score, balanced_accuracy_score, confusion_matrix, f1_score

from .checkpoint import atomic_write


def classification_report(y_true, y_pred, labels: list[str]) -> dict:
    """WA, UA, macro-F1, confusion (rows true, columns predicted, every label) and per-class stats.

    Macro-F1 averages over classes present in ``y_true`` or ``y_pred`` (sklearn's default), so a
    class absent from a small test fold does not count as F1 = 0. Recall of a class with no
    support is ``None``.
    """
    y_true = np.asarray(y_true, dtype=int).ravel()
    y_pred = np.asarray(y_pred, dtype=int).ravel()
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true has {y_true.size} items, y_pred {y_pred.size}")
    if y_true.size == 0:
        raise ValueError("no predictions to score")
    k = len(labels)
    for name, y in (("y_true", y_true), ("y_pred", y_pred)):
        if y.min() < 0 or y.max() >= k:
            raise ValueError(f"{name} holds class indices outside 0..{k - 1}")
    cm = confusion_matrix(y_true, y_pred, labels=list(range(k)))
    support = cm.sum(axis=1)
    recall = {lab: (float(cm[i, i] / support[i]) if support[i] else None) for i, lab in enumerate(labels)}
    with warnings.catch_warnings():  # a fold lacking a class is expected (e.g. one EmoDB speaker)
        warnings.filterwarnings("ignore", message="y_pred contains classes not in y_true")
        ua = float(balanced_accuracy_score(y_true, y_pred))
    return {
        "wa": float(accuracy_score(y_true, y_pred)),
        "ua": ua,
        "macro_f1": float(f1_score(y_true, y_pred, average="macro", zero_division=0)),
        "confusion": cm.astype(int).tolist(),
        "per_class_recall": recall,
        "support": {lab: int(support[i]) for i, lab in enumerate(labels)},
        "n": int(y_true.size),
    }


def per_group_reports(y_true, y_pred, groups, labels: list[str]) -> dict:
    """`classification_report` of each group's items (e.g. per corpus of a merged test part);
    empty when there is only one group, since the overall report already says it all."""
    groups = np.asarray(groups)
    names = sorted(set(groups.tolist()))
    if len(names) < 2:
        return {}
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    return {g: {k: v for k, v in classification_report(y_true[groups == g], y_pred[groups == g], labels).items()
                if k != "confusion"} for g in names}


def cosine_similarity(a: np.ndarray, b: np.ndarray) -> dict:
    """Row-wise cosine between two (N, D) feature sets, e.g. student vs. teacher embeddings."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.ndim == 1:
        a, b = a[None], b[None]
    if a.shape != b.shape or a.ndim != 2:
        raise ValueError(f"expected two (N, D) arrays of one shape, got {a.shape} and {b.shape}")
    eps = 1e-12
    cos = (a * b).sum(axis=1) / np.maximum(np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1), eps)
    return {"mean": float(cos.mean()), "std": float(cos.std()), "median": float(np.median(cos)), "n": int(cos.size)}


def summarize_folds(reports: list[dict]) -> dict:
    """Mean and (population, ddof=0) std over folds, plus the pooled confusion and its WA/UA."""
    if not reports:
        raise ValueError("no fold reports to summarize")
    out: dict = {"n_folds": len(reports)}
    for key in ("wa", "ua", "macro_f1"):
        vals = np.array([r[key] for r in reports], dtype=float)
        out[key] = {"mean": float(vals.mean()), "std": float(vals.std()), "folds": vals.tolist()}
    cm = np.sum([np.asarray(r["confusion"], dtype=int) for r in reports], axis=0)
    support = cm.sum(axis=1)
    present = support > 0
    out["confusion"] = cm.tolist()
    out["pooled"] = {
        "wa": float(np.trace(cm) / cm.sum()),
        "ua": float(np.mean(np.diag(cm)[present] / support[present])),
        "n": int(cm.sum()),
    }
    return out


def save_figure(fig, path: str | Path) -> None:
    """Render to a temp file beside the target, then rename: readers never see half a PNG."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    atomic_write(path, lambda f: fig.savefig(f, format="png", dpi=120, bbox_inches="tight"))


def plot_confusion(confusion, labels: list[str], path: str | Path, title: str, normalize: bool = True) -> None:
    """Confusion matrix PNG: each cell shows its count and its row percentage.

    Colour follows the row-normalised value when ``normalize`` (so small classes stay
    readable), else the raw count.
    """
    from matplotlib.figure import Figure

    cm = np.asarray(confusion, dtype=float)
    k = len(labels)
    if cm.shape != (k, k):
        raise ValueError(f"confusion is {cm.shape}, expected ({k}, {k}) for {k} labels")
    rows = cm.sum(axis=1, keepdims=True)
    pct = np.divide(cm, rows, out=np.zeros_like(cm), where=rows > 0)
    shown = pct if normalize else cm
    vmax = 1.0 if normalize else max(float(cm.max()), 1.0)

    size = max(4.5, 0.75 * k + 2.5)
    fig = Figure(figsize=(size + 1.0, size))
    ax = fig.add_subplot()
    im = ax.imshow(shown, cmap="Blues", vmin=0.0, vmax=vmax)
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="row fraction" if normalize else "count")
    ax.set_xticks(range(k), labels, rotation=45, ha="right")
    ax.set_yticks(range(k), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    fontsize = 9 if k <= 8 else 7
    for i in range(k):
        for j in range(k):
            dark = shown[i, j] > 0.6 * vmax
            ax.text(j, i, f"{int(cm[i, j])}\n{100 * pct[i, j]:.0f}%", ha="center", va="center",
                    fontsize=fontsize, color="white" if dark else "black")
    save_figure(fig, path)


_SCORE_SUFFIXES = ("ua", "wa", "acc", "accuracy", "f1")


def plot_curves(history: list[dict], path: str | Path, title: str) -> None:
    """Training curves: losses on the left, scores (UA/WA/accuracy/F1) on the right.

    Plots whichever keys are present with at least one number; ``None`` entries (e.g. epochs
    without validation) leave gaps instead of failing.
    """
    from matplotlib.figure import Figure

    if not history:
        raise ValueError("empty history: nothing to plot")
    x = [h.get("epoch", i + 1) for i, h in enumerate(history)]
    keys = sorted({k for h in history for k, v in h.items()
                   if k != "epoch" and isinstance(v, (int, float)) and not isinstance(v, bool)})
    losses = [k for k in keys if "loss" in k]
    scores = [k for k in keys if k not in losses and k.lower().split("_")[-1] in _SCORE_SUFFIXES]
    panels = [(name, ks) for name, ks in (("loss", losses), ("score", scores)) if ks] or [("loss", [])]

    fig = Figure(figsize=(5.5 * len(panels), 4.0))
    for n, (ylabel, ks) in enumerate(panels, start=1):
        ax = fig.add_subplot(1, len(panels), n)
        for k in ks:
            y = [h.get(k) if isinstance(h.get(k), (int, float)) else np.nan for h in history]
            ax.plot(x, y, marker="o" if len(x) <= 30 else None, markersize=3, label=k)
        ax.set_xlabel("epoch")
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
        if ks:
            ax.legend()
        else:
            ax.text(0.5, 0.5, "no numeric curves in history", ha="center", va="center", transform=ax.transAxes)
    fig.suptitle(title)
    save_figure(fig, path)
