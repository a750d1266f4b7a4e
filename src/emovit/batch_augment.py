"""Training-time augmentations of a batch of normalised log-Mel images, applied inside the training step.

These complement the cached waveform views of `emovit.augment` (noise, shift, speed: made once per
clip): the ones here are drawn afresh at every step, on the batch's device, from a
`torch.Generator` the caller owns, so a run that seeds the generator from (seed, epoch, step)
replays exactly.

  spec_augment   SpecAugment frequency and time masks (Park et al. 2019)
  random_crop    a random span of the utterance at a random place of the 4 s frame (short utterances)
  freq_warp      the mel axis stretched or squeezed by a random factor (other vocal tracts, after VTLP)
  add_noise      speech-shaped noise mixed in at a random SNR (noisy rooms, streets, other talkers)
  band_limit     the top mel bins silenced above a random cutoff (narrowband recordings: telephone, codecs)
  mixup          convex combinations of pairs of images and of their labels (Zhang et al. 2018)
  BatchAugment   all of them from plain settings: crop, warp, noise, band limit, masks, then (sometimes) mixup

Images are (B, C, H, W) with H mel bands and W frames (the paper's log-Mel images are (B, 1, 128, 128):
128 frames for 4 s, so 32 frames a second). "Silence" is the value of the 80 dB floor: the images are in
dB relative to the clip's peak, floored at -80 dB, then normalised by the training split's scalar mean
and std (`features.Normalizer`), so silence is `(-80 - mean) / std` in normalised units:
:func:`silence_level` computes it, and every `fill` below expects it. Masked and cropped-away parts of an
image thus look like the silence a real recording has, not like a value the network never sees.

Every function returns a new tensor and leaves its input untouched.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .config import IMAGE_NOISES

__all__ = ["silence_level", "spec_augment", "random_crop", "freq_warp", "NoiseField", "add_noise", "band_limit",
           "mixup", "sample_beta", "soft_cross_entropy", "BatchAugment", "SETTINGS"]

# BatchAugment's settings, named as the StageConfig fields they will become
SETTINGS = ("freq_masks", "freq_width", "time_masks", "time_width", "crop_min_frames", "crop_prob",
            "freq_warp", "noise_prob", "noise_snr", "noise_kind", "band_prob", "band_min_bins", "mixup_alpha",
            "mixup_prob")


def silence_level(mean: float, std: float, top_db: float = 80.0) -> float:
    """The normalised value of silence: the log-Mel floor, `-top_db` dB below the clip's peak (-80 dB for
    the paper's images), after the training split's normalisation `(value - mean) / std`."""
    return (-float(top_db) - float(mean)) / float(std)


# ----------------------------------------------------------------------------------------------
# random draws: made on the generator's device, then moved to the batch's


def _device(generator: torch.Generator | None) -> torch.device:
    return generator.device if generator is not None else torch.device("cpu")


def _rand(n, generator, like: torch.Tensor) -> torch.Tensor:
    """n uniform draws in [0, 1), float64, on `like`'s device."""
    size = n if isinstance(n, tuple) else (n,)
    return torch.rand(size, generator=generator, device=_device(generator), dtype=torch.float64).to(like.device)


def _randint(low: int, high, size: tuple, generator, like: torch.Tensor) -> torch.Tensor:
    """Integers uniform in [low, high] (inclusive), `high` a scalar or a tensor broadcastable to `size`."""
    u = _rand(size, generator, like)
    high = torch.as_tensor(high, device=like.device)
    span = (high - low + 1).to(torch.float64)
    return (low + torch.floor(u * span).to(torch.long)).minimum(high.to(torch.long))


def _check_images(x: torch.Tensor) -> None:
    if x.dim() < 3:
        raise ValueError(f"expected a batch of images (B, [C,] H, W), got shape {tuple(x.shape)}")


def _check_share(prob: float, minimum: int, name: str, size: int, unit: str) -> None:
    """An augmentation applied to a share `prob` of the images, keeping at least `minimum` of `size` rows or
    columns (its `name`, counted in `unit`)."""
    if not 1 <= minimum <= size:
        raise ValueError(f"{name} must be in [1, {size}] (the image's {unit}), not {minimum}")
    if not 0.0 <= prob <= 1.0:
        raise ValueError(f"prob must be in [0, 1], not {prob}")


