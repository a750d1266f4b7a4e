"""Views of an utterance: view 0 is the clip itself, views 1-3 its noise, time-shift and speed
augmented copies (the paper's three augmentations). Each view becomes one cached log-Mel image.

Augmented copies are made once per (file content, view, seed) and cached, as the paper's
augmented data set was made once; which copy a training step sees is drawn per epoch.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np
import torch

from .audio import AudioError, load_audio
from .augment import augment
from .config import AugmentConfig
from .features import FeatureCache, file_digest, fit_clip
from .progress import Progress

VIEW_KINDS = ("original", "noise", "shift", "speed")
AUGMENT_VERSION = "1"  # bump when augment.py's code changes, so cached copies are rebuilt


@dataclass
class ImageSet:
    """Images for a list of (path, view) items; failures name the file and the reason."""

    images: torch.Tensor  # (n_ok, 1, mels, frames) float32, dB
    items: list[tuple[str, int]]  # the items that succeeded, in order
    failures: dict[str, str] = field(default_factory=dict)


def _cache_key(digest: str, view: int, seed: int, frontend_print: str, augment_config: AugmentConfig) -> str:
    aug = "" if view == 0 else f"{VIEW_KINDS[view]}:{seed}:{AUGMENT_VERSION}"
    if view and augment_config != AugmentConfig():  # other ranges, other copies (default keys as before)
        aug += f":{augment_config.fingerprint()}"
    return hashlib.sha1(f"{digest}|{view}|{aug}|{frontend_print}".encode()).hexdigest()


def _view_wave(wave: np.ndarray, view: int, digest: str, seed: int, config: AugmentConfig, rate: int) -> np.ndarray:
    if view == 0:
        return wave
    rng = np.random.default_rng([seed, view, int(digest[:12], 16)])
    return augment(wave, VIEW_KINDS[view], rng, config, rate)


def build_images(items: list[tuple[str, int]], frontend, cache: FeatureCache | None, seed: int = 0,
                 augment_config: AugmentConfig = AugmentConfig(), batch_size: int = 32, progress: bool = True,
                 desc: str = "features") -> ImageSet:
    """Decode, augment, crop/pad and turn each (path, view) into an image with `frontend` (an
    `emovit.features.build_frontend` module: log-Mel or MFCC).

    Each file is read and hashed once however many views it has; images come from the cache
    when present. A file that cannot be decoded is reported in `failures` and the rest go on.
    """
    config = frontend.config
    by_path: dict[str, list[int]] = {}
    for path, view in items:
        by_path.setdefault(path, []).append(view)
    done: dict[tuple[str, int], np.ndarray] = {}
    failures: dict[str, str] = {}
    pending_waves: list[np.ndarray] = []
    pending: list[tuple[tuple[str, int], str]] = []

    def flush():
        if not pending:
            return
        with torch.no_grad():
            imgs = frontend(torch.from_numpy(np.stack(pending_waves))).numpy()
        for (item, key), img in zip(pending, imgs):
            done[item] = img
            if cache is not None:
                cache.put(key, img)
        pending_waves.clear()
        pending.clear()

    fprint = config.fingerprint()
    for path, views in Progress(list(by_path.items()), desc, enabled=progress, unit="file"):
        try:
            digest = file_digest(path)
        except OSError as e:
            failures[path] = f"{path}: cannot read ({e.strerror or e})"
            continue
        keys = {v: _cache_key(digest, v, seed, fprint, augment_config) for v in views}
        missing = []
        for v in views:
            img = cache.get(keys[v]) if cache is not None else None
            if img is None:
                missing.append(v)
            else:
                done[(path, v)] = img
        if not missing:
            continue
        try:
            wave = load_audio(path, config.sample_rate)
        except AudioError as e:
            failures[path] = str(e)
            continue
        for v in missing:
            pending_waves.append(fit_clip(_view_wave(wave, v, digest, seed, augment_config, config.sample_rate), config))
            pending.append(((path, v), keys[v]))
            if len(pending) >= batch_size:
                flush()
    flush()
    ok = [it for it in items if it in done]
    shape = (0, 1, *config.image_size)
    images = torch.from_numpy(np.stack([done[it] for it in ok])) if ok else torch.empty(shape)
    return ImageSet(images=images, items=ok, failures=failures)
