"""Evaluation protocols: how a corpus manifest is cut into train / validation / test parts.

Every reported number names one of these protocols, because they answer different questions:

- ``paper``: stratified random 80/20 split of *utterances* (as the paper describes); the same
  speakers appear in train and test, so it measures within-speaker generalisation.
- ``paper-leaky``: each utterance is first expanded into ``views`` copies (view 0 the original,
  1.. augmented) and the *views* are split at random, which is what the paper's test counts
  suggest. Views of one recording land in different parts; it exists only to measure that leak.
- ``speaker``: about ``test_fraction`` of the speakers (balanced by sex where known) are held out.
- ``loso``: leave-one-speaker-out (or one group of speakers) cross-validation.
- ``kfold``: stratified K-fold cross-validation over utterances (speaker-dependent; every
  utterance is tested once): :func:`kfold_folds`.
- ``emobox``: the EmoBox benchmark's published test folds for EmoDB, SAVEE and RAVDESS, from the
  packaged table ``emovit/data/emobox-folds.csv``: :func:`emobox_folds`.

Validation always comes from the training side; the test part is never used for selection.
A :class:`Split` carries both utterance lists and ``(utterance, view)`` lists so that a trainer
can treat every protocol the same way: iterate over views.
"""
from __future__ import annotations

import csv
import os
import random
import re
import tempfile
from collections import Counter
from dataclasses import dataclass, field, fields
from pathlib import Path

from sklearn.model_selection import train_test_split

from emovit.corpora.manifest import Utterance

PROTOCOLS = ("paper", "paper-leaky", "speaker", "loso", "kfold", "emobox")
PARTS = ("train", "val", "test")
# With this few speakers, holding one out for validation would starve training (SAVEE has 4),
# so validation falls back to a stratified fraction of the training utterances.
MIN_SPEAKERS_FOR_SPEAKER_VAL = 5

View = tuple[Utterance, int]


@dataclass
class Split:
    """One train/val/test partition. ``*_views`` list ``(utterance, view_index)`` pairs.

    For non-leaky protocols the training part gets views ``0..views-1`` of each utterance
    (original + augmentations, made after the split) and val/test get view 0 only. For
    ``paper-leaky`` the views themselves were split, so ``train``/``val``/``test`` hold every
    utterance that has at least one view in that part (and may therefore overlap).
    """

    protocol: str
    seed: int
    fold: str | None
    train: list[Utterance]
    val: list[Utterance]
    test: list[Utterance]
    train_views: list[View] = field(default_factory=list)
    val_views: list[View] = field(default_factory=list)
    test_views: list[View] = field(default_factory=list)
    views: int = 1
    val_note: str = ""

    def __post_init__(self) -> None:
        # A Split built by hand from utterance lists alone still iterates like any other.
        for part in PARTS:
            if not getattr(self, f"{part}_views") and getattr(self, part):
                n = self.views if part == "train" else 1
                setattr(self, f"{part}_views", _expand(getattr(self, part), n))

    @property
    def leaky_views(self) -> int:
        """Views per utterance made *before* splitting (0 when the split is not leaky)."""
        return self.views if self.protocol == "paper-leaky" else 0

    def part(self, name: str) -> list[Utterance]:
        if name not in PARTS:
            raise ValueError(f"unknown part {name!r}; expected one of {PARTS}")
        return getattr(self, name)

    def originals(self, name: str) -> list[Utterance]:
        """Utterances whose original audio (view 0) is in part ``name``; no copy is in two parts."""
        return [u for u, v in getattr(self, f"{name}_views") if v == 0]

    def summary(self) -> dict:
        out = {
            "protocol": self.protocol,
            "seed": self.seed,
            "fold": self.fold,
            "views": self.views,
            "sizes": {p: len(self.part(p)) for p in PARTS},
            "view_sizes": {p: len(getattr(self, f"{p}_views")) for p in PARTS},
            "speakers": {p: sorted({u.speaker for u in self.part(p)}, key=_natural_key) for p in PARTS},
            "class_counts": {p: dict(sorted(Counter(u.label for u in self.part(p)).items())) for p in PARTS},
        }
        if self.val_note:
            out["val_note"] = self.val_note
        return out


