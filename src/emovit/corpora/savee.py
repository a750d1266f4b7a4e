"""SAVEE, Surrey Audio-Visual Expressed Emotion (Haq & Jackson, "Speaker-dependent
audio-visual emotion recognition", AVSP 2009; University of Surrey).

Two layouts are accepted: the official `AudioData/DC/a01.wav` (speaker from the parent folder)
and the flat `DC_a01.wav` found in common redistributions. The emotion code (a, d, f, h, n,
sa, su) precedes the sentence number; sentences differ per emotion, so the sentence id keeps
the code ("sa01")."""
from __future__ import annotations

import re
from pathlib import Path

from ._scan import IndexResult, Unparseable, audio_files, index_files
from .manifest import Utterance

EMOTION_CODES = {
    "a": "anger",
    "d": "disgust",
    "f": "fear",
    "h": "happiness",
    "n": "neutral",
    "sa": "sadness",
    "su": "surprise",
}
SPEAKERS = ("DC", "JE", "JK", "KL")  # all male
# two-letter codes first, so 'sa01' is never read as 'a' after a stray 's'
_NAME = re.compile(r"^(?:(?P<speaker>[A-Za-z]{2})_)?(?P<code>sa|su|a|d|f|h|n)(?P<number>\d{2})$")


def parse(path: Path) -> Utterance:
    match = _NAME.match(path.stem)
    if not match:
        raise Unparseable(
            f"name {path.name!r} does not follow SAVEE's naming (DC_a01.wav, or a01.wav in a speaker folder)"
        )
    speaker = match["speaker"] or path.parent.name
    if speaker not in SPEAKERS:
        where = "name" if match["speaker"] else "parent folder"
        raise Unparseable(f"{where} gives speaker {speaker!r}, not a SAVEE speaker ({', '.join(SPEAKERS)})")
    code = match["code"]
    return Utterance(
        path=str(path), label=EMOTION_CODES[code], speaker=speaker, corpus="savee",
        sex="male", sentence=code + match["number"],
    )


def clip_key(utterance: Utterance) -> tuple[str, str]:
    return utterance.speaker, utterance.sentence


def index(root: Path) -> IndexResult:
    return index_files(audio_files(root), parse, key=clip_key)
