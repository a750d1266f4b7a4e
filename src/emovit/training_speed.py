"""How fast the paper's networks train on this machine, against what the machine can do.

Three measurements, each stated with its thread count and the CPU:

peak
    :func:`measure_peak`: GMAC/s of a large square fp32 matrix product (2048^3), the better of
    PyTorch's BLAS (``torch.mm``: MKL, whose sgemm runs AVX2 code on AMD CPUs) and oneDNN (the
    library PyTorch's convolutions use, AVX-512 wherever the CPU has it). The better of the two is
    what this machine can do in fp32; both are kept (``peak_by_backend``). bf16 is measured too
    where it is fast (a CPU with AMX, or CUDA).
training
    :func:`measure_training`: clips per second of whole training steps -- forward, loss, backward,
    Adam step -- of a network on random 128x128 inputs, after warm-up, with a copy of the step of
    `emovit.stages.run_stage` (per-sample losses summed over the batch, ``zero_grad(set_to_none)``,
    the per-step read-back of loss and accuracy). Augmentation is precomputed in emovit (views), so
    a step does none. ``peak_fraction`` = 3 x forward GMACs as run (`emovit.profile.count`'s
    ``gmacs_run``; a backward pass costs two forwards) x clips/s / peak.
recipe
    :func:`benchmark_training`: both networks at several batch sizes (``batch_sizes``), the best
    one and the paper's batch (4) reported, and what the EmoDB ``paper`` recipe would take from
    these figures (:func:`paper_recipe_minutes`).

Timings on a shared machine are noisy: each figure is the median step time (``clips_per_s``), with
the fastest step next to it (``clips_per_s_best``). Compare variants with ``compare_plain``, which
alternates the fast and the plain path (`emovit.models.fast.plain`) step by step in one process.

Threads: with every core to itself, 2 threads train the teacher ~1.7x faster than 1 (AMD EPYC, 2
cores). When other work shares the cores, OpenMP's default spin-waiting makes 2 threads collapse
(0.7 clips/s against 17 on one thread, measured): use one thread a process there (torchrun sets
OMP_NUM_THREADS=1), or OMP_WAIT_POLICY=PASSIVE (robust, but a quarter slower on an idle machine).

``emovit benchmark training [--threads N] [--json out.json]`` runs the benchmark.
"""
from __future__ import annotations

import contextlib
import copy
import json
import statistics
import time
from typing import Callable

import torch
import torch.nn.functional as F

from . import hardware
from .models import build, fast
from .precision import autocast

FORMAT = "emovit-training-speed/1"
PAPER_BATCH = 4
BATCH_SIZES = (4, 8, 16, 32, 64)
MODELS = ("teacher", "student")

# The EmoDB `paper` recipe (recipes/paper.toml) on the paper's split: 535 clips, 107 held out for
# test, 428 train+val of which 43 validate. Every training clip has 4 views (original + 3 copies).
EMODB_PAPER = {"train": 385, "val": 43, "test": 107, "views": 4, "epochs": 50,
               "students": ("student", "plain")}


@contextlib.contextmanager
def threads_set(threads: int | None):
    """torch.set_num_threads(threads) within the block (None: leave as is)."""
    previous = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    try:
        yield torch.get_num_threads()
    finally:
        torch.set_num_threads(previous)


def _load_average() -> list[float] | None:
    """1, 5 and 15-minute load averages of the machine (None where the OS has none)."""
    import os

    try:
        return [round(v, 2) for v in os.getloadavg()]
    except (AttributeError, OSError):
        return None


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


# --- peak ------------------------------------------------------------------------------------------

def _rate(fn: Callable[[], object], macs: float, seconds: float, device: torch.device) -> float:
    """Best GMAC/s over a few rounds of repeating fn for about seconds / 3 each."""
    fn()
    _sync(device)
    best = 0.0
    for _ in range(3):
        n, started = 0, time.perf_counter()
        while True:
            fn()
            n += 1
            _sync(device)
            elapsed = time.perf_counter() - started
            if elapsed >= seconds / 3:
                break
        best = max(best, n * macs / elapsed / 1e9)
    return best


