"""ONNX export of a trained model (`emovit export`); `emovit.inference.onnx` runs the file it writes.

The exported graph holds the whole model side of the pipeline, so an ONNX file is usable on its own:

    input  ``waveform``      (batch, 64000) float32: 16 kHz mono, exactly 4 s (crop or zero-pad first)
    output ``probabilities`` (batch, classes) softmax, classes in the order of the ``labels`` metadata
    output ``embedding``     (batch, dim) the pooled feature (:meth:`Recognizer.embed`)

Inside: log-Mel front end -> training normaliser -> network.  ``torch.stft`` does not export (the
TorchScript exporter has no complex tensors), and onnxruntime's own STFT op is slower than the
direct DFT on a CPU, so :class:`ExportFrontEnd` writes the same maths with plain real ops: the
windowed DFT as a two-step FFT (a grouped convolution and a matmul), the antialiased resize of the
time axis as a fixed matrix.  All are exact linear maps, so the graph matches :class:`LogMelFrontEnd`
to float rounding (tested).  Left to the caller: decoding, down-mixing, resampling to 16 kHz and the
4 s crop (:func:`emovit.audio.load_audio` and :func:`fit_length` in Python).

Labels, front-end settings, the normaliser, the network config and the training metadata are stored
as ONNX ``metadata_props`` (JSON strings), so the file describes itself.
"""
from __future__ import annotations

import copy
import json
import math
import os
import warnings
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .config import CLIP_SECONDS, SAMPLE_RATE, LogMelConfig
from .extras import MissingExtra, require
from .features import LogMelFrontEnd
from .inference import ModelFileError, OnnxRecognizer, Recognizer, TorchRecognizer
from .inference.onnx import EMBEDDING, INPUT, ONNX_FORMAT, PROBABILITIES

OPSET = 17


class ExportError(RuntimeError):
    """Export failed or produced a graph that does not agree with the PyTorch model."""


# ----------------------------------------------------------------------------------------------
# the graph


