"""Audio front end: decode anything libsndfile reads, check it, and deliver 16 kHz mono float32.

Every model in emovit sees the same input: 16 kHz mono, cropped to its first 4 s or zero-padded
at the end (:func:`fit_length`).  Decoding goes through soundfile (libsndfile >= 1.1: WAV in every
PCM/float flavour, FLAC, OGG/Vorbis, MP3), resampling through soxr at 'HQ' quality.

Bad input never escapes as a raw libsndfile traceback: it becomes an :class:`AudioError` whose
message starts with the file name (``<bytes>`` / ``<array>`` / ``<stream>`` for in-memory input)
and says what is wrong with it.  The header is checked before any sample is decoded, so a
``max_seconds`` limit refuses an hour-long file without reading it, and a header that claims more
than :data:`MAX_SAMPLES` samples is refused whatever the limit.  Samples are then read in blocks
of bounded size, so memory follows what the file really holds, not what its header claims.
"""
from __future__ import annotations

import glob
import io
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Iterator, Union

import numpy as np
import soundfile as sf
import soxr

from .config import CLIP_SECONDS, SAMPLE_RATE

AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".mp3")  # what folders and globs are searched for
MIN_SECONDS = 0.1  # shorter than this is not an utterance
SILENCE_PEAK = 1e-5  # a peak below this (about -100 dBFS) counts as silence
# float samples are nominally within +-1; far above that a file is garbage (and averaging channels
# of 1e38 overflows to inf, which the front end would turn into NaN probabilities)
MAX_PEAK = 1e6
MIN_RATE, MAX_RATE = 1000, 768000  # declared sample rates outside this range are nonsense
# frames x channels that load_audio decodes at most (512 MiB as float32; 23 min of 48 kHz stereo,
# 2.3 h of 16 kHz mono): a damaged or hostile header can claim 2**63 frames
MAX_SAMPLES = 1 << 27
_RESAMPLE_QUALITY = "HQ"
_READ_SAMPLES = 1 << 16  # samples (frames x channels) per read, whatever the channel count
_SALVAGE_FRAMES = 1024  # frames per read past a decoder error, to keep what precedes the damage

Source = Union[str, os.PathLike, bytes, bytearray, BinaryIO]


class AudioError(ValueError):
    """Audio that cannot be used; the message names the file (or <bytes>/<array>) and the problem."""


# ----------------------------------------------------------------------------------------------
# opening and checking


@dataclass
class _Header:
    name: str
    samplerate: int
    channels: int
    frames: int

    @property
    def duration(self) -> float:
        return self.frames / self.samplerate


def describe(source: Source) -> str:
    if isinstance(source, (str, os.PathLike)):
        return str(source)
    if isinstance(source, (bytes, bytearray)):
        return "<bytes>"
    name = getattr(source, "name", None)
    return name if isinstance(name, str) else "<stream>"


def _open(source: Source) -> tuple[sf.SoundFile, str]:
    """Open ``source`` with libsndfile (header only), turning every failure into AudioError."""
    name = describe(source)
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if not path.exists():
            raise AudioError(f"{name}: file not found")
        if path.is_dir():
            raise AudioError(f"{name}: is a directory, not an audio file")
        if path.stat().st_size == 0:
            raise AudioError(f"{name}: is empty (0 bytes)")
        target: object = str(path)
    elif isinstance(source, (bytes, bytearray)):
        if not source:
            raise AudioError(f"{name}: is empty (0 bytes)")
        target = io.BytesIO(bytes(source))
    elif hasattr(source, "read"):
        seekable = getattr(source, "seekable", None)
        target = source if seekable is not None and seekable() else io.BytesIO(source.read())
    else:
        raise TypeError(f"expected a path, bytes or a binary file object, got {type(source).__name__}")
    try:
        handle = sf.SoundFile(target)
    except (sf.SoundFileError, RuntimeError, TypeError, OSError) as e:
        reason = getattr(e, "error_string", None) or str(e)
        raise AudioError(f"{name}: not a readable audio file ({reason})") from None
    return handle, name


