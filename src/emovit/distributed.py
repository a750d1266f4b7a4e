"""Several processes, one run: PyTorch DistributedDataParallel under `torchrun`.

Two ways to use them:
- `batch` (default): every stage runs data-parallel. Each global mini-batch (the recipe's
  batch size, drawn exactly as a single process draws it) is cut across ranks; gradients are
  averaged by DDP with the per-rank loss weighted so that the update equals the single-process
  one. Metrics are summed across ranks; only rank 0 writes checkpoints and results.
- `folds`: LOSO folds are spread over the processes, each fold trained by one process.
gloo on CPU, nccl on GPUs; without torchrun everything runs as one process.
"""
from __future__ import annotations

import os
from datetime import timedelta

import torch
import torch.distributed as dist

_mode = "batch"
# In `folds` mode the processes meet only once, after their last fold; one may finish hours
# before another (folds differ in size), so that wait must not hit torch's 30-minute default.
FOLDS_TIMEOUT = timedelta(days=7)


def init_from_env(device: torch.device, mode: str = "batch") -> bool:
    """Join the process group torchrun describes in the environment; False when run alone."""
    global _mode
    if mode not in ("batch", "folds"):
        raise ValueError(f"distribute mode must be 'batch' or 'folds', not {mode!r}")
    _mode = mode
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1 or dist.is_initialized():
        return dist.is_initialized()
    if device.type == "cuda":
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    timeout = FOLDS_TIMEOUT if mode == "folds" else None
    dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo", timeout=timeout)
    return True


def rank() -> int:
    return dist.get_rank() if dist.is_initialized() else 0


def world_size() -> int:
    return dist.get_world_size() if dist.is_initialized() else 1


def is_main() -> bool:
    return rank() == 0


def data_parallel() -> bool:
    """Whether stages should run under DDP (several processes, `batch` mode)."""
    return world_size() > 1 and _mode == "batch"


def spread_folds() -> bool:
    return world_size() > 1 and _mode == "folds"


def writes() -> bool:
    """Whether this process writes the files of what it trains: all but the data-parallel replicas
    of rank 0 (each fold's process writes its own fold)."""
    return not data_parallel() or rank() == 0


def barrier() -> None:
    """Wait for every process of the group."""
    if dist.is_initialized():
        dist.barrier()


def sync_replicas() -> None:
    """Wait for the data-parallel replicas (nothing to wait for otherwise)."""
    if data_parallel():
        dist.barrier()


def sum_across(values: list[float], device: torch.device) -> list[float]:
    """Sum a few numbers over the data-parallel replicas (identity otherwise)."""
    if not data_parallel():
        return values
    t = torch.tensor(values, dtype=torch.float64, device=device)
    dist.all_reduce(t)
    return t.tolist()