def _natural_key(s: str) -> list:
    """Sort "spk2" before "spk10" so speaker groups follow the corpus's numbering."""
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", s)]


def _utt_key(u: Utterance) -> tuple:
    return (u.path, u.speaker, u.label)


def _sorted(utts) -> list[Utterance]:
    return sorted(utts, key=_utt_key)


def _sorted_views(views) -> list[View]:
    return sorted(views, key=lambda uv: (_utt_key(uv[0]), uv[1]))


def _expand(utts: list[Utterance], n: int) -> list[View]:
    return [(u, v) for u in utts for v in range(n)]


def _stratified_split(items: list, labels: list[str], fraction: float, seed: int) -> tuple[list, list]:
    """Random split stratified by label; unstratified when a class is too small to stratify."""
    if not items or fraction <= 0:
        return list(items), []
    n_out = max(1, round(fraction * len(items)))
    if n_out >= len(items):
        raise ValueError(f"cannot hold out {fraction:.0%} of {len(items)} items and keep any")
    counts = Counter(labels)
    stratify = labels if min(counts.values()) >= 2 and len(counts) <= min(n_out, len(items) - n_out) else None
    idx = list(range(len(items)))
    keep, out = train_test_split(idx, test_size=n_out, random_state=seed, shuffle=True, stratify=stratify)
    return [items[i] for i in sorted(keep)], [items[i] for i in sorted(out)]


def _speaker_sex(utts: list[Utterance]) -> dict[str, str]:
    """A speaker's sex if all their rows agree on a known value, else ""."""
    seen: dict[str, set[str]] = {}
    for u in utts:
        seen.setdefault(u.speaker, set()).add(u.sex)
    return {s: (next(iter(v)) if len(v) == 1 and next(iter(v)) in ("male", "female") else "") for s, v in seen.items()}


