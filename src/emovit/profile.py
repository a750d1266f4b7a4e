"""Parameters, multiply-accumulates and CPU time per clip of every registered network, next to
the paper's Table 3.

MACs are counted by torch's FlopCounterMode over one forward pass of one 128x128 input
(FLOPs / 2), run on the meta device: no arithmetic is done, so counting SepTr's 175 GMACs is
instant, and the count is the same on every machine (on a CPU, FlopCounterMode does not see the
fused attention kernel and would silently drop attention). Three figures:

  gmacs      products with weights (convolutions, linear layers): what module-hook counters such
             as thop or ptflops report, and what the paper's Table 3 matches (SepTr 1x1: 142.8
             here, 143.2 printed; with attention it would be 175.6)
  gmacs_all  every matrix product, attention's q.kT and a.v included
  gmacs_run  every matrix product of the forward pass as emovit runs it

The first two count the network as the paper does, every token through every layer; emovit's ViTs
run the last layer for the CLS token alone (the only token the pooled feature reads; same output),
so their ``gmacs_run`` is smaller. Norms, activations and softmax are counted in none. Where
sequences are short (student, teacher) gmacs and gmacs_all differ little; for SepTr's 16,512-token
1x1 grid, by a fifth.

Time is wall-clock per clip on the CPU: batch 1, after warm-up, median of N runs, with
torch.set_num_threads(threads) — a deployment figure for this machine, stated with the thread
count, not a property of the network.
"""
from __future__ import annotations

import statistics
import time
from itertools import chain

import torch
from torch.func import functional_call
from torch.utils.flop_counter import FlopCounterMode

from .models import MODELS, build, model_config

# Kim & Lee 2024, Table 3 (params in millions, GMACs), as printed, under our registry names.
PAPER_SIZES = {
    "teacher": {"params_m": 2.9, "gmacs": 1.1},
    "student": {"params_m": 1.5, "gmacs": 0.2},
    "ast": {"params_m": 21.4, "gmacs": 74.9},
    "septr": {"params_m": 8.7, "gmacs": 143.2},
    "septr-16x16": {"params_m": 8.7, "gmacs": 0.6},
}

# Where the paper's figure and the stated configuration part ways (see the models' docstrings).
NOTES = {
    "ast": "paper 21.4M is not ViT-Base (dim 768, 12 heads) as stated; a DeiT-Small shape (dim 384, 6 heads) "
           "gives {ast_small_m:.1f}M. No configuration we tried gives 74.9 GMACs.",
    "septr": "paper prints 8.7M for both SepTr rows: the 16x16 count; 1x1 has longer positional tables. "
             "Its 143.2 GMACs counts layers with weights only, as `gmacs` does.",
}

# On the meta device attention runs as torch's math path: its two products are batched matmuls.
_ATTENTION_OPS = {torch.ops.aten.bmm, torch.ops.aten.baddbmm}


def _flops(model: torch.nn.Module, image_size, **kwargs) -> dict:
    """FLOPs per op of one forward pass of one (1, 1, H, W) input, counted on the meta device."""
    tensors = chain(model.named_parameters(), model.named_buffers())
    meta = {name: torch.empty_like(t, device="meta") for name, t in tensors}
    training = model.training
    model.eval()
    try:
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            functional_call(model, meta, (torch.zeros(1, 1, *image_size, device="meta"),), kwargs)
    finally:
        model.train(training)
    return counter.get_flop_counts().get("Global", {})


def count(model: torch.nn.Module, image_size=None) -> dict:
    """Parameters and GMACs of one forward pass of one (1, 1, H, W) input (H, W from the config)."""
    image_size = image_size or model.config.image_size
    params = sum(p.numel() for p in model.parameters())
    run = _flops(model, image_size)
    # Models that skip work the output does not read (ViT's last layer) are also counted in full.
    full = _flops(model, image_size, every_token=True) if model.cls_only_last_layer else run
    total = sum(full.values())
    attention = sum(v for op, v in full.items() if op in _ATTENTION_OPS)
    return {"params": params, "params_m": params / 1e6, "gmacs": (total - attention) / 2e9,
            "gmacs_all": total / 2e9, "gmacs_run": sum(run.values()) / 2e9}


def time_per_clip(model: torch.nn.Module, image_size=(128, 128), runs: int = 10, warmup: int = 2,
                  threads: int = 1) -> dict:
    """Median wall-clock milliseconds of one batch-1 forward pass on the CPU, after warm-up."""
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    x = torch.randn(1, 1, *image_size)
    times = []
    try:
        model.eval()
        with torch.inference_mode():
            for _ in range(warmup):
                model(x)
            for _ in range(runs):
                started = time.perf_counter()
                model(x)
                times.append(time.perf_counter() - started)
    finally:
        torch.set_num_threads(previous)
    return {"ms_per_clip": 1000 * statistics.median(times), "runs": runs, "threads": threads}


def _ast_small_params(num_classes: int) -> float:
    with torch.device("meta"):
        small = build("ast", num_classes, dim=384, heads=6, mlp_dim=1536)
    return sum(p.numel() for p in small.parameters()) / 1e6


def profile_models(num_classes: int = 7, names=None, timing: bool = False, runs: int = 10, threads: int = 1,
                   on_model=None) -> list[dict]:
    """One row per registered model (or per name in `names`), with the paper's figures where it has
    them and, if a student row is present, each figure as a multiple of the student's."""
    rows = []
    for name in names or MODELS:
        config = model_config(name, num_classes)
        if on_model is not None:
            on_model(name)
        if timing:
            model = build(name, num_classes)
        else:
            with torch.device("meta"):  # counting needs shapes only: no memory, no initialisation time
                model = build(name, num_classes)
        row = {"model": name, "description": MODELS[name][0], **count(model, config.image_size)}
        if timing:
            row.update(time_per_clip(model, config.image_size, runs=runs, threads=threads))
        paper = PAPER_SIZES.get(name)
        if paper:
            row["paper_params_m"], row["paper_gmacs"] = paper["params_m"], paper["gmacs"]
            row["params_ratio"] = row["params_m"] / paper["params_m"]
            row["gmacs_ratio"] = row["gmacs"] / paper["gmacs"]
        if name in NOTES:
            row["note"] = NOTES[name].format(ast_small_m=_ast_small_params(num_classes))
        rows.append(row)
        del model
    student = next((r for r in rows if r["model"] == "student"), None)
    if student:
        for row in rows:
            row["params_vs_student"] = row["params"] / student["params"]
            row["gmacs_vs_student"] = row["gmacs"] / student["gmacs"]
            if timing:
                row["time_vs_student"] = row["ms_per_clip"] / student["ms_per_clip"]
    return rows
