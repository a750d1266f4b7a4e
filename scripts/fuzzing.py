"""Seeded hostile-input fuzzer for the audio front end and the HTTP upload path.

Shared by tests/test_fuzz.py (a few hundred cases on every run) and scripts/fuzz.py (thousands).
Case ``i`` of seed ``s`` is a pure function of ``(s, i)``, so any failure can be replayed alone.
Inputs are random bytes (some behind a real format's magic) and valid files of every format
libsndfile writes, damaged: bytes flipped, truncated, spliced, and header fields rewritten to
hostile values (zero channels, rates of 0, 1 or 2**31-1, data sizes and frame counts near 2**32
or 2**63, negative-looking sizes).  Every case must decode to finite float32 audio or raise
AudioError (over HTTP: 200, or a 4xx with a JSON ``detail``), within a time limit and without
growing the peak RSS by more than a bound.
"""
from __future__ import annotations

import io
import resource
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Callable

import numpy as np
import soundfile as sf

from emovit.audio import AudioError, iter_blocks, load_audio

# (format, subtype, sample rate, channels): every container libsndfile can write, WAV/FLAC/OGG/MP3 twice
BASES = [
    ("WAV", "PCM_16", 16000, 1), ("WAV", "FLOAT", 22050, 2), ("WAV", "PCM_U8", 8000, 1),
    ("WAV", "IMA_ADPCM", 16000, 1), ("WAV", "MS_ADPCM", 16000, 2), ("WAV", "GSM610", 8000, 1),
    ("WAVEX", "PCM_24", 44100, 2), ("RF64", "PCM_16", 16000, 1), ("W64", "PCM_16", 16000, 1),
    ("FLAC", "PCM_16", 16000, 1), ("FLAC", "PCM_24", 48000, 2),
    ("OGG", "VORBIS", 16000, 1), ("OGG", "VORBIS", 44100, 2), ("OGG", "OPUS", 48000, 1),
    ("MP3", "MPEG_LAYER_III", 16000, 1), ("MP3", "MPEG_LAYER_III", 44100, 2),
    ("AIFF", "PCM_16", 16000, 1), ("CAF", "ALAC_16", 16000, 1), ("AU", "PCM_16", 16000, 1),
    ("NIST", "PCM_16", 16000, 1), ("VOC", "PCM_16", 16000, 1), ("IRCAM", "PCM_16", 16000, 1),
    ("SVX", "PCM_16", 16000, 1), ("MAT5", "PCM_16", 16000, 1), ("PAF", "PCM_16", 16000, 1),
    ("XI", "DPCM_16", 16000, 1), ("HTK", "PCM_16", 16000, 1), ("MPC2K", "PCM_16", 16000, 1),
    ("AVR", "PCM_16", 16000, 1), ("WVE", "ALAW", 8000, 1), ("SDS", "PCM_16", 16000, 1),
]
MAGICS = [b"RIFF", b"RIFX", b"RF64", b"FORM", b"fLaC", b"OggS", b"ID3", b"\xff\xfb", b"caff", b".snd",
          b"NIST_1A\n", b"Creative Voice File\x1a", b"MATLAB 5.0", b" paf", b"2BIT", b"wvpk", b"riff.\x91\xcf\x11"]
# sizes, counts and rates that break arithmetic: 0, 1, sign bits, all ones, 2**31-1, 2**63-1
HOSTILE = [0, 1, 2, 3, 0x7F, 0x80, 0xFF, 0x7FFF, 0x8000, 0xFFFF, 0x10000, 0x7FFFFFFF, 0x80000000,
           0xFFFFFFFE, 0xFFFFFFFF, 2**31 - 1, 2**32, 2**36 - 1, 2**62, 2**63 - 1, 2**63, 2**64 - 1]


