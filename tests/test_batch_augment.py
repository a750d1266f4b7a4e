"""Batch augmentations of the training step: SpecAugment masks, random crops, frequency warps, noise, band limits, mixup,
soft cross-entropy and the BatchAugment applier."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from emovit.batch_augment import (SETTINGS, BatchAugment, NoiseField, add_noise, band_limit, freq_warp, mixup,
                                  random_crop, sample_beta, silence_level, soft_cross_entropy, spec_augment)
from emovit.config import LogMelConfig
from emovit.features import LogMelFrontEnd, fit_clip, mel_bandwidths, noise_texture
from emovit.robustness import add_noise_at_snr, long_term_spectrum, speech_shaped_noise, white_noise

from conftest import shared_data

FILL = silence_level(mean=-40.0, std=20.0)  # -2.0: below anything randn draws in these tests, in practice


def images(b=8, h=32, w=48, seed=0) -> torch.Tensor:
    """Random images: no row or column of them is all `FILL`."""
    return torch.randn(b, 1, h, w, generator=torch.Generator().manual_seed(seed)).clamp_min(FILL + 0.01)


def gen(seed=1) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_silence_level():
    assert silence_level(-40.0, 20.0) == pytest.approx(-2.0)
    assert silence_level(-30.0, 10.0, top_db=60.0) == pytest.approx(-3.0)


# ---- SpecAugment


# (masks never cover the whole 32 x 48 image here, or every row and column would read as masked)
@pytest.mark.parametrize("freq_masks,freq_width,time_masks,time_width", [(2, 6, 2, 8), (1, 20, 0, 0), (0, 0, 2, 20)])
def test_spec_augment_masks_only_fill_within_widths(freq_masks, freq_width, time_masks, time_width):
    x = images()
    before = x.clone()
    out = spec_augment(x, gen(), freq_masks, freq_width, time_masks, time_width, FILL)
    assert out.shape == x.shape and torch.equal(x, before)
    changed = out != x
    assert torch.all(out[changed] == FILL)
    is_fill = out == FILL
    for i in range(len(x)):
        rows = is_fill[i, 0].all(dim=1)  # mel bins masked across every frame
        cols = is_fill[i, 0].all(dim=0)  # frames masked across every bin
        assert int(rows.sum()) <= freq_masks * min(freq_width, x.shape[-2])
        assert int(cols.sum()) <= time_masks * min(time_width, x.shape[-1])
        # every changed value lies in a fully masked row or column
        assert torch.all(changed[i, 0] <= (rows[:, None] | cols[None, :]))
        if not freq_masks:
            assert not rows.any()
        if not time_masks:
            assert not cols.any()


def test_spec_augment_masks_something_and_varies_per_image():
    x = images(b=16)
    out = spec_augment(x, gen(), 2, 10, 2, 10, FILL)
    masked = (out == FILL).flatten(1).sum(1)
    assert masked.sum() > 0 and len(set(masked.tolist())) > 1


def test_spec_augment_width_one_band_per_mask_is_contiguous():
    x = images(b=32)
    out = spec_augment(x, gen(3), 1, 12, 0, 0, FILL)
    for i in range(len(x)):
        rows = (out[i, 0] == FILL).all(dim=1).nonzero().squeeze(1)
        if len(rows):
            assert int(rows[-1] - rows[0]) + 1 == len(rows) <= 12


def test_spec_augment_widths_beyond_the_image_are_clipped():
    x = images(b=64, h=8, w=8)
    out = spec_augment(x, gen(), 1, 100, 0, 0, FILL)
    assert out.shape == x.shape
    rows = (out[:, 0] == FILL).all(dim=2).sum(dim=1)
    assert int(rows.max()) == 8 and int(rows.min()) < 8  # up to every bin, no error


def test_spec_augment_off_is_identity_and_a_copy():
    x = images()
    for args in [(0, 0, 0, 0), (0, 10, 0, 10), (3, 0, 3, 0)]:
        out = spec_augment(x, gen(), *args, FILL)
        assert torch.equal(out, x) and out.data_ptr() != x.data_ptr()


def test_spec_augment_multichannel_masks_every_channel():
    x = torch.randn(4, 3, 16, 20, generator=gen(5)).clamp_min(FILL + 0.01)
    out = spec_augment(x, gen(), 1, 4, 1, 4, FILL)
    masked = out == FILL
    assert torch.equal(masked[:, 0], masked[:, 1]) and torch.equal(masked[:, 0], masked[:, 2])


# ---- random crop


def kept_span(original: torch.Tensor, out: torch.Tensor) -> tuple[int, int, int]:
    """(destination, source, length) of the one contiguous span of `original`'s frames in `out`
    (images (1, H, W)), after checking that everything outside it is FILL."""
    not_fill = ~(out[0] == FILL).all(dim=0)
    cols = not_fill.nonzero().squeeze(1)
    dest, length = int(cols[0]), int(cols[-1] - cols[0]) + 1
    assert len(cols) == length, "the kept frames are contiguous"
    w = out.shape[-1]
    outside = torch.ones(w, dtype=torch.bool)
    outside[dest:dest + length] = False
    assert torch.all(out[..., outside] == FILL)
    span = out[..., dest:dest + length]
    sources = [s for s in range(w - length + 1) if torch.equal(original[..., s:s + length], span)]
    assert sources, "the kept frames are a contiguous span of the original"
    return dest, sources[0], length


def test_random_crop_keeps_one_span_at_least_min_frames():
    x = images(b=32, w=64)
    before = x.clone()
    out = random_crop(x, gen(), min_frames=8, prob=1.0, fill=FILL)
    assert out.shape == x.shape and torch.equal(x, before)
    spans = [kept_span(x[i], out[i]) for i in range(len(x))]
    for dest, source, length in spans:
        assert 8 <= length <= 64 and 0 <= dest and dest + length <= 64 and source + length <= 64
    assert len({s[2] for s in spans}) > 1 and len({s[0] for s in spans}) > 1  # random lengths and places
    assert any(s[0] != s[1] for s in spans)  # the span moves


def test_random_crop_prob_per_image():
    x = images(b=64, w=32)
    out = random_crop(x, gen(), min_frames=4, prob=0.5, fill=FILL)
    same = torch.tensor([torch.equal(out[i], x[i]) for i in range(len(x))])
    assert 0 < int(same.sum()) < len(x)
    for i in (~same).nonzero().squeeze(1).tolist():
        assert kept_span(x[i], out[i])[2] >= 4


def test_random_crop_prob_zero_and_full_length():
    x = images()
    out = random_crop(x, gen(), min_frames=4, prob=0.0, fill=FILL)
    assert torch.equal(out, x) and out.data_ptr() != x.data_ptr()
    w = x.shape[-1]
    assert torch.equal(random_crop(x, gen(), min_frames=w, prob=1.0, fill=FILL), x)  # L = W: nothing to move


def test_random_crop_refuses_bad_settings():
    x = images(w=16)
    with pytest.raises(ValueError):
        random_crop(x, gen(), min_frames=17, prob=1.0, fill=FILL)
    with pytest.raises(ValueError):
        random_crop(x, gen(), min_frames=0, prob=1.0, fill=FILL)
    with pytest.raises(ValueError):
        random_crop(x, gen(), min_frames=4, prob=1.5, fill=FILL)


# ---- mixup


def test_mixup_convex_combination_of_two_examples():
    b = 10
    x = images(b=b)
    y = F.one_hot(torch.arange(b), b).float()  # one class per example: the pairs can be read off the labels
    x0, y0 = x.clone(), y.clone()
    xm, ym = mixup(x, y, gen(), alpha=0.4)
    assert xm.shape == x.shape and ym.shape == y.shape
    assert torch.equal(x, x0) and torch.equal(y, y0)
    torch.testing.assert_close(ym.sum(1), torch.ones(b))
    lams = set()
    for i in range(b):
        nz = ym[i].nonzero().squeeze(1).tolist()
        assert i in nz, f"example {i} lost its own label"
        assert len(nz) in (1, 2), f"example {i} mixes {len(nz)} labels"
        lam_i = float(ym[i, i])
        if len(nz) == 1:  # paired with itself
            assert lam_i == 1.0
            torch.testing.assert_close(xm[i], x[i])
            continue
        j = nz[0] if nz[1] == i else nz[1]
        assert float(ym[i, j]) == pytest.approx(1 - lam_i)
        torch.testing.assert_close(xm[i], lam_i * x[i] + (1 - lam_i) * x[j])
        lams.add(round(lam_i, 5))
    assert len(lams) == 1  # one lambda for the batch


def test_mixup_labels_of_repeated_classes_sum_to_one():
    x = images(b=16)
    y = F.one_hot(torch.randint(0, 4, (16,), generator=gen(7)), 4).float()
    _, ym = mixup(x, y, gen(), alpha=1.0)
    torch.testing.assert_close(ym.sum(1), torch.ones(16))
    assert torch.all(ym >= 0)


def test_sample_beta_moments_and_range():
    for alpha in (0.1, 0.4, 2.0):
        lam = sample_beta(alpha, 20000, gen())
        assert torch.all((lam >= 0) & (lam <= 1)) and not torch.isnan(lam).any()
        assert float(lam.mean()) == pytest.approx(0.5, abs=0.02)
        assert float(lam.var()) == pytest.approx(1 / (4 * (2 * alpha + 1)), rel=0.08)


def test_soft_cross_entropy_equals_cross_entropy_on_one_hot():
    logits = torch.randn(12, 5, generator=gen(), dtype=torch.float64)
    y = torch.randint(0, 5, (12,), generator=gen(2))
    for smoothing in (0.0, 0.1, 0.3):
        expected = F.cross_entropy(logits, y, reduction="none", label_smoothing=smoothing)
        got = soft_cross_entropy(logits, F.one_hot(y, 5).double(), label_smoothing=smoothing)
        assert got.shape == (12,)
        torch.testing.assert_close(got, expected)


def test_soft_cross_entropy_on_soft_targets_matches_torch():
    logits = torch.randn(6, 4, generator=gen())
    q = torch.softmax(torch.randn(6, 4, generator=gen(3)), 1)
    for smoothing in (0.0, 0.2):
        torch.testing.assert_close(soft_cross_entropy(logits, q, smoothing),
                                   F.cross_entropy(logits, q, reduction="none", label_smoothing=smoothing))


# ---- determinism


def test_determinism_by_generator_seed():
    x = images(b=16)
    y = F.one_hot(torch.arange(16) % 4, 4).float()
    assert torch.equal(spec_augment(x, gen(9), 2, 8, 2, 8, FILL), spec_augment(x, gen(9), 2, 8, 2, 8, FILL))
    assert not torch.equal(spec_augment(x, gen(9), 2, 8, 2, 8, FILL), spec_augment(x, gen(10), 2, 8, 2, 8, FILL))
    assert torch.equal(random_crop(x, gen(9), 4, 0.7, FILL), random_crop(x, gen(9), 4, 0.7, FILL))
    assert not torch.equal(random_crop(x, gen(9), 4, 0.7, FILL), random_crop(x, gen(10), 4, 0.7, FILL))
    a, b = mixup(x, y, gen(9), 0.4), mixup(x, y, gen(9), 0.4)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert not torch.equal(a[1], mixup(x, y, gen(10), 0.4)[1])
    aug = BatchAugment(freq_masks=2, freq_width=8, time_masks=2, time_width=8, crop_min_frames=4, crop_prob=0.5,
                       mixup_alpha=0.4, mixup_prob=0.5, fill=FILL)
    labels = torch.arange(16) % 4
    for seed in range(3):
        first, second = aug(x, labels, 4, gen(seed)), aug(x, labels, 4, gen(seed))
        assert torch.equal(first[0], second[0]) and torch.equal(first[1], second[1])
    torch.manual_seed(0)  # the global RNG plays no part
    first = aug(x, labels, 4, gen(1))
    torch.manual_seed(1)
    assert torch.equal(first[0], aug(x, labels, 4, gen(1))[0])


# ---- frequency warp


def test_freq_warp_scales_the_mel_axis_by_one_factor_per_image():
    """A ramp over the mel bins (value = bin index) is warped to bin * factor, the same on every frame and
    channel; bins whose source is above the top bin are silence."""
    b, h, w = 6, 32, 10
    ramp = torch.arange(h, dtype=torch.float32).reshape(1, 1, h, 1).expand(b, 2, h, w).clone()
    out = freq_warp(ramp, gen(), 0.2, FILL)
    assert out.shape == ramp.shape and torch.equal(ramp[:, :, :, 0], torch.arange(h, dtype=torch.float32).expand(b, 2, h))
    factors = []
    for image in out:
        assert torch.equal(image, image[:1, :, :1].expand_as(image))  # every channel and frame alike
        column = image[0, :, 0]
        inside = column != FILL
        assert column[0] == 0 and inside[: int(inside.sum())].all()  # silence only at the top
        factor = float(column[1])
        assert 0.8 <= factor <= 1.2
        torch.testing.assert_close(column[inside], torch.arange(h)[inside] * factor)
        factors.append(factor)
    assert len(set(factors)) == b  # one factor per image
    assert any(f > 1 for f in factors) and any(f < 1 for f in factors)


def test_freq_warp_off_and_bad_settings():
    x = images()
    g = gen()
    state = g.get_state()
    out = freq_warp(x, g, 0.0, FILL)
    assert torch.equal(out, x) and out is not x and torch.equal(g.get_state(), state)
    for bad in (-0.1, 1.0):
        with pytest.raises(ValueError, match="max_warp"):
            freq_warp(x, gen(), bad, FILL)
    with pytest.raises(ValueError):
        freq_warp(torch.zeros(4, 4), gen(), 0.1, FILL)


def test_batch_augment_warps_after_the_crop_and_replays_by_seed():
    x, y = images(b=8, w=64), torch.arange(8) % 4
    aug = BatchAugment(crop_min_frames=16, crop_prob=1.0, freq_warp=0.1, fill=FILL)
    out, soft = aug(x, y, 4, gen())
    assert aug.enabled and torch.equal(soft, F.one_hot(y, 4).float())
    g = gen()
    expected = freq_warp(random_crop(x, g, 16, 1.0, FILL), g, 0.1, FILL)
    assert torch.equal(out, expected) and torch.equal(aug(x, y, 4, gen())[0], out)


# ---- band limit


def test_band_limit_silences_every_bin_from_a_cutoff_up_and_keeps_the_rest():
    x = images(b=64, h=32, w=16)
    out = band_limit(x, gen(), 1.0, 20, FILL)
    assert out.shape == x.shape and not torch.equal(out, x)
    cutoffs = []
    for image, before in zip(out[:, 0], x[:, 0]):
        silent = (image == FILL).all(dim=1)  # (H,): rows that are silence on every frame
        k = int(silent.to(torch.int).argmax()) if silent.any() else image.shape[0]
        assert silent[k:].all() and torch.equal(image[:k], before[:k])  # one cutoff: below kept, above silenced
        cutoffs.append(k)
    assert min(cutoffs) >= 20 and len(set(cutoffs)) > 5  # at least min_bins kept, the cutoff drawn per image
    assert 32 in cutoffs  # k = H: the image unchanged


def test_band_limit_prob_per_image_off_and_bad_settings():
    x = images(b=200, h=32, w=8)
    out = band_limit(x, gen(), 0.3, 1, FILL)
    changed = (out != x).flatten(1).any(dim=1).float().mean()
    assert 0.15 < float(changed) < 0.45  # about prob, less the draws of k = H
    assert torch.equal(band_limit(x, gen(), 0.0, 1, FILL), x)
    for prob, bins in ((1.5, 4), (-0.1, 4), (0.5, 0), (0.5, 33)):
        with pytest.raises(ValueError):
            band_limit(x, gen(), prob, bins, FILL)


def test_batch_augment_band_limits_after_the_warp_and_before_the_masks():
    x, y = images(b=8, h=32, w=64), torch.arange(8) % 4
    aug = BatchAugment(freq_warp=0.1, band_prob=1.0, band_min_bins=16, freq_masks=1, freq_width=3, fill=FILL)
    out, _ = aug(x, y, 4, gen())
    g = gen()
    expected = spec_augment(band_limit(freq_warp(x, g, 0.1, FILL), g, 1.0, 16, FILL), g, 1, 3, 0, 0, FILL)
    assert aug.enabled and torch.equal(out, expected)


# ---- noise

MEAN, STD = -50.0, 20.0  # made-up normalisation: x * STD + MEAN is dB below the peak


def _speechlike(n=6, seed=0):
    """Images (dB below the peak, not normalised) of waves of 2-3.5 s (then silence) with a moving harmonic voice and
    its syllable rhythm, through the paper's front end."""
    rng, cfg = np.random.default_rng(seed), LogMelConfig()
    waves = []
    for _ in range(n):
        t = np.arange(int(16000 * rng.uniform(2.0, 3.5))) / 16000
        f0 = rng.uniform(100, 250) * (1 + 0.1 * np.sin(2 * np.pi * rng.uniform(0.5, 2) * t))
        phase = 2 * np.pi * np.cumsum(f0) / 16000
        voice = sum(np.sin(k * phase) / k for k in range(1, 30))
        waves.append((voice * (0.6 + 0.4 * np.sin(2 * np.pi * 4 * t) ** 2) * 0.1).astype(np.float32))
    frontend = LogMelFrontEnd(cfg)
    with torch.no_grad():
        return frontend(torch.from_numpy(np.stack([fit_clip(w, cfg) for w in waves]))), frontend


