"""Speed and memory of inference, measured the way the project states them, so anyone can rerun them.

``emovit benchmark speed`` (or :func:`run_benchmark`) measures three things on this machine:

latency
    One 4 s clip *file* to probabilities -- decode, resample, front end, model -- with one thread
    (``torch.set_num_threads(1)``; onnxruntime ``intra_op_num_threads=1``), after warm-up: median
    and p90 of N runs of :meth:`Recognizer.predict`.  Without ``clip`` a synthetic 4 s clip
    (harmonic tone + noise, 48 kHz so resampling is included) is written to a temporary WAV.
throughput
    With every core (``threads``, default ``os.cpu_count()``): clips per second of
    :meth:`Recognizer.predict_batch` over ``batch`` (256) clip files, decoding included, and of the
    model alone (front end + network) on the same clips already decoded to 16 kHz arrays.
timeline
    A synthetic recording of ``hour_seconds`` (3600) seconds at 16 kHz is written to a temporary
    FLAC in chunks, then :meth:`Recognizer.timeline` runs over it in a fresh Python process
    (``threads`` threads).  Reported: the wall time of the timeline call, of the whole process
    (start-up, imports and model loading included), the child's peak resident memory and the
    number of windows.  The peak RSS is the child's high-water mark (``VmHWM`` of
    /proc/self/status, read by the child as it finishes).  Its ``ru_maxrss`` (``os.wait4``, the
    figure ``getrusage(RUSAGE_CHILDREN)`` gives once it ends) is reported too, as
    ``ru_maxrss_mib``, but is not used on Linux: ``execve`` carries the parent's own peak RSS
    over into the child's ``ru_maxrss``, so a parent that has PyTorch loaded would make any child
    look at least that big.  Where there is no /proc, ``ru_maxrss`` is all there is.

Both backends are measured: PyTorch, and ONNX (the model exported with :func:`export_onnx` to a
temporary file) when ``onnx`` and ``onnxruntime`` are installed.  Every figure comes with the
thread count it was measured with, and the machine (CPU model, cores, library versions) is part
of the result.  The project's targets (:data:`TARGETS`) are checked next to the figures; they are
statements about a machine, not properties of the model, so read them with the machine line.
"""
from __future__ import annotations

import gc
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import soundfile as sf

from . import hardware
from .config import SAMPLE_RATE

BENCHMARK_FORMAT = "emovit-benchmark/1"
MiB = 1 << 20

# What the project promises (README/BENCHMARKS): checked against the measured figures.
TARGETS = {
    "latency_ms": 10.0,  # one 4 s clip file -> probabilities, 1 thread, median
    "throughput_clips_per_s": 300.0,  # predict_batch from files, on 2 cores
    "throughput_cores": 2,
    "timeline_seconds_per_hour": 60.0,  # one hour of 16 kHz audio, window 4 s, hop 4 s
    "timeline_peak_rss_mib": 1024.0,
}

Progress = Callable[[str], None]


def _quiet(_: str) -> None:
    pass


# ----------------------------------------------------------------------------------------------
# synthetic audio


class _Voice:
    """A continuous speech-like signal, generated piece by piece: harmonics of a gliding pitch under a
    syllable-rate envelope, pauses every few seconds, and a noise floor.  Deterministic for a seed."""

    def __init__(self, rate: int, seed: int = 0):
        self.rate = rate
        self.rng = np.random.default_rng(seed)
        self.position = 0  # samples generated so far
        self.phase = 0.0  # of the fundamental, carried across pieces so there are no clicks

    def take(self, n: int) -> np.ndarray:
        t = (self.position + np.arange(n)) / self.rate
        f0 = 150.0 + 50.0 * np.sin(2 * np.pi * 0.11 * t) + 15.0 * np.sin(2 * np.pi * 0.9 * t)
        phase = self.phase + 2 * np.pi * np.cumsum(f0) / self.rate
        self.phase = float(phase[-1] % (2 * np.pi)) if n else self.phase
        voiced = sum(np.sin(k * phase) / k for k in range(1, 6))
        envelope = np.sqrt(np.clip(np.sin(2 * np.pi * 3.7 * t), 0.0, None))  # about 4 syllables a second
        talking = np.sin(2 * np.pi * 0.07 * t) > -0.7  # a pause now and then
        wave = 0.25 * voiced * envelope * talking + 0.01 * self.rng.standard_normal(n)
        self.position += n
        return wave.astype(np.float32)


