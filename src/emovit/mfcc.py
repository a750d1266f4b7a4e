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

As with the log-Mel front end, fitting the clip (`emovit.audio.centre_fit`, the caller's job) comes
first and normalisation later (`emovit.features.Normalizer`); the settings are `emovit.config.MfccConfig`.
"""
from __future__ import annotations

import math

import librosa
import torch
from torch import nn

from .config import MfccConfig

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
