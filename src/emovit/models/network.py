"""The contract every network of `emovit.models` keeps, which is all that training, evaluation,
inference, export and profiling rely on (the paper's ViTs and the peer models alike)."""
from __future__ import annotations

from typing import ClassVar, Protocol, runtime_checkable

import torch
from torch import nn

from .config import ModelConfig


@runtime_checkable
class Network(Protocol):
    config: ModelConfig  # saved with the weights; `build_from_config(config)` rebuilds the network
    inference_batch: ClassVar[int]  # clips per batch when evaluating (SepTr 1x1 needs fewer than 64)
    cls_only_last_layer: ClassVar[bool]  # pooled() skips work the output does not read; pooled(x, every_token=True)
    #                                      runs it in full (for counting the paper's MACs)

    @property
    def head(self) -> nn.Module:
        """The classifier on the pooled feature: logits = head(pooled(x))."""

    def pooled(self, x: torch.Tensor) -> torch.Tensor:
        """(batch, 1, H, W) images -> (batch, dim) pooled features: what the head sees and stages 2-3 match."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """head(pooled(x))."""
