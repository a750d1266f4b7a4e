"""MFCC front end of TIM-Net (Ye et al., ICASSP 2023), in torch, batched.

The authors' `extract_feature.py` (Jiaxin-Ye/TIM-Net_SER) loads a file with librosa's defaults
(22050 Hz mono), pads or crops it about its centre to a corpus's `mean_signal_length`, and takes
`librosa.feature.mfcc(y=signal, sr=22050, n_mfcc=39)`: a centred STFT with n_fft 2048, hop 512,
periodic Hann window; power into 128 Slaney mel bands up to 11025 Hz; `power_to_db` with ref 1,
amin 1e-10 and an 80 dB floor below the clip's peak; DCT-II (ortho), first 39 coefficients.
(Their README speaks of 50 ms Hamming frames every 12.5 ms; the code uses librosa's defaults,
93 ms Hann frames every 23 ms, and this module follows the code.)

The padding of the centred STFT's ends is librosa's default `pad_mode`: zeros since librosa 0.9
(the authors' requirement.txt pins 0.9.2; 0.11 is installed here), reflection before (their
README names 0.8.1). `pad_mode="reflect"` gives the older features.

As with the log-Mel front end, fitting the clip (`centre_fit`, the caller's job) comes first and
normalisation later (`emovit.features.Normalizer`).
"""
from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass

import librosa
import numpy as np
import torch
from torch import nn

# `mean_signal_length` per corpus (samples at 22050 Hz) from the authors' README and extract_feature.py
MEAN_SIGNAL_LENGTH = {"casia": 88000, "emodb": 96000, "emovo": 96000, "iemocap": 310000, "ravdess": 110000,
                      "savee": 130000}
PAD_MODES = ("constant", "reflect")


def centre_fit(wave: np.ndarray, length: int) -> np.ndarray:
    """`wave` zero-padded or cropped about its centre to `length` samples, as get_feature does.

    Padding splits the shortfall in half, the odd sample going at the end; cropping keeps
    `length` samples from (len - length) // 2."""
    wave = np.asarray(wave, dtype=np.float32)
    if wave.ndim != 1:
        raise ValueError(f"centre_fit expects a 1-D waveform, got shape {wave.shape}")
    if len(wave) < length:
        pad = length - len(wave)
        return np.pad(wave, (pad // 2, pad // 2 + pad % 2))
    start = (len(wave) - length) // 2
    return wave[start:start + length].copy()


@dataclass(frozen=True)
class MfccConfig:
    sample_rate: int = 22050
    clip_samples: int = MEAN_SIGNAL_LENGTH["emodb"]
    n_fft: int = 2048
    hop_length: int = 512
    n_mels: int = 128
    n_mfcc: int = 39
    top_db: float = 80.0
    pad_mode: str = "constant"

    def __post_init__(self):
        if self.pad_mode not in PAD_MODES:
            raise ValueError(f"pad_mode must be one of {PAD_MODES}, not {self.pad_mode!r}")
        if self.n_mfcc > self.n_mels:
            raise ValueError(f"n_mfcc={self.n_mfcc} exceeds n_mels={self.n_mels}")

    @classmethod
    def for_corpus(cls, corpus: str, **overrides) -> "MfccConfig":
        """The authors' settings for one corpus (its clip length); `overrides` replace fields."""
        if corpus not in MEAN_SIGNAL_LENGTH:
            raise ValueError(f"no TIM-Net clip length for {corpus!r}; known: {', '.join(MEAN_SIGNAL_LENGTH)}")
        return cls(**{"clip_samples": MEAN_SIGNAL_LENGTH[corpus], **overrides})

    @property
    def clip_seconds(self) -> float:
        return self.clip_samples / self.sample_rate

    @property
    def frames(self) -> int:
        return 1 + self.clip_samples // self.hop_length  # centred frames

    @property
    def image_size(self) -> tuple[int, int]:
        """(coefficients, frames): 39 x 188 for EmoDB's 96000 samples."""
        return (self.n_mfcc, self.frames)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "MfccConfig":
        d = dict(d)
        d.pop("image_size", None)  # derived; tolerated so a dict with it round-trips
        return cls(**d)

    def fingerprint(self) -> str:
        return hashlib.sha1(json.dumps({"kind": "mfcc", **self.to_dict()}, sort_keys=True).encode()).hexdigest()[:16]


def dct_ortho(n_out: int, n_in: int) -> torch.Tensor:
    """First `n_out` rows of the orthonormal DCT-II matrix on `n_in` points (scipy's type 2, 'ortho')."""
    k = torch.arange(n_out, dtype=torch.float64)[:, None]
    n = torch.arange(n_in, dtype=torch.float64)[None, :]
    basis = torch.cos(math.pi * k * (2 * n + 1) / (2 * n_in)) * math.sqrt(2.0 / n_in)
    basis[0] /= math.sqrt(2.0)
    return basis


class MfccFrontEnd(nn.Module):
    """Fitted clips (batch, clip_samples) at 22050 Hz -> MFCC images (batch, 1, n_mfcc, frames)."""

    def __init__(self, config: MfccConfig = MfccConfig()):
        super().__init__()
        self.config = config
        self.register_buffer("window", torch.hann_window(config.n_fft, periodic=True), persistent=False)
        mel = librosa.filters.mel(sr=config.sample_rate, n_fft=config.n_fft, n_mels=config.n_mels)
        self.register_buffer("mel_basis", torch.from_numpy(mel).float(), persistent=False)
        self.register_buffer("dct", dct_ortho(config.n_mfcc, config.n_mels).float(), persistent=False)

    def log_mel_db(self, waves: torch.Tensor) -> torch.Tensor:
        """(batch, samples) -> (batch, n_mels, frames): power_to_db(melspectrogram), each clip's own floor."""
        c = self.config
        spectrum = torch.stft(waves.float(), c.n_fft, c.hop_length, window=self.window, center=True,
                              pad_mode=c.pad_mode, return_complex=True)
        power = spectrum.real.square() + spectrum.imag.square()
        db = 10.0 * torch.log10((self.mel_basis @ power).clamp_min(1e-10))
        peak = db.amax(dim=(-2, -1), keepdim=True)
        return torch.maximum(db, peak - c.top_db)

    def forward(self, waves: torch.Tensor) -> torch.Tensor:
        if waves.ndim != 2:
            raise ValueError(f"expected (batch, samples) waveforms, got shape {tuple(waves.shape)}")
        if not len(waves):
            return waves.new_zeros((0, 1, *self.config.image_size))
        return (self.dct @ self.log_mel_db(waves))[:, None]
