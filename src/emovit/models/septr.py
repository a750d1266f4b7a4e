"""SepTr, the Separable Transformer (Ristea, Ionescu & Khan, "SepTr: Separable Transformer for
Audio Spectrogram Processing", Interspeech 2022), as Kim & Lee configured it for Tables 2-3:
1x1 patches, token size 256, 3 separable blocks (3 vertical + 3 horizontal transformers),
5 heads, mlp_dim 256, dim_head 256 — the defaults of the authors' `septr.py`.

Each separable block, as in the published `septr_block.py`:
  1. vertical transformer: one sequence per time step, attending along frequency
     (the running CLS token prepended to every column, a learned position per frequency row);
  2. the columns' CLS outputs are averaged into one CLS token, prepended to every frequency row;
  3. horizontal transformer: one sequence per frequency row, attending along time;
  4. the rows' CLS outputs are averaged: the CLS token handed to the next block.
The pooled feature is the final averaged CLS token; the head is one Linear on it. Each
transformer is one pre-norm attention + feed-forward layer with no final LayerNorm (SepTr's
copy of an older vit-pytorch); attention and feed-forward modules are emovit's `vit` ones, which
have exactly those parameters.

"16x16" is SepTr's `down_sample_input=(16, 16)`: every 16x16 cell is *averaged* to one value
(AvgPool2d), not embedded by a learned projection, and the blocks run on the 8x8 grid. (The
published block upsamples its output by nearest neighbour and the next block average-pools it
again, which is the identity, so we stay on the grid.) That reading reproduces the paper's
"SepTr 16x16" row: 0.62 GMACs against its 0.6G.

Sizes against the paper's Table 3: docs/peers.md.
"""
from __future__ import annotations

import torch
from einops import rearrange, reduce, repeat
from torch import nn

from .config import ModelConfig
from .network import Network
from .vit import Transformer


def Encoder(dim: int, depth: int, heads: int, dim_head: int, mlp_dim: int, dropout: float = 0.0) -> Transformer:
    """Pre-norm attention and feed-forward with residuals, and no final LayerNorm (as SepTr's)."""
    return Transformer(dim, depth, heads, dim_head, mlp_dim, dropout, final_norm=False)


class SepTrBlock(nn.Module):
    """A vertical (along frequency) then a horizontal (along time) transformer over a (f, t) grid."""

    def __init__(self, grid: tuple[int, int], dim: int, heads: int, dim_head: int, mlp_dim: int,
                 dropout: float = 0.0, position: str = "learned"):
        super().__init__()
        f, t = grid
        self.vertical = Encoder(dim, 1, heads, dim_head, mlp_dim, dropout)
        self.horizontal = Encoder(dim, 1, heads, dim_head, mlp_dim, dropout)
        self.position = position
        if position == "learned":
            self.pos_vertical = nn.Parameter(torch.randn(1, f + 1, dim))
            self.pos_horizontal = nn.Parameter(torch.randn(1, t + 1, dim))

    def _place(self, x: torch.Tensor, table: str) -> torch.Tensor:
        return x + getattr(self, table).to(x.dtype) if self.position == "learned" else x

    def forward(self, x: torch.Tensor, cls: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x: (b, f, t, dim) tokens; cls: (b, dim). Returns both, updated."""
        _, f, t, _ = x.shape
        v = rearrange(x, "b f t d -> (b t) f d")
        v = torch.cat((repeat(cls, "b d -> (b t) 1 d", t=t).to(v.dtype), v), dim=1)
        v = self.vertical(self._place(v, "pos_vertical"))
        cls = reduce(v[:, 0], "(b t) d -> b d", "mean", t=t)
        h = rearrange(v[:, 1:], "(b t) f d -> (b f) t d", t=t)
        h = torch.cat((repeat(cls, "b d -> (b f) 1 d", f=f), h), dim=1)
        h = self.horizontal(self._place(h, "pos_horizontal"))
        cls = reduce(h[:, 0], "(b f) d -> b d", "mean", f=f)
        return rearrange(h[:, 1:], "(b f) t d -> b f t d", f=f), cls


def septr_config(num_classes: int, patch_size=(1, 1), image_size=(128, 128), **overrides) -> ModelConfig:
    """Kim & Lee's SepTr: 1x1 (or 16x16 average-pooled) patches, 256-d, 3 blocks, 5 heads of 256."""
    settings = {"dim": 256, "depth": 3, "heads": 5, "dim_head": 256, "mlp_dim": 256, "position": "learned",
                **overrides}
    return ModelConfig(arch="septr", num_classes=num_classes, image_size=tuple(image_size),
                       patch_size=tuple(patch_size), **settings)


class SepTr(Network):
    """Separable transformer over a (batch, 1, mel, frames) image."""

    arch = "septr"

    def __init__(self, config: ModelConfig):
        super().__init__(config)
        if config.position not in ("learned", "none"):
            raise ValueError("SepTr's positions are 'learned' (as published) or 'none'")
        (ih, iw), (ph, pw) = config.image_size, config.patch_size
        if ih % ph or iw % pw:
            raise ValueError(f"image {ih}x{iw} is not divisible into {ph}x{pw} cells")
        grid = (ih // ph, iw // pw)
        # clips per inference batch (emovit.stages.infer): 64 for small grids, 4 for the 128x128 grid
        self.inference_batch = max(1, min(64, 64 * 1024 // (grid[0] * grid[1])))
        self.to_tokens = nn.Linear(1, config.dim)  # SepTr's `projection`: one value per cell -> dim
        self.cls_token = nn.Parameter(torch.randn(1, config.dim))
        self.blocks = nn.ModuleList(
            SepTrBlock(grid, config.dim, config.heads, config.dim_head, config.mlp_dim, config.dropout,
                       config.position)
            for _ in range(config.depth)
        )
        self.mlp_head = nn.Linear(config.dim, config.num_classes)

    @property
    def head(self) -> nn.Module:
        return self.mlp_head

    def pooled(self, img: torch.Tensor) -> torch.Tensor:
        """The CLS token averaged over the last horizontal transformer's rows."""
        ph, pw = self.config.patch_size
        x = self.to_tokens(reduce(img, "b c (f p1) (t p2) -> b f t c", "mean", p1=ph, p2=pw))
        cls = self.cls_token.expand(x.shape[0], -1)
        for block in self.blocks:
            x, cls = block(x, cls)
        return cls
