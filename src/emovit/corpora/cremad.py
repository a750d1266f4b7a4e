"""CREMA-D, the Crowd-sourced Emotional Multimodal Actors Dataset (Cao, Cooper, Keutmann, Gur,
Nenkova & Verma, IEEE Transactions on Affective Computing, 2014).

File names like `1001_DFA_ANG_XX.wav`: actor, sentence, emotion, level (LO MD HI XX). The
actors' sex is in `VideoDemographics.csv` (ActorID, Age, Sex, Race, Ethnicity), looked for under
the root and next to it; without it, sex is left empty."""
from __future__ import annotations

import csv
import re
from functools import partial
from pathlib import Path

from ._scan import IndexResult, Unparseable, audio_files, index_files, stem_key
from .labels import normalise_sex
from .manifest import Utterance

EMOTION_CODES = {
    "ANG": "anger",
    "DIS": "disgust",
    "FEA": "fear",
    "HAP": "happiness",
    "NEU": "neutral",
    "SAD": "sadness",
}
LEVELS = ("LO", "MD", "HI", "XX")
# Older copies of the official repository name one file 1040_ITH_SAD_X.wav; 'X' means 'XX'.
_LEVEL_ALIASES = {"X": "XX"}
DEMOGRAPHICS = "VideoDemographics.csv"
_NAME = re.compile(r"^(?P<actor>\d{4})_(?P<sentence>[A-Z]{3})_(?P<emotion>[A-Z]{3})_(?P<level>[A-Z]{1,2})$")


def find_demographics(root: Path) -> Path | None:
    """`VideoDemographics.csv` anywhere under `root`, else directly in its parent folder."""
    for candidate in sorted(root.rglob(DEMOGRAPHICS), key=str):
        if candidate.is_file():
            return candidate
    beside = root.parent / DEMOGRAPHICS
    return beside if beside.is_file() else None


def read_demographics(path: Path) -> dict[str, str]:
    """ActorID -> 'male' / 'female' ('' for anything else)."""
    with open(path, newline="", encoding="utf-8-sig") as f:
        rows = csv.DictReader(f)
        return {
            (row.get("ActorID") or "").strip(): normalise_sex(row.get("Sex") or "")
            for row in rows
        }


def parse(path: Path, sex_of: dict[str, str] | None = None) -> Utterance:
    match = _NAME.match(path.stem)
    if not match:
        raise Unparseable(f"name {path.name!r} does not follow CREMA-D's pattern (e.g. 1001_DFA_ANG_XX.wav)")
    emotion = match["emotion"]
    if emotion not in EMOTION_CODES:
        raise Unparseable(f"emotion {emotion!r} is not a CREMA-D code ({', '.join(EMOTION_CODES)})")
    level = _LEVEL_ALIASES.get(match["level"], match["level"])
    if level not in LEVELS:
        raise Unparseable(f"level {level!r} is not a CREMA-D level ({', '.join(LEVELS)})")
    actor = match["actor"]
    return Utterance(
        path=str(path), label=EMOTION_CODES[emotion], speaker=actor, corpus="cremad",
        sex=(sex_of or {}).get(actor, ""), sentence=match["sentence"], intensity=level,
    )


def index(root: Path) -> IndexResult:
    demographics = find_demographics(root)
    sex_of = read_demographics(demographics) if demographics else {}
    return index_files(audio_files(root), partial(parse, sex_of=sex_of), key=stem_key)