def measure_peaks(threads: int | None = None, dtype: torch.dtype = torch.float32, seconds: float = 1.0,
                  size: int = 2048, device: str | torch.device = "cpu") -> dict[str, float]:
    """GMAC/s of a size x size x size matrix product by backend: 'blas' (torch.mm) and, for fp32 on
    the CPU, 'onednn' (oneDNN's matmul, which bf16 torch.mm uses already)."""
    device = torch.device(device)
    g = torch.Generator().manual_seed(0)
    a, b = (torch.randn(size, size, generator=g).to(device=device, dtype=dtype) for _ in range(2))
    out = {}
    with threads_set(threads), torch.no_grad():
        out["blas"] = _rate(lambda: torch.mm(a, b), size ** 3, seconds, device)
        if device.type == "cpu" and dtype == torch.float32 and fast.onednn_linear_works():
            bt = b.t()  # linear computes a @ W^T: W = b^T, passed as the transposed view
            out["onednn"] = _rate(lambda: fast._onednn_linear(a, bt, None), size ** 3, seconds, device)
    return out


def measure_peak(threads: int | None = None, dtype: torch.dtype = torch.float32, seconds: float = 1.0,
                 size: int = 2048, device: str | torch.device = "cpu") -> float:
    """GMAC/s of a large square matrix product on `threads` threads: the better backend's."""
    return max(measure_peaks(threads, dtype, seconds, size, device).values())


# --- training --------------------------------------------------------------------------------------

def _loss_kind(model: torch.nn.Module) -> str:
    """The stage a step stands for: the teacher's CE, or the student's stage 3 (CE + alpha * L1)."""
    config = getattr(model, "config", None)
    return "ce" if getattr(config, "stem", False) else "ce+l1"


def _sample_losses(kind: str, pooled, logits, y, target, alpha: float = 10.0) -> torch.Tensor:
    losses = F.cross_entropy(logits.float(), y, reduction="none")
    if kind != "ce":
        losses = losses + alpha * (pooled.float() - target).abs().mean(dim=1)
    return losses


class _Trainer:
    """One network, its Adam and a few random batches: `step()` is one training step of
    emovit.stages.run_stage."""

    def __init__(self, model, batch_size: int, device: torch.device, precision: str = "fp32", *,
                 num_classes: int = 7, seed: int = 0, fast_path: bool = True, compile: bool = False,
                 fused_adam: bool = False, batches: int = 2, model_overrides: dict | None = None):
        torch.manual_seed(seed)
        if isinstance(model, str):
            self.name = model
            model = build(model, num_classes, **(model_overrides or {}))
        elif not isinstance(model, torch.nn.Module):
            self.name = getattr(model, "__name__", "model")
            model = model()
        else:
            self.name = type(model).__name__
            model = copy.deepcopy(model)  # variants side by side must not share parameters
        self.model = model.to(device).train()
        self.device, self.precision, self.fast_path = device, precision, fast_path
        self.batch_size = batch_size
        self.kind = _loss_kind(model)
        size = tuple(getattr(getattr(model, "config", None), "image_size", (128, 128)))
        self.image_size = size
        classes = getattr(getattr(model, "config", None), "num_classes", num_classes)
        g = torch.Generator().manual_seed(seed)
        dim = getattr(getattr(model, "config", None), "dim", 256)
        self.data = [(torch.randn(batch_size, 1, *size, generator=g).to(device),
                      torch.randint(0, classes, (batch_size,), generator=g).to(device),
                      torch.randn(batch_size, dim, generator=g).to(device)) for _ in range(batches)]
        kwargs = {"fused": True} if fused_adam else {}
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=1e-4, **kwargs)
        self.forward = self._forward
        if compile:
            self.forward = torch.compile(self._forward)
        self.i = 0

    def _forward(self, x, y, target):
        pooled = self.model.pooled(x)
        logits = self.model.head(pooled)
        return _sample_losses(self.kind, pooled, logits, y, target), logits

    def step(self) -> None:
        x, y, target = self.data[self.i % len(self.data)]
        self.i += 1
        with fast.plain(not self.fast_path), autocast(self.device, self.precision):
            losses, logits = self.forward(x, y, target)
            loss = losses.sum() / len(x)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()
        float(losses.detach().sum()), int((logits.argmax(1) == y).sum())  # stages reads these every step

    def timed_step(self) -> float:
        _sync(self.device)
        started = time.perf_counter()
        self.step()
        _sync(self.device)
        return time.perf_counter() - started


