"""Which arithmetic a forward pass runs in: fp32 (the reference) or bf16 autocast, which is fast
only where the hardware has it (CUDA, or a CPU with AMX); elsewhere bf16 is emulated and slower.
Training (`emovit.stages`) and inference (`emovit.recognizer`) both decide here."""
from __future__ import annotations

import contextlib

import torch

from . import hardware

PRECISIONS = ("auto", "fp32", "bf16")


def resolve_precision(precision: str, device: torch.device) -> str:
    """'auto' picks bf16 only where the hardware runs it fast (CUDA, or a CPU with AMX)."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, not {precision!r}")
    if precision != "auto":
        return precision
    if device.type == "cuda":
        return "bf16"
    return "bf16" if hardware.has_amx() else "fp32"


def autocast(device: torch.device, precision: str):
    """bf16 autocast when asked; fp32 otherwise (the reference path)."""
    if precision == "bf16":
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()
