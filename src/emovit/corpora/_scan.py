"""Shared machinery for the corpus adapters: finding audio files under a root, and turning
them into `Utterance` rows with a per-corpus name parser, collecting what cannot be parsed."""
from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from ..audio import AUDIO_EXTENSIONS
from .manifest import Utterance
_IGNORED_DIRS = {"__MACOSX"}  # resource-fork folders left by macOS zip archives


class Unparseable(ValueError):
    """Raised by a name parser: the file is audio but does not follow the corpus's naming."""


@dataclass
class IndexResult:
    utterances: list[Utterance] = field(default_factory=list)  # sorted by path, absolute paths
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)

    def counts(self, attribute: str = "label") -> dict[str, int]:
        """How many utterances per value of `attribute` (label, speaker, sex, ...), sorted by value."""
        return dict(sorted(Counter(getattr(u, attribute) for u in self.utterances).items()))


def is_audio(path: str | Path) -> bool:
    return Path(path).suffix.lower() in AUDIO_EXTENSIONS


def audio_files(root: Path) -> list[Path]:
    """Every audio file under `root` (recursively, following folder links once), sorted by path.
    Hidden files and folders (names starting with '.', e.g. macOS '._x.wav') are ignored."""
    found: list[Path] = []
    seen: set[str] = set()
    for folder, dirs, files in os.walk(root, followlinks=True):
        real = os.path.realpath(folder)
        if real in seen:  # a link loop, or the same folder linked twice
            dirs[:] = []
            continue
        seen.add(real)
        dirs[:] = [d for d in dirs if not d.startswith(".") and d not in _IGNORED_DIRS]
        found.extend(Path(folder, f) for f in files if not f.startswith(".") and is_audio(f))
    return sorted(found, key=str)


def absolute(path: str | Path) -> Path:
    """Absolute, normalised path without resolving symbolic links (keeps the user's layout)."""
    return Path(os.path.abspath(os.path.expanduser(os.fspath(path))))


def index_files(
    files: Iterable[Path],
    parse: Callable[[Path], Utterance],
    key: Callable[[Utterance], Hashable] | None = None,
) -> IndexResult:
    """Parse each file's name into an `Utterance`; names that do not parse go to `skipped`.

    With `key` (the clip's identity within its corpus), a second copy of a clip already indexed
    (e.g. a corpus unpacked twice under the same root) is skipped as a duplicate of the first."""
    result = IndexResult()
    first: dict[Hashable, str] = {}
    for path in sorted(files, key=str):
        try:
            utterance = parse(path)
        except Unparseable as err:
            result.skipped.append((str(path), str(err)))
            continue
        if key is not None:
            clip = key(utterance)
            if clip in first:
                result.skipped.append((str(path), f"duplicate of {first[clip]}"))
                continue
            first[clip] = utterance.path
        result.utterances.append(utterance)
    return result


def stem_key(utterance: Utterance) -> str:
    """Identity of a clip whose file name (without extension) is unique in its corpus."""
    return Path(utterance.path).stem
