"""TESS, the Toronto Emotional Speech Set (Dupuis & Pichora-Fuller, University of Toronto,
2010): two female speakers (OAF, YAF) saying "Say the word ..." for 200 target words.

File names like `OAF_back_angry.wav` or `YAF_dog_ps.wav` (ps = pleasant surprise), usually in
folders such as `OAF_angry/` or `YAF_pleasant_surprised/`; the label is read from the name."""
from __future__ import annotations

from pathlib import Path

from ._scan import IndexResult, Unparseable, audio_files, index_files
from .manifest import Utterance

EMOTION_CODES = {
    "angry": "anger",
    "disgust": "disgust",
    "fear": "fear",
    "happy": "happiness",
    "neutral": "neutral",
    "sad": "sadness",
    "ps": "surprise",  # pleasant surprise
}
# Some redistributions shorten the prefix of a few files (OA_bite_neutral.wav).
SPEAKERS = {"OAF": "OAF", "YAF": "YAF", "OA": "OAF", "YA": "YAF"}


def parse(path: Path) -> Utterance:
    parts = path.stem.split("_")
    if len(parts) < 3:
        raise Unparseable(f"name {path.name!r} does not follow TESS's pattern (e.g. OAF_back_angry.wav)")
    speaker, word, emotion = parts[0].upper(), "_".join(parts[1:-1]).lower(), parts[-1].lower()
    if speaker not in SPEAKERS:
        raise Unparseable(f"speaker {parts[0]!r} is not a TESS speaker (OAF, YAF)")
    if emotion not in EMOTION_CODES:
        raise Unparseable(f"emotion {parts[-1]!r} is not a TESS code ({', '.join(EMOTION_CODES)})")
    return Utterance(
        path=str(path), label=EMOTION_CODES[emotion], speaker=SPEAKERS[speaker], corpus="tess",
        sex="female", sentence=word,
    )


def clip_key(utterance: Utterance) -> tuple[str, str, str]:
    return utterance.speaker, utterance.sentence, utterance.label


def index(root: Path) -> IndexResult:
    return index_files(audio_files(root), parse, key=clip_key)