def test_noise_reads_like_speech_shaped_noise_added_to_the_wave():
    """The image-domain mix against the real thing on 12 EmoDB clips: speech-shaped noise (the clips' own average
    spectrum) added to the waveform at the same SNR by `emovit evaluate`'s rule, then the front end. Each mel bin's
    mean level agrees within 2 dB at 0 and 10 dB (1.3 measured), where the noise moves it by 5-10 dB (the image's mix
    reads as an SNR 1-2 dB lower, which the recipes say); padding stays at the floor."""
    import soundfile as sf

    files = sorted((shared_data() / "emodb" / "wav").glob("*.wav"))[:12]
    waves = [sf.read(f, dtype="float32")[0] for f in files]  # EmoDB is 16 kHz mono
    cfg = LogMelConfig()
    frontend = LogMelFrontEnd(cfg)

    def image(ws):
        with torch.no_grad():
            return frontend(torch.from_numpy(np.stack([fit_clip(w, cfg) for w in ws])))

    clean = image(waves)
    field = NoiseField(noise_texture(frontend, count=8), MEAN, STD)
    spectrum, rng = long_term_spectrum(waves, 16000), np.random.default_rng(1)
    for snr in (0.0, 10.0):
        real = image([add_noise_at_snr(w, speech_shaped_noise(len(w), rng, None, 16000, spectrum=spectrum), snr)
                      for w in waves])
        mixed = add_noise((clean - MEAN) / STD, gen(), 1.0, (snr, snr), field) * STD + MEAN
        shift = (real.mean(dim=(0, 1, 3)) - clean.mean(dim=(0, 1, 3))).abs().mean()
        error = (real.mean(dim=(0, 1, 3)) - mixed.mean(dim=(0, 1, 3))).abs().mean()
        assert shift > 5.0 and error < 2.0, (snr, float(shift), float(error))
        short = [i for i, w in enumerate(waves) if len(w) < 3.5 * 16000]
        assert short and torch.all(mixed[short, ..., -8:] == -80.0)  # padding (0.25 s and more) left silent