def _pick_speakers(speakers: list[str], sex: dict[str, str], n: int, rng: random.Random) -> list[str]:
    """Pick ``n`` speakers at random, about half male and half female where sex is known.

    Unknown-sex speakers get their proportional share; a sex group that runs short is topped up
    from the others so exactly ``n`` come back.
    """
    groups = {g: sorted([s for s in speakers if sex.get(s, "") == g], key=_natural_key) for g in ("male", "female", "")}
    for g in groups.values():
        rng.shuffle(g)
    n_unknown = round(n * len(groups[""]) / len(speakers)) if speakers else 0
    n_known = n - n_unknown
    first, second = ("male", "female") if rng.random() < 0.5 else ("female", "male")
    want = {first: (n_known + 1) // 2, second: n_known // 2, "": n_unknown}
    picked = []
    for g in ("male", "female", ""):
        picked += groups[g][: want[g]]
    rest = [s for g in ("male", "female", "") for s in groups[g] if s not in picked]
    rng.shuffle(rest)
    picked += rest[: n - len(picked)]
    return sorted(picked, key=_natural_key)


def _val_from_train(train: list[Utterance], n_corpus_speakers: int, seed: int, val_fraction: float,
                    rng: random.Random, n_val_speakers: int | None) -> tuple[list, list, str]:
    """Validation held out from the training side: by speaker when the corpus has enough, else by utterance."""
    speakers = sorted({u.speaker for u in train}, key=_natural_key)
    if val_fraction <= 0:
        return train, [], ""
    if n_corpus_speakers < MIN_SPEAKERS_FOR_SPEAKER_VAL or len(speakers) < 2:
        keep, val = _stratified_split(train, [u.label for u in train], val_fraction, seed)
        note = (f"only {len(speakers)} training speaker(s): validation is a stratified "
                f"{val_fraction:.0%} of training utterances, so it shares speakers with train")
        return keep, val, note
    n = n_val_speakers if n_val_speakers is not None else max(1, round(val_fraction * len(speakers)))
    if n >= len(speakers):
        corpora = ", ".join(sorted({u.corpus for u in train}))
        raise ValueError(f"{n} validation speaker(s) would leave no training speaker: {corpora} has "
                         f"{len(speakers)} outside the test part")
    val_spk = set(_pick_speakers(speakers, _speaker_sex(train), n, rng))
    return [u for u in train if u.speaker not in val_spk], [u for u in train if u.speaker in val_spk], ""


def make_split(utterances: list[Utterance], protocol: str, seed: int = 0, test_fraction: float = 0.2,
               val_fraction: float = 0.1, views: int = 4, val_speakers: int | None = None) -> Split:
    """Split for ``paper``, ``paper-leaky`` or ``speaker``; use :func:`loso_folds` for ``loso``.

    ``speaker`` on several corpora holds out about ``test_fraction`` of each corpus's speakers, and
    validates on ``val_speakers`` of each corpus's training speakers (default: ``val_fraction`` of
    them, at least one; a corpus with too few speakers validates on utterances).

    ``views`` is the number of copies per training utterance (original + augmentations); for
    ``paper-leaky`` it is the number of copies made before the split.
    """
    if protocol == "loso":
        raise ValueError("protocol 'loso' has several folds: use loso_folds()")
    if protocol in ("kfold", "emobox"):
        raise ValueError(f"protocol {protocol!r} has several folds: use {protocol}_folds()")
    if protocol not in PROTOCOLS:
        raise ValueError(f"unknown protocol {protocol!r}; expected one of {PROTOCOLS}")
    if views < 1:
        raise ValueError("views must be >= 1")
    if not utterances:
        raise ValueError("no utterances to split")
    utts = _sorted(utterances)  # input order must not change the result

    if protocol == "paper":
        train, test = _stratified_split(utts, [u.label for u in utts], test_fraction, seed)
        train, val = _stratified_split(train, [u.label for u in train], val_fraction, seed)
        return Split(protocol, seed, None, train, val, test, views=views)

    if protocol == "paper-leaky":
        all_views = _expand(utts, views)
        train_v, test_v = _stratified_split(all_views, [u.label for u, _ in all_views], test_fraction, seed)
        train_v, val_v = _stratified_split(train_v, [u.label for u, _ in train_v], val_fraction, seed)
        parts = [_sorted({u for u, _ in vs}) for vs in (train_v, val_v, test_v)]
        return Split(protocol, seed, None, *parts, train_views=_sorted_views(train_v),
                     val_views=_sorted_views(val_v), test_views=_sorted_views(test_v), views=views)

    corpora = sorted({u.corpus for u in utts})
    if len(corpora) > 1:  # hold out speakers of every corpus, so each one is tested on new voices
        per_corpus = [make_split([u for u in utts if u.corpus == c], "speaker", seed, test_fraction, val_fraction, views,
                                 val_speakers) for c in corpora]
        note = "; ".join(f"{c}: {s.val_note}" for c, s in zip(corpora, per_corpus) if s.val_note)
        return Split(protocol, seed, None, *(_sorted(u for s in per_corpus for u in s.part(p)) for p in PARTS),
                     views=views, val_note=note)
    speakers = sorted({u.speaker for u in utts}, key=_natural_key)
    if len(speakers) < 2:
        raise ValueError("protocol 'speaker' needs at least 2 speakers")
    rng = random.Random(f"speaker:{seed}")
    n_test = min(len(speakers) - 1, max(1, round(test_fraction * len(speakers))))
    test_spk = set(_pick_speakers(speakers, _speaker_sex(utts), n_test, rng))
    train = [u for u in utts if u.speaker not in test_spk]
    test = [u for u in utts if u.speaker in test_spk]
    train, val, note = _val_from_train(train, len(speakers), seed, val_fraction, rng, val_speakers)
    return Split(protocol, seed, None, train, val, test, views=views, val_note=note)


def loso_folds(utterances: list[Utterance], seed: int = 0, val_fraction: float = 0.1,
               group_size: int | None = None, views: int = 4, val_speakers: int = 1) -> list[Split]:
    """Leave-one-speaker(-group)-out folds, speakers in natural order, one fold per group.

    ``group_size`` defaults to 4 for the 24-actor RAVDESS (the usual 6 folds; consecutive actors
    alternate male/female, so each group is balanced) and 1 otherwise. Validation is
    ``val_speakers`` training speakers chosen by seed, or utterance-level when too few speakers remain.
    """
    if not utterances:
        raise ValueError("no utterances to split")
    utts = _sorted(utterances)
    speakers = sorted({u.speaker for u in utts}, key=_natural_key)
    if len(speakers) < 2:
        raise ValueError("protocol 'loso' needs at least 2 speakers")
    if group_size is None:
        ravdess = {u.corpus.lower() for u in utts} == {"ravdess"} and len(speakers) == 24
        group_size = 4 if ravdess else 1
    if group_size < 1 or group_size >= len(speakers):
        raise ValueError(f"group_size {group_size} leaves no training speakers among {len(speakers)}")
    folds = []
    for start in range(0, len(speakers), group_size):
        group = set(speakers[start:start + group_size])
        name = "+".join(speakers[start:start + group_size])
        rng = random.Random(f"loso:{seed}:{name}")
        train = [u for u in utts if u.speaker not in group]
        test = [u for u in utts if u.speaker in group]
        train, val, note = _val_from_train(train, len(speakers), seed, val_fraction, rng, val_speakers)
        folds.append(Split("loso", seed, name, train, val, test, views=views, val_note=note))
    return folds


def _fold_seed(protocol: str, seed: int, fold: str) -> int:
    """A deterministic integer seed for one fold's validation draw (``random`` hashes str seeds stably)."""
    return random.Random(f"{protocol}:{seed}:{fold}").randrange(2**32)


def kfold_folds(utterances: list[Utterance], k: int = 10, seed: int = 0, val_fraction: float = 0.1,
                views: int = 4) -> list[Split]:
    """Stratified K-fold cross-validation over utterances (protocol ``kfold``), folds ``"1"``..``"K"``.

    Every utterance is tested exactly once. Folds are stratified by class
    (``StratifiedKFold(shuffle=True, random_state=seed)`` on the sorted utterances, so input order
    does not matter); speakers are mixed between train and test (speaker-dependent, like
    ``paper``). Validation is a stratified ``val_fraction`` of each fold's training part, drawn
    with a fold-specific seed, so model selection never sees the test fold.
    """
    from sklearn.model_selection import StratifiedKFold

    if not utterances:
        raise ValueError("no utterances to split")
    if views < 1:
        raise ValueError("views must be >= 1")
    if k < 2:
        raise ValueError(f"protocol 'kfold' needs k >= 2 folds, got k={k}")
    utts = _sorted(utterances)
    labels = [u.label for u in utts]
    counts = Counter(labels)
    smallest, n_smallest = min(counts.items(), key=lambda kv: (kv[1], kv[0]))
    if k > n_smallest:
        raise ValueError(f"k={k} folds is more than the smallest class has utterances "
                         f"({smallest!r}: {n_smallest}); every fold must test every class, so use k <= {n_smallest}")
    skf = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed)
    folds = []
    for i, (train_idx, test_idx) in enumerate(skf.split(utts, labels), start=1):
        name = str(i)
        train = [utts[j] for j in sorted(train_idx)]
        test = [utts[j] for j in sorted(test_idx)]
        train, val = _stratified_split(train, [u.label for u in train], val_fraction,
                                       _fold_seed("kfold", seed, name))
        note = (f"validation is a stratified {val_fraction:.0%} of fold {name}'s training utterances "
                f"(fold-specific seed); it shares speakers with train and test") if val else ""
        folds.append(Split("kfold", seed, name, train, val, test, views=views, val_note=note))
    return folds


