"""Corpus adapters: turn a corpus folder, laid out as users have it, into `Utterance` rows.

    from emovit.corpora import index_corpus
    result = index_corpus("emodb", "~/data/emodb")
    result.utterances   # list[Utterance], sorted by path, absolute paths
    result.skipped      # [(path, reason)] for audio files that do not follow the corpus's naming

Adapters read file names only; they never decode audio."""
from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from . import cremad, emodb, ravdess, savee, tess
from ._scan import AUDIO_EXTENSIONS, IndexResult, absolute
from .generic import index_csv, index_folder
from .labels import SYNONYMS, normalise_label
from .manifest import EMOTIONS, Utterance, read_manifest, write_manifest

_ADAPTERS: dict[str, Callable[[Path], IndexResult]] = {
    "emodb": emodb.index,
    "savee": savee.index,
    "cremad": cremad.index,
    "ravdess": ravdess.index,
    "tess": tess.index,
    "csv": index_csv,
    "folder": index_folder,
}
CORPORA = tuple(_ADAPTERS)


def index_corpus(name: str, root: str | Path) -> IndexResult:
    """Index corpus `name` (one of `CORPORA`) found at `root` (a folder; for "csv", the CSV file).

    Raises FileNotFoundError if `root` does not exist, and ValueError for an unknown adapter,
    a root of the wrong kind, or when not a single utterance was found."""
    if name not in _ADAPTERS:
        raise ValueError(f"unknown corpus {name!r}; choose one of {', '.join(CORPORA)}")
    root = absolute(root)
    if not root.exists():
        raise FileNotFoundError(f"{name} corpus root does not exist: {root}")
    if name != "csv" and not root.is_dir():
        raise ValueError(f"the {name} adapter expects a folder, got a file: {root}")
    result = _ADAPTERS[name](root)
    if not result.utterances:
        raise ValueError(_nothing_found(name, root, result))
    return result


def merge_corpora(parts: list[list[Utterance]]) -> list[Utterance]:
    """One training set from several corpora. Speaker ids become "corpus:speaker" when more than
    one corpus is merged, because corpora reuse ids (EmoDB's speaker 03 is not RAVDESS's actor 03)."""
    corpora = {u.corpus for part in parts for u in part}
    if len(corpora) < 2:
        return [u for part in parts for u in part]
    return [dataclasses.replace(u, speaker=f"{u.corpus}:{u.speaker}") if not u.speaker.startswith(f"{u.corpus}:")
            else u for part in parts for u in part]


def select_labels(utterances: list[Utterance], labels: list[str]) -> tuple[list[Utterance], dict[str, int]]:
    """Keep the utterances whose label is in `labels`; returns them and the count left out per label.

    Raises ValueError for a name that is not a canonical emotion or that no utterance carries."""
    unknown = sorted(set(labels) - set(EMOTIONS))
    if unknown:
        raise ValueError(f"unknown label(s) {unknown}; canonical names are {', '.join(EMOTIONS)}")
    absent = sorted(set(labels) - {u.label for u in utterances})
    if absent:
        raise ValueError(f"no utterance is labelled {', '.join(absent)}")
    wanted = set(labels)
    left_out = Counter(u.label for u in utterances if u.label not in wanted)
    return [u for u in utterances if u.label in wanted], dict(sorted(left_out.items()))


def _nothing_found(name: str, root: Path, result: IndexResult) -> str:
    message = f"no {name} utterances found under {root}"
    if result.skipped:
        path, reason = result.skipped[0]
        return f"{message}: {len(result.skipped)} file(s) skipped, e.g. {path}: {reason}"
    return f"{message} (no {'/'.join(AUDIO_EXTENSIONS)} files); is this the right folder?"


__all__ = [
    "AUDIO_EXTENSIONS", "CORPORA", "EMOTIONS", "SYNONYMS", "IndexResult", "Utterance",
    "index_corpus", "merge_corpora", "normalise_label", "select_labels", "read_manifest", "write_manifest",
]