def test_white_noise_reads_like_white_noise_added_to_the_wave():
    """kind="white": noise flat in Hz, its level set with each mel band weighed by its width; against white noise
    added to the waveform of 12 EmoDB clips at the same SNR, each mel bin's mean level agrees within 2.5 dB (1.7
    measured) at 0 and 10 dB, where the noise moves it by 7-15 dB."""
    import soundfile as sf

    files = sorted((shared_data() / "emodb" / "wav").glob("*.wav"))[:12]
    waves = [sf.read(f, dtype="float32")[0] for f in files]
    cfg = LogMelConfig()
    frontend = LogMelFrontEnd(cfg)

    def image(ws):
        with torch.no_grad():
            return frontend(torch.from_numpy(np.stack([fit_clip(w, cfg) for w in ws])))

    clean, rng = image(waves), np.random.default_rng(1)
    field = NoiseField(noise_texture(frontend, count=8), MEAN, STD, 80.0, mel_bandwidths(frontend))
    for snr in (0.0, 10.0):
        real = image([add_noise_at_snr(w, white_noise(len(w), rng), snr) for w in waves])
        mixed = add_noise((clean - MEAN) / STD, gen(), 1.0, (snr, snr), field, "white") * STD + MEAN
        shift = (real.mean(dim=(0, 1, 3)) - clean.mean(dim=(0, 1, 3))).abs().mean()
        error = (real.mean(dim=(0, 1, 3)) - mixed.mean(dim=(0, 1, 3))).abs().mean()
        assert shift > 6.0 and error < 2.5, (snr, float(shift), float(error))