EMOBOX_TABLE = "data/emobox-folds.csv"  # inside the emovit package
EMOBOX_COLUMNS = ("corpus", "utterance", "test_fold", "emobox_label")
# EmoBox's label names (its own spelling, "boredem" included) -> canonical emotion, per corpus.
EMOBOX_LABELS: dict[str, dict[str, str]] = {
    "emodb": {"anger": "anger", "boredem": "boredom", "disgust": "disgust", "fear": "fear",
              "happy": "happiness", "neutral": "neutral", "sad": "sadness"},
    "ravdess": {"Angry": "anger", "Calm": "calm", "Disgust": "disgust", "Fearful": "fear",
                "Happy": "happiness", "Neutral": "neutral", "Sad": "sadness", "Surprised": "surprise"},
    "savee": {"a": "anger", "d": "disgust", "f": "fear", "h": "happiness", "n": "neutral",
              "sa": "sadness", "su": "surprise"},
}


class EmoboxFolds(list):
    """What :func:`emobox_folds` returns: a ``list`` of :class:`Split` (one per table fold, in
    fold order) that also reports what the table did not cover.

    - ``corpus``: the corpus the folds are for.
    - ``left_out``: the given utterances the table has no row for (sorted); they are in no fold.
    - ``labels_not_required``: ``{canonical label: table rows}`` for the table's classes that no
      given utterance carries (the utterances were filtered by label); those rows were not required.
    """

    def __init__(self, folds: list[Split], corpus: str, left_out: list[Utterance],
                 labels_not_required: dict[str, int]):
        super().__init__(folds)
        self.corpus = corpus
        self.left_out = left_out
        self.labels_not_required = labels_not_required

    def report(self) -> dict:
        return {"corpus": self.corpus, "folds": [s.fold for s in self],
                "left_out": [u.path for u in self.left_out], "labels_not_required": dict(self.labels_not_required)}