# ----------------------------------------------------------------------------------------------
# SpecAugment


def _band_mask(batch: int, masks: int, width: int, length: int, generator, like: torch.Tensor) -> torch.Tensor:
    """(batch, length) bool: per row, the union of `masks` bands of width uniform in [0, width]
    (clipped to `length`) starting uniformly in [0, length - width_drawn]."""
    out = torch.zeros(batch, length, dtype=torch.bool, device=like.device)
    if masks <= 0 or width <= 0 or length == 0:
        return out
    widths = _randint(0, min(width, length), (batch, masks), generator, like)
    starts = _randint(0, length - widths, (batch, masks), generator, like)
    pos = torch.arange(length, device=like.device)
    inside = (pos >= starts[..., None]) & (pos < (starts + widths)[..., None])  # (batch, masks, length)
    return inside.any(dim=1)


def spec_augment(x: torch.Tensor, generator: torch.Generator | None, freq_masks: int, freq_width: int,
                 time_masks: int, time_width: int, fill: float) -> torch.Tensor:
    """SpecAugment's frequency and time masking (Park et al. 2019), per image.

    Why: the network must not rely on any one band of mel bins or span of frames (a band lost to a
    channel, a word lost to noise). What: for each image of `x` (B, [C,] H, W) independently,
    `freq_masks` bands of f mel bins, f uniform in [0, freq_width] and the first bin uniform in
    [0, H - f], and `time_masks` spans of t frames, t uniform in [0, time_width] and the first frame
    uniform in [0, W - t], are set to `fill` on every channel (bands may overlap, so at most
    freq_masks * freq_width rows and time_masks * time_width columns change). `fill` is silence in
    normalised units (:func:`silence_level`: the paper's images are floored at -80 dB below the peak).
    Widths are clipped to H and W; a count or width of 0 turns that kind of mask off.
    Returns a new tensor of `x`'s shape; `x` is untouched.
    """
    _check_images(x)
    if min(freq_masks, freq_width, time_masks, time_width) < 0:
        raise ValueError("mask counts and widths must be >= 0")
    b, h, w = x.shape[0], x.shape[-2], x.shape[-1]
    rows = _band_mask(b, freq_masks, freq_width, h, generator, x)  # (B, H)
    cols = _band_mask(b, time_masks, time_width, w, generator, x)  # (B, W)
    mask = rows[:, :, None] | cols[:, None, :]  # (B, H, W)
    mask = mask.reshape(b, *([1] * (x.dim() - 3)), h, w)
    return x.masked_fill(mask, fill)


# ----------------------------------------------------------------------------------------------
# random crop


def random_crop(x: torch.Tensor, generator: torch.Generator | None, min_frames: int, prob: float,
                fill: float) -> torch.Tensor:
    """Duration robustness: short utterances anywhere in the frame.

    Why: training clips are the first 4 s of a recording, zero-padded, so most training images start at
    frame 0 and fill much of the frame, while a deployed model hears utterances of any length at any
    offset. What: with probability `prob`, independently per image of `x` (B, [C,] H, W), a contiguous
    span of L of its frames, L uniform in [min_frames, W] and its first frame uniform in [0, W - L], is
    kept and moved to a position uniform in [0, W - L] of the W-frame image; every other frame is
    `fill` (silence in normalised units, :func:`silence_level`). Images not drawn are copied unchanged.
    With the paper's 128 frames for 4 s, min_frames=16 simulates utterances of 0.5 to 4 s.
    Returns a new tensor of `x`'s shape; `x` is untouched.
    """
    _check_images(x)
    b, w = x.shape[0], x.shape[-1]
    _check_share(prob, min_frames, "min_frames", w, "frames")
    if prob == 0.0 or b == 0:
        return x.clone()
    apply = _rand(b, generator, x) < prob
    lengths = _randint(min_frames, w, (b,), generator, x)
    sources = _randint(0, w - lengths, (b,), generator, x)
    targets = _randint(0, w - lengths, (b,), generator, x)
    pos = torch.arange(w, device=x.device)
    inside = (pos >= targets[:, None]) & (pos < (targets + lengths)[:, None])  # (B, W)
    index = (pos - targets[:, None] + sources[:, None]).clamp(0, w - 1)  # (B, W): output frame <- input frame
    lead = [1] * (x.dim() - 2)
    moved = torch.gather(x, -1, index.reshape(b, *lead, w).expand_as(x))
    cropped = moved.masked_fill(~inside.reshape(b, *lead, w), fill)
    return torch.where(apply.reshape(b, *lead, 1), cropped, x)