@lru_cache(maxsize=None)
def base_files() -> tuple[tuple[str, bytes], ...]:
    """One valid 0.5 s file per BASES entry (a noisy chord, so it is neither silent nor too short)."""
    files = []
    for fmt, subtype, rate, channels in BASES:
        t = np.arange(rate // 2) / rate
        wave = 0.3 * np.sin(2 * np.pi * 330 * t) + 0.05 * np.random.default_rng(0).standard_normal(len(t))
        samples = np.stack([wave * (1 - 0.2 * c) for c in range(channels)], axis=1).astype(np.float32)
        buffer = io.BytesIO()
        sf.write(buffer, samples, rate, format=fmt, subtype=subtype)
        files.append((f"{fmt}-{subtype}-{channels}ch", buffer.getvalue()))
    return tuple(files)


# ----------------------------------------------------------------------------------------------
# mutations: each takes a generator and the bytes, and returns new bytes


def _put(data: bytes, offset: int, value: int, size: int, order: str) -> bytes:
    if offset < 0 or offset + size > len(data):
        return data
    raw = (value % (1 << (8 * size))).to_bytes(size, order)
    return data[:offset] + raw + data[offset + size:]


def _hostile(rng: np.random.Generator) -> int:
    return int(HOSTILE[rng.integers(len(HOSTILE))]) if rng.random() < 0.8 else int(rng.integers(0, 2**63))


def flip(rng, data):
    out = bytearray(data)
    span = min(len(out), 128) if rng.random() < 0.5 else len(out)  # headers are where parsers branch
    for _ in range(int(rng.integers(1, 17))):
        out[int(rng.integers(span))] ^= 1 << int(rng.integers(8))
    return bytes(out)


def truncate(rng, data):
    return data[: int(rng.integers(0, len(data)))]


def splice(rng, data):
    other = base_files()[rng.integers(len(base_files()))][1]
    return data[: int(rng.integers(len(data)))] + other[int(rng.integers(len(other))):]


def repeat(rng, data):
    """A slice copied many times over: makes chunk lists and frame counts long without being big."""
    start = int(rng.integers(len(data)))
    piece = data[start: start + int(rng.integers(1, 64))]
    return data[:start] + piece * int(rng.integers(2, 512)) + data[start:]


def header_int(rng, data):
    """A hostile integer anywhere in the first 256 bytes, 1-8 bytes wide, either byte order."""
    size = int(rng.choice([1, 2, 4, 8]))
    offset = int(rng.integers(0, max(1, min(256, len(data)) - size + 1)))
    return _put(data, offset, _hostile(rng), size, "little" if rng.random() < 0.5 else "big")


def wav_fields(rng, data):
    """RIFF/RF64 size, fmt fields (channels, rate, byte rate, align, bits), data size, ds64 sizes."""
    targets = [(4, 4)]
    fmt = data.find(b"fmt ")
    if fmt >= 0:
        targets += [(fmt + 4, 4), (fmt + 10, 2), (fmt + 12, 4), (fmt + 16, 4), (fmt + 20, 2), (fmt + 22, 2)]
    chunk = data.find(b"data")
    if chunk >= 0:
        targets.append((chunk + 4, 4))
    ds64 = data.find(b"ds64")
    if ds64 >= 0:
        targets += [(ds64 + 8, 8), (ds64 + 16, 8), (ds64 + 24, 8)]
    offset, size = targets[rng.integers(len(targets))]
    return _put(data, offset, _hostile(rng), size, "little")


def flac_fields(rng, data):
    """STREAMINFO: block and frame sizes, then the packed rate (20 bits), channels-1 (3), bps-1 (5),
    total samples (36)."""
    if not data.startswith(b"fLaC") or len(data) < 42:
        return header_int(rng, data)
    info = bytearray(data[8:42])
    which = int(rng.integers(3))
    if which == 0:
        offset = int(rng.choice([0, 2, 4, 7]))
        info[offset: offset + 3] = (_hostile(rng) % (1 << 24)).to_bytes(3, "big")[-3:]
    else:
        packed = int.from_bytes(info[10:18], "big")
        if which == 1:  # rate
            rate = int(rng.choice([0, 1, 2, 8000, 655350, (1 << 20) - 1]))
            packed = (packed & ~(((1 << 20) - 1) << 44)) | (rate << 44)
        else:  # channels, bits per sample, total samples
            packed ^= _hostile(rng) & ((1 << 44) - 1)
        info[10:18] = packed.to_bytes(8, "big")
    return data[:8] + bytes(info) + data[42:]


def ogg_fields(rng, data):
    """A page's granule position (the frame count libsndfile derives the length from), segment
    count or serial, or the Vorbis/Opus identification header's channels and rate."""
    pages = [i for i in range(len(data) - 4) if data[i: i + 4] == b"OggS"]
    head = max(data.find(b"\x01vorbis"), data.find(b"OpusHead"))
    choice = int(rng.integers(3))
    if choice == 2 and head >= 0:
        channels_at = head + (11 if data[head: head + 7] == b"\x01vorbis" else 9)
        if rng.random() < 0.5:
            return _put(data, channels_at, int(rng.choice([0, 1, 2, 8, 255])), 1, "little")
        return _put(data, head + 12, _hostile(rng), 4, "little")  # the rate, in both headers
    if not pages:
        return header_int(rng, data)
    page = pages[-1] if rng.random() < 0.5 else pages[rng.integers(len(pages))]
    offset, size = [(page + 6, 8), (page + 14, 4), (page + 26, 1)][min(choice, 2)]
    return _put(data, offset, _hostile(rng), size, "little")


def mp3_fields(rng, data):
    """The Xing/Info frame and byte counts, or a frame header's bitrate and sample-rate indices."""
    xing = max(data.find(b"Xing"), data.find(b"Info"))
    if xing >= 0 and rng.random() < 0.6:
        return _put(data, xing + int(rng.choice([4, 8, 12])), _hostile(rng), 4, "big")
    frames = [i for i in range(min(len(data) - 1, 4096)) if data[i] == 0xFF and data[i + 1] & 0xE0 == 0xE0]
    if not frames:
        return header_int(rng, data)
    out = bytearray(data)
    at = frames[rng.integers(len(frames))] + 2
    if at < len(out):
        out[at] = int(rng.integers(256))
    return bytes(out)


def aiff_au_fields(rng, data):
    """AIFF COMM (channels, frames, bits, the 80-bit float rate) or the AU header words."""
    comm = data.find(b"COMM")
    if comm >= 0:
        offset, size = [(comm + 8, 2), (comm + 10, 4), (comm + 14, 2), (comm + 16, 2), (comm + 18, 8)][
            rng.integers(5)]
        return _put(data, offset, _hostile(rng), size, "big")
    if data.startswith(b".snd"):
        return _put(data, int(rng.choice([4, 8, 12, 16, 20])), _hostile(rng), 4, "big")
    return header_int(rng, data)


FIELD_MUTATORS = {"WAV": wav_fields, "WAVEX": wav_fields, "RF64": wav_fields, "FLAC": flac_fields,
                  "OGG": ogg_fields, "MP3": mp3_fields, "AIFF": aiff_au_fields, "AU": aiff_au_fields}
MUTATORS: dict[str, Callable] = {"flip": flip, "truncate": truncate, "splice": splice, "repeat": repeat,
                                 "header_int": header_int}


@dataclass
class Case:
    index: int
    kind: str  # "random", "magic", or "<mutator>:<base>"
    data: bytes


def make_case(seed: int, index: int) -> Case:
    """Case ``index`` of the stream ``seed``: 10% random bytes, 10% a magic then random bytes, the
    rest a valid file with 1-3 mutations (half of them aimed at the format's own header fields)."""
    rng = np.random.default_rng([seed, index])
    roll = rng.random()
    if roll < 0.1:
        return Case(index, "random", rng.bytes(int(rng.integers(1, 4096))))
    if roll < 0.2:
        magic = MAGICS[rng.integers(len(MAGICS))]
        return Case(index, "magic", magic + rng.bytes(int(rng.integers(0, 4096))))
    name, data = base_files()[rng.integers(len(base_files()))]
    steps = []
    for _ in range(int(rng.integers(1, 4))):
        if not data:  # truncated to nothing: nothing left to mutate
            break
        targeted = FIELD_MUTATORS.get(name.split("-")[0])
        if targeted is not None and rng.random() < 0.5:
            data, step = targeted(rng, data), "fields"
        else:
            step = list(MUTATORS)[rng.integers(len(MUTATORS))]
            data = MUTATORS[step](rng, data)
        steps.append(step)
    return Case(index, f"{'+'.join(steps)}:{name}", data)


# ----------------------------------------------------------------------------------------------
# running


class Failure(Exception):
    """A case that broke the contract: another exception, a 5xx, a hang, bad output or a memory spike."""


def _rss_peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _bounded(fn: Callable[[], str], seconds: float) -> str:
    """Run ``fn`` in a daemon thread and give up after ``seconds``: libsndfile cannot be interrupted,
    so a hang is reported (its thread is abandoned) rather than stalling the whole run."""
    box: dict = {}

    def target():
        try:
            box["result"] = fn()
        except BaseException as e:  # reported to the caller as it is
            box["error"] = e

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        raise Failure(f"no answer within {seconds:g} s (hang)")
    if "error" in box:
        raise box["error"]
    return box["result"]


def decode(source, max_seconds: float | None) -> str:
    """'ok' or 'rejected'; Failure for anything else load_audio does."""
    try:
        wave = load_audio(source, max_seconds=max_seconds)
    except AudioError:
        return "rejected"
    except Exception as e:
        raise Failure(f"{type(e).__name__}: {e}") from e
    if not (isinstance(wave, np.ndarray) and wave.dtype == np.float32 and wave.ndim == 1 and len(wave)
            and np.isfinite(wave).all()):
        raise Failure(f"bad output: {type(wave).__name__} {getattr(wave, 'dtype', '')} {getattr(wave, 'shape', '')}")
    return "ok"


def stream(source) -> str:
    """iter_blocks (what Recognizer.timeline reads files with): 'ok' or 'rejected'; Failure otherwise."""
    try:
        blocks = [block for _, block in iter_blocks(source, 4.0, 2.0)]
    except AudioError:
        return "rejected"
    except Exception as e:
        raise Failure(f"{type(e).__name__}: {e}") from e
    if not all(b.dtype == np.float32 and b.ndim == 1 and np.isfinite(b).all() for b in blocks):
        raise Failure("bad output from iter_blocks")
    return "ok"


def post(client, data: bytes, multipart: bool, window: bool) -> str:
    """'ok' (200 with a label) or 'rejected' (4xx with a JSON detail); Failure otherwise."""
    url = "/v1/predict?window=2" if window else "/v1/predict"
    if multipart:
        response = client.post(url, files={"file": ("fuzz.bin", data, "application/octet-stream")})
    else:
        response = client.post(url, content=data, headers={"content-type": "audio/wav"})
    try:
        body = response.json()
    except ValueError:
        raise Failure(f"HTTP {response.status_code} without JSON: {response.text[:200]!r}") from None
    if response.status_code == 200 and "label" in body:
        return "ok"
    if 400 <= response.status_code < 500 and isinstance(body.get("detail"), str):
        return "rejected"
    raise Failure(f"HTTP {response.status_code}: {str(body)[:300]}")


@dataclass
class Report:
    cases: int = 0
    checks: Counter = field(default_factory=Counter)  # (path, outcome) -> count
    failures: list[tuple[int, str, str, str]] = field(default_factory=list)  # index, kind, path, what
    max_rss_growth_mb: float = 0.0
    slowest: tuple[float, int, str, str] = (0.0, -1, "", "")  # seconds, index, kind, path
    seconds: float = 0.0

    def summary(self) -> str:
        ok = sum(n for (_, outcome), n in self.checks.items() if outcome == "ok")
        rejected = sum(n for (_, outcome), n in self.checks.items() if outcome == "rejected")
        per_path = ", ".join(f"{p} {o} {n}" for (p, o), n in sorted(self.checks.items()))
        lines = [f"cases {self.cases}, checks {ok + rejected + len(self.failures)} in {self.seconds:.1f} s",
                 f"decoded ok {ok}, rejected with AudioError/4xx {rejected}, failures {len(self.failures)}",
                 f"  by path: {per_path}",
                 f"max RSS growth in one check {self.max_rss_growth_mb:.1f} MB",
                 "slowest check {:.3f} s (case {}, {}, {})".format(*self.slowest)]
        lines += [f"FAIL case {i} [{kind}] via {path}: {what}" for i, kind, path, what in self.failures[:50]]
        return "\n".join(lines)


class Fuzzer:
    """Feeds cases to load_audio (bytes; a file and iter_blocks for every ``file_every``-th case) and,
    with a ``client`` (a TestClient of the app), to POST /v1/predict for every ``http_every``-th case."""

    def __init__(self, tmpdir: Path, client=None, *, time_limit: float = 10.0, rss_limit_mb: float = 200.0,
                 file_every: int = 3, http_every: int = 2, max_seconds: float | None = 600.0):
        self.tmpdir, self.client = Path(tmpdir), client
        self.time_limit, self.rss_limit_mb = time_limit, rss_limit_mb
        self.file_every, self.http_every, self.max_seconds = file_every, http_every, max_seconds
        self.report = Report()

    def _check(self, case: Case, path: str, fn: Callable[[], str]) -> None:
        before, start = _rss_peak_mb(), time.perf_counter()
        try:
            outcome = _bounded(fn, self.time_limit)
            growth = _rss_peak_mb() - before
            if growth > self.rss_limit_mb:
                raise Failure(f"peak RSS grew by {growth:.0f} MB (limit {self.rss_limit_mb:g})")
        except Failure as e:
            self.report.failures.append((case.index, case.kind, path, str(e)))
            outcome = "failure"
        elapsed = time.perf_counter() - start
        report = self.report
        report.checks[(path, outcome)] += 1
        report.max_rss_growth_mb = max(report.max_rss_growth_mb, _rss_peak_mb() - before)
        if elapsed > report.slowest[0]:
            report.slowest = (elapsed, case.index, case.kind, path)

    def run(self, case: Case) -> None:
        start = time.perf_counter()
        # the library default (no length limit) and the server's limit
        self._check(case, "bytes", lambda: decode(case.data, None))
        if case.index % self.file_every == 0:
            file = self.tmpdir / f"case{case.index}.{case.kind.rsplit(':', 1)[-1].split('-')[0].lower()}"
            file.write_bytes(case.data)
            self._check(case, "file", lambda: decode(file, self.max_seconds))
            self._check(case, "stream", lambda: stream(file))
            file.unlink()
        if self.client is not None and case.index % self.http_every == 0:
            multipart, window = bool(case.index % 4 == 0), bool(case.index % 6 == 0)
            self._check(case, "http", lambda: post(self.client, case.data, multipart, window))
        self.report.cases += 1
        self.report.seconds += time.perf_counter() - start

    def run_many(self, seed: int, cases: int, first: int = 0) -> Report:
        for index in range(first, first + cases):
            self.run(make_case(seed, index))
        return self.report
