"""Emotion recognition for users: load a trained model once, then classify files, bytes or arrays.

A model file is what :func:`emovit.reproduce.deployable` writes (``RUN/models/{student,plain,teacher}.pt``):
weights, network config, labels, the training split's normaliser and the front-end settings, so the
audio is prepared exactly as in training (16 kHz mono, first 4 s, zero-padded, log-Mel, normalised).

Usage::

    rec = Recognizer.load("runs/emodb")          # or a .pt file, or None for the bundled model
    rec.predict("clip.wav").label
    rec.timeline("interview.flac").timeline      # one Segment per 4 s window, 2 s apart
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator, Union

import numpy as np
import torch

from .audio import AudioError, Source, _describe, fit_length, from_array, iter_blocks, load_audio
from .features import FrontEndConfig, LogMelFrontEnd, Normalizer
from .models import ModelConfig, build_from_config
from .precision import autocast, resolve_precision

BUNDLED_MODEL = Path(__file__).parent / "assets" / "student.pt"
MODEL_FORMAT = "emovit-model/1"
_PREFERENCE = ("student", "plain", "teacher")  # which of RUN/models/*.pt a run directory stands for
_REQUIRED = ("model_config", "state_dict", "labels", "normalizer", "frontend")

Input = Union[Source, np.ndarray]


class ModelFileError(ValueError):
    """A model path that cannot be used; the message names the path and what is wrong with it."""


@dataclass
class Segment:
    """One analysis window of a long recording (times in seconds from the start of the file)."""

    start: float
    end: float
    label: str
    probabilities: dict[str, float]


@dataclass
class Prediction:
    """The verdict on one input; ``duration`` is the whole input's, even though only 4 s are classified."""

    label: str
    probabilities: dict[str, float]
    duration: float
    source: str
    timeline: list[Segment] | None = None


def _resolve(model: str | Path | None) -> Path:
    """The model file meant by ``model``: the bundled one, a file, or a run directory's best candidate."""
    if model is None:
        if not BUNDLED_MODEL.is_file():
            raise ModelFileError(f"no bundled model at {BUNDLED_MODEL}: pass --model RUN_DIR_OR_FILE "
                                 "(Recognizer.load(path) in Python)")
        return BUNDLED_MODEL
    path = Path(model)
    if not path.exists():
        raise ModelFileError(f"{path}: no such model file or run directory")
    if path.is_file():
        return path
    folder = path / "models" if (path / "models").is_dir() else path
    found = {p.stem: p for p in sorted(folder.glob("*.pt"))}
    for name in (*_PREFERENCE, *found):
        if name in found:
            return found[name]
    listing = ", ".join(sorted(p.name + ("/" if p.is_dir() else "") for p in path.iterdir())) or "nothing"
    raise ModelFileError(f"{path}: no model in {path}/models/ (expected student.pt, plain.pt or teacher.pt); "
                         f"it holds: {listing}")


def _read(path: Path) -> dict:
    """Load and check a model file; weights_only so that opening a model file cannot run code."""
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch.load fails in many ways on foreign files; all mean "not a model file"
        raise ModelFileError(f"{path}: not an emovit model file (torch cannot read it as a PyTorch file of "
                             f"tensors and plain data: {type(e).__name__})") from None
    if not isinstance(blob, dict) or "format" not in blob:
        raise ModelFileError(f"{path}: not an emovit model file (no 'format' entry; a training checkpoint? "
                             "use RUN/models/*.pt)")
    if blob["format"] != MODEL_FORMAT:
        raise ModelFileError(f"{path}: model format {blob['format']!r} is not supported (this emovit reads "
                             f"{MODEL_FORMAT!r})")
    missing = [k for k in _REQUIRED if k not in blob]
    if missing:
        raise ModelFileError(f"{path}: damaged model file (missing {', '.join(missing)})")
    return blob