class ExportFrontEnd(nn.Module):
    """:class:`LogMelFrontEnd` with export-friendly ops: same output to float rounding (see module doc).

    The windowed DFT is done in two steps (Cooley-Tukey with P = 32 interleaved sub-sequences, the
    "four-step" FFT written as a convolution and a matmul), a fifth of the products of the direct
    DFT and no framing copies.  Window tap m = P*m1 + m2 of frame f is padded sample f*hop + m, i.e.
    sample m2 of block f*hop/P + m1 when the signal is cut into blocks of P, and bin k = k1 + Q*k2
    (Q = n_fft / P) factors W^(k m) = e^(-2 pi i k1 m1 / Q) e^(-2 pi i k1 m2 / n_fft) e^(-2 pi i k2 m2 / P):
      1. for each m2, a length-(win/P) DFT over m1 with the twiddle and the window folded in:
         a grouped conv1d over the blocks, stride hop/P;
      2. for each k1, a length-P DFT over m2: one matmul, giving the bins in order k1 + Q*k2.
    """

    SUBSEQUENCES = 32  # P (at most): 16 and 32 ran alike in onnxruntime on 1 thread, 8 and 64 slower

    def __init__(self, config: LogMelConfig):
        super().__init__()
        if config.image_size[0] != config.n_mels:
            raise ExportError(f"export supports images with one row per mel band, not {config.image_size}")
        reference = LogMelFrontEnd(config)
        self.config = config
        p = math.gcd(self.SUBSEQUENCES, config.hop_length, config.win_length, config.n_fft)
        q = config.n_fft // p
        self.p, self.q, self.stride = p, q, config.hop_length // p
        offset = (config.n_fft - config.win_length) // 2  # the window's taps sit centred in n_fft
        half = config.n_fft // 2  # the centred STFT pads n_fft/2 each side; the taps start `offset` in
        self.frames = config.clip_samples // config.hop_length + 1
        right = half - (config.n_fft - config.win_length - offset)
        right += -(config.clip_samples + half - offset + right) % p  # whole blocks of p samples
        self.padding = (half - offset, right)
        m1 = torch.arange(config.win_length // p, dtype=torch.float64)
        m2 = torch.arange(p, dtype=torch.float64)
        k1 = torch.arange(q, dtype=torch.float64)
        window = reference.window.double()[offset:offset + config.win_length].view(-1, p).T  # (m2, m1)
        angle = 2 * torch.pi * k1[None, :, None] * (m1[None, None, :] / q + m2[:, None, None] / config.n_fft)
        step1 = torch.stack([torch.cos(angle), -torch.sin(angle)], 1) * window[:, None, None, :]
        self.register_buffer("step1", step1.reshape(-1, 1, len(m1)).float(), persistent=False)  # (m2 part k1, 1, m1)
        bins = config.n_fft // 2 + 1
        self.k2 = -(-bins // q)
        angle = 2 * torch.pi * torch.arange(self.k2, dtype=torch.float64)[:, None] * m2[None, :] / p  # (k2, m2)
        cos, sin = torch.cos(angle), -torch.sin(angle)
        step2 = torch.stack([torch.stack([cos, -sin], -1), torch.stack([sin, cos], -1)])  # (part, k2, m2, part)
        self.register_buffer("step2", step2.reshape(2 * self.k2, 2 * p).float(), persistent=False)
        self.register_buffer("mel_basis", reference.mel_columns.T.contiguous(), persistent=False)  # (mels, bins)
        self.mel_bands = reference.mel_bands  # bins in natural order: k = k1 + Q*k2 is row k of the power
        # Row i of `resize` is what the antialiased bilinear resize makes of a unit impulse at frame i.
        impulses = torch.eye(self.frames, dtype=torch.float64)[None, None]
        resize = F.interpolate(impulses, size=(self.frames, config.image_size[1]), mode="bilinear",
                               align_corners=False, antialias=True)[0, 0]
        self.register_buffer("resize", resize.float(), persistent=False)

    def forward(self, waves: torch.Tensor) -> torch.Tensor:
        c, b = self.config, waves.shape[0]
        blocks = F.pad(waves, self.padding).view(b, -1, self.p).transpose(1, 2)  # (batch, m2, block)
        partial = F.conv1d(blocks, self.step1, stride=self.stride, groups=self.p)[..., :self.frames]
        spectrum = self.step2 @ partial.reshape(b, 2 * self.p, self.q * self.frames)  # (batch, part k2, k1 frame)
        power = (spectrum[:, :self.k2].square() + spectrum[:, self.k2:].square()).reshape(b, -1, self.frames)
        mel = torch.cat([self.mel_basis[first:last, lo:hi] @ power[:, lo:hi]
                         for first, last, lo, hi in self.mel_bands], dim=1)  # banded, as LogMelFrontEnd
        db = 10.0 * torch.log10(mel.clamp_min(1e-10))
        peak = db.amax(dim=(-2, -1), keepdim=True)
        db = torch.maximum(db - peak, torch.full_like(peak, -c.top_db))
        return (db @ self.resize)[:, None]


class ExportGraph(nn.Module):
    """Waveform -> (probabilities, embedding): front end, normaliser and network in one module."""

    def __init__(self, recognizer: TorchRecognizer):
        super().__init__()
        self.frontend = ExportFrontEnd(recognizer.frontend_config)
        self.normalizer = recognizer.normalizer
        self.model = recognizer.model
        self.head = self.model.head  # logits = head(pooled(x)): both outputs from one pass through the network

    def forward(self, waves: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        images = self.normalizer(self.frontend(waves))
        pooled = self.model.pooled(images)
        return self.head(pooled).softmax(-1), pooled


# ----------------------------------------------------------------------------------------------
# export


def _metadata(recognizer: TorchRecognizer) -> dict[str, str]:
    config = recognizer.frontend_config
    return {
        "emovit_format": ONNX_FORMAT,
        "labels": json.dumps(recognizer.labels),
        "frontend": json.dumps(config.to_dict()),
        "normalizer": json.dumps({"mean": recognizer.normalizer.mean, "std": recognizer.normalizer.std,
                                  "centre": recognizer.normalizer.centre, "note": "folded into the graph"}),
        "model_config": json.dumps(recognizer.model.config.to_dict()),
        "meta": json.dumps(recognizer.meta, default=str),
        "source_model": recognizer.path.name if recognizer.path else "",
        "input": f"{INPUT}: (batch, {config.clip_samples}) float32, {config.sample_rate} Hz mono, "
                 f"the first {config.clip_seconds:g} s zero-padded; decoding and resampling are the caller's",
    }


def probe_signals(seconds: float = CLIP_SECONDS, rate: int = SAMPLE_RATE) -> np.ndarray:
    """Three fixed speech-like clips (harmonics, vibrato, noise, silence) for checking an export."""
    t = np.arange(int(seconds * rate)) / rate
    rng = np.random.default_rng(0)
    clips = []
    for f0, vibrato in ((120.0, 3.0), (220.0, 6.0), (310.0, 0.0)):
        phase = 2 * np.pi * np.cumsum(f0 * (1 + 0.03 * np.sin(2 * np.pi * vibrato * t))) / rate
        voiced = sum(np.sin(k * phase) / k for k in range(1, 8)) * np.abs(np.sin(np.pi * t / 1.3))
        clip = 0.2 * voiced + 0.005 * rng.standard_normal(len(t))
        clip[int(0.8 * len(t)):] = 0.0
        clips.append(clip.astype(np.float32))
    return np.stack(clips)


def export_onnx(model: str | Path | Recognizer | None, out: str | Path, opset: int = OPSET,
                tolerance: float | None = 1e-4) -> float:
    """Write ``model`` (a model file, run directory, loaded Recognizer, or None for the bundled model) to
    ``out`` as ONNX; returns the largest probability difference to PyTorch on :func:`probe_signals`,
    checked before the file is put in place so a bad export never replaces a good one
    (``tolerance=None`` skips the check).  Raises ModelFileError for a bad model or a missing package."""
    try:
        onnx, _ = require("onnx", "ONNX export")
    except MissingExtra as e:
        raise ModelFileError(str(e)) from None
    recognizer = model if isinstance(model, Recognizer) else Recognizer.load(model, precision="fp32")
    if isinstance(recognizer, OnnxRecognizer):
        raise ModelFileError(f"{recognizer.path}: is already an ONNX model")
    if not isinstance(recognizer.frontend_config, LogMelConfig):
        raise ExportError(f"{recognizer.path}: export writes log-Mel models; this one reads "
                          f"{recognizer.frontend_config.kind} features")
    if recognizer.per_speaker:
        raise ExportError(f"{recognizer.path}: trained with per-speaker normalisation, which needs a speaker's "
                          "reference the graph cannot hold; export writes models normalised globally or by utterance")
    if recognizer.precision != "fp32":  # the graph is fp32: check it against PyTorch's fp32 answers
        recognizer = copy.copy(recognizer)
        recognizer.precision = "fp32"
    graph = ExportGraph(recognizer).cpu().eval()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        example = torch.from_numpy(probe_signals(recognizer.clip_seconds, recognizer.sample_rate)[:1])
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation and tracer notes
            torch.onnx.export(graph, (example,), tmp, opset_version=opset, dynamo=False,
                              input_names=[INPUT], output_names=[PROBABILITIES, EMBEDDING],
                              dynamic_axes={INPUT: {0: "batch"}, PROBABILITIES: {0: "batch"}, EMBEDDING: {0: "batch"}})
        proto = onnx.load(tmp)
        for key, value in _metadata(recognizer).items():
            entry = proto.metadata_props.add()
            entry.key, entry.value = key, value
        proto.doc_string = (f"emovit {recognizer.model.config.arch}: {INPUT} -> {PROBABILITIES}, {EMBEDDING}; "
                            "labels and front end in metadata_props")
        onnx.checker.check_model(proto)
        onnx.save(proto, tmp)
        difference = float("nan")
        if tolerance is not None:
            difference = parity(recognizer, OnnxRecognizer.open(tmp, threads=torch.get_num_threads()))
            if not difference <= tolerance:
                raise ExportError(f"the ONNX graph disagrees with PyTorch: max probability difference "
                                  f"{difference:.2e} > {tolerance:g}")
        os.replace(tmp, out)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return difference


def parity(a: Recognizer, b: Recognizer, clips: np.ndarray | None = None) -> float:
    """Largest absolute difference between two recognizers' probabilities on the same clips."""
    clips = probe_signals(a.clip_seconds, a.sample_rate) if clips is None else clips
    return float(np.abs(a.probabilities(list(clips)) - b.probabilities(list(clips))).max())
