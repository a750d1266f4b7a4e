"""EmoDB, the Berlin Database of Emotional Speech (Burkhardt, Paeschke, Rolfes, Sendlmeier &
Weiss, "A Database of German Emotional Speech", Interspeech 2005).

File names like `03a01Fa.wav`: speaker `03`, text `a01`, emotion letter, version letter."""
from __future__ import annotations

import re
from pathlib import Path

from ._scan import IndexResult, Unparseable, audio_files, index_files, stem_key
from .manifest import Utterance

EMOTION_CODES = {
    "W": "anger",  # Wut
    "L": "boredom",  # Langeweile
    "E": "disgust",  # Ekel
    "A": "fear",  # Angst
    "F": "happiness",  # Freude
    "T": "sadness",  # Trauer
    "N": "neutral",
}
SPEAKER_SEX = {
    **{s: "male" for s in ("03", "10", "11", "12", "15")},
    **{s: "female" for s in ("08", "09", "13", "14", "16")},
}
_NAME = re.compile(r"^(?P<speaker>\d{2})(?P<text>[a-z]\d{2})(?P<emotion>[A-Za-z])(?P<version>[a-z]?)$")


def parse(path: Path) -> Utterance:
    match = _NAME.match(path.stem)
    if not match:
        raise Unparseable(f"name {path.name!r} does not follow EmoDB's pattern (e.g. 03a01Fa.wav)")
    letter = match["emotion"]
    if letter not in EMOTION_CODES:
        raise Unparseable(f"emotion letter {letter!r} is not an EmoDB code ({', '.join(EMOTION_CODES)})")
    speaker = match["speaker"]
    return Utterance(
        path=str(path), label=EMOTION_CODES[letter], speaker=speaker, corpus="emodb",
        sex=SPEAKER_SEX.get(speaker, ""), sentence=match["text"],
    )


def index(root: Path) -> IndexResult:
    return index_files(audio_files(root), parse, key=stem_key)
