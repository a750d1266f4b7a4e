"""Log-Mel front end of the paper and its on-disk cache.

16 kHz mono, 4 s, STFT n_fft 1024 / hop 64 / 512-sample Hamming window (periodic, centred
in the 1024-point frame as librosa does), 128 Slaney mel bands, power in dB relative to the
clip's maximum with an 80 dB floor (librosa's `power_to_db(ref=np.max, top_db=80)`). 4 s at hop
64 gives 1001 frames; the time axis is resized to 128 with antialiased bilinear interpolation
(what PIL's image resize does, the authors having worked on images), giving the 128x128 image.
Normalisation by training-split mean and std is applied later (`Normalizer`), not here.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import librosa
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .audio import centre_fit, fit_length
from .checkpoint import atomic_write
from .config import FrontEndSettings, LogMelConfig, MfccConfig
from .mfcc import MfccFrontEnd


class LogMelFrontEnd(nn.Module):
    """Waveforms (batch, samples) at 16 kHz -> log-Mel images (batch, 1, 128, 128) in dB."""

    def __init__(self, config: LogMelConfig = LogMelConfig()):
        super().__init__()
        self.config = config
        window = torch.hamming_window(config.win_length, periodic=True, dtype=torch.float64)
        left = (config.n_fft - config.win_length) // 2
        window = F.pad(window, (left, config.n_fft - config.win_length - left))
        self.register_buffer("window", window.float(), persistent=False)
        mel = torch.from_numpy(librosa.filters.mel(sr=config.sample_rate, n_fft=config.n_fft, n_mels=config.n_mels))
        self.register_buffer("mel_columns", mel.T.float().contiguous(), persistent=False)
        self.mel_bands = mel_bands(mel)

    # A clip's STFT at hop 64 is 1001 x 513 complex values (4 MB): computed whole, every pass over it
    # (window, FFT, power, mel) spills out of the CPU's caches. On a CPU, up to CLIPS clips and ROWS
    # frames (all clips together) at a time stay in them: 1.5-3x faster per clip than whole clips
    # (measured, 1 thread, batch 1 and 32). A GPU gets the whole batch at once.
    CLIPS, ROWS = 8, 256

    def spectrogram_db(self, waves: torch.Tensor) -> torch.Tensor:
        """(batch, samples) -> (batch, n_mels, frames) log-Mel in dB, before resizing.

        The centred, zero-padded STFT written out as frames x rfft (the same numbers as
        ``torch.stft(..., center=True, pad_mode="constant")``), a slice of frames at a time."""
        c = self.config
        pad = c.n_fft // 2
        frames = F.pad(waves.float(), (pad, pad)).unfold(-1, c.n_fft, c.hop_length)  # a view: no copy
        step = max(1, self.ROWS // len(waves)) if waves.device.type == "cpu" else frames.shape[-2]
        mel = torch.cat([self._mel(part) for part in frames.split(step, dim=-2)], dim=-2).transpose(-1, -2)
        db = 10.0 * torch.log10(mel.clamp_min(1e-10))
        peak = db.amax(dim=(-2, -1), keepdim=True)
        return torch.maximum(db - peak, torch.tensor(-c.top_db, device=db.device))

    def _mel(self, frames: torch.Tensor) -> torch.Tensor:
        """(batch, frames, n_fft) raw frames -> (batch, frames, n_mels) mel power."""
        spectrum = torch.view_as_real(torch.fft.rfft(frames * self.window))  # (batch, frames, bins, 2)
        power = spectrum[..., 0].square() + spectrum[..., 1].square()
        # Each mel filter covers a few neighbouring bins: multiplying band by band skips the zeros
        # of the dense (bins x 128) basis, 13 % of its products for the same sums.
        return torch.cat([power[..., lo:hi] @ self.mel_columns[lo:hi, first:last]
                          for first, last, lo, hi in self.mel_bands], dim=-1)

    def forward(self, waves: torch.Tensor) -> torch.Tensor:
        if not len(waves):
            return waves.new_zeros((0, 1, *self.config.image_size))
        if waves.device.type == "cpu" and len(waves) > self.CLIPS:
            return torch.cat([self(part) for part in waves.split(self.CLIPS)])
        db = self.spectrogram_db(waves)[:, None]
        return F.interpolate(db, size=self.config.image_size, mode="bilinear", align_corners=False,
                             antialias=True)


def build_frontend(config: FrontEndSettings) -> nn.Module:
    """The front end a config describes: waveforms (batch, clip samples) -> images (batch, 1, H, W)."""
    return MfccFrontEnd(config) if isinstance(config, MfccConfig) else LogMelFrontEnd(config)


def noise_texture(frontend: LogMelFrontEnd, count: int = 16, seed: int = 0) -> torch.Tensor:
    """(count, H, W) how white noise fills a log-Mel image: `count` clips of Gaussian noise through `frontend`,
    as power (not dB), each mel bin scaled by its mean power over the STFT's frames (before the resize).

    Why: noise mixed into cached images during training (`batch_augment.add_noise`) must fluctuate from
    cell to cell as a real noise's image does after this STFT, mel filterbank and time resize; shaping it
    per bin then gives any stationary noise's image, speech-shaped noise's among them."""
    rng = torch.Generator().manual_seed(seed)
    waves = torch.randn(count, frontend.config.clip_samples, generator=rng)
    with torch.no_grad():  # the bins' mean power before the resize, which averages dB and so lowers it
        frames = 10.0 ** (frontend.spectrogram_db(waves).double() / 10.0)
        power = 10.0 ** (frontend(waves)[:, 0].double() / 10.0)
    return (power / frames.mean(dim=-1, keepdim=True)).float()


def mel_bandwidths(frontend: LogMelFrontEnd) -> torch.Tensor:
    """(n_mels,) half the width in Hz of each Slaney mel filter (1 / its peak weight): what a mel band's power,
    a density under Slaney's normalisation, is weighed by to count as power in Hz, so that a spectrum of any shape
    (white noise's, flat in Hz) can be set against speech at a waveform's SNR (`batch_augment.add_noise`)."""
    return (1.0 / frontend.mel_columns.amax(dim=0).double()).float()


def fit_clip(wave: np.ndarray, config: FrontEndSettings) -> np.ndarray:
    """One recording cut to the clip a front end reads: its start (the paper's log-Mel; padded as the
    config says) or its centre (TIM-Net's MFCC, zero-padded both sides)."""
    if config.crop == "centre":
        return centre_fit(wave, config.clip_samples)
    return fit_length(wave, config.clip_seconds, config.sample_rate, config.pad)


def mel_bands(basis: torch.Tensor, group: int = 16) -> list[tuple[int, int, int, int]]:
    """(first filter, end filter, first bin, end bin) for consecutive groups of `group` mel filters of
    a (filters x bins) basis: the bins outside [first bin, end bin) are zero in every filter of the
    group.  Groups of 16 were the fastest of 4, 8, 16 and 32 (1 thread, 128 Slaney filters)."""
    bands = []
    for first in range(0, basis.shape[0], group):
        last = min(first + group, basis.shape[0])
        used = (basis[first:last] != 0).any(dim=0).nonzero()[:, 0]
        lo, hi = (int(used[0]), int(used[-1]) + 1) if len(used) else (0, 1)
        bands.append((first, last, lo, hi))
    return bands


@dataclass
class Normalizer:
    """Scalar mean / std of the training split's images, kept with the model. With `centre` =
    "utterance", each clip's bands are first centred on their mean over the clip's sounding frames
    (cepstral mean normalisation in the log-Mel domain): what a speaker's voice or a microphone adds
    to every frame alike is taken out before the network sees it. With "speaker", on the mean over all
    the clips of the clip's speaker (in the same part of the split: the test speakers' own unlabelled
    clips at test), which leaves each clip's own spectral tilt, part of how an emotion sounds, in place;
    it needs every clip's speaker, so a recognizer reading clips one at a time cannot use it."""

    mean: float
    std: float
    centre: str = "global"

    @classmethod
    def fit(cls, images: torch.Tensor, centre: str = "global", speakers: list | None = None) -> "Normalizer":
        if centre not in CENTRES:
            raise ValueError(f"centre must be one of {', '.join(CENTRES)}, not {centre!r}")
        images = cls(0.0, 1.0, centre).centred(images, speakers)
        return cls(float(images.mean()), float(images.std().clamp_min(1e-6)), centre)

    def centred(self, images: torch.Tensor, speakers: list | None = None) -> torch.Tensor:
        """The images with what `centre` takes out taken out, before scaling."""
        if self.centre == "utterance":
            return centre_bands(images)
        if self.centre == "speaker":
            if speakers is None:
                raise ValueError("per-speaker normalisation needs the speaker of every clip")
            return centre_speakers(images, speakers)
        return images

    def standardise(self, images: torch.Tensor) -> torch.Tensor:
        return (images - self.mean) / self.std

    def __call__(self, images: torch.Tensor, speakers: list | None = None) -> torch.Tensor:
        return self.standardise(self.centred(images, speakers))


CENTRES = ("global", "utterance", "speaker")


def sounding_frames(images: torch.Tensor) -> torch.Tensor:
    """(..., 1, frames) 1 where a frame is louder than its image's floor anywhere, else 0: the frames a
    band mean is taken over, so padding and silence do not pull it down."""
    floor = images.amin(dim=(-2, -1), keepdim=True)
    return (images.amax(dim=-2, keepdim=True) > floor + 1.0).to(images.dtype)


def centre_bands(images: torch.Tensor) -> torch.Tensor:
    """(..., bands, frames) images minus each band's mean over the image's sounding frames."""
    sounding = sounding_frames(images)
    mean = (images * sounding).sum(-1, keepdim=True) / sounding.sum(-1, keepdim=True).clamp_min(1.0)
    return images - mean


def pooled_band_means(images: torch.Tensor) -> torch.Tensor:
    """(..., bands, frames) images -> (bands, 1): each band's mean over the sounding frames of all of them
    (one speaker's clips and views: the reference per-speaker normalisation subtracts)."""
    sounding = sounding_frames(images)
    sums = (images * sounding).sum(-1, keepdim=True).flatten(0, -3).sum(0)  # (bands, 1)
    return sums / sounding.sum().clamp_min(1.0)


def centre_speakers(images: torch.Tensor, speakers: list) -> torch.Tensor:
    """(clips, ..., bands, frames) images minus their speaker's pooled band means (`speakers[i]` names clip
    i's; all of a clip's views count)."""
    if len(speakers) != len(images):
        raise ValueError(f"{len(speakers)} speakers for {len(images)} clips")
    centred = images.clone()
    for speaker in sorted(set(speakers), key=str):
        rows = torch.tensor([i for i, s in enumerate(speakers) if s == speaker])
        centred[rows] -= pooled_band_means(images[rows])
    return centred


def file_digest(path: str | Path) -> str:
    h = hashlib.sha1()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


class FeatureCache:
    """Log-Mel images on disk, one .npy per (file content, front-end settings, view).

    Keys hash the file's bytes, so a renamed copy hits the cache and an edited file misses
    it. Entries are written to a temporary name and renamed; one that fails to load or has
    the wrong shape is treated as missing and rebuilt.
    """

    def __init__(self, root: str | Path, config: FrontEndSettings):
        self.root = Path(root) / f"logmel-{config.fingerprint()}"
        self.root.mkdir(parents=True, exist_ok=True)
        self.shape = (1, *config.image_size)

    def _path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.npy"

    def get(self, key: str) -> np.ndarray | None:
        path = self._path(key)
        try:
            arr = np.load(path, allow_pickle=False)
        except (OSError, ValueError, EOFError):
            return None
        if arr.shape != self.shape or arr.dtype != np.float32 or not np.isfinite(arr).all():
            return None
        return arr

    def put(self, key: str, image: np.ndarray) -> None:
        atomic_write(self._path(key), lambda f: np.save(f, image.astype(np.float32, copy=False)))