# ----------------------------------------------------------------------------------------------
# frequency warp


def freq_warp(x: torch.Tensor, generator: torch.Generator | None, max_warp: float, fill: float) -> torch.Tensor:
    """Other speakers' vocal tracts: the mel axis of each image scaled by a random factor.

    Why: a few training speakers teach the network their formant positions; a new speaker's vocal tract
    moves them (vocal tract length perturbation, Jaitly & Hinton 2013, warps the frequency axis of the
    spectrum for the same reason). What: per image of `x` (B, [C,] H, W), a factor a uniform in
    [1 - max_warp, 1 + max_warp]; output mel bin r takes the value of input bin r * a, linearly
    interpolated between the two nearest bins, on every channel and frame. a > 1 moves the spectrum down
    (a longer vocal tract); bins whose source lies above the top bin are `fill` (silence in normalised
    units, :func:`silence_level`). The warp is linear in mel bins, so above ~1 kHz, where the mel scale
    is close to logarithmic, it is close to scaling frequency by a power of the factor; a sketch of
    VTLP on the image, not its exact Hz warp. max_warp 0 returns a copy. No recipe turns it on: on
    EmoDB's speaker splits it lowered validation UA at 0.1 and at 0.04 (BENCHMARKS.md, the ablation).
    Returns a new tensor of `x`'s shape; `x` is untouched.
    """
    _check_images(x)
    if not 0.0 <= max_warp < 1.0:
        raise ValueError(f"max_warp must be in [0, 1), not {max_warp}")
    b, h = x.shape[0], x.shape[-2]
    if max_warp == 0.0 or b == 0:
        return x.clone()
    factors = 1.0 + max_warp * (2.0 * _rand(b, generator, x) - 1.0)  # (B,)
    source = torch.arange(h, device=x.device, dtype=torch.float64)[None, :] * factors[:, None]  # (B, H)
    below = source.floor().clamp(max=h - 1)
    weight = (source - below).to(x.dtype)
    low = below.to(torch.long)
    high = (low + 1).clamp(max=h - 1)
    lead = [1] * (x.dim() - 3)

    def rows(index: torch.Tensor) -> torch.Tensor:
        return torch.gather(x, -2, index.reshape(b, *lead, h, 1).expand_as(x))

    w = weight.reshape(b, *lead, h, 1)
    warped = rows(low) * (1.0 - w) + rows(high) * w
    outside = (source > h - 1).reshape(b, *lead, h, 1)
    return warped.masked_fill(outside, fill)


# ----------------------------------------------------------------------------------------------
# noise


@dataclass(frozen=True, eq=False)
class NoiseField:
    """What mixing noise into a run's normalised log-Mel images needs: their units and a noise texture.

    `mean` and `std` are the training split's global normalisation (`features.Normalizer`), so that
    `x * std + mean` is dB below the clip's peak, floored at `-top_db`; `texture` (K, H, W) is white noise's
    power through the run's front end, each mel bin scaled by its mean power (`features.noise_texture`)."""

    texture: torch.Tensor
    mean: float
    std: float
    top_db: float = 80.0
    bandwidths: torch.Tensor | None = None  # (H,) each mel band's half-width in Hz (`features.mel_bandwidths`): white noise


