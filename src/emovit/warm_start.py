"""Warm start: a run's networks begin from a model file trained elsewhere (pre-training on other corpora,
then fine-tuning on this one), instead of from a random draw.

A job is warm-started when its network has the file's shape (`ModelConfig` equal but for the number of
classes, dropout and stochastic depth, which hold no weights): every weight is copied except the classifier head's, which
starts fresh because the classes of the run need not be the file's. Jobs of another network (the
teacher, when the file is a student) train from scratch, and the run says so. The file's normaliser is
not used: the run standardises its images with its own training part, as without a warm start.
"""
from __future__ import annotations

import torch

from .models.config import ModelConfig

IGNORED = ("num_classes", "dropout", "drop_path")  # ModelConfig fields that do not change a network's weights


def matches(model: torch.nn.Module, pretrained: dict) -> bool:
    """Whether `model` is the file's network (up to its classes, dropout and stochastic depth)."""
    config = getattr(model, "config", None)
    if not isinstance(config, ModelConfig):
        return False
    theirs = ModelConfig.from_dict(pretrained["model_config"]).to_dict()
    mine = config.to_dict()
    return all(mine[k] == theirs[k] for k in mine if k not in IGNORED)


def warm_start(model: torch.nn.Module, pretrained: dict) -> list[str]:
    """Copy the file's weights into `model`, all but its head's; returns the names copied."""
    # the head's weights by identity: a head of experts reads modules registered elsewhere (ExpertHeads)
    mine = {id(t) for t in [*model.head.parameters(), *model.head.buffers()]}
    head = {name for name, t in model.state_dict(keep_vars=True).items() if id(t) in mine}
    weights = {k: v for k, v in pretrained["state_dict"].items() if k not in head}
    own = model.state_dict()
    wrong = [k for k, v in weights.items() if k not in own or own[k].shape != v.shape]
    if wrong:
        raise ValueError(f"the pre-trained weights do not fit this network: {', '.join(sorted(wrong)[:5])}")
    model.load_state_dict({**own, **weights})
    return sorted(weights)