def synthetic_clip(seconds: float = 4.0, rate: int = 48000, seed: int = 0) -> np.ndarray:
    """``seconds`` of the synthetic voice (tone with harmonics + noise) at ``rate``, float32 mono."""
    return _Voice(rate, seed).take(int(round(seconds * rate)))


def write_clip(path: str | Path, seconds: float = 4.0, rate: int = 48000, seed: int = 0) -> Path:
    """Write :func:`synthetic_clip` as 16-bit PCM WAV (format from the suffix) and return the path."""
    path = Path(path)
    sf.write(path, synthetic_clip(seconds, rate, seed), rate, subtype="PCM_16")
    return path


def write_recording(path: str | Path, seconds: float, rate: int = SAMPLE_RATE, chunk_seconds: float = 30.0,
                    seed: int = 0) -> Path:
    """Write ``seconds`` of the synthetic voice to ``path`` (16-bit FLAC or WAV, from the suffix),
    ``chunk_seconds`` at a time, so the writer holds one chunk, not the recording."""
    path = Path(path)
    total = int(round(seconds * rate))
    chunk = max(1, int(round(chunk_seconds * rate)))
    voice = _Voice(rate, seed)
    with sf.SoundFile(path, "w", samplerate=rate, channels=1, subtype="PCM_16") as out:
        written = 0
        while written < total:
            n = min(chunk, total - written)
            out.write(voice.take(n))
            written += n
    return path


# ----------------------------------------------------------------------------------------------
# machine


def _cpu_quota() -> float | None:
    """CPUs this container may use (cgroup v2 cpu.max), or None when unlimited or unknown."""
    try:
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()[:2]
        return None if quota == "max" else int(quota) / int(period)
    except (OSError, ValueError):
        return None


def _version(module: str) -> str | None:
    try:
        return __import__(module).__version__
    except ImportError:
        return None