def test_mixed_noise_is_white_or_speech_shaped_per_image():
    clean, frontend = _speechlike(n=4)
    x = ((clean - MEAN) / STD).repeat(4, 1, 1, 1)
    field = NoiseField(noise_texture(frontend, count=4), MEAN, STD, 80.0, mel_bandwidths(frontend))
    speech, white, mixed = (add_noise(x, gen(), 1.0, (5.0, 15.0), field, kind) for kind in ("speech", "white", "mixed"))
    is_white = (mixed == white).flatten(1).all(dim=1)
    is_speech = (mixed == speech).flatten(1).all(dim=1)
    assert bool((is_white ^ is_speech).all()) and 0 < int(is_white.sum()) < 16
    with pytest.raises(ValueError, match="bandwidths"):
        add_noise(x, gen(), 1.0, (5.0, 15.0), NoiseField(field.texture, MEAN, STD), "white")
    with pytest.raises(ValueError, match="kind"):
        add_noise(x, gen(), 1.0, (5.0, 15.0), field, "pink")


def test_noise_per_image_lower_snr_louder_and_input_untouched():
    clean, frontend = _speechlike(n=4)
    field = NoiseField(noise_texture(frontend, count=4), MEAN, STD)
    x = (clean - MEAN) / STD
    before = x.clone()
    levels = [float(add_noise(x, gen(), 1.0, (snr, snr), field).mean()) for snr in (20.0, 10.0, 0.0)]
    assert torch.equal(x, before) and levels[0] < levels[1] < levels[2]
    out = add_noise(x, gen(), 0.5, (0.0, 20.0), field)
    assert out.shape == x.shape and torch.equal(out, add_noise(x, gen(), 0.5, (0.0, 20.0), field))  # by generator
    assert float(out.max()) <= -MEAN / STD + 1e-5 and float(out.min()) >= (-80.0 - MEAN) / STD - 1e-5  # peak 0 dB
    many = x.repeat(50, 1, 1, 1)
    share = (add_noise(many, gen(), 0.3, (0.0, 20.0), field) != many).flatten(1).any(dim=1).float().mean()
    assert 0.2 < float(share) < 0.4  # prob per image
    assert torch.equal(add_noise(x, gen(), 0.0, (0.0, 20.0), field), x)
    for bad in ({"prob": 1.5, "snr_db": (0.0, 20.0)}, {"prob": 0.5, "snr_db": (20.0, 0.0)}):
        with pytest.raises(ValueError):
            add_noise(x, gen(), field=field, **bad)
    with pytest.raises(ValueError, match="texture"):
        add_noise(x[..., :64], gen(), 1.0, (0.0, 20.0), field)


