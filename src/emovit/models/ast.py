"""AST, the Audio Spectrogram Transformer (Gong, Chung & Glass, Interspeech 2021), as Kim & Lee
configured it for their Tables 2 and 3: 16x16 patches, token size 768, depth 12, 12 heads.

The structure is that of AST's `ast_models.py`, i.e. timm's distilled DeiT ViT-Base with
AST's changes:

- patch embedding Conv2d(1 -> 768, 16x16) with stride 16 (no overlap, what Kim & Lee state) or
  10 (AST's own 6-bin overlap, `stride=(10, 10)`), over the (mel, frame) image;
- a CLS and a distillation token and a learned positional embedding (truncated normal, std 0.02);
- 12 pre-norm blocks (LayerNorm eps 1e-6, qkv with bias, MLP ratio 4, GELU) and a final LayerNorm;
- pooled feature = mean of the CLS and distillation outputs; head = LayerNorm -> Linear.

Parameter names are timm's, so a DeiT/timm (or AST) state dict loads by name with
`load_deit_weights`, adapted the way AST adapts it (RGB patch filters summed to one channel, the
positional grid cut from the middle or interpolated). Nothing is downloaded, ever: without a
local checkpoint the model trains from scratch. Kim & Lee say ImageNet pretraining was applied
for their Table 2; a from-scratch AST is therefore a different (weaker) baseline unless a
checkpoint is given, and results must say which.

Sizes against the paper's Table 3: docs/peers.md.
"""
from __future__ import annotations

import math
from pathlib import Path

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn

from .config import ModelConfig
from .network import Network


class Mlp(nn.Module):
    def __init__(self, dim: int, hidden: int, dropout: float = 0.0):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, dim)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.drop(self.fc2(self.drop(self.act(self.fc1(x)))))