def _emobox_rows(table: str | Path | None) -> tuple[str, list[dict]]:
    """The fold table's rows (the packaged copy when ``table`` is None) and where they came from."""
    if table is None:
        from importlib.resources import files

        resource = files("emovit").joinpath(EMOBOX_TABLE)
        where, text = f"emovit/{EMOBOX_TABLE}", resource.read_text(encoding="utf-8")
    else:
        where, text = str(table), Path(table).read_text(encoding="utf-8")
    reader = csv.DictReader(text.splitlines())
    missing = set(EMOBOX_COLUMNS) - set(reader.fieldnames or [])
    if missing:
        raise ValueError(f"{where}: fold table lacks column(s) {sorted(missing)}; expected {list(EMOBOX_COLUMNS)}")
    rows = [{k: (r.get(k) or "").strip() for k in EMOBOX_COLUMNS} for r in reader]
    if not rows:
        raise ValueError(f"{where}: empty fold table")
    blank = [i + 2 for i, r in enumerate(rows) if not all(r.values())]
    if blank:
        raise ValueError(f"{where}: {len(blank)} row(s) with an empty field, e.g. line(s) {blank[:5]}")
    seen = Counter((r["corpus"], r["utterance"]) for r in rows)
    twice = sorted(key for key, n in seen.items() if n > 1)
    if twice:
        raise ValueError(f"{where}: {len(twice)} utterance(s) listed more than once, e.g. {twice[:5]}")
    return where, rows


def _emobox_key(u: Utterance) -> str:
    """The table's ``utterance`` for ``u``: its file stem. SAVEE's official layout
    (``AudioData/DC/a01.wav``) has no speaker in the stem; the table writes ``DC_a01``."""
    stem = Path(u.path).stem
    if u.corpus.lower() == "savee" and not re.match(r"^[A-Za-z]{2}_", stem):
        return f"{u.speaker.split(':')[-1]}_{stem}"
    return stem


