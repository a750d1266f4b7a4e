"""Parameters and multiply-accumulates of the networks, next to the paper's Table 3.

MACs are counted by torch's FlopCounterMode over one forward pass of one 128x128 input
(FLOPs / 2). It counts matrix products and convolutions, which is what the paper's figures
count; norms and activations are not included.
"""
from __future__ import annotations

import torch
from torch.utils.flop_counter import FlopCounterMode

from .models import EmotionViT, ModelConfig, student_config, teacher_config

# Kim & Lee 2024, Table 3 (params in millions, GMACs), as printed.
PAPER_SIZES = {
    "teacher": {"params_m": 2.9, "gmacs": 1.1},
    "student": {"params_m": 1.5, "gmacs": 0.2},
}


def count(model: torch.nn.Module, image_size=(128, 128)) -> dict:
    params = sum(p.numel() for p in model.parameters())
    model.eval()
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(torch.zeros(1, 1, *image_size))
    return {"params": params, "params_m": params / 1e6, "gmacs": counter.get_total_flops() / 2e9}


def default_models(num_classes: int = 7) -> dict[str, ModelConfig]:
    """The configurations `emovit profile` reports."""
    return {
        "teacher": teacher_config(num_classes, depth=6),
        "teacher-depth12": teacher_config(num_classes, depth=12),
        "student": student_config(num_classes, depth=3),
        "teacher-16x16": teacher_config(num_classes, depth=6, patch_size=(16, 16)),
        "student-16x16": student_config(num_classes, depth=3, patch_size=(16, 16)),
    }


def profile_models(num_classes: int = 7) -> list[dict]:
    rows = []
    for name, config in default_models(num_classes).items():
        row = {"model": name, **count(EmotionViT(config), config.image_size)}
        paper = PAPER_SIZES.get(name)
        if paper:
            row["paper_params_m"], row["paper_gmacs"] = paper["params_m"], paper["gmacs"]
            row["params_ratio"] = row["params_m"] / paper["params_m"]
            row["gmacs_ratio"] = row["gmacs"] / paper["gmacs"]
        rows.append(row)
    return rows