def test_noise_texture_is_white_noise_power_with_unit_bins():
    frontend = LogMelFrontEnd(LogMelConfig())
    texture = noise_texture(frontend, count=3)
    assert texture.shape == (3, 128, 128) and bool((texture > 0).all())
    assert torch.equal(texture, noise_texture(frontend, count=3))  # seeded
    # the resize averages dB, so each bin's mean power is a little under 1, never far from it
    assert 0.4 < float(texture.mean(dim=(0, 2)).min()) and float(texture.mean(dim=(0, 2)).max()) <= 1.05


def test_batch_augment_mixes_noise_after_the_warp_and_before_the_band_limit():
    clean, frontend = _speechlike(n=4)
    field = NoiseField(noise_texture(frontend, count=4), MEAN, STD)
    fill = silence_level(MEAN, STD)
    x, y = (clean - MEAN) / STD, torch.arange(4) % 2
    aug = BatchAugment(freq_warp=0.05, noise_prob=1.0, noise_snr=(5.0, 15.0), band_prob=1.0, band_min_bins=100,
                       fill=fill, noise=field)
    out, _ = aug(x, y, 2, gen())
    g = gen()
    expected = band_limit(add_noise(freq_warp(x, g, 0.05, fill), g, 1.0, (5.0, 15.0), field), g, 1.0, 100, fill)
    assert aug.enabled and torch.equal(out, expected)
    with pytest.raises(ValueError, match="NoiseField"):
        BatchAugment(noise_prob=0.5)
    with pytest.raises(ValueError, match="noise_snr"):
        BatchAugment(noise_snr=(10.0, 0.0))