def _check_header(handle: sf.SoundFile, name: str, max_seconds: float | None = None) -> _Header:
    h = _Header(name, int(handle.samplerate), int(handle.channels), int(handle.frames))
    if h.channels < 1:
        raise AudioError(f"{name}: has zero channels")
    if not MIN_RATE <= h.samplerate <= MAX_RATE:
        raise AudioError(f"{name}: declared sample rate {h.samplerate} Hz is outside {MIN_RATE}-{MAX_RATE} Hz")
    if h.frames <= 0:
        raise AudioError(f"{name}: has no samples ({h.frames} frames)")
    if max_seconds is not None and h.duration > max_seconds:
        raise AudioError(f"{name}: is {h.duration:.1f} s long, more than the {max_seconds:g} s allowed (max_seconds)")
    return h


def _check_rate(rate: int, what: str, name: str) -> int:
    if not isinstance(rate, (int, np.integer)) or isinstance(rate, bool):
        if not (isinstance(rate, float) and rate.is_integer()):
            raise AudioError(f"{name}: {what} must be a whole number of Hz, got {rate!r}")
    rate = int(rate)
    if not MIN_RATE <= rate <= MAX_RATE:
        raise AudioError(f"{name}: {what} {rate} Hz is outside {MIN_RATE}-{MAX_RATE} Hz")
    return rate


def resample(mono: np.ndarray, rate: int, target_rate: int) -> np.ndarray:
    """``mono`` at ``target_rate`` (float32, contiguous): the resampler every decoded file goes through."""
    if rate != target_rate:
        mono = soxr.resample(mono, rate, target_rate, quality=_RESAMPLE_QUALITY)
    return np.ascontiguousarray(mono, dtype=np.float32)


def _mono(frames: np.ndarray, name: str, where: str = "") -> np.ndarray:
    """(n, channels) float32 -> (n,) channel mean, refusing NaN/Inf and absurd magnitudes."""
    if frames.shape[1] < 1:
        raise AudioError(f"{name}: has zero channels")
    if not np.isfinite(frames).all():
        raise AudioError(f"{name}: contains NaN/Inf samples{where}")
    mono = frames[:, 0] if frames.shape[1] == 1 else frames.mean(axis=1, dtype=np.float32)
    peak = float(np.abs(mono).max()) if len(mono) else 0.0
    if not peak <= MAX_PEAK:
        raise AudioError(f"{name}: has samples of magnitude {peak:.3g}{where}, not audio (samples are "
                         f"nominally within +-1; at most {MAX_PEAK:g} is accepted)")
    return mono


# libsndfile's header log notes a chunk that the file is too short to hold: "data : 64000 (should be 31978)"
_SHORT_CHUNK = re.compile(r"^\s*(?:data|SSND)\s*:\s*(\d+)\s*\(should be (\d+)\)", re.MULTILINE)


def _truncation(handle: sf.SoundFile, header: _Header) -> str | None:
    """A warning when the file holds less audio than its header promises (a cut-off upload or copy);
    libsndfile then reports only the frames that are there, without an error."""
    match = _SHORT_CHUNK.search(handle.extra_info or "")
    if match is None:
        return None
    promised, held = int(match.group(1)), int(match.group(2))
    if held <= 0 or promised <= held:
        return None
    return (f"{header.name}: is truncated: its header promises {header.duration * promised / held:.2f} s of audio "
            f"but the file holds {header.duration:.2f} s; answered on what is there")


class _DamagedTail(Exception):
    """A decoder error partway through a large read: libsndfile cannot seek back after it, so the
    file is opened again and read in small steps, to keep what precedes the damage."""