def add_noise(x: torch.Tensor, generator: torch.Generator | None, prob: float, snr_db: tuple[float, float],
              field: NoiseField, kind: str = "speech") -> torch.Tensor:
    """Noisy recordings: speech-shaped (or white) noise mixed into the images at a random SNR.

    Why: the corpora are studio recordings, and a network trained on them collapses onto one class in
    speech-shaped noise (BENCHMARKS.md: the bundled pair 31 points under clean at 10 dB); the cached noise view
    (`emovit.augment`) is one draw per clip, at 15-30 dB, and a view of the clip's own spectrum did not help.
    What: with probability `prob`, independently per image of `x` (B, 1, H, W), noise whose long-term spectrum
    is the batch's (the mean power of every image's bins over its frames: other utterances' average spectrum,
    as `robustness.speech_shaped_noise` uses), with the cell-to-cell fluctuation of a real noise's image (one of
    `field.texture`'s, rolled in time by a random number of frames), is added in power to the image's sounding
    frames (those above the floor somewhere: padding and cropped-away frames stay silent, as a short recording
    padded to 4 s does), at an SNR uniform in `snr_db`: the mean power of the image's active frames (within
    40 dB of its loudest, `robustness.active_mask`'s rule) over the noise's mean frame power. The sum is put
    back in the images' units: dB below its new peak, floored at `-top_db`, normalised. The level is set in
    mel power, which weighs bands as the filterbank does; noise shaped like speech is weighed as speech, so
    the SNR is close to the waveform's. `kind="white"`: noise flat in Hz instead (the same in every Slaney mel
    band), its level set against the speech with each band weighed by its width (`field.bandwidths`), as power in
    Hz; `"mixed"`: speech-shaped or white, drawn per image. Returns a new tensor of `x`'s shape; `x` is untouched.
    """
    _check_images(x)
    b, h, w = x.shape[0], x.shape[-2], x.shape[-1]
    if x.dim() != 4 or x.shape[1] != 1:
        raise ValueError(f"noise is mixed into one-channel images (B, 1, H, W), got shape {tuple(x.shape)}")
    if field.texture.shape[-2:] != (h, w):
        raise ValueError(f"the noise texture is {tuple(field.texture.shape[-2:])}, the images {(h, w)}")
    if not 0.0 <= prob <= 1.0:
        raise ValueError(f"prob must be in [0, 1], not {prob}")
    low, high = snr_db
    if low > high:
        raise ValueError(f"snr_db must be (low, high) with low <= high, not {snr_db}")
    if kind not in IMAGE_NOISES:
        raise ValueError(f"kind must be one of {', '.join(IMAGE_NOISES)}, not {kind!r}")
    if kind != "speech" and field.bandwidths is None:
        raise ValueError("white noise needs the mel bands' widths (NoiseField.bandwidths) to set its level")
    if prob == 0.0 or b == 0:
        return x.clone()
    apply = _rand(b, generator, x) < prob
    snr = low + (high - low) * _rand(b, generator, x)
    pick = _randint(0, len(field.texture) - 1, (b,), generator, x)
    shift = _randint(0, w - 1, (b,), generator, x)
    db = x[:, 0].double() * field.std + field.mean  # (B, H, W) dB below the peak
    power = 10.0 ** (db / 10.0)
    spectrum = power.mean(dim=(0, 2))  # (H,) the batch's long-term spectrum
    frames = (torch.arange(w, device=x.device)[None, :] - shift[:, None]) % w
    texture = field.texture.to(x.device)[pick].double()
    texture = torch.gather(texture, -1, frames[:, None, :].expand(b, h, w))
    noise = spectrum[None, :, None] * texture  # (B, H, W)
    # (B, 1, W) frames above the floor anywhere; `features.sounding_frames` (the image's minimum + 1 dB, for band
    # means) would move a few edge frames and so change how the shipped experts were trained
    sounding = (db > -field.top_db + 1e-3).any(dim=-2, keepdim=True)
    frame_power = power.sum(dim=-2)  # (B, W)
    active = frame_power >= frame_power.amax(dim=-1, keepdim=True) * 1e-4
    speech = (frame_power * active).sum(-1) / active.sum(-1)
    gain = speech / (spectrum.sum() * 10.0 ** (snr / 10.0))  # the texture's bins hold mean power 1 before the resize
    if kind != "speech":
        white = torch.ones(b, dtype=torch.bool, device=x.device) if kind == "white" else _rand(b, generator, x) < 0.5
        width = field.bandwidths.to(x.device).double()
        in_hz = ((power * width[None, :, None]).sum(dim=-2) * active).sum(-1) / active.sum(-1)
        white_gain = in_hz / (width.sum() * 10.0 ** (snr / 10.0))
        noise = torch.where(white[:, None, None], texture, noise)
        gain = torch.where(white, white_gain, gain)
    mixed = 10.0 * torch.log10(power + gain[:, None, None] * noise * sounding)
    mixed = (mixed - mixed.amax(dim=(-2, -1), keepdim=True)).clamp_min(-field.top_db)
    mixed = mixed.masked_fill(~sounding, -field.top_db)  # silence stays at the floor under the new, louder peak
    out = ((mixed - field.mean) / field.std).to(x.dtype)[:, None]
    return torch.where(apply.reshape(b, 1, 1, 1), out, x)


