"""Label and sex normalisation shared by the adapters: free-form labels written by users
(CSV columns, folder names) are mapped onto the canonical `EMOTIONS`; nothing else is invented."""
from __future__ import annotations

import re

from .manifest import EMOTIONS

# Spellings seen in corpora and user data sets -> canonical emotion. Keys are normalised
# (lowercase, runs of spaces/hyphens/underscores collapsed to '_').
SYNONYMS: dict[str, str] = {
    **{name: name for name in EMOTIONS},
    # anger
    "angry": "anger", "ang": "anger", "mad": "anger",
    # boredom
    "bored": "boredom", "bor": "boredom",
    # calm
    "cal": "calm",
    # disgust
    "disgusted": "disgust", "disgusting": "disgust", "dis": "disgust",
    # fear
    "fearful": "fear", "afraid": "fear", "scared": "fear", "fea": "fear", "fearfull": "fear",
    # happiness
    "happy": "happiness", "hap": "happiness", "joy": "happiness", "joyful": "happiness",
    "happyness": "happiness",
    # neutral
    "neu": "neutral", "neut": "neutral",
    # sadness
    "sad": "sadness", "sadnes": "sadness",
    # surprise
    "surprised": "surprise", "sur": "surprise", "surp": "surprise", "ps": "surprise",
    "pleasant_surprise": "surprise", "pleasant_surprised": "surprise",
}

_SEX = {"m": "male", "male": "male", "man": "male", "f": "female", "female": "female", "woman": "female"}


def _key(text: str) -> str:
    return re.sub(r"[\s_\-]+", "_", text.strip().lower()).strip("_")


def normalise_label(text: str) -> str | None:
    """Canonical emotion name for `text`, or None when it names none of `EMOTIONS`."""
    return SYNONYMS.get(_key(text))


def normalise_sex(text: str) -> str:
    """'male' / 'female', or '' when `text` is empty or unrecognised."""
    return _SEX.get(_key(text), "")


def unknown_label_reason(text: str) -> str:
    return f"label {text.strip()!r} is not one of the emotions {', '.join(EMOTIONS)} (nor a known synonym)"