def machine_info() -> dict:
    """CPU model, core counts and the versions of everything that decides the figures."""
    import torch

    from . import __version__

    usable = hardware.usable_cores()
    return {
        "cpu_model": hardware.cpu_model(),
        "cpu_flags": hardware.cpu_flags(),
        "cores": os.cpu_count(),
        "usable_cores": usable,
        "cpu_quota": _cpu_quota(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "emovit": __version__,
        "torch": torch.__version__,
        "torch_default_threads": torch.get_num_threads(),
        "onnxruntime": _version("onnxruntime"),
        "numpy": np.__version__,
        "soundfile": sf.__version__,
        "libsndfile": sf.__libsndfile_version__,
        "soxr": _version("soxr"),
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
    }


# ----------------------------------------------------------------------------------------------
# measurements


@contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """``torch.set_num_threads(n)`` for the duration of the block."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def _summary_ms(seconds: list[float]) -> dict:
    ms = np.asarray(seconds) * 1000.0
    return {"median_ms": float(np.median(ms)), "p90_ms": float(np.percentile(ms, 90)),
            "mean_ms": float(ms.mean()), "min_ms": float(ms.min()), "max_ms": float(ms.max())}


def measure_latency(recognizer, clip: str | Path, runs: int = 50, warmup: int = 5) -> dict:
    """Milliseconds of ``recognizer.predict(clip)`` (file to probabilities), ``warmup`` untimed calls
    first.  The thread count is the caller's (a torch setting, or the ONNX session's)."""
    if runs < 1 or warmup < 0:
        raise ValueError("runs must be at least 1 and warmup at least 0")
    for _ in range(warmup):
        recognizer.predict(clip)
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        recognizer.predict(clip)
        times.append(time.perf_counter() - started)
    return {**_summary_ms(times), "runs": runs, "warmup": warmup}


def measure_throughput(recognizer, clip: str | Path, clips: int = 256, batch_size: int = 32,
                       repeats: int = 3) -> dict:
    """Clips per second over ``clips`` copies of the clip file: ``files_clips_per_s`` through
    :meth:`predict_batch` (decoding each file included) and ``model_clips_per_s`` through the front
    end and network alone on the clips already decoded (16 kHz, 4 s).  Median of ``repeats`` passes,
    after one untimed batch of each kind."""
    from .audio import load_audio

    if clips < 1 or batch_size < 1 or repeats < 1:
        raise ValueError("clips, batch_size and repeats must be at least 1")
    files = [clip] * clips
    arrays = [recognizer.clip(load_audio(clip, recognizer.sample_rate))] * clips
    chunks = [arrays[i:i + batch_size] for i in range(0, clips, batch_size)]

    recognizer.predict_batch(files[:batch_size], batch_size)  # warm-up
    recognizer.probabilities(chunks[0])
    from_files, model_only = [], []
    for _ in range(repeats):
        started = time.perf_counter()
        results = recognizer.predict_batch(files, batch_size)
        from_files.append(time.perf_counter() - started)
        failed = [r for r in results if isinstance(r, Exception)]
        if failed:
            raise RuntimeError(f"predict_batch failed on the benchmark clip: {failed[0]}")
        started = time.perf_counter()
        for chunk in chunks:
            recognizer.probabilities(chunk)
        model_only.append(time.perf_counter() - started)
    files_s, model_s = float(np.median(from_files)), float(np.median(model_only))
    return {"files_clips_per_s": clips / files_s, "model_clips_per_s": clips / model_s,
            "files_seconds": files_s, "model_seconds": model_s,
            "clips": clips, "batch_size": batch_size, "repeats": repeats}


_CHILD = "import sys; from emovit.benchmark import _timeline_child; _timeline_child(sys.argv[1])"


def _timeline_child(arguments: str) -> None:
    """Body of the timeline subprocess: load, time one timeline call, write a JSON summary."""
    import torch

    from .inference import Recognizer

    args = json.loads(arguments)
    torch.set_num_threads(args["threads"])  # before loading: an ONNX session takes torch's count
    started = time.perf_counter()
    recognizer = Recognizer.load(args["model"], precision=args.get("precision", "auto"))
    loaded = time.perf_counter()
    rss_loaded = _own_peak_rss_mib()
    result = recognizer.timeline(args["audio"], window=args["window"], hop=args["hop"],
                                 batch_size=args["batch_size"])
    finished = time.perf_counter()
    Path(args["out"]).write_text(json.dumps({
        "load_seconds": loaded - started, "seconds": finished - loaded, "windows": len(result.timeline),
        "duration": result.duration, "label": result.label, "peak_rss_after_load_mib": rss_loaded,
        "peak_rss_mib": _own_peak_rss_mib(),
        "backend": recognizer.backend}))


def _rss_mib(ru_maxrss: int) -> float:
    return ru_maxrss / MiB if sys.platform == "darwin" else ru_maxrss / 1024  # bytes on macOS, KiB elsewhere


def _own_peak_rss_mib() -> float | None:
    """This process's peak resident memory since it started its program (Linux VmHWM), else None."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024  # kB
    except (OSError, ValueError, IndexError):
        pass
    return None