# ----------------------------------------------------------------------------------------------
# band limit


def band_limit(x: torch.Tensor, generator: torch.Generator | None, prob: float, min_bins: int,
               fill: float) -> torch.Tensor:
    """Narrowband recordings: the mel bins above a random cutoff silenced.

    Why: the corpora are wideband (16 kHz and more), while telephone lines and narrowband codecs keep nothing
    above 4 kHz (3.4 kHz on a classic line, 7 kHz in wideband telephony); a network that learnt cues up there
    drifts when they are gone (BENCHMARKS.md: the bundled pair loses 15 points on audio resampled to 8 kHz and
    back). What: with probability `prob`, independently per image of `x` (B, [C,] H, W), a count k uniform in
    [min_bins, H] of the lowest mel bins is kept and every bin from k up is `fill` (silence in normalised units,
    :func:`silence_level`), on every channel and frame: the image a recording with that bandwidth gives, as the
    log-Mel images are in dB below the clip's peak, which the low bins hold. For the paper's 128 Slaney bins at
    16 kHz, bin 93 starts at 3.4 kHz and bin 100 at 4 kHz. k = H leaves an image unchanged.
    Returns a new tensor of `x`'s shape; `x` is untouched.
    """
    _check_images(x)
    b, h = x.shape[0], x.shape[-2]
    _check_share(prob, min_bins, "min_bins", h, "mel bins")
    if prob == 0.0 or b == 0:
        return x.clone()
    apply = _rand(b, generator, x) < prob
    kept = _randint(min_bins, h, (b,), generator, x)
    above = (torch.arange(h, device=x.device)[None, :] >= kept[:, None]) & apply[:, None]  # (B, H)
    return x.masked_fill(above.reshape(b, *([1] * (x.dim() - 3)), h, 1), fill)


# ----------------------------------------------------------------------------------------------
# mixup


def _log_gamma(shape: float, n: int, generator, like: torch.Tensor) -> torch.Tensor:
    """log of n Gamma(shape, 1) draws (float64), from the generator only: Marsaglia & Tsang (2000)
    for shape >= 1, and Gamma(k) = Gamma(k + 1) * U^(1/k) for k < 1, kept in logs so that tiny
    shapes (mixup's alpha = 0.1) neither underflow nor give 0/0."""
    k = shape + 1.0 if shape < 1.0 else shape
    d = k - 1.0 / 3.0
    c = 1.0 / math.sqrt(9.0 * d)
    dev = _device(generator)
    out = torch.empty(n, dtype=torch.float64, device=dev)
    todo = torch.ones(n, dtype=torch.bool, device=dev)
    while bool(todo.any()):
        m = int(todo.sum())
        z = torch.randn(m, generator=generator, device=dev, dtype=torch.float64)
        u = torch.rand(m, generator=generator, device=dev, dtype=torch.float64)
        v = (1.0 + c * z) ** 3
        ok = (v > 0) & (torch.log1p(-u) < 0.5 * z * z + d - d * v + d * torch.log(v.clamp_min(1e-300)))
        slots = todo.nonzero().squeeze(1)[ok]
        out[slots] = math.log(d) + torch.log(v[ok])
        todo[slots] = False
    if shape < 1.0:
        out = out + torch.log1p(-torch.rand(n, generator=generator, device=dev, dtype=torch.float64)) / shape
    return out.to(like.device)


