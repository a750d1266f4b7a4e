"""What every recognizer does, whatever runs its network: decode and check the audio, cut the clip
its front end reads, and turn probabilities into predictions, batches, timelines and embeddings.

Backends (PyTorch in `pytorch.py`, onnxruntime in `onnx.py`) supply two methods on prepared clips,
`probabilities` and `embeddings`, and register the model-file suffixes they open, so that
`Recognizer.load(path)` picks the backend by the file it is given.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar, Iterable, Iterator, Union

import numpy as np

from ..audio import AudioError, Source, audio_info, decode, describe, from_array, iter_blocks
from ..config import FrontEndSettings
from ..features import Normalizer, fit_clip
from .modelfile import ModelFileError, resolve_model_path

Input = Union[Source, np.ndarray]
# A recording longer than the clip: "windows" of the clip length every half clip, the last one ending at the
# recording's end, their probabilities averaged; "first": its first clip only (the paper's 4 s crop).
LONG_INPUT = ("windows", "first")


@dataclass
class Segment:
    """One analysis window of a long recording (times in seconds from the start of the file)."""

    start: float
    end: float
    label: str
    probabilities: dict[str, float]


@dataclass
class Prediction:
    """The verdict on one input; ``duration`` is the whole input's, even though only 4 s are classified.
    ``warnings`` says what the caller should know about the input (e.g. a truncated file)."""

    label: str
    probabilities: dict[str, float]
    duration: float
    source: str
    timeline: list[Segment] | None = None
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        """The JSON form the CLI and the HTTP API print."""
        out = {"label": self.label, "probabilities": self.probabilities, "duration": self.duration}
        if self.timeline is not None:
            out["timeline"] = [{"start": s.start, "end": s.end, "label": s.label, "probabilities": s.probabilities}
                               for s in self.timeline]
        if self.warnings:
            out["warnings"] = list(self.warnings)
        return out


class Recognizer(ABC):
    """A trained model with its front end and normaliser: predictions for paths, bytes or arrays.

    ``Recognizer.load(path)`` opens a model file with the backend that reads it (``.onnx``: onnxruntime;
    anything else: an emovit PyTorch model file; ``None``: the model shipped with emovit)."""

    backend: ClassVar[str]
    suffixes: ClassVar[tuple[str, ...]] = ()
    _by_suffix: ClassVar[dict[str, type["Recognizer"]]] = {}

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        for suffix in cls.suffixes:
            Recognizer._by_suffix[suffix] = cls

    def __init__(self, labels: list[str], frontend: FrontEndSettings, normalizer: Normalizer, precision: str,
                 path: Path | None = None, meta: dict | None = None):
        self.labels = list(labels)
        self.frontend_config = frontend
        self.normalizer = normalizer
        self.precision = precision
        self.path = path
        self.meta = meta or {}
        self.long_input = "windows"  # how a recording longer than the clip is judged (LONG_INPUT)
        self.speaker_means = None  # a per-speaker-normalised model's reference, set by calibrate()

    @property
    def per_speaker(self) -> bool:
        """Whether the model was trained with per-speaker normalisation: it then reads clips only after
        :meth:`calibrate` has given it the speaker's band means."""
        return self.normalizer.centre == "speaker"

    def calibrate(self, sources: Iterable[Input], sample_rate: int | None = None) -> list[AudioError]:
        """Take the speaker's reference from these recordings of one speaker (the more, and the more varied
        in emotion, the steadier), for a model trained with per-speaker normalisation: every later prediction
        is normalised with it, as the model's training clips were with their speaker's. A recording that
        cannot be decoded is left out and its AudioError returned; ValueError when none is left, or for a
        model that has no use for a reference."""
        if not self.per_speaker:
            raise ValueError(f"{self.path or 'this model'} was not trained with per-speaker normalisation: "
                             "it needs no calibration")
        clips, errors = [], []
        for source in sources:
            try:
                clips += self.clips(self._decode(source, sample_rate)[0])
            except AudioError as e:
                errors.append(e)
        if not clips:
            raise ValueError("calibration needs at least one usable recording of the speaker")
        self.speaker_means = self.band_means(clips)
        return errors

    def require_single_clips(self, what: str) -> None:
        """ModelFileError where `what`, which reads each clip on its own, is asked to run a model that needs
        its speaker's recordings together."""
        if self.per_speaker:
            raise ModelFileError(f"{self.path}: trained with per-speaker normalisation, which needs a speaker's "
                                 f"recordings together (emovit predict --same-speaker); {what} reads clips one by one")

    def band_means(self, clips: list[np.ndarray]):
        """The pooled band means of clips' un-normalised images (features.pooled_band_means)."""
        raise ValueError(f"the {self.backend} backend cannot run a per-speaker-normalised model")

    @classmethod
    def load(cls, model: str | Path | None = None, device: str = "cpu", precision: str = "auto",
             **options) -> "Recognizer":
        """Open a model file, a run directory (its models/student.pt, else plain.pt, teacher.pt or any
        other models/*.pt) or, with ``model=None``, the model shipped with emovit.  ``precision`` is the
        network's arithmetic for PyTorch models ('auto': bf16 autocast on CUDA and AMX CPUs, else fp32);
        an ONNX graph is always fp32."""
        path = resolve_model_path(model)
        backend = Recognizer._by_suffix.get(path.suffix.lower(), Recognizer._by_suffix[".pt"])
        return backend.open(path, device=device, precision=precision, **options)

    @classmethod
    @abstractmethod
    def open(cls, path: Path, device: str = "cpu", precision: str = "auto", **options) -> "Recognizer":
        """This backend's reader of a model file."""

    @abstractmethod
    def probabilities(self, clips: list[np.ndarray]) -> np.ndarray:
        """(n, classes) float32 softmax of n clips already cut to the clip length (see :meth:`clip`)."""

    @abstractmethod
    def embeddings(self, clips: list[np.ndarray]) -> np.ndarray:
        """(n, dim) float32 pooled features of n clips already cut to the clip length."""

    # ------------------------------------------------------------------------------------------

    @property
    def sample_rate(self) -> int:
        """The rate every input is converted to (16 kHz for the paper's models)."""
        return self.frontend_config.sample_rate

    @property
    def clip_seconds(self) -> float:
        """How much of an input one forward pass sees (4 s): the crop of predict, the longest timeline window."""
        return self.frontend_config.clip_seconds

    @property
    def timeline_window(self) -> float:
        """A timeline's default window, 3/4 of the clip (3 s every 1.5 s for the paper's 4 s): continuous speech
        changes emotion within a clip's length, and a window read as one verdict blends what it spans. On the
        bundled model's split, validation part, clips joined into recordings, 3 s windows read +4.0 points (the
        pair shipped since 2026-12-07) and +4.3 (the student before it) above 4 s ones, and every shorter window
        less (BENCHMARKS.md, "Which timeline window suits continuous speech")."""
        return 0.75 * self.clip_seconds

    def timeline_span(self, window: float | None = None, hop: float | None = None) -> tuple[float, float]:
        """(window, hop) of a timeline: those given, else :attr:`timeline_window` and half the window."""
        window = self.timeline_window if window is None else window
        return window, window / 2 if hop is None else hop

    def clip(self, wave: np.ndarray) -> np.ndarray:
        """The clip the front end reads from a whole recording at :attr:`sample_rate`."""
        return fit_clip(wave, self.frontend_config)

    def clips(self, wave: np.ndarray) -> list[np.ndarray]:
        """The clips a whole recording is judged on (see LONG_INPUT): one, unless it is longer than the
        clip and `long_input` is "windows"."""
        n = int(round(self.clip_seconds * self.sample_rate))
        if self.long_input == "first" or len(wave) <= n:
            return [self.clip(wave)]
        if self.long_input not in LONG_INPUT:
            raise ValueError(f"long_input must be one of {', '.join(LONG_INPUT)}, not {self.long_input!r}")
        hop = n // 2
        starts = list(range(0, len(wave) - n + 1, hop))
        if starts[-1] + n < len(wave):
            starts.append(len(wave) - n)
        return [wave[s:s + n] for s in starts]

    def _judge(self, waves: list[np.ndarray]) -> np.ndarray:
        """(len(waves), classes): each recording's probabilities, the mean over its clips."""
        clips = [self.clips(w) for w in waves]
        rows = self.probabilities([c for cs in clips for c in cs])
        bounds = np.cumsum([0, *(len(cs) for cs in clips)])
        return np.stack([rows[a:b].mean(axis=0) for a, b in zip(bounds[:-1], bounds[1:])])

    def _decode(self, source: Input, sample_rate: int | None) -> tuple[np.ndarray, str, list[str]]:
        """Whole waveform at the model's rate, the name used in messages, and warnings about it."""
        if isinstance(source, np.ndarray):
            if sample_rate is None:
                raise ValueError("sample_rate is required when the source is a numpy array")
            return from_array(source, sample_rate, self.sample_rate), "<array>", []
        if sample_rate is not None:
            raise ValueError("sample_rate is only for numpy arrays; files and bytes carry their own rate")
        decoded = decode(source, self.sample_rate)
        return decoded.wave, decoded.name, decoded.warnings

    def _named(self, row: np.ndarray) -> tuple[str, dict[str, float]]:
        return self.labels[int(row.argmax())], {label: float(p) for label, p in zip(self.labels, row)}

    def _prediction(self, row: np.ndarray, wave: np.ndarray, source: str, warnings: list[str]) -> Prediction:
        return Prediction(*self._named(row), duration=len(wave) / self.sample_rate, source=source,
                          warnings=warnings)

    def predict(self, source: Input, sample_rate: int | None = None) -> Prediction:
        """Classify a path, bytes, binary file object, or numpy array (``sample_rate`` then required):
        one clip of the model's length (shorter input padded as its front end says), or for a longer
        recording the mean over windows (`long_input`).  Raises AudioError for unusable audio.  The
        whole input is decoded, so for long recordings use :meth:`timeline`."""
        wave, name, warnings = self._decode(source, sample_rate)
        return self._prediction(self._judge([wave])[0], wave, name, warnings)

    def predict_batch(self, sources: Iterable[Source], batch_size: int = 32) -> list[Prediction | AudioError]:
        """:meth:`predict` for many paths/bytes, ``batch_size`` clips per forward pass.  A source that
        cannot be decoded does not stop the others: its AudioError is returned in its place."""
        results: list[Prediction | AudioError] = []
        for chunk in _chunks(sources, batch_size):
            decoded: list[tuple[np.ndarray, str, list[str]] | AudioError] = []
            for source in chunk:
                try:
                    decoded.append(self._decode(source, None))
                except AudioError as e:
                    decoded.append(e)
            good = [d for d in decoded if not isinstance(d, AudioError)]
            rows = iter(self._judge([wave for wave, _, _ in good]) if good else ())
            results += [d if isinstance(d, AudioError) else self._prediction(next(rows), *d) for d in decoded]
        return results

    def timeline(self, path: Source, window: float | None = None, hop: float | None = None,
                 batch_size: int = 32) -> Prediction:
        """Classify a long recording window by window: one :class:`Segment` per ``window`` seconds
        (default :attr:`timeline_window`), starting every ``hop`` seconds (default half the window; the last
        one may be shorter and is zero-padded).  The overall
        ``label``/``probabilities`` are the mean of the window probabilities (every window counts
        the same).  The file is streamed and windows go through the model ``batch_size`` at a time,
        so memory stays bounded however long the recording is."""
        window, hop = self.timeline_span(window, hop)
        if window > self.clip_seconds:
            raise ValueError(f"window must be at most {self.clip_seconds:g} s, the clip length the model "
                             f"was trained on (got {window:g} s)")
        segments: list[Segment] = []
        total = np.zeros(len(self.labels), dtype=np.float64)
        duration = 0.0
        warnings: list[str] = []
        for chunk in _chunks(iter_blocks(path, window, hop, self.sample_rate, warnings), batch_size):
            rows = self.probabilities([self.clip(block) for _, block in chunk])
            for (start, block), row in zip(chunk, rows):
                end = start + len(block) / self.sample_rate
                segments.append(Segment(start, end, *self._named(row)))
                total += row
                duration = max(duration, end)
        label, probabilities = self._named(total / len(segments))
        return Prediction(label, probabilities, duration, describe(path), segments, warnings)

    def predict_files(self, files: list[str], window: float | None = None, hop: float | None = None,
                      batch_size: int = 32) -> Iterator[tuple[str, Prediction | AudioError]]:
        """(file, Prediction or AudioError) in the order of ``files``, as `emovit predict` prints them:
        with a ``window``, files longer than it get a :meth:`timeline`; the others are batched."""
        for i in range(0, len(files), batch_size):
            chunk = files[i:i + batch_size]
            long: set[str] = set()
            if window is not None:
                for f in chunk:
                    try:
                        if audio_info(f)[0] > window:
                            long.add(f)
                    except AudioError:
                        pass  # predict_batch below reports it
            short = [f for f in chunk if f not in long]
            batch = dict(zip(short, self.predict_batch(short, batch_size)))
            for f in chunk:
                if f not in long:
                    yield f, batch[f]
                    continue
                try:
                    yield f, self.timeline(f, window, hop, batch_size)
                except AudioError as e:
                    yield f, e

    def embed(self, source: Input, sample_rate: int | None = None) -> np.ndarray:
        """The model's pooled feature (CLS after the last LayerNorm, 256-d for the paper's models) of the
        clips :meth:`predict` classifies (their mean): for retrieval, clustering or a new classifier head."""
        wave, _, _ = self._decode(source, sample_rate)
        return self.embeddings(self.clips(wave)).mean(axis=0)


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


__all__ = ["AudioError", "Input", "ModelFileError", "Prediction", "Recognizer", "Segment"]