def measure_timeline(model: str | Path | None, audio: str | Path, window: float = 4.0, hop: float = 4.0,
                     threads: int | None = None, batch_size: int = 32, precision: str = "auto") -> dict:
    """Run ``Recognizer.load(model).timeline(audio, window, hop)`` in a fresh Python process with
    ``threads`` torch threads; its wall times, windows and peak RSS in MiB (see the module doc)."""
    threads = threads or os.cpu_count() or 1
    package_root = str(Path(__file__).resolve().parent.parent)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [package_root, os.environ.get("PYTHONPATH")])))
    with tempfile.TemporaryDirectory(prefix="emovit-timeline-") as scratch:
        out, log = Path(scratch) / "result.json", Path(scratch) / "stderr.txt"
        args = {"model": None if model is None else str(model), "audio": str(audio), "window": window, "hop": hop,
                "threads": threads, "batch_size": batch_size, "precision": precision, "out": str(out)}
        started = time.perf_counter()
        with open(log, "wb") as err:
            child = subprocess.Popen([sys.executable, "-c", _CHILD, json.dumps(args)], env=env,
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err)
        try:
            _, status, usage = os.wait4(child.pid, 0)
        except BaseException:
            child.kill()
            child.wait()
            raise
        child.returncode = os.waitstatus_to_exitcode(status)  # reaped here, so tell Popen
        process_seconds = time.perf_counter() - started
        if child.returncode != 0 or not out.is_file():
            tail = log.read_text(errors="replace").strip().splitlines()[-5:]
            raise RuntimeError(f"the timeline process failed (exit {child.returncode}): " + " | ".join(tail))
        report = json.loads(out.read_text())
    audio_seconds = float(report["duration"])
    ru_maxrss = _rss_mib(usage.ru_maxrss)
    return {
        "backend": report["backend"], "audio_seconds": audio_seconds, "window": window, "hop": hop,
        "windows": report["windows"], "threads": threads, "batch_size": batch_size,
        "seconds": report["seconds"], "process_seconds": process_seconds, "load_seconds": report["load_seconds"],
        "realtime_factor": audio_seconds / report["seconds"],
        "peak_rss_mib": report["peak_rss_mib"] if report["peak_rss_mib"] is not None else ru_maxrss,
        "peak_rss_after_load_mib": report["peak_rss_after_load_mib"],
        "ru_maxrss_mib": ru_maxrss,
        "peak_rss_source": "VmHWM" if report["peak_rss_mib"] is not None else "ru_maxrss",
    }


# ----------------------------------------------------------------------------------------------
# the whole benchmark


def _onnx_missing() -> str | None:
    for module in ("onnx", "onnxruntime"):
        try:
            __import__(module)
        except ImportError:
            return f"the '{module}' package is not installed (pip install 'emovit[onnx]')"
    return None


def _backends(model, onnx: bool, threads: int, scratch: Path, progress: Progress,
              precision: str = "auto") -> tuple[dict, dict, dict]:
    """({backend: recognizer for 1 thread}, {backend: recognizer for `threads`}, {backend: reason skipped})."""
    from .inference import OnnxRecognizer, Recognizer

    single, multi, skipped = {}, {}, {}
    first = Recognizer.load(model, precision=precision)
    first.require_single_clips("emovit benchmark speed")
    if isinstance(first, OnnxRecognizer):  # the model is an .onnx file: only ONNX to measure
        single["onnx"] = OnnxRecognizer.open(first.path, threads=1)
        multi["onnx"] = OnnxRecognizer.open(first.path, threads=threads)
        skipped["pytorch"] = "the model is an ONNX file"
        return single, multi, skipped
    single["pytorch"] = multi["pytorch"] = first  # threads are a process setting for PyTorch
    missing = _onnx_missing() if onnx else "--no-onnx"
    if missing:
        skipped["onnx"] = missing
        return single, multi, skipped
    from .export import export_onnx

    progress("exporting the model to ONNX ...")
    exported = scratch / "model.onnx"
    export_onnx(first, exported)
    single["onnx"] = OnnxRecognizer.open(exported, threads=1)
    multi["onnx"] = OnnxRecognizer.open(exported, threads=threads)
    return single, multi, skipped


