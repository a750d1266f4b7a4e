"""The contract every network of `emovit.models` keeps, which is all that training, evaluation,
inference, export and profiling rely on (the paper's ViTs and the peer models alike)."""
from __future__ import annotations

from abc import ABCMeta, abstractmethod
from typing import ClassVar

import torch
from torch import nn

from .config import ModelConfig


class Network(nn.Module, metaclass=ABCMeta):
    """A network built from a ModelConfig (saved with its weights; `build_from_config` rebuilds it).

    A subclass names its `arch`, provides `pooled(x)` ((batch, 1, H, W) images -> (batch, dim) pooled
    features: what the head sees and stages 2-3 match) and `head` (logits = head(pooled(x)))."""

    arch: ClassVar[str]
    inference_batch: int = 64  # clips per batch when evaluating (SepTr 1x1 asks for fewer)
    cls_only_last_layer: ClassVar[bool] = False  # pooled() skips work its output does not read;
    #                                              pooled(x, every_token=True) runs it in full (to count the paper's MACs)

    def __init__(self, config: ModelConfig):
        super().__init__()
        if config.arch != self.arch:
            raise ValueError(f"{type(self).__name__} builds arch {self.arch!r}, not {config.arch!r}: "
                             "use emovit.models.build_from_config")
        self.config = config

    @property
    @abstractmethod
    def head(self) -> nn.Module:
        """The classifier on the pooled feature."""

    @abstractmethod
    def pooled(self, x: torch.Tensor) -> torch.Tensor:
        """(batch, 1, H, W) images -> (batch, dim) pooled features."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.pooled(x))