def sample_beta(alpha: float, n: int, generator: torch.Generator | None,
                device: torch.device | str = "cpu") -> torch.Tensor:
    """n draws of Beta(alpha, alpha) (float64 on `device`), a function of the generator's state only:
    lambda = G1 / (G1 + G2) with G1, G2 ~ Gamma(alpha), computed as sigmoid(log G1 - log G2)."""
    if alpha <= 0:
        raise ValueError(f"alpha must be > 0, not {alpha}")
    like = torch.empty(0, device=device)
    return torch.sigmoid(_log_gamma(alpha, n, generator, like) - _log_gamma(alpha, n, generator, like))


def mixup(x: torch.Tensor, y_onehot: torch.Tensor, generator: torch.Generator | None,
          alpha: float) -> tuple[torch.Tensor, torch.Tensor]:
    """mixup (Zhang et al. 2018): train on convex combinations of pairs of examples and of their labels.

    Why: a smoother decision function between classes and less memorising of few, small corpora.
    What: one lambda ~ Beta(alpha, alpha) for the batch and a uniformly random permutation `perm` of it
    (both from `generator`); returns x' = lambda * x + (1 - lambda) * x[perm] and the soft labels
    y' = lambda * y + (1 - lambda) * y[perm], rows summing to 1 when the rows of `y_onehot` (B, classes)
    do. An image paired with itself (perm[i] == i) is unchanged. Train on y' with
    :func:`soft_cross_entropy`. New tensors; the inputs are untouched.
    """
    _check_images(x)
    if y_onehot.dim() != 2 or y_onehot.shape[0] != x.shape[0]:
        raise ValueError(f"y_onehot must be (B, classes) for B={x.shape[0]}, got {tuple(y_onehot.shape)}")
    b = x.shape[0]
    lam = float(sample_beta(alpha, 1, generator, _device(generator))[0])
    perm = torch.randperm(b, generator=generator, device=_device(generator)).to(x.device)
    x_mixed = x * lam + x[perm] * (1.0 - lam)
    y_mixed = y_onehot * lam + y_onehot[perm.to(y_onehot.device)] * (1.0 - lam)
    return x_mixed, y_mixed


def soft_cross_entropy(logits: torch.Tensor, soft_targets: torch.Tensor, label_smoothing: float = 0.0) -> torch.Tensor:
    """Per-sample cross-entropy against a distribution over classes (mixup's soft labels):
    -sum_c q_c log softmax(logits)_c with q = (1 - label_smoothing) * soft_targets + label_smoothing / C,
    the smoothing of F.cross_entropy, so that one-hot targets give exactly
    F.cross_entropy(logits, labels, reduction="none", label_smoothing=label_smoothing).
    Half-precision logits are computed in float32."""
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"label_smoothing must be in [0, 1], not {label_smoothing}")
    if logits.dtype in (torch.float16, torch.bfloat16):
        logits = logits.float()
    log_p = F.log_softmax(logits, dim=-1)
    q = soft_targets.to(log_p.dtype)
    if label_smoothing:
        q = q * (1.0 - label_smoothing) + label_smoothing / logits.shape[-1]
    return -(q * log_p).sum(dim=-1)


# ----------------------------------------------------------------------------------------------
# the applier


