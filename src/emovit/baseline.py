"""Classical baseline: openSMILE functionals + linear SVM, on exactly the split the ViT uses.

It answers "how much does the transformer add over the standard recipe?" on the same
utterances, with the same protocol. Only original audio (view 0) is used: augmented copies
belong to the neural pipeline, and leaving them out keeps the baseline free of the
``paper-leaky`` leak even under that protocol.
"""
from __future__ import annotations

import time
import warnings
from pathlib import Path

import numpy as np
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from .audio import load_audio
from .checkpoint import atomic_write
from .config import SAMPLE_RATE
from .extras import require
from .features import file_digest
from .metrics import classification_report, per_group_reports, summarize_folds
from .progress import Progress
from .protocols import FOLD_PROTOCOLS, Split, protocol_splits
from .results import ModelResult

FEATURE_SETS = ("ComParE_2016", "eGeMAPSv02")
C_GRID = (1e-4, 1e-3, 1e-2, 1e-1, 1.0)
DEFAULT_C = 1e-3  # a common choice for standardised ComParE features when there is no validation part


def _smile(feature_set: str):
    (opensmile,) = require("baseline", "The openSMILE baseline")
    if feature_set not in FEATURE_SETS:
        raise ValueError(f"unknown feature set {feature_set!r}; expected one of {FEATURE_SETS}")
    return opensmile.Smile(feature_set=opensmile.FeatureSet[feature_set],
                           feature_level=opensmile.FeatureLevel.Functionals)


def _cached(path: Path | None) -> np.ndarray | None:
    """A cached vector, or None when absent or unreadable (then it is recomputed)."""
    if path is None:
        return None
    try:
        return np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError):
        return None


def extract_functionals(paths: list[str], feature_set: str = "ComParE_2016", cache_dir: Path | None = None,
                        progress: bool = True) -> np.ndarray:
    """One functionals vector per file, shape (len(paths), n_features), float32.

    Cached per file under ``cache_dir/<feature_set>/<sha1>.npy``, keyed by the file's bytes (not
    its name), so renamed or moved corpora still hit the cache and edited files do not.
    """
    smile = _smile(feature_set)
    cache = Path(cache_dir) / feature_set if cache_dir is not None else None
    rows = []
    for p in Progress(paths, f"openSMILE {feature_set}", enabled=progress, unit="file"):
        target = cache / f"{file_digest(p)}.npy" if cache is not None else None
        vec = _cached(target)
        if vec is None:
            # the same decoding as the networks' (emovit.audio), so both see the same signal
            vec = smile.process_signal(load_audio(p, SAMPLE_RATE), SAMPLE_RATE).to_numpy(dtype=np.float32)[0]
            if target is not None:
                atomic_write(target, lambda f: np.save(f, vec))
        rows.append(vec)
    if not rows:
        return np.zeros((0, len(smile.feature_names)), dtype=np.float32)
    return np.stack(rows).astype(np.float32)


def _svm(C: float, seed: int) -> Pipeline:
    # libsvm's linear SVC (hinge loss, one-vs-one) is the classic ComParE baseline and, unlike
    # LinearSVC's coordinate descent, needs no iteration cap to converge on ~6k features.
    return Pipeline([("scale", StandardScaler()),
                     ("svm", SVC(kernel="linear", C=C, class_weight="balanced", random_state=seed))])


def train_svm(X_train, y_train, X_val=None, y_val=None, seed: int = 0) -> Pipeline:
    """Standardise + linear SVM with balanced class weights (corpora are imbalanced).

    With a validation part, C is the value in ``C_GRID`` with the best validation UA (ties go
    to the smaller, more regularised C); the returned model is the one fitted on the training
    part only. Without one, C = ``DEFAULT_C``. The test part is never seen here.
    The chosen C and the validation UA per C are kept as ``model.C_`` and ``model.val_ua_``.
    """
    from sklearn.metrics import balanced_accuracy_score

    X_train = np.asarray(X_train, dtype=np.float64)
    y_train = np.asarray(y_train)
    if X_val is None or y_val is None or len(y_val) == 0:
        model = _svm(DEFAULT_C, seed).fit(X_train, y_train)
        model.C_, model.val_ua_ = DEFAULT_C, {}
        return model
    X_val = np.asarray(X_val, dtype=np.float64)
    best, best_ua, scores = None, -1.0, {}
    for C in C_GRID:
        model = _svm(C, seed).fit(X_train, y_train)
        with warnings.catch_warnings():  # val may lack a class; UA then averages over those present
            warnings.simplefilter("ignore", UserWarning)
            ua = float(balanced_accuracy_score(y_val, model.predict(X_val)))
        scores[C] = ua
        if ua > best_ua:
            best, best_ua = model, ua
    best.C_, best.val_ua_ = best.named_steps["svm"].C, scores
    return best


CROSS_FIT_C_GRID = (1e-4, 1e-3, 1e-2)
CROSS_FIT_FOLDS = 5