def emobox_folds(utterances: list[Utterance], table: str | Path | None = None, seed: int = 0,
                 val_fraction: float = 0.1, views: int = 4, val_speakers: int | None = None) -> EmoboxFolds:
    """The EmoBox benchmark's published test folds for one corpus (protocol ``emobox``).

    ``table`` is a CSV with columns ``corpus,utterance,test_fold,emobox_label`` (default: the
    packaged ``emovit/data/emobox-folds.csv``, EmoBox commit 08280f2). Utterances are matched by
    (corpus, file stem); each is tested in its ``test_fold`` and trained on in every other fold.
    Fold names are the table's (``"1"``.. ``"K"``). EmoDB: 5 speaker-dependent folds; SAVEE: 4
    folds of one speaker; RAVDESS: 6 folds of 4 actors.

    EmoBox has no validation part, so one is carved from each fold's training part (see
    ``val_note``): when the fold's test speakers also appear in training (EmoDB), a stratified
    ``val_fraction`` of the training utterances; when they are held out (SAVEE, RAVDESS), by
    speaker with the ``speaker``/``loso`` rule (:func:`_val_from_train`): RAVDESS holds out
    ``val_speakers`` actors, by default round(``val_fraction`` x 20 training actors) = 2, half male
    and half female, chosen by seed; SAVEE has too few speakers and falls back to a stratified
    fraction of training utterances.

    Refused (ValueError), never a silent partial protocol: a corpus the table has no folds for;
    several corpora at once; a table label that disagrees with the utterance's label; two given
    utterances with the same (corpus, stem); table rows with no matching utterance. Rows whose
    canonical label no given utterance carries are not required (so a label-filtered corpus,
    e.g. after ``select_labels``, works); they are reported in ``labels_not_required``. Given
    utterances the table does not list are left out of every fold and returned in ``left_out``.
    """
    if not utterances:
        raise ValueError("no utterances to split")
    if views < 1:
        raise ValueError("views must be >= 1")
    where, rows = _emobox_rows(table)
    table_corpora = sorted({r["corpus"] for r in rows})
    corpora = sorted({u.corpus.lower() for u in utterances})
    if len(corpora) > 1:
        raise ValueError(f"EmoBox folds are per corpus; got {len(corpora)} corpora at once ({', '.join(corpora)}): "
                         f"call emobox_folds once per corpus")
    corpus = corpora[0]
    if corpus not in table_corpora:
        raise ValueError(f"{where} has no EmoBox folds for corpus {corpus!r}; it has {', '.join(table_corpora)}")
    names = EMOBOX_LABELS.get(corpus, {})
    rows = [r for r in rows if r["corpus"] == corpus]
    unknown = sorted({r["emobox_label"] for r in rows} - set(names))
    if unknown:
        raise ValueError(f"{where}: EmoBox label(s) {unknown} for {corpus} have no canonical emotion "
                         f"(known: {', '.join(names) or 'none'})")

    utts = _sorted(utterances)
    by_key: dict[str, Utterance] = {}
    clashes = []
    for u in utts:
        key = _emobox_key(u)
        if key in by_key:
            clashes.append(key)
        by_key[key] = u
    if clashes:
        raise ValueError(f"{len(clashes)} utterance name(s) occur more than once among the given {corpus} "
                         f"utterances (EmoBox matches by file name without extension), e.g. {clashes[:5]}")

    present = {u.label for u in utts}
    labels_not_required = dict(sorted(Counter(names[r["emobox_label"]] for r in rows
                                              if names[r["emobox_label"]] not in present).items()))
    required = [r for r in rows if names[r["emobox_label"]] in present]
    unmatched = [r["utterance"] for r in required if r["utterance"] not in by_key]
    if unmatched:
        raise ValueError(f"{len(unmatched)} of the {len(required)} {corpus} utterances in {where} are not among the "
                         f"given utterances (e.g. {', '.join(unmatched[:5])}); the EmoBox folds would be partial. "
                         f"Index the whole corpus (filtering by label is fine)")
    mismatched = [(r["utterance"], r["emobox_label"], by_key[r["utterance"]].label) for r in required
                  if names[r["emobox_label"]] != by_key[r["utterance"]].label]
    if mismatched:
        raise ValueError(f"{len(mismatched)} {corpus} utterance(s) labelled differently in {where} than by the corpus, "
                         "e.g. " + ", ".join(f"{n}: EmoBox {e!r} vs {c!r}" for n, e, c in mismatched[:5]))

    fold_of = {by_key[r["utterance"]]: r["test_fold"] for r in required}
    left_out = [u for u in utts if u not in fold_of]
    kept = [u for u in utts if u in fold_of]
    fold_names = sorted(set(fold_of.values()), key=_natural_key)
    if len(fold_names) < 2:
        raise ValueError(f"{where} gives {corpus} only {len(fold_names)} fold(s); cross-validation needs 2 or more")
    n_speakers = len({u.speaker for u in kept})
    folds = []
    for name in fold_names:
        test = [u for u in kept if fold_of[u] == name]
        train = [u for u in kept if fold_of[u] != name]
        test_spk = {u.speaker for u in test}
        if test_spk & {u.speaker for u in train}:  # speaker-dependent fold (EmoDB)
            train, val = _stratified_split(train, [u.label for u in train], val_fraction,
                                           _fold_seed("emobox", seed, f"{corpus}:{name}"))
            note = (f"test speakers also train (speaker-dependent fold): validation is a stratified "
                    f"{val_fraction:.0%} of fold {name}'s training utterances (fold-specific seed)") if val else ""
        else:  # test speakers held out: validate on held-out training speakers where there are enough
            rng = random.Random(f"emobox:{seed}:{corpus}:{name}")
            train, val, note = _val_from_train(train, n_speakers, _fold_seed("emobox", seed, f"{corpus}:{name}"),
                                               val_fraction, rng, val_speakers)
            if val and note:
                note = f"test speakers held out, but {note}"
            elif val:
                val_spk = sorted({u.speaker for u in val}, key=_natural_key)
                sexes = Counter(_speaker_sex(val).values())
                sex_text = ", ".join(f"{n} {s}" for s, n in sorted(sexes.items()) if s) or "sex unknown"
                note = (f"test speakers held out: validation holds out {len(val_spk)} training speaker(s) "
                        f"({', '.join(val_spk)}; {sex_text}), chosen by seed; none of them is in train or test")
        folds.append(Split("emobox", seed, name, train, val, test, views=views, val_note=note))
    return EmoboxFolds(folds, corpus, left_out, labels_not_required)