def _model_info(recognizer) -> dict:
    from .inference import TorchRecognizer

    info = {"path": str(recognizer.path) if recognizer.path else None, "labels": recognizer.labels,
            "precision": recognizer.precision, "backend": recognizer.backend}
    if isinstance(recognizer, TorchRecognizer):
        config = recognizer.model.config
        info.update(params=sum(p.numel() for p in recognizer.model.parameters()), arch=config.arch,
                    patch_size=list(config.patch_size))
    return info


def run_benchmark(model: str | Path | None = None, *, onnx: bool = True, clip: str | Path | None = None,
                  clip_rate: int = 48000, precision: str = "auto", runs: int = 50, warmup: int = 5, batch: int = 256,
                  batch_size: int = 32, repeats: int = 3, threads: int | None = None,
                  hour_seconds: float = 3600.0, window: float = 4.0, hop: float = 4.0,
                  progress: Progress | None = None) -> dict:
    """Measure latency, throughput and (unless ``hour_seconds`` is 0) the long-recording timeline of
    ``model`` (as for :meth:`Recognizer.load`); the result is plain JSON data, targets included.
    Temporary files (clip, ONNX export, recording) are removed at the end."""
    progress = progress or _quiet
    threads = threads or os.cpu_count() or 1
    if min(threads, runs, batch, batch_size, repeats) < 1 or warmup < 0 or hour_seconds < 0:
        raise ValueError("threads, runs, batch, batch_size and repeats must be at least 1, warmup and "
                         "hour_seconds at least 0")
    if window <= 0 or hop <= 0:
        raise ValueError("window and hop must be positive")
    result: dict = {"format": BENCHMARK_FORMAT, "machine": machine_info(),
                    "settings": {"runs": runs, "warmup": warmup, "batch": batch, "batch_size": batch_size,
                                 "repeats": repeats, "threads": threads, "hour_seconds": hour_seconds,
                                 "window": window, "hop": hop, "precision": precision}}
    with tempfile.TemporaryDirectory(prefix="emovit-benchmark-") as tmp:
        scratch = Path(tmp)
        progress("loading the model ...")
        single, multi, skipped = _backends(model, onnx, threads, scratch, progress, precision)
        any_recognizer = next(iter(single.values()))
        if hour_seconds and window > any_recognizer.clip_seconds:
            raise ValueError(f"window must be at most {any_recognizer.clip_seconds:g} s")
        result["model"] = _model_info(multi.get("pytorch", any_recognizer))
        if clip is None:
            clip = write_clip(scratch / "clip.wav", any_recognizer.clip_seconds, clip_rate)
            synthetic = True
        else:
            synthetic = False
        duration, rate, channels = _clip_info(clip)
        result["clip"] = {"path": None if synthetic else str(clip), "synthetic": synthetic, "seconds": duration,
                          "sample_rate": rate, "channels": channels}

        result["latency"], result["throughput"] = {}, {}
        for name in ("pytorch", "onnx"):
            if name in skipped:
                result["latency"][name] = result["throughput"][name] = {"skipped": skipped[name]}
                continue
            progress(f"latency, {name}: {runs} runs on 1 thread ...")
            with torch_threads(1):
                result["latency"][name] = {**measure_latency(single[name], clip, runs, warmup), "threads": 1}
            progress(f"throughput, {name}: {batch} clips x {repeats} on {threads} thread(s) ...")
            with torch_threads(threads):
                result["throughput"][name] = {**measure_throughput(multi[name], clip, batch, batch_size, repeats),
                                              "threads": threads}

        timeline_model = any_recognizer.path  # the very file measured above (.pt, or the user's .onnx)
        del single, multi, any_recognizer  # no idle model (or onnxruntime thread pool) beside the child
        gc.collect()
        if hour_seconds:
            audio = scratch / "recording.flac"
            progress(f"writing a {hour_seconds:g} s recording ...")
            started = time.perf_counter()
            write_recording(audio, hour_seconds)
            written = time.perf_counter() - started
            progress(f"timeline over {hour_seconds:g} s in a subprocess on {threads} thread(s) ...")
            result["timeline"] = {**measure_timeline(timeline_model, audio, window, hop, threads, batch_size,
                                                                   precision),
                                  "file_format": "FLAC PCM_16", "file_mib": audio.stat().st_size / MiB,
                                  "write_seconds": written}
        else:
            result["timeline"] = {"skipped": "hour_seconds is 0"}
    result["targets"] = check_targets(result)
    return result