def _read_mono(handle: sf.SoundFile, header: _Header, warnings: list[str], per_read: int | None = None) -> np.ndarray:
    """All declared frames, read in bounded blocks and downmixed block by block: memory grows with
    what is decoded (a header may claim far more than the file holds), and formats libsndfile cannot
    seek in (GSM 6.10 WAV, XI) are read too, since every read names its frame count.  A file that
    ends before its header says (a decoder error after some blocks, or fewer frames than declared)
    gives what was decoded and a warning."""
    per_read = per_read or max(1, _READ_SAMPLES // header.channels)
    blocks, total = [], 0
    while total < header.frames:
        try:
            block = handle.read(min(per_read, header.frames - total), dtype="float32", always_2d=True)
        except (sf.SoundFileError, RuntimeError) as e:
            if per_read > _SALVAGE_FRAMES:
                raise _DamagedTail from None
            if not blocks:
                raise AudioError(f"{header.name}: not a readable audio file ({e})") from None
            break
        if not len(block):
            break
        blocks.append(_mono(block, header.name))
        total += len(block)
    if 0 < total < header.frames:
        warnings.append(f"{header.name}: ends early: {total / header.samplerate:.2f} s decoded of the "
                        f"{header.duration:.2f} s its header declares (truncated or damaged); answered on what is there")
    return np.concatenate(blocks) if blocks else np.zeros(0, dtype=np.float32)


def _finish(mono: np.ndarray, rate: int, target_rate: int, name: str) -> np.ndarray:
    """(n,) float32 at ``rate`` -> validated mono float32 at ``target_rate``."""
    if len(mono) == 0:
        raise AudioError(f"{name}: has no samples (0 frames)")
    duration = len(mono) / rate
    if duration < MIN_SECONDS:
        raise AudioError(f"{name}: is too short ({duration:.3f} s; at least {MIN_SECONDS} s needed)")
    peak = float(np.abs(mono).max())
    if peak < SILENCE_PEAK:
        raise AudioError(f"{name}: is silent (peak {peak:.1e} < {SILENCE_PEAK:.0e})")
    return resample(mono, rate, target_rate)


# ----------------------------------------------------------------------------------------------
# public API


@dataclass
class Decoded:
    """A decoded recording: mono float32 at ``sample_rate``, and what the caller should be told about it
    (e.g. a file that holds less audio than its header promises)."""

    wave: np.ndarray
    sample_rate: int
    name: str
    warnings: list[str] = field(default_factory=list)


def decode(source: Source, sample_rate: int = SAMPLE_RATE, *, max_seconds: float | None = None) -> Decoded:
    """Decode ``source`` (path, bytes or binary file object) to float32 mono at ``sample_rate``.

    Channels are averaged; the rate is converted with soxr ('HQ').  The header is checked first
    (rate, channels, frame count, ``max_seconds``, at most :data:`MAX_SAMPLES` samples), then the
    decoded samples (NaN/Inf, shorter than 0.1 s, silent).  Any problem raises :class:`AudioError`
    naming the file; a truncated file is decoded as far as it goes, with a warning.
    """
    name = describe(source)
    target_rate = _check_rate(sample_rate, "target sample rate", name)
    start = source.tell() if hasattr(source, "seekable") and source.seekable() else None
    handle, name = _open(source)
    warnings: list[str] = []
    with handle:
        header = _check_header(handle, name, max_seconds)
        if header.frames * header.channels > MAX_SAMPLES:
            raise AudioError(f"{name}: declares {header.frames} frames x {header.channels} channels, more than "
                             f"the {MAX_SAMPLES} samples decoded at once (stream long recordings with iter_blocks)")
        truncated = _truncation(handle, header)
        if truncated:
            warnings.append(truncated)
        try:
            mono = _read_mono(handle, header, warnings)
        except _DamagedTail:
            mono = None
    if mono is None:  # read again, in small steps (a stream that cannot be rewound is refused)
        if hasattr(source, "read") and start is None:
            raise AudioError(f"{name}: not a readable audio file (damaged, and the stream cannot be read again)")
        if start is not None:
            source.seek(start)
        handle, name = _open(source)
        with handle:
            mono = _read_mono(handle, header, warnings, _SALVAGE_FRAMES)
    return Decoded(_finish(mono, header.samplerate, target_rate, name), target_rate, name, warnings)


def load_audio(source: Source, sample_rate: int = SAMPLE_RATE, *, max_seconds: float | None = None) -> np.ndarray:
    """:func:`decode`'s waveform alone (for callers with no one to tell about a truncated file)."""
    return decode(source, sample_rate, max_seconds=max_seconds).wave


def from_array(samples: np.ndarray, sample_rate: int, target_rate: int = SAMPLE_RATE, name: str = "<array>") -> np.ndarray:
    """Turn an in-memory signal into validated float32 mono at ``target_rate``.

    ``samples`` is (n,) or (n, channels).  Integer dtypes are scaled to [-1, 1] (unsigned ones are
    centred first, as in 8-bit WAV); floats are taken as already in [-1, 1].  The same checks as
    :func:`load_audio` apply.
    """
    x = np.asarray(samples)
    rate = _check_rate(sample_rate, "sample rate", name)
    target = _check_rate(target_rate, "target sample rate", name)
    if x.ndim == 1:
        x = x[:, None]
    elif x.ndim != 2:
        raise AudioError(f"{name}: expected shape (n,) or (n, channels), got {x.shape}")
    elif x.shape[1] > x.shape[0] and x.shape[0] > 0:
        raise AudioError(f"{name}: shape {x.shape} looks like (channels, n); pass (n, channels), e.g. samples.T")
    if x.dtype.kind == "i":
        x = x.astype(np.float32) / np.float32(2 ** (8 * x.dtype.itemsize - 1))
    elif x.dtype.kind == "u":
        half = 2 ** (8 * x.dtype.itemsize - 1)
        x = (x.astype(np.float64) - half).astype(np.float32) / np.float32(half)
    elif x.dtype.kind == "f":
        x = x.astype(np.float32, copy=False)
    else:
        raise AudioError(f"{name}: unsupported sample dtype {x.dtype}")
    if x.shape[0] == 0:
        raise AudioError(f"{name}: has no samples (0 frames)")
    return _finish(_mono(x, name), rate, target, name)


def fit_length(wave: np.ndarray, seconds: float = CLIP_SECONDS, sample_rate: int = SAMPLE_RATE,
               pad: str = "zeros") -> np.ndarray:
    """The first ``seconds`` of ``wave``; a shorter one is followed by zeros (the paper's 4 s clip) or,
    with ``pad="repeat"``, by copies of itself until the clip is full."""
    n = int(round(seconds * sample_rate))
    wave = np.asarray(wave, dtype=np.float32)
    if wave.ndim != 1:
        raise ValueError(f"fit_length expects a 1-D waveform, got shape {wave.shape}")
    if len(wave) >= n:
        return wave[:n].copy()
    if pad == "repeat" and len(wave):
        return np.tile(wave, -(-n // len(wave)))[:n]
    return np.pad(wave, (0, n - len(wave)))


def centre_fit(wave: np.ndarray, length: int) -> np.ndarray:
    """``wave`` zero-padded or cropped about its centre to ``length`` samples, as TIM-Net's feature code
    does: padding splits the shortfall in half, the odd sample at the end; cropping keeps ``length``
    samples from (len - length) // 2."""
    wave = np.asarray(wave, dtype=np.float32)
    if wave.ndim != 1:
        raise ValueError(f"centre_fit expects a 1-D waveform, got shape {wave.shape}")
    if len(wave) < length:
        pad = length - len(wave)
        return np.pad(wave, (pad // 2, pad // 2 + pad % 2))
    start = (len(wave) - length) // 2
    return wave[start:start + length].copy()


def audio_info(source: Source) -> tuple[float, int, int]:
    """(duration_seconds, sample_rate, channels) read from the header only; AudioError on failure."""
    handle, name = _open(source)
    with handle:
        h = _check_header(handle, name)
    return h.duration, h.samplerate, h.channels


def iter_blocks(
    path: Source, block_seconds: float, hop_seconds: float, sample_rate: int = SAMPLE_RATE,
    warnings: list[str] | None = None,
) -> Iterator[tuple[float, np.ndarray]]:
    """Yield ``(start_seconds, block)`` windows of a long file, mono float32 at ``sample_rate``.

    Windows start every ``hop_seconds``; every full ``block_seconds`` window is yielded, and if the
    end of the file is not covered by one, a last shorter window with the remainder follows (pass it
    through :func:`fit_length` to pad).  The file is read in chunks and resampled with a streaming
    soxr resampler, so memory stays bounded whatever the length; samples equal those of
    :func:`load_audio` (same filter).  Silent stretches are yielded as they are; NaN/Inf raise.
    A truncated file is read as far as it goes and, when ``warnings`` is given, noted there.
    """
    if block_seconds <= 0 or hop_seconds <= 0:
        raise ValueError("block_seconds and hop_seconds must be positive")
    name = describe(path)
    target = _check_rate(sample_rate, "target sample rate", name)
    block = max(1, int(round(block_seconds * target)))
    hop = max(1, int(round(hop_seconds * target)))

    rewind = path.tell() if hasattr(path, "seekable") and path.seekable() else None
    handle, name = _open(path)
    try:
        header = _check_header(handle, name)
        if header.duration < MIN_SECONDS:
            raise AudioError(f"{name}: is too short ({header.duration:.3f} s; at least {MIN_SECONDS} s needed)")
        truncated = _truncation(handle, header)
        if truncated and warnings is not None:
            warnings.append(truncated)
        stream = None
        if header.samplerate != target:
            stream = soxr.ResampleStream(header.samplerate, target, 1, dtype="float32", quality=_RESAMPLE_QUALITY)

        per_read = max(1, _READ_SAMPLES // header.channels)
        buffer = np.zeros(0, dtype=np.float32)  # samples from global index `offset` on
        offset = 0  # global index (at target rate) of buffer[0]
        start = 0  # global index of the next window
        covered = 0  # global index one past the end of the last window yielded
        decoded = 0  # frames read from the file (at its own rate)
        done = False
        while not done:
            try:
                chunk = handle.read(per_read, dtype="float32", always_2d=True)
            except (sf.SoundFileError, RuntimeError) as e:
                can_reopen = not hasattr(path, "read") or rewind is not None
                if per_read > _SALVAGE_FRAMES and can_reopen:  # a damaged tail: reopen, read on in small steps
                    handle.close()
                    if rewind is not None:
                        path.seek(rewind)
                    handle, _ = _open(path)
                    for skip in range(0, decoded, per_read):  # past what was read already, in bounded steps
                        handle.read(min(per_read, decoded - skip), dtype="float32", always_2d=True)
                    per_read = _SALVAGE_FRAMES
                    continue
                if not decoded:
                    raise AudioError(f"{name}: not a readable audio file ({e})") from None
                chunk = np.zeros((0, header.channels), dtype=np.float32)  # damaged from here on: stop
                if warnings is not None:
                    warnings.append(f"{name}: ends early: {decoded / header.samplerate:.2f} s decoded of the "
                                    f"{header.duration:.2f} s its header declares (truncated or damaged)")
            done = len(chunk) < per_read
            mono = _mono(chunk, name, f" (near {decoded / header.samplerate:.1f} s)")
            decoded += len(chunk)
            if stream is not None:
                mono = stream.resample_chunk(mono, last=done)
            buffer = np.concatenate([buffer, mono])
            end = offset + len(buffer)  # global index one past the last sample read so far
            while start + block <= end:
                yield start / target, buffer[start - offset : start - offset + block].copy()
                covered, start = start + block, start + hop
            if done and covered < end and start < end:
                yield start / target, buffer[start - offset :].copy()
            drop = min(start - offset, len(buffer))
            buffer, offset = buffer[drop:], offset + drop
    finally:
        handle.close()


def find_audio_files(paths: list[str]) -> tuple[list[str], list[str]]:
    """The audio files that ``paths`` name, and a message for each path that named none.

    A file named outright is taken whatever its extension; folders (searched recursively) and globs
    (expanded here when the shell did not) contribute only files with AUDIO_EXTENSIONS.
    """
    files: list[str] = []
    problems: list[str] = []
    for given in paths:
        if os.path.isfile(given):
            files.append(given)
            continue
        matches = [given] if os.path.isdir(given) else sorted(glob.glob(given, recursive=True))
        if not matches:
            missing = "no files match this pattern" if glob.escape(given) != given else "no such file or directory"
            problems.append(f"{given}: {missing}")
            continue
        found: list[str] = []
        for match in matches:
            inside = Path(match).rglob("*") if os.path.isdir(match) else [Path(match)]
            found += sorted(str(f) for f in inside if f.is_file() and f.suffix.lower() in AUDIO_EXTENSIONS)
        if not found:
            problems.append(f"{given}: no audio files ({' '.join(AUDIO_EXTENSIONS)}) found")
        files += found
    return list(dict.fromkeys(files)), problems