FOLD_PROTOCOLS = ("loso", "kfold", "emobox")  # several test folds, pooled


def protocol_splits(utterances: list[Utterance], protocol: str, seed: int = 0, views: int = 4,
                    folds: int = 10, val_speakers: int | None = None) -> tuple[list[Split], dict]:
    """The splits of `protocol` (one for paper, paper-leaky and speaker; the folds of loso, kfold with
    `folds` folds, and emobox) and what the protocol reports about the corpus: for emobox, the
    utterances its table has no row for (`emobox_left_out`). `val_speakers` (None: each protocol's
    default) is how many training speakers of a corpus validate where validation is by speaker."""
    if val_speakers is not None and val_speakers < 1:
        raise ValueError(f"val_speakers must be at least 1, not {val_speakers}")
    if val_speakers is not None and protocol in ("paper", "paper-leaky", "kfold"):
        raise ValueError(f"val_speakers: protocol {protocol} validates on a stratified fraction of the training "
                         "utterances, not on speakers (use speaker, loso or emobox)")
    if protocol == "loso":
        return loso_folds(utterances, seed=seed, views=views, val_speakers=val_speakers or 1), {}
    if protocol == "kfold":
        return kfold_folds(utterances, k=folds, seed=seed, views=views), {"kfold_folds": folds}
    if protocol == "emobox":
        result = emobox_folds(utterances, seed=seed, views=views, val_speakers=val_speakers)
        found = result.report()
        return list(result), {"emobox_left_out": found["left_out"],
                              "emobox_labels_not_required": found["labels_not_required"]}
    return [make_split(utterances, protocol, seed=seed, views=views, val_speakers=val_speakers)], {}