@dataclass(frozen=True)
class BatchAugment:
    """The batch augmentations of a training step, from plain settings (named as StageConfig fields).

    Calling it on a batch applies, in this order: :func:`random_crop` (crop_prob per image, spans of at
    least crop_min_frames), :func:`freq_warp` (factors within 1 +- freq_warp), :func:`add_noise` (noise_prob
    per image, SNR uniform in noise_snr dB, noise_kind), :func:`band_limit` (band_prob per image, at least band_min_bins mel
    bins kept: the channel after the room), :func:`spec_augment`
    (freq_masks bands of up to freq_width mel bins and time_masks spans of up to time_width frames per
    image), then, with probability mixup_prob for the whole batch, :func:`mixup` with Beta(mixup_alpha,
    mixup_alpha). Every setting's default is off; with all of them off a call returns `x` itself and
    one-hot labels, and draws nothing from the generator.

    `fill` and `noise` are not stage settings: silence in the run's normalised units (:func:`silence_level`
    of the training split's Normalizer) and what noise needs (:class:`NoiseField`; None where the images are not
    log-Mel dB under one global normalisation), fixed when the data are.
    """

    freq_masks: int = 0
    freq_width: int = 0
    time_masks: int = 0
    time_width: int = 0
    crop_min_frames: int = 16  # 0.5 s of the paper's 4 s / 128-frame images
    crop_prob: float = 0.0
    freq_warp: float = 0.0
    noise_prob: float = 0.0
    noise_snr: tuple[float, float] = (0.0, 20.0)
    noise_kind: str = "speech"
    band_prob: float = 0.0
    band_min_bins: int = 93  # 3.4 kHz, a telephone line's top, for the paper's 128 Slaney bins at 16 kHz
    mixup_alpha: float = 0.0
    mixup_prob: float = 0.0
    fill: float = 0.0
    noise: NoiseField | None = None

    def __post_init__(self):
        for name in ("freq_masks", "freq_width", "time_masks", "time_width"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, not {getattr(self, name)}")
        if self.crop_min_frames < 1 or self.band_min_bins < 1:
            raise ValueError(f"crop_min_frames and band_min_bins must be >= 1, not {self.crop_min_frames} and "
                             f"{self.band_min_bins}")
        for name in ("crop_prob", "noise_prob", "band_prob", "mixup_prob"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], not {getattr(self, name)}")
        if self.noise_snr[0] > self.noise_snr[1]:
            raise ValueError(f"noise_snr must be (low, high) in dB with low <= high, not {self.noise_snr}")
        if self.noise_kind not in IMAGE_NOISES:
            raise ValueError(f"noise_kind must be one of {', '.join(IMAGE_NOISES)}, not {self.noise_kind!r}")
        if self.noise_prob > 0 and self.noise is None:
            raise ValueError("noise_prob > 0 needs the images' units and a noise texture (NoiseField): log-Mel "
                             "images under one global normalisation")
        if not 0.0 <= self.freq_warp < 1.0:
            raise ValueError(f"freq_warp must be in [0, 1), not {self.freq_warp}")
        if self.mixup_alpha < 0:
            raise ValueError(f"mixup_alpha must be >= 0, not {self.mixup_alpha}")
        if self.mixup_prob > 0 and self.mixup_alpha == 0:
            raise ValueError("mixup_prob > 0 needs mixup_alpha > 0")

    @classmethod
    def from_config(cls, config, fill: float, noise: NoiseField | None = None) -> "BatchAugment":
        """From a StageConfig, whose fields of the same names (:data:`SETTINGS`) set it."""
        return cls(**{name: getattr(config, name) for name in SETTINGS}, fill=fill, noise=noise)

    @property
    def masks(self) -> bool:
        return (self.freq_masks > 0 and self.freq_width > 0) or (self.time_masks > 0 and self.time_width > 0)

    @property
    def enabled(self) -> bool:
        """Whether a call can change anything."""
        return (self.crop_prob > 0 or self.freq_warp > 0 or self.noise_prob > 0 or self.band_prob > 0 or self.masks
                or self.mixup_prob > 0)

    def __call__(self, x: torch.Tensor, y: torch.Tensor, num_classes: int,
                 generator: torch.Generator | None) -> tuple[torch.Tensor, torch.Tensor]:
        """(augmented x, soft labels (B, num_classes) float32) for a batch x (B, [C,] H, W) and its
        labels y: class indices (B,), or already soft (B, num_classes)."""
        soft = y.float() if y.dim() == 2 else F.one_hot(y.long(), num_classes).float()
        if self.crop_prob > 0:
            x = random_crop(x, generator, min(self.crop_min_frames, x.shape[-1]), self.crop_prob, self.fill)
        if self.freq_warp > 0:
            x = freq_warp(x, generator, self.freq_warp, self.fill)
        if self.noise_prob > 0:
            x = add_noise(x, generator, self.noise_prob, self.noise_snr, self.noise, self.noise_kind)
        if self.band_prob > 0:
            x = band_limit(x, generator, self.band_prob, min(self.band_min_bins, x.shape[-2]), self.fill)
        if self.masks:
            x = spec_augment(x, generator, self.freq_masks, self.freq_width, self.time_masks, self.time_width,
                             self.fill)
        if self.mixup_prob > 0 and float(_rand(1, generator, x)[0]) < self.mixup_prob:
            x, soft = mixup(x, soft, generator, self.mixup_alpha)
        return x, soft
