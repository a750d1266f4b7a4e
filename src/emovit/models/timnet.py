"""TIM-Net, the Temporal-aware bI-direction Multi-scale Network (Ye et al., "Temporal Modeling
Matters: A Novel Temporal Emotional Modeling Approach for Speech Emotion Recognition", ICASSP
2023), as published in Jiaxin-Ye/TIM-Net_SER: `Code/TIMNET.py` (the network) and
`Code/Model.py` (`WeightLayer` and the Dense head), Keras, read at commits e05d4cc and 2caee2b.

It reads 39 MFCCs per frame as a sequence of frames (`emovit.mfcc` computes them as the authors'
`extract_feature.py` does); the input is the same (batch, 1, coefficients, frames) "image" as the
log-Mel networks take, so caching works unchanged. Its input is NOT standardised: the public
`main.py` feeds the extracted MFCCs as they are (c0 around -370, the others within tens), and with
Adam and the gated residual chain the scale matters (at initialisation the logits' spread is ~100x
that of standardised input), so `emovit.runs` gives MFCC jobs the identity normaliser.

  1. The sequence and its time-reversed copy each go through their own 1x1 Conv1D
     (coefficients -> filters).
  2. For each dilation d = 1, 2, 4, ..., 2^(dilations-1), one Temporal-Aware Block per direction
     (separate weights): [causal dilated Conv1D (kernel 2) -> BatchNorm -> ReLU -> SpatialDropout1D]
     twice, then input * sigmoid(that). Each direction's blocks form a chain.
  3. After every level the two directions' outputs are added and averaged over time: one
     filters-wide vector per level.
  4. `WeightLayer`: a learned weight per level, the levels' weighted sum (no softmax) is the pooled
     feature; the head is one Linear on it (the softmax is in the loss).

Read from the code, where the paper's figure leaves room:
  * The backward branch's output is NOT reversed back before the addition (`add([skip_out_forward,
    skip_out_backward])`; the authors' `torch_TIMNET.py` does the same). It could not matter:
    the sum is averaged over time at once, and a mean does not see order, while each branch's own
    chain carries on unsummed.
  * "Causal" is Keras' padding='causal': left zero padding of dilation * (kernel - 1).
  * The block's 1x1 convolution of its input exists only when channel counts differ, which never
    happens here (the first 1x1 convolutions already give `filters` channels).
  * Initialisation is Keras': Glorot-uniform kernels and zero biases for Conv1D and Dense;
    BatchNormalization with momentum 0.99 (PyTorch 0.01) and epsilon 1e-3; and the WeightLayer's
    initializer='uniform', which Keras resolves to RandomUniform(-0.05, 0.05) (not Glorot).

Size (7 classes, 39 MFCCs, 39 filters, 8 levels): 104,496 parameters; Keras' summary shows
106,992, which also counts the BatchNorms' 2,496 moving statistics (buffers here).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from einops import rearrange, reduce
from torch import nn

from .config import ModelConfig
from .network import Network

TIMNET_DEFAULTS = {"filters": 39, "kernel_size": 2, "dilations": 8, "dropout": 0.1, "n_mfcc": 39}
FRAMES = 1 + 96000 // 512  # EmoDB's 96000-sample clip at hop 512, centred frames


def timnet_config(num_classes: int, image_size: tuple[int, int] | None = None, **overrides) -> ModelConfig:
    """The authors' defaults (main.py): 39 filters of size 2, 8 levels, dropout 0.1, on 39 MFCCs.

    Overrides named in TIMNET_DEFAULTS go to `extra`, the rest to ModelConfig's fields. `dim`
    mirrors `filters`, the pooled width, for code that reads it generically."""
    extra = {**TIMNET_DEFAULTS, **{k: overrides.pop(k) for k in list(overrides) if k in TIMNET_DEFAULTS}}
    size = tuple(image_size) if image_size is not None else (extra["n_mfcc"], FRAMES)
    settings = {"patch_size": (extra["n_mfcc"], 1), **overrides}  # one step = one frame's coefficients
    return ModelConfig(arch="timnet", num_classes=num_classes, image_size=size,
                       dim=extra["filters"], extra=extra, **settings)


class CausalConv1d(nn.Conv1d):
    """Keras' Conv1D(padding='causal'): output t sees inputs t, t-d, ..., never the future."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        left = self.dilation[0] * (self.kernel_size[0] - 1)
        return super().forward(F.pad(x, (left, 0)))