def leakage_audit(split: Split) -> dict:
    """What the test part shares with the parts a model learns or is selected on.

    Reports, for each pair of parts: shared speakers, exact same files (possible only when
    views were split, i.e. paper-leaky), same (speaker, sentence) scripts and same
    (speaker, sentence, label) takes (e.g. EmoDB's repeated versions a/b of one reading).
    """
    pairs = [("train", "val"), ("train", "test"), ("val", "test")]
    spk = {p: {u.speaker for u in split.part(p)} for p in PARTS}
    paths = {p: {u.path for u in split.part(p)} for p in PARTS}
    scripts = {p: {(u.speaker, u.sentence) for u in split.part(p) if u.sentence} for p in PARTS}
    takes = {p: {(u.speaker, u.sentence, u.label) for u in split.part(p) if u.sentence} for p in PARTS}
    out: dict = {"protocol": split.protocol, "seed": split.seed, "fold": split.fold, "pairs": {}}
    for a, b in pairs:
        out["pairs"][f"{a}-{b}"] = {
            "shared_speakers": sorted(spk[a] & spk[b], key=_natural_key),
            "shared_paths": sorted(paths[a] & paths[b]),
            "shared_scripts": len(scripts[a] & scripts[b]),
            "shared_takes": len(takes[a] & takes[b]),
        }
    # Test views whose recording also feeds training or selection through another view.
    seen_paths = paths["train"] | paths["val"]
    out["test_views_with_sibling_in_train_or_val"] = sum(u.path in seen_paths for u, _ in split.test_views)

    shared_spk = spk["test"] & (spk["train"] | spk["val"])
    shared_paths = paths["test"] & seen_paths
    out["speaker_independent"] = not shared_spk
    out["same_recording"] = bool(shared_paths)
    verdict = []
    if shared_paths:
        verdict.append(f"same recordings in test and train/val: {len(shared_paths)} shared "
                       f"({out['test_views_with_sibling_in_train_or_val']} test views)")
    verdict.append(f"speakers overlap: {len(shared_spk)} shared" if shared_spk else "speaker-independent")
    if not shared_spk and spk["train"] & spk["val"]:
        verdict.append("validation shares speakers with train")
    out["verdict"] = "; ".join(verdict)
    return out


_SPLIT_COLUMNS = ["part", "path", "label", "speaker", "corpus", "view", "sex", "sentence", "intensity",
                  "protocol", "seed", "fold", "val_note"]
_UTT_FIELDS = [f.name for f in fields(Utterance)]


def write_split(split: Split, path: str | Path) -> None:
    """One row per (part, file, view): which file went where. Split metadata repeats on each row
    so the file stands alone; written atomically so a crash never leaves half a split."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=_SPLIT_COLUMNS)
            w.writeheader()
            for part in PARTS:
                for u, v in getattr(split, f"{part}_views"):
                    w.writerow({"part": part, "view": v, **{k: getattr(u, k) for k in _UTT_FIELDS},
                                "protocol": split.protocol, "seed": split.seed,
                                "fold": "" if split.fold is None else split.fold, "val_note": split.val_note})
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def read_split(path: str | Path) -> Split:
    path = Path(path)
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        raise ValueError(f"{path}: empty split file")
    missing = {"part", "path", "label", "speaker", "corpus"} - set(rows[0])
    if missing:
        raise ValueError(f"{path}: split file lacks column(s) {sorted(missing)}")
    views: dict[str, list[View]] = {p: [] for p in PARTS}
    for r in rows:
        u = Utterance(**{k: r.get(k) or "" for k in _UTT_FIELDS})
        views[r["part"]].append((u, int(r.get("view") or 0)))
    parts = {p: _sorted({u for u, _ in views[p]}) for p in PARTS}
    first = rows[0]
    n_views = max((v for _, v in views["train"] + views["val"] + views["test"]), default=0) + 1
    return Split(first.get("protocol") or "", int(first.get("seed") or 0), first.get("fold") or None,
                 parts["train"], parts["val"], parts["test"],
                 train_views=_sorted_views(views["train"]), val_views=_sorted_views(views["val"]),
                 test_views=_sorted_views(views["test"]), views=n_views, val_note=first.get("val_note") or "")