# ---- BatchAugment


def test_batch_augment_all_off_is_identity():
    x, y = images(), torch.tensor([0, 1, 2, 3, 0, 1, 2, 3])
    g = gen()
    state = g.get_state()
    out, soft = BatchAugment(fill=FILL)(x, y, 4, g)
    assert out is x
    assert torch.equal(soft, F.one_hot(y, 4).float())
    assert torch.equal(g.get_state(), state)  # nothing drawn
    assert not BatchAugment().enabled
    off = BatchAugment(freq_masks=2, time_width=5, crop_min_frames=8, crop_prob=0.0, mixup_alpha=0.4, mixup_prob=0.0)
    assert not off.enabled and torch.equal(off(x, y, 4, gen())[0], x)


def test_batch_augment_everything_on():
    x, y = images(b=16, w=64), torch.arange(16) % 4
    before = x.clone()
    aug = BatchAugment(freq_masks=1, freq_width=4, time_masks=1, time_width=4, crop_min_frames=16, crop_prob=1.0,
                       mixup_alpha=0.4, mixup_prob=1.0, fill=FILL)
    out, soft = aug(x, y, 4, gen())
    assert out.shape == x.shape and soft.shape == (16, 4) and soft.dtype == torch.float32
    assert torch.equal(x, before)
    torch.testing.assert_close(soft.sum(1), torch.ones(16))
    assert not torch.equal(out, x)