def _clip_info(clip) -> tuple[float, int, int]:
    from .audio import audio_info

    return audio_info(clip)


# ----------------------------------------------------------------------------------------------
# targets and report


def check_targets(result: dict) -> list[dict]:
    """One entry per target the result has a figure for: name, value, unit, target, passed (and a
    note where the figure was measured under other conditions than the target states)."""
    checks = []
    for name, latency in result.get("latency", {}).items():
        if "median_ms" in latency:
            checks.append({"name": f"latency {name}", "value": latency["median_ms"], "unit": "ms",
                           "target": f"< {TARGETS['latency_ms']:g} ms on 1 core",
                           "passed": latency["median_ms"] < TARGETS["latency_ms"]})
    cores = TARGETS["throughput_cores"]
    for name, throughput in result.get("throughput", {}).items():
        if "files_clips_per_s" in throughput:
            check = {"name": f"batch {name}", "value": throughput["files_clips_per_s"], "unit": "clips/s",
                     "target": f">= {TARGETS['throughput_clips_per_s']:g} clips/s on {cores} cores",
                     "passed": throughput["files_clips_per_s"] >= TARGETS["throughput_clips_per_s"]}
            if throughput["threads"] != cores:
                check["note"] = f"measured with {throughput['threads']} threads, not {cores}"
            checks.append(check)
    timeline = result.get("timeline", {})
    if "seconds" in timeline:
        hours = timeline["audio_seconds"] / 3600.0
        check = {"name": "timeline time", "value": timeline["seconds"], "unit": "s",
                 "target": f"< {TARGETS['timeline_seconds_per_hour']:g} s per hour",
                 "passed": timeline["seconds"] < TARGETS["timeline_seconds_per_hour"] * hours}
        if abs(hours - 1.0) > 1e-9:
            check["note"] = (f"{timeline['audio_seconds']:g} s of audio: limit scaled to "
                             f"{TARGETS['timeline_seconds_per_hour'] * hours:.3g} s")
        checks.append(check)
        checks.append({"name": "timeline memory", "value": timeline["peak_rss_mib"], "unit": "MiB",
                       "target": f"peak RSS < {TARGETS['timeline_peak_rss_mib'] / 1024:g} GiB",
                       "passed": timeline["peak_rss_mib"] < TARGETS["timeline_peak_rss_mib"]})
    return checks


def _span(seconds: float) -> str:
    if seconds >= 3600:
        return f"{seconds / 3600:.3g} h"
    return f"{seconds / 60:.3g} min" if seconds >= 60 else f"{seconds:.3g} s"