class Attention(nn.Module):
    """timm's ViT attention: one qkv projection with bias, laid out (3, heads, dim_head)."""

    def __init__(self, dim: int, heads: int, dim_head: int, dropout: float = 0.0):
        super().__init__()
        self.heads = heads
        self.dropout = dropout
        self.qkv = nn.Linear(dim, 3 * heads * dim_head)
        self.proj = nn.Linear(heads * dim_head, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        q, k, v = rearrange(self.qkv(x), "b n (three h d) -> three b h n d", three=3, h=self.heads)
        out = F.scaled_dot_product_attention(q, k, v, dropout_p=self.dropout if self.training else 0.0)
        return self.proj(rearrange(out, "b h n d -> b n (h d)"))


class Block(nn.Module):
    def __init__(self, dim: int, heads: int, dim_head: int, mlp_dim: int, dropout: float = 0.0):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = Attention(dim, heads, dim_head, dropout)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = Mlp(dim, mlp_dim, dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class PatchEmbed(nn.Module):
    """16x16 patches every `stride` bins/frames -> tokens, frequency-major as in AST."""

    def __init__(self, image_size, patch_size, stride, dim: int):
        super().__init__()
        self.proj = nn.Conv2d(1, dim, kernel_size=patch_size, stride=stride)
        self.grid = tuple((n - p) // s + 1 for n, p, s in zip(image_size, patch_size, stride))
        if min(self.grid) < 1:
            raise ValueError(f"image {image_size} is smaller than one {patch_size} patch")

    def forward(self, img: torch.Tensor) -> torch.Tensor:
        return rearrange(self.proj(img), "b d f t -> b (f t) d")


def ast_config(num_classes: int, stride=None, image_size=(128, 128), **overrides) -> ModelConfig:
    """Kim & Lee's AST: 16x16 patches (stride 16 unless given), 768-d, depth 12, 12 heads, MLP 3072."""
    settings = {"patch_size": (16, 16), "dim": 768, "depth": 12, "heads": 12, "dim_head": 64,
                "mlp_dim": 3072, "position": "learned", **overrides}
    extra = {"stride": tuple(stride)} if stride is not None else {}
    return ModelConfig(arch="ast", num_classes=num_classes, image_size=tuple(image_size),
                       extra=extra, **settings)


def _init_timm(module: nn.Module) -> None:
    """timm's ViT initialisation of the blocks: truncated-normal weights, zero biases."""
    if isinstance(module, nn.Linear):
        nn.init.trunc_normal_(module.weight, std=0.02)
        nn.init.zeros_(module.bias)
    elif isinstance(module, nn.LayerNorm):
        nn.init.ones_(module.weight)
        nn.init.zeros_(module.bias)


class AST(Network):
    """Audio Spectrogram Transformer over a (batch, 1, mel, frames) image."""

    arch = "ast"

    def __init__(self, config: ModelConfig):
        super().__init__(config)
        if config.position != "learned":
            raise ValueError("AST has a learned positional embedding (position='learned')")
        stride = tuple(config.extra.get("stride", config.patch_size))
        dim = config.dim
        self.patch_embed = PatchEmbed(config.image_size, config.patch_size, stride, dim)
        num_patches = self.patch_embed.grid[0] * self.patch_embed.grid[1]
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.dist_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, num_patches + 2, dim))
        self.pos_drop = nn.Dropout(config.dropout)
        self.blocks = nn.ModuleList(Block(dim, config.heads, config.dim_head, config.mlp_dim, config.dropout)
                                    for _ in range(config.depth))
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.mlp_head = nn.Sequential(nn.LayerNorm(dim), nn.Linear(dim, config.num_classes))
        for p in (self.cls_token, self.dist_token, self.pos_embed):
            nn.init.trunc_normal_(p, std=0.02)
        self.blocks.apply(_init_timm)

    @property
    def head(self) -> nn.Module:
        return self.mlp_head

    def pooled(self, img: torch.Tensor) -> torch.Tensor:
        """Mean of the CLS and distillation outputs after the final LayerNorm, as AST pools."""
        x = self.patch_embed(img)
        b = x.shape[0]
        tokens = torch.cat((self.cls_token.expand(b, -1, -1), self.dist_token.expand(b, -1, -1)), dim=1)
        x = self.pos_drop(torch.cat((tokens.to(x.dtype), x), dim=1) + self.pos_embed.to(x.dtype))
        for block in self.blocks:
            x = block(x)
        x = self.norm(x)
        return (x[:, 0] + x[:, 1]) / 2


def _resize_axis(grid: torch.Tensor, axis: int, size: int) -> torch.Tensor:
    """AST's rule for one axis of a (1, dim, f, t) positional grid: cut from the middle or interpolate."""
    have = grid.shape[axis]
    if size <= have:
        start = have // 2 - size // 2
        return grid.narrow(axis, start, size)
    target = list(grid.shape[2:])
    target[axis - 2] = size
    return F.interpolate(grid, size=tuple(target), mode="bilinear")


def load_deit_weights(model: AST, path: str | Path, grid: tuple[int, int] | None = None) -> dict:
    """Load a local timm/DeiT (or AST) state dict into `model`, adapting it as AST does.

    Accepts a bare state dict or one under "model"/"state_dict", with or without AST's
    "module."/"v." prefixes. ImageNet heads ("head", "head_dist") are dropped; 3-channel patch
    filters are summed to one channel; the positional grid (square unless `grid` says otherwise)
    is cut or interpolated to this model's; a checkpoint without a distillation token gives its
    CLS token (and position) to both. Returns what was adapted and which keys stayed untrained.
    """
    blob = torch.load(path, map_location="cpu", weights_only=True)
    if isinstance(blob, dict):
        blob = blob.get("model", blob.get("state_dict", blob))
    state: dict[str, torch.Tensor] = {}
    for key, value in blob.items():
        for prefix in ("module.", "v."):
            if key.startswith(prefix):
                key = key[len(prefix):]
        if not key.startswith(("head.", "head_dist.")):
            state[key] = value
    adapted = []
    if "patch_embed.proj.weight" in state and state["patch_embed.proj.weight"].shape[1] != 1:
        state["patch_embed.proj.weight"] = state["patch_embed.proj.weight"].sum(dim=1, keepdim=True)
        adapted.append("patch_embed.proj.weight: channels summed to 1")
    if "dist_token" not in state and "cls_token" in state:
        state["dist_token"] = state["cls_token"].clone()
        if "pos_embed" in state:
            pos = state["pos_embed"]
            state["pos_embed"] = torch.cat((pos[:, :1], pos[:, :1], pos[:, 1:]), dim=1)
        adapted.append("dist_token: copied from cls_token")
    if "pos_embed" in state and state["pos_embed"].shape != model.pos_embed.shape:
        pos = state["pos_embed"]
        patches = pos.shape[1] - 2
        if grid is None:
            side = math.isqrt(patches)
            if side * side != patches:
                raise ValueError(f"{path}: positional embedding of {patches} patches is not a square grid; "
                                 "pass grid=(frequency, time)")
            grid = (side, side)
        g = rearrange(pos[:, 2:], "1 (f t) d -> 1 d f t", f=grid[0], t=grid[1])
        f_dim, t_dim = model.patch_embed.grid
        g = _resize_axis(_resize_axis(g, 3, t_dim), 2, f_dim)
        state["pos_embed"] = torch.cat((pos[:, :2], rearrange(g, "1 d f t -> 1 (f t) d")), dim=1)
        adapted.append(f"pos_embed: {grid[0]}x{grid[1]} grid -> {f_dim}x{t_dim}")
    own = model.state_dict()
    if any(k.startswith("mlp_head.") and v.shape != own[k].shape for k, v in state.items() if k in own):
        state = {k: v for k, v in state.items() if not k.startswith("mlp_head.")}
    try:
        result = model.load_state_dict(state, strict=False)
    except RuntimeError as e:  # a tensor of another shape: another patch size, width or depth
        raise ValueError(f"{path}: does not fit this AST configuration ({str(e).splitlines()[-1].strip()})") from None
    missing = [k for k in result.missing_keys if not k.startswith("mlp_head.")]
    if missing or result.unexpected_keys:
        raise ValueError(f"{path}: not an AST/DeiT state dict for this configuration "
                         f"(missing {missing[:5]}, unexpected {result.unexpected_keys[:5]})")
    return {"path": str(path), "adapted": adapted, "untrained": list(result.missing_keys)}