def test_batch_augment_crop_then_masks_without_mixup():
    x, y = images(b=8, w=64), torch.arange(8) % 4
    aug = BatchAugment(time_masks=1, time_width=6, crop_min_frames=16, crop_prob=1.0, fill=FILL)
    out, soft = aug(x, y, 4, gen())
    assert torch.equal(soft, F.one_hot(y, 4).float())
    cropped = random_crop(x, gen(), 16, 1.0, FILL)  # the crop draws first, from the same generator
    assert not torch.equal(cropped, x)
    changed = out != cropped
    assert changed.any() and torch.all(out[changed] == FILL)  # then the masks: they only add silence


def test_batch_augment_settings_match_stage_fields_and_validate():
    assert SETTINGS == ("freq_masks", "freq_width", "time_masks", "time_width", "crop_min_frames", "crop_prob",
                        "freq_warp", "noise_prob", "noise_snr", "noise_kind", "band_prob", "band_min_bins",
                        "mixup_alpha", "mixup_prob")

    from emovit.config import StageConfig

    aug = BatchAugment.from_config(StageConfig(freq_masks=2, freq_width=10, crop_prob=0.5), fill=-1.5)
    assert (aug.freq_masks, aug.freq_width, aug.crop_prob, aug.fill, aug.time_masks) == (2, 10, 0.5, -1.5, 0)
    assert all(hasattr(StageConfig(), name) for name in SETTINGS)
    for bad in ({"freq_masks": -1}, {"crop_prob": 1.5}, {"crop_min_frames": 0}, {"mixup_prob": 0.5},
                {"mixup_alpha": -1.0}, {"freq_warp": 1.0}, {"freq_warp": -0.1}, {"band_prob": 1.5},
                {"band_min_bins": 0}):
        with pytest.raises(ValueError):
            BatchAugment(**bad)
    for bad in ({"freq_warp": 1.0}, {"freq_warp": -0.1}):
        with pytest.raises(ValueError, match="freq_warp"):
            StageConfig(**bad)
    for bad in ({"band_prob": -0.1}, {"band_min_bins": 0}):
        with pytest.raises(ValueError, match="band_"):
            StageConfig(**bad)
    assert StageConfig(freq_warp=0.1).augments_batches and not StageConfig().augments_batches
    assert StageConfig(band_prob=0.5).augments_batches and StageConfig(noise_prob=0.5).augments_batches
    for bad in ({"noise_prob": 1.5}, {"noise_snr": (20.0, 0.0)}, {"noise_kind": "pink"}):
        with pytest.raises(ValueError, match="noise_"):
            StageConfig(**bad)
