"""What this machine is: CPU model and instruction sets, cores, GPU. Precision choices (bf16 only
where AMX or CUDA runs it fast) and every recorded run and benchmark read the machine from here."""
from __future__ import annotations

import functools
import os
import platform
from pathlib import Path

# The instruction-set flags that decide how fast emovit's arithmetic runs (and which precision 'auto' picks).
FLAGS_OF_INTEREST = ("avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile")


@functools.lru_cache(maxsize=1)
def _cpuinfo() -> str:
    try:
        return Path("/proc/cpuinfo").read_text()
    except OSError:
        return ""


def cpu_model() -> str:
    """The CPU's name as the kernel reports it (e.g. 'AMD EPYC', 'Intel(R) Xeon(R) Platinum 8480+')."""
    for line in _cpuinfo().splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("model name", "Hardware", "cpu model") and value.strip():
            return value.strip()
    return platform.processor() or platform.machine() or "unknown"


def cpu_flags() -> list[str]:
    """Which of FLAGS_OF_INTEREST the CPU has."""
    for line in _cpuinfo().splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "flags":
            present = set(value.split())
            return [f for f in FLAGS_OF_INTEREST if f in present]
    return []


def has_amx() -> bool:
    """Whether the CPU multiplies bf16 matrices in AMX tiles (then bf16 autocast is fast on it)."""
    return "amx_bf16" in cpu_flags()


def usable_cores() -> int:
    """Cores this process may run on (its affinity mask), which can be fewer than the machine has."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def machine() -> dict:
    """The machine a result was measured on: recorded next to every run's results."""
    import torch

    info = {"platform": platform.platform(), "python": platform.python_version(), "torch": torch.__version__,
            "cpu": cpu_model(), "cpu_flags": cpu_flags(), "cpu_count": os.cpu_count(),
            "usable_cores": usable_cores(), "torch_threads": torch.get_num_threads()}
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    return info