class Recognizer:
    """A trained model with its front end and normaliser, ready for inference on one device.

    ``precision`` is the network's arithmetic: 'auto' runs it under bf16 autocast where that is fast
    (CUDA, CPUs with AMX) and in fp32 elsewhere; 'fp32' is the reference, 'bf16' forces autocast.
    The front end (STFT, log-Mel) always runs in fp32."""

    def __init__(self, model: torch.nn.Module, labels: list[str], normalizer: Normalizer, frontend: FrontEndConfig,
                 device: str | torch.device = "cpu", path: Path | None = None, meta: dict | None = None,
                 precision: str = "auto"):
        self.device = torch.device(device)
        self.precision = resolve_precision(precision, self.device)
        self.model = model.to(self.device).eval()
        self.frontend = LogMelFrontEnd(frontend).to(self.device)
        self.normalizer = normalizer
        self.labels = list(labels)
        self.path = path
        self.meta = meta or {}

    @classmethod
    def load(cls, model: str | Path | None = None, device: str | torch.device = "cpu",
             precision: str = "auto") -> "Recognizer":
        """Load a model file, a run directory (its models/student.pt, else plain.pt, teacher.pt or any
        other models/*.pt) or, with ``model=None``, the model shipped with emovit.  An ``.onnx`` file
        (``emovit export``) gives an :class:`emovit.export.OnnxRecognizer` with the same API (always
        fp32: ``precision`` is for PyTorch models)."""
        path = _resolve(model)
        if path.suffix.lower() == ".onnx":
            from .export import OnnxRecognizer  # optional dependency (onnxruntime), imported on demand

            return OnnxRecognizer.load(path, device)
        blob = _read(path)
        try:
            config = ModelConfig.from_dict(blob["model_config"])
            network = build_from_config(config)
            network.load_state_dict(blob["state_dict"])
            labels = [str(label) for label in blob["labels"]]
            normalizer = Normalizer(float(blob["normalizer"]["mean"]), float(blob["normalizer"]["std"]))
            frontend = FrontEndConfig.from_dict(blob["frontend"])
        except (KeyError, TypeError, ValueError, RuntimeError) as e:
            raise ModelFileError(f"{path}: damaged model file ({str(e).splitlines()[0]})") from None
        if len(labels) != config.num_classes:
            raise ModelFileError(f"{path}: damaged model file ({len(labels)} labels for {config.num_classes} outputs)")
        return cls(network, labels, normalizer, frontend, device, path, blob.get("meta"), precision)

    # ------------------------------------------------------------------------------------------
    # helpers

    @property
    def sample_rate(self) -> int:
        """The rate every input is converted to (16 kHz for the paper's models)."""
        return self.frontend.config.sample_rate

    @property
    def clip_seconds(self) -> float:
        """How much of an input one forward pass sees (4 s): the crop of predict, the longest timeline window."""
        return self.frontend.config.clip_seconds

    def _decode(self, source: Input, sample_rate: int | None) -> tuple[np.ndarray, str]:
        """Full waveform at the model's rate and the name used in messages."""
        if isinstance(source, np.ndarray):
            if sample_rate is None:
                raise ValueError("sample_rate is required when the source is a numpy array")
            return from_array(source, sample_rate, self.sample_rate), "<array>"
        if sample_rate is not None:
            raise ValueError("sample_rate is only for numpy arrays; files and bytes carry their own rate")
        return load_audio(source, self.sample_rate), _describe(source)

    def _clip(self, wave: np.ndarray) -> np.ndarray:
        return fit_length(wave, self.clip_seconds, self.sample_rate)

    def _images(self, clips: list[np.ndarray]) -> torch.Tensor:
        waves = torch.from_numpy(np.stack(clips)).to(self.device)
        return self.normalizer(self.frontend(waves))

    def _probabilities(self, clips: list[np.ndarray]) -> np.ndarray:
        """(n, classes) softmax of n clips of exactly clip length, in float32 whatever the model's dtype."""
        with torch.inference_mode():
            images = self._images(clips)
            with autocast(self.device, self.precision):
                logits = self.model(images)
            return logits.float().softmax(-1).cpu().numpy()

    def _named(self, row: np.ndarray) -> tuple[str, dict[str, float]]:
        return self.labels[int(row.argmax())], {label: float(p) for label, p in zip(self.labels, row)}

    def _prediction(self, row: np.ndarray, duration: float, source: str) -> Prediction:
        return Prediction(*self._named(row), duration=duration, source=source)

    # ------------------------------------------------------------------------------------------
    # public API

    def predict(self, source: Input, sample_rate: int | None = None) -> Prediction:
        """Classify the first 4 s (the paper's crop; shorter input is zero-padded) of a path, bytes,
        binary file object, or numpy array (``sample_rate`` then required).  Raises AudioError for
        unusable audio.  The whole input is decoded, so for long recordings use :meth:`timeline`."""
        wave, name = self._decode(source, sample_rate)
        return self._prediction(self._probabilities([self._clip(wave)])[0], len(wave) / self.sample_rate, name)

    def predict_batch(self, sources: Iterable[Source], batch_size: int = 32) -> list[Prediction | AudioError]:
        """:meth:`predict` for many paths/bytes, ``batch_size`` clips per forward pass.  A source that
        cannot be decoded does not stop the others: its AudioError is returned in its place."""
        results: list[Prediction | AudioError] = []
        for chunk in _chunks(sources, batch_size):
            decoded: list[tuple[np.ndarray, str] | AudioError] = []
            for source in chunk:
                try:
                    decoded.append(self._decode(source, None))
                except AudioError as e:
                    decoded.append(e)
            good = [d for d in decoded if not isinstance(d, AudioError)]
            rows = iter(self._probabilities([self._clip(wave) for wave, _ in good]) if good else ())
            for d in decoded:
                results.append(d if isinstance(d, AudioError)
                               else self._prediction(next(rows), len(d[0]) / self.sample_rate, d[1]))
        return results

    def timeline(self, path: Source, window: float = 4.0, hop: float = 2.0, batch_size: int = 32) -> Prediction:
        """Classify a long recording window by window: one :class:`Segment` per ``window`` seconds,
        starting every ``hop`` seconds (the last one may be shorter and is zero-padded).  The overall
        ``label``/``probabilities`` are the mean of the window probabilities (every window counts
        the same).  The file is streamed and windows go through the model ``batch_size`` at a time,
        so memory stays bounded however long the recording is."""
        if window > self.clip_seconds:
            raise ValueError(f"window must be at most {self.clip_seconds:g} s, the clip length the model "
                             f"was trained on (got {window:g} s)")
        segments: list[Segment] = []
        total = np.zeros(len(self.labels), dtype=np.float64)
        duration = 0.0
        for chunk in _chunks(iter_blocks(path, window, hop, self.sample_rate), batch_size):
            rows = self._probabilities([self._clip(block) for _, block in chunk])
            for (start, block), row in zip(chunk, rows):
                end = start + len(block) / self.sample_rate
                segments.append(Segment(start, end, *self._named(row)))
                total += row
                duration = max(duration, end)
        overall = self._prediction(total / len(segments), duration, _describe(path))
        overall.timeline = segments
        return overall

    def embed(self, source: Input, sample_rate: int | None = None) -> np.ndarray:
        """The model's pooled feature (CLS after the last LayerNorm, 256-d for the paper's models) of the
        same 4 s clip :meth:`predict` classifies: for retrieval, clustering or a new classifier head."""
        wave, _ = self._decode(source, sample_rate)
        with torch.inference_mode():
            images = self._images([self._clip(wave)])
            with autocast(self.device, self.precision):
                pooled = self.model.pooled(images)
            return pooled[0].float().cpu().numpy()


def _chunks(items: Iterable, size: int) -> Iterator[list]:
    if size < 1:
        raise ValueError("batch_size must be at least 1")
    chunk: list = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
