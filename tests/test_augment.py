"""Tests for emovit.augment: determinism, noise level, zero-filled shifts, speed factor."""
from __future__ import annotations

import numpy as np
import pytest

from emovit.augment import AUGMENTATIONS, add_noise, augment, change_speed, clip_shaped_noise, time_shift

RATE = 16000


@pytest.fixture
def wave() -> np.ndarray:
    t = np.arange(3 * RATE) / RATE
    return (0.4 * np.sin(2 * np.pi * 220 * t) * (0.6 + 0.4 * np.sin(2 * np.pi * 3 * t))).astype(np.float32)


@pytest.mark.parametrize("kind", AUGMENTATIONS)
def test_deterministic_given_seed_and_input_untouched(wave, kind):
    before = wave.copy()
    a = augment(wave, kind, np.random.default_rng(7))
    b = augment(wave, kind, np.random.default_rng(7))
    c = augment(wave, kind, np.random.default_rng(8))
    np.testing.assert_array_equal(a, b)
    assert a.shape != c.shape or not np.array_equal(a, c)
    assert a.dtype == np.float32 and a.ndim == 1
    np.testing.assert_array_equal(wave, before)


def test_unknown_kind():
    with pytest.raises(ValueError, match="reverb.*noise, shift, speed"):
        augment(np.ones(100, np.float32), "reverb", np.random.default_rng(0))


@pytest.mark.parametrize("snr", [10.0, 20.0, 30.0])
def test_noise_snr(wave, snr):
    noisy = add_noise(wave, np.random.default_rng(0), snr_db=(snr, snr))
    noise = noisy - wave
    measured = 10 * np.log10(np.mean(wave.astype(np.float64) ** 2) / np.mean(noise.astype(np.float64) ** 2))
    assert measured == pytest.approx(snr, abs=0.2)
    assert abs(np.mean(noise)) < 0.05 * np.std(noise)  # zero-mean


def test_noise_default_range_and_silence(wave):
    rng = np.random.default_rng(1)
    for _ in range(20):
        noise = add_noise(wave, rng) - wave
        snr = 10 * np.log10(np.mean(wave**2) / np.mean(noise**2))
        assert 14.8 < snr < 30.2
    silent = np.zeros(1000, np.float32)
    np.testing.assert_array_equal(add_noise(silent, rng), silent)


def test_time_shift_zero_fills_without_wrap():
    x = np.arange(1, RATE + 1, dtype=np.float32)  # no zeros in the input
    rng = np.random.default_rng(3)
    seen = set()
    for _ in range(50):
        y = time_shift(x, rng, max_seconds=0.25)
        assert y.shape == x.shape
        zeros = int((y == 0).sum())
        assert zeros <= 0.25 * RATE
        if zeros and y[0] == 0:  # moved right: leading zeros, then the start of x
            np.testing.assert_array_equal(y[zeros:], x[: len(x) - zeros])
            seen.add("right")
        elif zeros:  # moved left: the end of x, then trailing zeros
            np.testing.assert_array_equal(y[: len(x) - zeros], x[zeros:])
            seen.add("left")
        else:
            np.testing.assert_array_equal(y, x)
    assert seen == {"left", "right"}


def test_time_shift_short_input_keeps_something():
    x = np.ones(100, np.float32)
    for seed in range(20):
        assert time_shift(x, np.random.default_rng(seed), max_seconds=1.0).any()


@pytest.mark.parametrize("factor", [0.9, 1.1])
def test_speed_changes_length_and_pitch(wave, factor):
    y = change_speed(wave, np.random.default_rng(0), factors=(factor, factor))
    assert len(y) == pytest.approx(len(wave) / factor, abs=2)
    spectrum = np.abs(np.fft.rfft(y * np.hanning(len(y))))
    peak = np.fft.rfftfreq(len(y), 1 / RATE)[spectrum.argmax()]
    assert peak == pytest.approx(220 * factor, abs=2)


def test_speed_default_range(wave):
    rng = np.random.default_rng(5)
    for _ in range(10):
        ratio = len(wave) / len(change_speed(wave, rng))
        assert 0.9 - 1e-3 <= ratio <= 1.1 + 1e-3


@pytest.mark.parametrize("snr", [5.0, 20.0])
def test_clip_shaped_noise_has_the_clips_spectrum_at_the_snr(wave, snr):
    from emovit.config import AugmentConfig

    rng = np.random.default_rng(0)
    noisy = augment(wave, "noise", rng, AugmentConfig(noise_snr_db=(snr, snr), noise_kind="speech"))
    noise = (noisy - wave).astype(np.float64)
    assert 10 * np.log10(np.mean(wave.astype(np.float64) ** 2) / np.mean(noise ** 2)) == pytest.approx(snr, abs=0.1)
    spectrum = np.abs(np.fft.rfft(noise))
    peak = np.argmax(spectrum) * RATE / len(noise)
    assert abs(peak - 220) < 5  # the tone's band, where white noise would be flat
    assert np.sqrt(np.mean(clip_shaped_noise(wave, rng).astype(np.float64) ** 2)) == pytest.approx(1.0, abs=1e-4)
    with pytest.raises(ValueError, match="white, speech"):
        add_noise(wave, rng, kind="pink")


def test_white_noise_keeps_the_cache_names_of_views_made_before_the_kind_existed():
    from dataclasses import asdict

    from emovit.config import AugmentConfig, _fingerprint

    before = {k: v for k, v in asdict(AugmentConfig()).items() if k != "noise_kind"} | {"views": None}
    assert AugmentConfig().fingerprint() == _fingerprint(before)
    assert AugmentConfig(noise_kind="speech").fingerprint() != AugmentConfig().fingerprint()
    with pytest.raises(ValueError, match="noise_kind"):
        AugmentConfig(noise_kind="pink")