def format_report(result: dict) -> str:
    """The result as a readable table: machine, model and clip, then one row per figure with its
    target and verdict, then the notes."""
    m = result["machine"]
    quota = f", cgroup quota {m['cpu_quota']:g} CPUs" if m.get("cpu_quota") else ""
    lines = [
        f"machine: {m['cpu_model']}, {m['cores']} cores ({m['usable_cores']} usable{quota}), {m['platform']}",
        f"         Python {m['python']}, torch {m['torch']}, onnxruntime {m['onnxruntime'] or 'not installed'}, "
        f"emovit {m['emovit']}, OMP_NUM_THREADS={m['omp_num_threads'] or 'unset'}",
    ]
    model = result.get("model", {})
    shape = (f"{model['kind']} {'x'.join(map(str, model.get('patch_size', [])))}, " if model.get("kind") else "")
    params = f", {model['params'] / 1e6:.2f} M parameters" if "params" in model else ""
    arithmetic = f", PyTorch in {model['precision']}" if model.get("precision") else ""
    lines.append(f"model:   {model.get('path') or 'bundled'} ({shape}{len(model.get('labels', []))} labels{params}"
                 f"{arithmetic})")
    c = result.get("clip", {})
    source = "synthetic tone + noise (WAV)" if c.get("synthetic") else c.get("path")
    lines.append(f"clip:    {source}, {c.get('seconds', 0):.2f} s at {c.get('sample_rate')} Hz, "
                 f"{c.get('channels')} channel(s)")
    lines.append("")

    verdicts = {t["name"]: t for t in result.get("targets", [])}

    def verdict(name: str) -> tuple[str, str]:
        t = verdicts.get(name)
        return (t["target"], ("PASS" if t["passed"] else "FAIL") + ("*" if "note" in t else "")) if t else ("", "")

    rows = [("measurement", "backend", "threads", "result", "target", "")]
    for name, r in result.get("latency", {}).items():
        if "skipped" in r:
            rows.append(("latency: 4 s clip file", name, "", f"skipped: {r['skipped']}", "", ""))
            continue
        rows.append(("latency: 4 s clip file", name, str(r["threads"]),
                     f"median {r['median_ms']:.2f} ms, p90 {r['p90_ms']:.2f} ms", *verdict(f"latency {name}")))
    for name, r in result.get("throughput", {}).items():
        if "skipped" in r:
            continue
        rows.append((f"batch: {r['clips']} clip files", name, str(r["threads"]),
                     f"{r['files_clips_per_s']:.1f} clips/s", *verdict(f"batch {name}")))
        rows.append((f"batch: {r['clips']} decoded clips", name, str(r["threads"]),
                     f"{r['model_clips_per_s']:.1f} clips/s (model only)", "", ""))
    t = result.get("timeline", {})
    if "seconds" in t:
        what = f"timeline: {_span(t['audio_seconds'])} FLAC"
        rows.append((what, t["backend"], str(t["threads"]),
                     f"{t['seconds']:.2f} s ({t['realtime_factor']:.0f}x real time)", *verdict("timeline time")))
        rows.append((what, t["backend"], str(t["threads"]), f"peak RSS {t['peak_rss_mib']:.0f} MiB",
                     *verdict("timeline memory")))
    elif "skipped" in t:
        rows.append(("timeline", "", "", f"skipped: {t['skipped']}", "", ""))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for i, row in enumerate(rows):
        lines.append("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())
        if i == 0:
            lines.append("  ".join("-" * w for w in widths).rstrip())

    lines.append("")
    latency = next((r for r in result.get("latency", {}).values() if "runs" in r), None)
    if latency:
        lines.append(f"latency: decode + resample + front end + model, {latency['runs']} runs after "
                     f"{latency['warmup']} warm-up")
    batch = next((r for r in result.get("throughput", {}).values() if "clips" in r), None)
    if batch:
        lines.append(f"batch: predict_batch in batches of {batch['batch_size']} (decoding included); model only: "
                     f"front end + network on decoded arrays; median of {batch['repeats']} passes")
    if "seconds" in t:
        lines.append(f"timeline: {t['windows']} windows of {t['window']:g} s every {t['hop']:g} s, in a subprocess: "
                     f"timeline call {t['seconds']:.2f} s, whole process {t['process_seconds']:.2f} s (model "
                     f"load {t['load_seconds']:.2f} s); peak RSS {t['peak_rss_after_load_mib'] or 0:.0f} MiB "
                     f"after loading ({t['peak_rss_source']})")
    for check in result.get("targets", []):
        if "note" in check:
            lines.append(f"* {check['name']}: {check['note']}")
    failed = [t["name"] for t in result.get("targets", []) if not t["passed"]]
    lines.append(f"targets: {len(verdicts) - len(failed)} of {len(verdicts)} met"
                 + (f"; missed: {', '.join(failed)}" if failed else ""))
    return "\n".join(lines)