def _peak_dtype(precision: str) -> torch.dtype:
    return torch.bfloat16 if precision == "bf16" else torch.float32


def gmacs_run(model: torch.nn.Module, image_size=None) -> float:
    """Forward GMACs of one clip as emovit runs it (`emovit.profile.count`)."""
    from .profile import count

    return count(model, image_size)["gmacs_run"]


def _figures(times: list[float], batch_size: int, gmacs: float, peak: float | None) -> dict:
    median, best = statistics.median(times), min(times)
    out = {"batch_size": batch_size, "ms_per_step": 1000 * median, "clips_per_s": batch_size / median,
           "clips_per_s_best": batch_size / best, "steps": len(times)}
    out["gmacs_per_s"] = 3 * gmacs * out["clips_per_s"]
    if peak:
        out["peak_fraction"] = out["gmacs_per_s"] / peak
        out["peak_fraction_best"] = 3 * gmacs * out["clips_per_s_best"] / peak
    return out


def measure_training(model_name_or_builder="teacher", batch_size: int = PAPER_BATCH, threads: int | None = None,
                     steps: int = 5, precision: str = "fp32", device: str | torch.device = "cpu", *,
                     warmup: int = 2, peak: float | None = None, fast_path: bool = True, compile: bool = False,
                     fused_adam: bool = False, model_overrides: dict | None = None, num_classes: int = 7) -> dict:
    """Clips per second of training steps (forward + backward + Adam step) on random inputs.

    `model_name_or_builder`: a registry name ('teacher', 'student', ...), a function returning a
    network, or a network. `peak` (GMAC/s, e.g. from measure_peak) adds ``peak_fraction``; without it
    the peak is measured here on the same threads. `fast_path=False` runs the plain ops
    (`emovit.models.fast.plain`); `compile` wraps forward and loss in torch.compile (its first-call
    time is reported as ``compile_s``); `fused_adam` uses Adam(fused=True).
    """
    device = torch.device(device)
    with threads_set(threads) as used:
        trainer = _Trainer(model_name_or_builder, batch_size, device, precision, fast_path=fast_path,
                           compile=compile, fused_adam=fused_adam, model_overrides=model_overrides,
                           num_classes=num_classes)
        gmacs = gmacs_run(trainer.model, trainer.image_size)
        if peak is None:
            peak = measure_peak(used, _peak_dtype(precision), seconds=0.6, device=device)
        first = [trainer.timed_step() for _ in range(max(warmup, 1))]
        times = [trainer.timed_step() for _ in range(steps)]
    out = {"model": trainer.name, "threads": used, "precision": precision, "device": str(device),
           "fast_path": fast_path and fast.enabled(), "compile": compile, "fused_adam": fused_adam, "gmacs_run": gmacs,
           "peak_gmacs_per_s": peak, **_figures(times, batch_size, gmacs, peak)}
    if compile:
        out["compile_s"] = max(first[0] - statistics.median(times), 0.0)
    return out


def compare_training(model_name_or_builder="teacher", batch_size: int = PAPER_BATCH, threads: int | None = None,
                     steps: int = 5, precision: str = "fp32", device: str | torch.device = "cpu", *,
                     variants: dict[str, dict] | None = None, warmup: int = 2, peak: float | None = None,
                     model_overrides: dict | None = None) -> dict:
    """Several variants of the same training step measured side by side: one step of each in turn,
    `steps` rounds, so that load from elsewhere falls on all of them alike. `variants` maps a name to
    _Trainer options (fast_path, compile, fused_adam); default: plain and fast. Each variant gets the
    figures of measure_training, and ``speedup`` over the first variant (ratio of median step times).
    `peak` None measures the peak here; 0 leaves the fractions out."""
    device = torch.device(device)
    variants = variants or {"plain": {"fast_path": False}, "fast": {"fast_path": True}}
    with threads_set(threads) as used:
        trainers = {name: _Trainer(model_name_or_builder, batch_size, device, precision, model_overrides=model_overrides,
                                   **options) for name, options in variants.items()}
        first = next(iter(trainers.values()))
        gmacs = gmacs_run(first.model, first.image_size)
        if peak is None:
            peak = measure_peak(used, _peak_dtype(precision), seconds=0.6, device=device)
        warm = {name: [t.timed_step() for _ in range(max(warmup, 1))] for name, t in trainers.items()}
        times: dict[str, list[float]] = {name: [] for name in trainers}
        for _ in range(steps):
            for name, t in trainers.items():
                times[name].append(t.timed_step())
    out = {"model": first.name, "threads": used, "batch_size": batch_size, "gmacs_run": gmacs,
           "peak_gmacs_per_s": peak, "variants": {}}
    reference = statistics.median(next(iter(times.values())))
    for name, ts in times.items():
        figures = {**variants[name], **_figures(ts, batch_size, gmacs, peak),
                   "speedup": reference / statistics.median(ts)}
        if variants[name].get("compile"):
            figures["compile_s"] = max(warm[name][0] - statistics.median(ts), 0.0)
        out["variants"][name] = figures
    return out


