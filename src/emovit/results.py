"""The result of one model on one test part, the same record for networks and the openSMILE baseline,
and the pooling of per-fold results: what results.json holds under "models"."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .metrics import summarize_folds

SCORES = ("wa", "ua", "macro_f1")


@dataclass
class ModelResult:
    """Scores of one model on one test part, how big it is and what its training cost.

    `scores` is `metrics.classification_report`'s dict (wa, ua, macro_f1, confusion, per-class recall,
    support, n, and per_corpus for a merged test part); after pooling folds, wa/ua/macro_f1 are
    {mean, std, folds} and `pooled` holds the one-confusion WA/UA.  Sizes are absent for the baseline."""

    title: str
    scores: dict[str, Any]
    train_seconds: float
    size: dict[str, float] = field(default_factory=dict)  # params, params_m, gmacs, gmacs_all, gmacs_run
    epochs: dict[str, int] = field(default_factory=dict)  # per stage
    selected_epoch: dict[str, int] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)  # model-specific: cosine to the teacher, C of the SVM, timing
    # each test clip's answer, (path, view) -> label: written to predictions.csv, not to results.json
    predictions: dict[tuple[str, int], str] = field(default_factory=dict, repr=False)

    def to_dict(self) -> dict:
        """The flat form results.json has always had: scores, sizes and details at the top level."""
        out = {"title": self.title, **self.size, **self.scores, "epochs": self.epochs,
               "selected_epoch": self.selected_epoch, "train_seconds": self.train_seconds, **self.details}
        return out

    @classmethod
    def from_dict(cls, d: dict) -> "ModelResult":
        score_keys = {*SCORES, "confusion", "per_class_recall", "support", "n", "per_corpus", "pooled", "n_folds"}
        size_keys = {"params", "params_m", "gmacs", "gmacs_all", "gmacs_run"}
        known = score_keys | size_keys | {"title", "epochs", "selected_epoch", "train_seconds"}
        return cls(title=d["title"], scores={k: v for k, v in d.items() if k in score_keys},
                   train_seconds=float(d["train_seconds"]), size={k: v for k, v in d.items() if k in size_keys},
                   epochs=dict(d.get("epochs", {})), selected_epoch=dict(d.get("selected_epoch", {})),
                   details={k: v for k, v in d.items() if k not in known})


def pool_folds(per_fold: list[dict[str, ModelResult]]) -> dict[str, ModelResult]:
    """Mean +- std over folds and the pooled confusion, per model; training time summed over folds."""
    pooled = {}
    for name in per_fold[0]:
        results = [fold[name] for fold in per_fold]
        first = results[0]
        summary = summarize_folds([r.scores for r in results])
        details = {}
        cosines = [r.details["cosine_to_teacher"]["mean"] for r in results if "cosine_to_teacher" in r.details]
        if cosines:
            details["cosine_to_teacher"] = {"mean": sum(cosines) / len(cosines)}
        pooled[name] = ModelResult(first.title, summary, sum(r.train_seconds for r in results), dict(first.size),
                                   dict(first.epochs), {}, details)
    return pooled


def as_dicts(models: dict[str, ModelResult]) -> dict[str, dict]:
    return {name: m.to_dict() for name, m in models.items()}


def as_results(models: dict[str, dict]) -> dict[str, ModelResult]:
    return {name: ModelResult.from_dict(m) for name, m in models.items()}


__all__ = ["ModelResult", "SCORES", "as_dicts", "as_results", "pool_folds"]