def keras_batch_norm(channels: int) -> nn.BatchNorm1d:
    """Keras BatchNormalization's defaults: moving averages kept at 0.99, epsilon 1e-3."""
    return nn.BatchNorm1d(channels, eps=1e-3, momentum=0.01)


class TemporalAwareBlock(nn.Module):
    """Two causal dilated convolutions gating the block's input: x * sigmoid(conv(conv(x)))."""

    def __init__(self, channels: int, filters: int, kernel_size: int, dilation: int, dropout: float):
        super().__init__()
        self.net = nn.Sequential(
            CausalConv1d(channels, filters, kernel_size, dilation=dilation),
            keras_batch_norm(filters),
            nn.ReLU(),
            nn.Dropout1d(dropout),  # SpatialDropout1D: whole channels, all time steps
            CausalConv1d(filters, filters, kernel_size, dilation=dilation),
            keras_batch_norm(filters),
            nn.ReLU(),
            nn.Dropout1d(dropout),
        )
        self.match = nn.Conv1d(channels, filters, 1) if channels != filters else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.match(x) * torch.sigmoid(self.net(x))


class TIMNet(Network):
    """TIM-Net over MFCC images (batch, 1, n_mfcc, frames), any number of frames; `n_mfcc` is the input rows,
    so the registry's `timnet-mel` reads the paper's 128-band log-Mel image with it."""

    arch = "timnet"

    def __init__(self, config: ModelConfig):
        super().__init__(config)
        s = {**TIMNET_DEFAULTS, **config.extra}
        if config.image_size[0] != s["n_mfcc"]:
            raise ValueError(f"image height {config.image_size[0]} is not n_mfcc={s['n_mfcc']}")
        n_mfcc, filters, k, p = s["n_mfcc"], s["filters"], s["kernel_size"], s["dropout"]
        self.dilations = [2 ** i for i in range(s["dilations"])]
        self.forward_conv = CausalConv1d(n_mfcc, filters, 1)
        self.backward_conv = CausalConv1d(n_mfcc, filters, 1)
        self.forward_blocks = nn.ModuleList(TemporalAwareBlock(filters, filters, k, d, p) for d in self.dilations)
        self.backward_blocks = nn.ModuleList(TemporalAwareBlock(filters, filters, k, d, p) for d in self.dilations)
        self.level_weights = nn.Parameter(torch.empty(len(self.dilations), 1))  # WeightLayer's kernel
        self.classifier = nn.Linear(filters, config.num_classes)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Keras' initialisers (see the module docstring)."""
        for m in self.modules():
            if isinstance(m, (nn.Conv1d, nn.Linear)):
                nn.init.xavier_uniform_(m.weight)
                nn.init.zeros_(m.bias)
        nn.init.uniform_(self.level_weights, -0.05, 0.05)

    @property
    def head(self) -> nn.Module:
        """The classifier on the pooled feature: logits = head(pooled(x))."""
        return self.classifier

    def levels(self, x: torch.Tensor) -> torch.Tensor:
        """(batch, levels, filters): each level's forward + backward output, averaged over time."""
        x = rearrange(x, "b 1 c t -> b c t")
        fwd, bwd = self.forward_conv(x), self.backward_conv(x.flip(-1))
        kept = []
        for forward_block, backward_block in zip(self.forward_blocks, self.backward_blocks):
            fwd, bwd = forward_block(fwd), backward_block(bwd)
            kept.append(reduce(fwd + bwd, "b f t -> b f", "mean"))  # bwd stays reversed, as published
        return torch.stack(kept, dim=1)

    def pooled(self, x: torch.Tensor) -> torch.Tensor:
        """The levels' weighted sum (batch, filters): what the head sees."""
        return (rearrange(self.levels(x), "b l f -> b f l") @ self.level_weights.to(x.dtype)).squeeze(-1)