def measure_inference(model_name_or_builder="teacher", batch_size: int = 64, threads: int | None = None,
                      steps: int = 3, device: str | torch.device = "cpu", *, fast_path: bool = True,
                      model_overrides: dict | None = None, precision: str = "fp32") -> dict:
    """Clips per second of eval-mode forward passes (pooled + head, no gradient) at `batch_size`, as
    emovit.stages.infer runs them for validation and the teacher's features."""
    device = torch.device(device)
    with threads_set(threads) as used:
        trainer = _Trainer(model_name_or_builder, batch_size, device, precision, model_overrides=model_overrides,
                           batches=1)
        model, (x, _, _) = trainer.model.eval(), trainer.data[0]

        def run():
            with torch.no_grad(), fast.plain(not fast_path), autocast(device, precision):
                model.head(model.pooled(x))
            _sync(device)

        run()
        times = []
        for _ in range(steps):
            started = time.perf_counter()
            run()
            times.append(time.perf_counter() - started)
    return {"model": trainer.name, "threads": used, "batch_size": batch_size,
            "clips_per_s": batch_size / statistics.median(times), "fast_path": fast_path and fast.enabled()}


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class _PooledAndLogits(torch.nn.Module):
    """pooled + head in one forward, so that DDP sees one call a step (as emovit.stages._Objective)."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, x):
        pooled = self.model.pooled(x)
        return pooled, self.model.head(pooled)


def _data_parallel_worker(rank, world, port, model, batch_size, steps, warmup, fast_path, model_overrides, threads,
                          results):
    import os

    import torch.distributed as dist

    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(threads)
    dist.init_process_group("gloo", rank=rank, world_size=world)
    try:
        share = len(torch.arange(batch_size).tensor_split(world)[rank])  # as emovit.stages cuts a batch
        trainer = _Trainer(model, share, torch.device("cpu"), fast_path=fast_path, model_overrides=model_overrides)
        ddp = torch.nn.parallel.DistributedDataParallel(_PooledAndLogits(trainer.model))

        def forward(x, y, target):
            pooled, logits = ddp(x)
            return _sample_losses(trainer.kind, pooled, logits, y, target), logits

        trainer.forward = forward
        times = []
        for _ in range(warmup + steps):
            dist.barrier()
            started = time.perf_counter()
            trainer.step()
            times.append(time.perf_counter() - started)
        if rank == 0:
            results.put(times[warmup:])
        dist.barrier()  # no rank tears gloo down while another still uses it (an abort at exit otherwise)
    finally:
        dist.destroy_process_group()


def measure_data_parallel(model_name: str = "teacher", batch_size: int = PAPER_BATCH, processes: int = 2,
                          threads_per_process: int = 1, steps: int = 5, *, warmup: int = 2, fast_path: bool = True,
                          model_overrides: dict | None = None, peak: float | None = None) -> dict:
    """Clips per second of data-parallel training as `torchrun --nproc-per-node N` runs emovit.stages:
    `processes` processes of `threads_per_process` threads, each a share of every global batch of
    `batch_size`, gradients averaged by DDP (gloo) every step. The steps start together (a barrier
    before each); the figure is rank 0's median step time. Gradients of a share are the
    single-process ones in another summation order."""
    import torch.multiprocessing as mp

    ctx = mp.get_context("spawn")
    results = ctx.SimpleQueue()
    mp.start_processes(_data_parallel_worker, nprocs=processes, join=True, start_method="spawn",
                       args=(processes, _free_port(), model_name, batch_size, steps, warmup, fast_path,
                             model_overrides, threads_per_process, results))
    times = results.get()
    with torch.device("meta"):
        gmacs = gmacs_run(build(model_name, 7, **(model_overrides or {})))
    out = {"model": model_name, "processes": processes, "threads_per_process": threads_per_process,
           "fast_path": fast_path and fast.enabled(), "gmacs_run": gmacs, **_figures(times, batch_size, gmacs, peak)}
    if peak:
        out["peak_gmacs_per_s"] = peak
    return out


# --- the recipe ------------------------------------------------------------------------------------

def paper_recipe_minutes(teacher_train: float, student_train: float, teacher_infer: float, student_infer: float,
                         split: dict | None = None) -> dict:
    """Minutes the EmoDB `paper` recipe takes at these speeds (clips/s), training steps and
    forward passes only (features, checkpoints and the baseline left out):

        teacher   = E * n_train / teacher_train + E * n_val / teacher_infer
        features  = (views * n_train + n_val) / teacher_infer           (frozen teacher, once)
        student   = 2E * n_train / student_train + 2E * n_val / student_infer   (match, then CE + L1)
        plain     = E * n_train / student_train + E * n_val / student_infer     (student from scratch)
        test      = n_test / teacher_infer + 2 * n_test / student_infer
        total     = teacher + features + student + plain + test

    with E = 50 epochs a stage, n_train = 385, n_val = 43, n_test = 107, views = 4 (EMODB_PAPER).
    A step trains one view of each clip, so an epoch is n_train clips whatever the views.
    """
    s = {**EMODB_PAPER, **(split or {})}
    e, n, v, t = s["epochs"], s["train"], s["val"], s["test"]
    parts = {
        "teacher": e * n / teacher_train + e * v / teacher_infer,
        "features": (s["views"] * n + v) / teacher_infer,
        "student": 2 * e * n / student_train + 2 * e * v / student_infer,
        "plain": (e * n / student_train + e * v / student_infer) if "plain" in s["students"] else 0.0,
        "test": t / teacher_infer + len(s["students"]) * t / student_infer,
    }
    minutes = {k: p / 60 for k, p in parts.items()}
    minutes["total"] = sum(minutes.values())
    return minutes


def benchmark_training(threads: int | None = None, batch_sizes=BATCH_SIZES, *, models=MODELS, steps: int = 4,
                       warmup: int = 2, precision: str = "fp32", device: str | torch.device = "cpu",
                       fast_path: bool = True, compare_plain: bool = False, peak_seconds: float = 1.0,
                       model_overrides: dict | None = None, inference_batch: int = 64, data_parallel: int = 0,
                       on_progress: Callable[[str], None] | None = None) -> dict:
    """Training speed of `models` at each of `batch_sizes` on `threads` threads (default: every
    usable core), with the peak of the same run, as a JSON-able dict.

    Per model: ``clips_per_s``, ``batch_size`` and ``peak_fraction`` at the best batch size,
    ``paper_batch`` (figures at batch 4), ``batches`` (every batch size tried) and
    ``inference_clips_per_s``. Top level: ``paper_recipe_minutes`` at the paper's batch 4 (and
    ``paper_recipe_minutes_best_batch``, had the recipe used each network's best batch).
    `compare_plain` also runs the plain path alternately with the fast one, step by step; then
    every batch entry holds both (``plain``) and the ``speedup``, and the top level a ``plain``
    section of the same shape. The peak is measured before and after the runs (the better of each
    backend is kept) and ``load_average_before``/``_after`` say how busy the machine was: on a shared
    machine the figures are lower bounds. `data_parallel` N >= 2 also measures N processes of threads / N
    threads under DDP (`measure_data_parallel`) at the paper's batch and the best one, as
    ``data_parallel`` of each model (the fast path; fractions of the same peak).
    """
    device = torch.device(device)
    say = on_progress or (lambda _msg: None)
    threads = threads or hardware.usable_cores()
    batch_sizes = tuple(sorted(set(batch_sizes) | {PAPER_BATCH}))
    with threads_set(threads) as used:
        say(f"peak on {used} thread(s)")
        peaks = measure_peaks(used, _peak_dtype(precision), seconds=peak_seconds, device=device)
        out = {"format": FORMAT, "cpu": hardware.cpu_model(), "cpu_flags": hardware.cpu_flags(), "threads": used,
               "usable_cores": hardware.usable_cores(), "load_average_before": _load_average(),
               "torch": torch.__version__, "device": str(device), "precision": precision, "fast_path": fast_path and fast.enabled(),
               "peak_by_backend": peaks}
        if precision != "bf16" and (device.type == "cuda" or hardware.has_amx()):
            out["peak_bf16_gmacs_per_s"] = measure_peak(used, torch.bfloat16, peak_seconds, device=device)
        variants = {"main": {"fast_path": fast_path}}
        if compare_plain:
            variants = {"plain": {"fast_path": False}, "main": {"fast_path": True}}
        runs: dict[str, dict[int, dict]] = {}
        for name in models:
            for bs in batch_sizes:
                say(f"{name} batch {bs}")
                runs.setdefault(name, {})[bs] = compare_training(
                    name, bs, used, steps, precision, device, variants=variants, warmup=warmup, peak=0.0,
                    model_overrides=model_overrides)
        infer = {}
        for name in models:
            say(f"{name} inference")
            infer[name] = {v: measure_inference(name, inference_batch, used, device=device, fast_path=opts["fast_path"],
                                                model_overrides=model_overrides, precision=precision)["clips_per_s"]
                           for v, opts in variants.items()}
        # the peak again at the end, so that load during the run weighs on both sides
        after = measure_peaks(used, _peak_dtype(precision), seconds=peak_seconds, device=device)
    out["load_average_after"] = _load_average()  # other work on the machine: read the figures with it
    peaks = {k: max(v, after.get(k, 0.0)) for k, v in peaks.items()}
    peak = max(peaks.values())
    out["peak_by_backend"], out["peak_gmacs_per_s"] = peaks, peak

    def section(variant: str) -> dict:
        sec = {}
        for name, by_batch in runs.items():
            batches = {}
            for bs, run in by_batch.items():
                f = dict(run["variants"][variant])
                f["peak_fraction"] = f["gmacs_per_s"] / peak
                f["peak_fraction_best"] = 3 * run["gmacs_run"] * f["clips_per_s_best"] / peak
                batches[bs] = {k: f[k] for k in ("batch_size", "clips_per_s", "clips_per_s_best", "ms_per_step",
                                                 "gmacs_per_s", "peak_fraction", "peak_fraction_best", "speedup")}
            best = max(batches.values(), key=lambda f: f["clips_per_s"])
            sec[name] = {"clips_per_s": best["clips_per_s"], "batch_size": best["batch_size"],
                         "peak_fraction": best["peak_fraction"], "gmacs_run": next(iter(by_batch.values()))["gmacs_run"],
                         "paper_batch": batches[PAPER_BATCH], "batches": {str(k): v for k, v in batches.items()},
                         "inference_clips_per_s": infer[name][variant]}
        if "teacher" in sec and "student" in sec:
            t, s = sec["teacher"], sec["student"]
            sec["paper_recipe_minutes"] = paper_recipe_minutes(t["paper_batch"]["clips_per_s"],
                                                               s["paper_batch"]["clips_per_s"],
                                                               t["inference_clips_per_s"], s["inference_clips_per_s"])
            sec["paper_recipe_minutes_best_batch"] = paper_recipe_minutes(
                t["clips_per_s"], s["clips_per_s"], t["inference_clips_per_s"], s["inference_clips_per_s"])
        return sec

    main = section("main")
    if data_parallel >= 2:
        for name in models:
            for bs in sorted({PAPER_BATCH, main[name]["batch_size"]}):
                say(f"{name} batch {bs}, {data_parallel} processes")
                run = measure_data_parallel(name, bs, data_parallel, max(1, threads // data_parallel), steps,
                                            warmup=warmup, fast_path=fast_path, model_overrides=model_overrides,
                                            peak=peak)
                main[name].setdefault("data_parallel", {})[str(bs)] = {
                    k: run[k] for k in ("processes", "threads_per_process", "clips_per_s", "clips_per_s_best",
                                        "ms_per_step", "peak_fraction")}
    out.update({k: v for k, v in main.items()})
    if compare_plain:
        out["plain"] = section("plain")
    return out
