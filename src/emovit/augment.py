"""Training-time augmentations of the paper: additive noise, time shift and speed perturbation.

Kim & Lee (2024) name the three augmentations but give none of their parameters; the ranges are
`emovit.config.AugmentConfig`'s.  Each function takes a float32 mono waveform *before* it is
cropped/padded to the clip, draws its random parameters from the given ``numpy.random.Generator``
only (so a seeded generator makes it reproducible) and returns a new float32 array; the input is
never modified.
"""
from __future__ import annotations

import numpy as np
import soxr

from .config import NOISE_KINDS, SAMPLE_RATE, AugmentConfig

AUGMENTATIONS = ("noise", "shift", "speed")

def _wave(wave: np.ndarray) -> np.ndarray:
    wave = np.asarray(wave, dtype=np.float32)
    if wave.ndim != 1:
        raise ValueError(f"expected a 1-D mono waveform, got shape {wave.shape}")
    return wave


def _draw(rng: np.random.Generator, value) -> float:
    """A number from ``value``: uniform in [lo, hi] for a pair, the number itself for a scalar."""
    if np.ndim(value) == 0:
        return float(value)
    lo, hi = value
    return float(rng.uniform(lo, hi))


def clip_shaped_noise(wave: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Noise with the clip's own spectrum: its Fourier magnitudes with random phases. Unit RMS.

    Stationary (no syllables, no pitch track), but it covers the bands speech covers, as babble
    does; white noise leaves the low bands almost clean. (The evaluation's test noise is
    `robustness.speech_shaped_noise`: white noise shaped by *other* utterances' average spectrum.
    This generator made the committed ablation's noise view, so it stays as it is.)
    """
    wave = _wave(wave)
    n = len(wave)
    phases = np.exp(2j * np.pi * rng.random(n // 2 + 1))
    noise = np.fft.irfft(np.abs(np.fft.rfft(wave.astype(np.float64))) * phases, n)
    rms = float(np.sqrt(np.mean(noise ** 2))) if n else 0.0
    return (noise / rms).astype(np.float32) if rms > 0 else np.zeros(n, np.float32)


def add_noise(wave: np.ndarray, rng: np.random.Generator, snr_db=(15.0, 30.0), kind: str = "white") -> np.ndarray:
    """Add noise at an SNR (dB) drawn uniformly from ``snr_db``: white Gaussian (the default), or
    ``kind="speech"``, noise shaped like the clip (:func:`clip_shaped_noise`).

    The noise level is set relative to the signal's RMS over the whole clip, so quiet and loud
    recordings get the same relative corruption: noise_rms = rms / 10**(snr/20).  The paper names
    noise addition but not its level or kind; white at 15-30 dB is our default (common in SER work):
    audible but leaves the emotion intelligible.  A silent input is returned unchanged (copied).
    """
    if kind not in NOISE_KINDS:
        raise ValueError(f"unknown noise kind {kind!r}; choose from {', '.join(NOISE_KINDS)}")
    wave = _wave(wave)
    snr = _draw(rng, snr_db)
    rms = float(np.sqrt(np.mean(np.square(wave, dtype=np.float64)))) if len(wave) else 0.0
    noise = rng.standard_normal(len(wave), dtype=np.float32) if kind == "white" else clip_shaped_noise(wave, rng)
    if rms == 0.0:
        return wave.copy()
    return wave + noise * np.float32(rms / 10.0 ** (snr / 20.0))


def time_shift(wave: np.ndarray, rng: np.random.Generator, max_seconds: float = 0.5,
               sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Shift the content by up to ``max_seconds`` either way, filling with zeros (no wrap-around).

    A positive draw delays the speech (silence at the start, the end falls off); a negative one
    advances it.  Length is unchanged.  Since the model later sees only the first 4 s, this varies
    where the utterance sits in the window.  The paper names time shifting but not its range;
    +-0.5 s is ours.  The shift never exceeds length - 1, so some content always survives.
    """
    wave = _wave(wave)
    limit = min(int(round(max_seconds * sample_rate)), max(len(wave) - 1, 0))
    shift = int(rng.integers(-limit, limit + 1))
    out = np.zeros_like(wave)
    if shift > 0:
        out[shift:] = wave[:-shift]
    elif shift < 0:
        out[:shift] = wave[-shift:]
    else:
        out[:] = wave
    return out


def change_speed(wave: np.ndarray, rng: np.random.Generator, factors=(0.9, 1.1)) -> np.ndarray:
    """Speed perturbation as in Kaldi (Ko et al. 2015, sox ``speed``): play ``factor`` x faster.

    The waveform is resampled as if it had been recorded at factor x 16 kHz and is then read at
    16 kHz, so duration scales by 1/factor and pitch and formants move with it (unlike
    time-stretching).  Resampling is soxr 'HQ', which low-pass filters when speeding up.  The paper
    names speed change but not its range; factors uniform in 0.9-1.1 are ours (Kaldi uses
    0.9/1.0/1.1).
    """
    wave = _wave(wave)
    factor = _draw(rng, factors)
    if factor <= 0:
        raise ValueError(f"speed factor must be positive, got {factor}")
    if factor == 1.0 or len(wave) == 0:
        return wave.copy()
    return np.ascontiguousarray(soxr.resample(wave, SAMPLE_RATE * factor, SAMPLE_RATE, quality="HQ"), dtype=np.float32)


def augment(wave: np.ndarray, kind: str, rng: np.random.Generator, config: AugmentConfig = AugmentConfig(),
            sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Apply the augmentation called ``kind`` (one of :data:`AUGMENTATIONS`) with ``config``'s ranges."""
    if kind == "noise":
        return add_noise(wave, rng, config.noise_snr_db, config.noise_kind)
    if kind == "shift":
        return time_shift(wave, rng, config.shift_seconds, sample_rate)
    if kind == "speed":
        return change_speed(wave, rng, config.speed_factors)
    raise ValueError(f"unknown augmentation {kind!r}; choose from {', '.join(AUGMENTATIONS)}")