def cross_fitted_probabilities(X, y, groups, num_classes: int) -> tuple[np.ndarray, float]:
    """Each row's class probabilities from a logistic regression on standardised functionals (balanced class
    weights) fitted without the row's group, its speaker (groups split in at most CROSS_FIT_FOLDS folds): how
    the row looks to the classical model on a speaker it has not seen, as soft labels a network can be taught
    (StageConfig.classical_kd_weight). C is the value of CROSS_FIT_C_GRID with the lowest cross-fitted
    log-loss, so nothing but these rows is used. Returns (probabilities of shape (n, num_classes), C)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import log_loss
    from sklearn.model_selection import GroupKFold

    X = np.nan_to_num(np.asarray(X, dtype=np.float64))
    y, groups = np.asarray(y), np.asarray(groups)
    distinct = len(np.unique(groups))
    if distinct < 2:
        raise ValueError("cross-fitting needs at least two speakers in the training part")
    folds = list(GroupKFold(n_splits=min(CROSS_FIT_FOLDS, distinct)).split(X, y, groups))
    best = None
    for C in CROSS_FIT_C_GRID:
        out = np.zeros((len(y), num_classes))
        for fit_rows, scored_rows in folds:
            model = Pipeline([("scale", StandardScaler()),
                              ("lr", LogisticRegression(C=C, class_weight="balanced", max_iter=2000))])
            model.fit(X[fit_rows], y[fit_rows])
            out[np.ix_(scored_rows, model.classes_)] = model.predict_proba(X[scored_rows])
        floored = np.clip(out, 1e-7, 1.0)  # a class no fit saw has probability 0: floored for the log
        loss = log_loss(y, floored / floored.sum(1, keepdims=True), labels=list(range(num_classes)))
        if best is None or loss < best[0]:
            best = (loss, C, out)
    return best[2].astype(np.float32), best[1]


def title(feature_set: str, by_speaker: bool = False) -> str:
    return f"openSMILE {feature_set} + linear SVM" + (", functionals standardised per speaker" if by_speaker else "")


def standardise_by_speaker(X: np.ndarray, speakers: list) -> np.ndarray:
    """Each speaker's rows to zero mean and unit variance per feature, on that speaker's rows alone (the
    classical speaker normalisation of SER; a feature constant for a speaker becomes 0)."""
    X = np.asarray(X, dtype=np.float64).copy()
    keys = np.array([str(s) for s in speakers])
    for key in np.unique(keys):
        rows = keys == key
        std = X[rows].std(0)
        X[rows] = (X[rows] - X[rows].mean(0)) / np.where(std > 1e-8, std, 1.0)
    return X


def run_baseline(split: Split, labels: list[str], feature_set: str = "ComParE_2016", cache_dir=None,
                 seed: int = 0, progress: bool = True, by_speaker: bool = False) -> ModelResult:
    """Fit on the split's training originals, pick C on its validation part, score its test part once.
    With `by_speaker` (a recipe's per-speaker normalisation, given to the networks too), every part's
    functionals are standardised speaker by speaker first, the test speakers on their own test clips."""
    t0 = time.perf_counter()
    parts = {p: split.originals(p) for p in ("train", "val", "test")}
    if not parts["train"] or not parts["test"]:
        raise ValueError("the split needs original (view 0) utterances in both train and test")
    index = {lab: i for i, lab in enumerate(labels)}
    unknown = sorted({u.label for us in parts.values() for u in us} - set(index))
    if unknown:
        raise ValueError(f"labels {unknown} are not in the label list {labels}")

    unique = sorted({u.path for us in parts.values() for u in us})
    X_all = extract_functionals(unique, feature_set, cache_dir=cache_dir, progress=progress)
    if not np.isfinite(X_all).all():
        warnings.warn("openSMILE returned non-finite values; replaced by 0", RuntimeWarning, stacklevel=2)
        X_all = np.nan_to_num(X_all, nan=0.0, posinf=0.0, neginf=0.0)
    row = {p: i for i, p in enumerate(unique)}

    def xy(us):
        X = X_all[[row[u.path] for u in us]]
        if by_speaker:
            X = standardise_by_speaker(X, [(u.corpus, u.speaker) for u in us])
        return X, np.array([index[u.label] for u in us], dtype=int)

    X_tr, y_tr = xy(parts["train"])
    X_va, y_va = xy(parts["val"]) if parts["val"] else (None, None)
    X_te, y_te = xy(parts["test"])
    model = train_svm(X_tr, y_tr, X_va, y_va, seed=seed)
    predicted = model.predict(X_te)
    scores = classification_report(y_te, predicted, labels)
    by_corpus = per_group_reports(y_te, predicted, [u.corpus for u in parts["test"]], labels)
    if by_corpus:
        scores["per_corpus"] = by_corpus
    details = {"protocol": split.protocol, "seed": split.seed, "fold": split.fold, "feature_set": feature_set,
               "normalization": "speaker" if by_speaker else "global",
               "C": float(model.C_), "val_ua_by_C": {str(c): ua for c, ua in model.val_ua_.items()},
               "n_train": len(parts["train"]), "n_val": len(parts["val"]), "n_test": len(parts["test"])}
    return ModelResult(title(feature_set, by_speaker), scores, time.perf_counter() - t0, details=details,
                       predictions={(u.path, 0): labels[i] for u, i in zip(parts["test"], predicted)})


def baseline_study(utterances, protocol: str, seeds: list[int], feature_set: str = "ComParE_2016",
                   cache_dir=None, views: int = 4, progress: bool = True, folds: int = 10) -> dict:
    """The baseline over several seeds (paper, paper-leaky, speaker) or all folds of a fold protocol
    (loso, kfold, emobox; the first seed).  Mean +- std over splits or folds, and a pooled confusion."""
    labels = sorted({u.label for u in utterances})
    by_folds = protocol in FOLD_PROTOCOLS
    splits = [s for seed in (seeds[:1] if by_folds else seeds)
              for s in protocol_splits(utterances, protocol, seed=seed, views=views, folds=folds)[0]]
    runs = [run_baseline(s, labels, feature_set, cache_dir=cache_dir, seed=s.seed, progress=progress)
            for s in splits]
    return {"title": title(feature_set), "protocol": protocol, "labels": labels, "folds": by_folds,
            "seeds": seeds[:1] if by_folds else seeds, "runs": [r.to_dict() for r in runs],
            **summarize_folds([r.scores for r in runs])}
