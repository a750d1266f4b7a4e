"""RAVDESS, the Ryerson Audio-Visual Database of Emotional Speech and Song (Livingstone &
Russo, PLoS ONE 13(5), 2018).

File names like `03-01-05-02-01-01-12.wav`: modality-channel-emotion-intensity-statement-
repetition-actor. Only audio-only (03) speech (01) files are indexed; odd actors are male."""
from __future__ import annotations

import re
from collections.abc import Collection
from pathlib import Path

from ._scan import IndexResult, Unparseable, audio_files, index_files, stem_key
from .manifest import Utterance

EMOTION_CODES = {
    "01": "neutral",
    "02": "calm",
    "03": "happiness",
    "04": "sadness",
    "05": "anger",
    "06": "fear",
    "07": "disgust",
    "08": "surprise",
}
INTENSITIES = {"01": "normal", "02": "strong"}
STATEMENTS = ("01", "02")
MODALITIES = {"01": "full audio-video", "02": "video-only", "03": "audio-only"}
CHANNELS = {"01": "speech", "02": "song"}
_NAME = re.compile(
    r"^(?P<modality>\d{2})-(?P<channel>\d{2})-(?P<emotion>\d{2})-(?P<intensity>\d{2})"
    r"-(?P<statement>\d{2})-(?P<repetition>\d{2})-(?P<actor>\d{2})$"
)


def _field(match: re.Match[str], name: str, codes: Collection[str]) -> str:
    value = match[name]
    if value not in codes:
        raise Unparseable(f"{name} code {value!r} is not a RAVDESS {name} ({', '.join(codes)})")
    return value


def parse(path: Path) -> Utterance:
    match = _NAME.match(path.stem)
    if not match:
        raise Unparseable(f"name {path.name!r} does not follow RAVDESS's pattern (e.g. 03-01-05-02-01-01-12.wav)")
    modality = _field(match, "modality", MODALITIES)
    if modality != "03":
        raise Unparseable(f"modality {modality} ({MODALITIES[modality]}) is not audio-only (03)")
    channel = _field(match, "channel", CHANNELS)
    if channel != "01":
        raise Unparseable(f"vocal channel {channel} ({CHANNELS[channel]}) is not speech (01)")
    emotion = _field(match, "emotion", EMOTION_CODES)
    intensity = _field(match, "intensity", INTENSITIES)
    statement = _field(match, "statement", STATEMENTS)
    actor = match["actor"]
    if actor == "00":
        raise Unparseable("actor 00 is not a RAVDESS actor (01-24)")
    return Utterance(
        path=str(path), label=EMOTION_CODES[emotion], speaker=actor, corpus="ravdess",
        sex="male" if int(actor) % 2 else "female", sentence=statement, intensity=INTENSITIES[intensity],
    )


def index(root: Path) -> IndexResult:
    return index_files(audio_files(root), parse, key=stem_key)
