"""The manifest: one `Utterance` row per audio file, the hand-off between corpus adapters and
everything downstream (protocols, training, reports). Stored as CSV, written atomically."""
from __future__ import annotations

import csv
import os
import tempfile
from dataclasses import asdict, dataclass, fields
from pathlib import Path

EMOTIONS = ("anger", "boredom", "calm", "disgust", "fear", "happiness", "neutral", "sadness", "surprise")


@dataclass(frozen=True)
class Utterance:
    path: str
    label: str  # one of EMOTIONS
    speaker: str  # corpus-qualified where needed so speakers never collide across corpora
    corpus: str
    sex: str = ""  # "male" / "female" / "" when unknown
    sentence: str = ""  # text or sentence id; same sentence + speaker = same script
    intensity: str = ""  # corpus's own intensity code, if any


COLUMNS = [f.name for f in fields(Utterance)]


def write_manifest(utterances: list[Utterance], path: str | Path) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(fd, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS)
        writer.writeheader()
        for u in utterances:
            writer.writerow(asdict(u))
    os.replace(tmp, path)


def read_manifest(path: str | Path) -> list[Utterance]:
    path = Path(path)
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        missing = {"path", "label", "speaker", "corpus"} - set(reader.fieldnames or [])
        if missing:
            raise ValueError(f"{path}: manifest lacks column(s) {sorted(missing)}")
        rows = []
        for row in reader:
            rows.append(Utterance(**{k: row.get(k) or "" for k in COLUMNS}))
    return rows
