"""The Vision Transformer of the paper, kept in the shape of lucidrains' vit-pytorch `vit.py`.

Kim & Lee built their teacher and student from that file; keeping its modules (FeedForward,
Attention, Transformer, ViT) and parameter names makes our networks easy to compare with
theirs. Differences, all behaviour-preserving or opt-in: attention runs through
`scaled_dot_product_attention` (same maths, faster); linear layers are `fast.Linear`, an
nn.Linear (same parameters and state-dict keys) that runs through oneDNN on CPU fp32 tensors
(same maths, faster where MKL's sgemm is slow); and the positional embedding is a choice
(`none` by default, as in the paper; `learned` and `sinusoidal` for the Table 1 comparison; `conv`,
beyond the paper, a conditional positional encoding as in CPVT, Chu et al. 2023); and, beyond the
paper, `frame_level` gives each token its frame's level back (`LevelledPatchEmbedding`), and `drop_path`
skips residual branches in training (stochastic depth, `DropPath`).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from einops.layers.torch import Rearrange
from torch import nn

from . import fast

POSITIONS = ("none", "learned", "sinusoidal", "conv")
CONV_POSITION_KERNEL = 7  # frames: ~0.2 s of a 4 s clip read as 128 columns


class ConvPosition(nn.Module):
    """A depthwise 1-D convolution over the frame tokens, added to them (CPVT's positional encoding
    generator, along time only): each token learns its neighbours' content, i.e. local order and
    the direction of change, which a set of frames lacks, whatever the clip's offset in the frame
    (random crops place speech anywhere, so an absolute position says little). The CLS token is
    left as it is. 2k parameters, ~0.2M MACs."""

    def __init__(self, dim: int, kernel: int = CONV_POSITION_KERNEL):
        super().__init__()
        self.conv = nn.Conv1d(dim, dim, kernel, padding=kernel // 2, groups=dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        cls, frames = x[:, :1], x[:, 1:]
        return torch.cat((cls, frames + self.conv(frames.transpose(1, 2)).transpose(1, 2)), dim=1)


class LevelledPatchEmbedding(nn.Module):
    """vit-pytorch's patch embedding (LayerNorm over the patch, linear map, LayerNorm) with the patch's
    own mean and standard deviation, taken before its LayerNorm, fed to the linear map as two more inputs.

    With 128x1 patches the first LayerNorm scales every frame's 128 mel bins to zero mean and unit
    variance, so the tokens keep each frame's spectral shape but lose its loudness and its contrast:
    the energy contour, a first cue of arousal, and the difference between speech and silence reach
    the network only through what leaks past that norm. These two numbers give them back; 512 more
    parameters and 0.07M more MACs for the student."""

    def __init__(self, patch_dim: int, dim: int):
        super().__init__()
        self.patch_norm = nn.LayerNorm(patch_dim)
        self.proj = fast.Linear(patch_dim + 2, dim)
        self.norm = nn.LayerNorm(dim)

    def forward(self, patches: torch.Tensor) -> torch.Tensor:
        mean = patches.mean(dim=-1, keepdim=True)
        std = (patches - mean).pow(2).mean(dim=-1, keepdim=True).sqrt()
        return self.norm(self.proj(torch.cat((self.patch_norm(patches), mean, std), dim=-1)))


class DropPath(nn.Module):
    """Stochastic depth (Huang et al. 2016, as in DeiT): in training, a residual branch's output is
    zeroed for a random `rate` of the samples and scaled by 1/(1-rate) for the rest, so each sample
    trains a random shallower network; in evaluation it is the identity."""

    def __init__(self, rate: float):
        super().__init__()
        self.rate = rate

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.rate == 0.0:
            return x
        keep = torch.rand((x.shape[0],) + (1,) * (x.ndim - 1), device=x.device) >= self.rate
        return x * keep.to(x.dtype) / (1.0 - self.rate)

    def extra_repr(self) -> str:
        return f"rate={self.rate}"


class FeedForward(nn.Module):
    def __init__(self, dim: int, hidden_dim: int, dropout: float = 0.0):
        super().__init__()
        self.net = nn.Sequential(
            nn.LayerNorm(dim),
            fast.Linear(dim, hidden_dim),
            nn.GELU(),
            nn.Dropout(dropout),
            fast.Linear(hidden_dim, dim),
            nn.Dropout(dropout),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class Attention(nn.Module):
    """Pre-norm multi-head self-attention; inner width heads * dim_head (5 * 64 = 320)."""

    def __init__(self, dim: int, heads: int = 8, dim_head: int = 64, dropout: float = 0.0):
        super().__init__()
        inner_dim = dim_head * heads
        project_out = not (heads == 1 and dim_head == dim)
        self.heads, self.dim_head = heads, dim_head
        self.dropout = dropout
        self.norm = nn.LayerNorm(dim)
        self.to_qkv = fast.Linear(dim, inner_dim * 3, bias=False)
        self.to_out = (
            nn.Sequential(fast.Linear(inner_dim, dim), nn.Dropout(dropout)) if project_out else nn.Identity()
        )

    def _qkv(self, x: torch.Tensor, queries: int | None = None):
        """Queries of the first `queries` tokens (all with None), keys and values of every token."""
        b, n, _ = x.shape
        x = self.norm(x)
        if queries is None:
            qkv = self.to_qkv(x).view(b, n, 3, self.heads, self.dim_head).permute(2, 0, 3, 1, 4)
            return qkv[0], qkv[1], qkv[2]
        inner = self.heads * self.dim_head  # to_qkv's rows are [q; k; v]
        q = fast.linear(x[:, :queries], self.to_qkv.weight[:inner])
        kv = fast.linear(x, self.to_qkv.weight[inner:]).view(b, n, 2, self.heads, self.dim_head).permute(2, 0, 3, 1, 4)
        return q.view(b, queries, self.heads, self.dim_head).transpose(1, 2), kv[0], kv[1]

    def forward(self, x: torch.Tensor, queries: int | None = None) -> torch.Tensor:
        """Attention output for the first `queries` tokens (all with None)."""
        q, k, v = self._qkv(x, queries)
        p = self.dropout if self.training else 0.0
        out = F.scaled_dot_product_attention(q, k, v, dropout_p=p)
        return self.to_out(out.transpose(1, 2).flatten(2))

    def attention_map(self, x: torch.Tensor) -> torch.Tensor:
        """Softmax attention weights (batch, heads, tokens, tokens), for the attention figures."""
        q, k, _ = self._qkv(x)
        return (q @ k.transpose(-1, -2) * q.shape[-1] ** -0.5).softmax(dim=-1)


class Transformer(nn.Module):
    """`drop_path`: the last layer's stochastic-depth rate; layer i of n skips its branches at
    drop_path * i / (n - 1), from 0 for the first (DeiT's linear rule). No modules when 0, so a
    network without it keeps the reference's module and state-dict layout."""

    def __init__(self, dim: int, depth: int, heads: int, dim_head: int, mlp_dim: int, dropout: float = 0.0,
                 final_norm: bool = True, drop_path: float = 0.0):
        super().__init__()
        self.norm = nn.LayerNorm(dim) if final_norm else nn.Identity()
        self.layers = nn.ModuleList(
            nn.ModuleList([Attention(dim, heads, dim_head, dropout), FeedForward(dim, mlp_dim, dropout)])
            for _ in range(depth)
        )
        rates = [drop_path * i / max(depth - 1, 1) for i in range(depth)]
        self.drop_paths = nn.ModuleList(DropPath(r) for r in rates) if drop_path > 0 else None

    def forward(self, x: torch.Tensor, queries: int | None = None) -> torch.Tensor:
        """All tokens after the last layer, or with `queries` only the first `queries` of them.

        A pooled CLS reads one token of the last layer's output: computing only that token's query,
        attention, projection and MLP there (keys and values still come from every token) gives the
        same numbers to float rounding and saves most of the last layer, a quarter of the student."""
        last = len(self.layers) - 1
        for i, (attn, ff) in enumerate(self.layers):
            drop = self.drop_paths[i] if self.drop_paths is not None else nn.Identity()
            if i == last and queries is not None:
                x = drop(attn(x, queries)) + x[:, :queries]
            else:
                x = drop(attn(x)) + x
            x = drop(ff(x)) + x
        return self.norm(x)

    def last_attention(self, x: torch.Tensor) -> torch.Tensor:
        """Attention weights of the last layer for input tokens x."""
        for attn, ff in self.layers[:-1]:
            x = attn(x) + x
            x = ff(x) + x
        return self.layers[-1][0].attention_map(x)


def sinusoidal_table(tokens: int, dim: int) -> torch.Tensor:
    """The fixed sine/cosine table of Vaswani et al. (tokens x dim)."""
    position = torch.arange(tokens, dtype=torch.float32)[:, None]
    div = torch.exp(torch.arange(0, dim, 2, dtype=torch.float32) * (-math.log(10000.0) / dim))
    table = torch.zeros(tokens, dim)
    table[:, 0::2] = torch.sin(position * div)
    table[:, 1::2] = torch.cos(position * div)
    return table


class ViT(nn.Module):
    """ViT over a (channels, height, width) image cut into patch_height x patch_width patches.

    128x1 patches make one token per spectrogram frame holding all 128 mel bands; with
    position="none" the network sees a set of frames and nothing tells it their order.
    """

    def __init__(
        self,
        *,
        image_size: tuple[int, int] = (128, 128),
        patch_size: tuple[int, int] = (128, 1),
        num_classes: int,
        dim: int = 256,
        depth: int = 3,
        heads: int = 5,
        mlp_dim: int = 256,
        channels: int = 1,
        dim_head: int = 64,
        dropout: float = 0.0,
        emb_dropout: float = 0.0,
        position: str = "none",
        frame_level: bool = False,
        drop_path: float = 0.0,
    ):
        super().__init__()
        ih, iw = image_size
        ph, pw = patch_size
        if ih % ph or iw % pw:
            raise ValueError(f"image {ih}x{iw} is not divisible into {ph}x{pw} patches")
        if position not in POSITIONS:
            raise ValueError(f"position must be one of {POSITIONS}, not {position!r}")
        num_patches = (ih // ph) * (iw // pw)
        patch_dim = channels * ph * pw
        patches = Rearrange("b c (h p1) (w p2) -> b (h w) (p1 p2 c)", p1=ph, p2=pw)
        if frame_level:
            self.to_patch_embedding = nn.Sequential(patches, LevelledPatchEmbedding(patch_dim, dim))
        else:
            self.to_patch_embedding = nn.Sequential(
                patches, nn.LayerNorm(patch_dim), fast.Linear(patch_dim, dim), nn.LayerNorm(dim)
            )
        self.position = position
        if position == "learned":
            self.pos_embedding = nn.Parameter(torch.randn(1, num_patches + 1, dim))
        elif position == "sinusoidal":
            self.register_buffer("pos_embedding", sinusoidal_table(num_patches + 1, dim)[None], persistent=False)
        elif position == "conv":
            self.conv_position = ConvPosition(dim)
        self.cls_token = nn.Parameter(torch.randn(1, 1, dim))
        self.dropout = nn.Dropout(emb_dropout)
        self.transformer = Transformer(dim, depth, heads, dim_head, mlp_dim, dropout, drop_path=drop_path)
        self.mlp_head = fast.Linear(dim, num_classes)

    def tokens(self, img: torch.Tensor) -> torch.Tensor:
        x = self.to_patch_embedding(img)
        x = torch.cat((self.cls_token.expand(x.shape[0], -1, -1).to(x.dtype), x), dim=1)
        if self.position == "conv":
            x = self.conv_position(x)
        elif self.position != "none":
            x = x + self.pos_embedding[:, : x.shape[1]].to(x.dtype)
        return self.dropout(x)

    def pooled(self, img: torch.Tensor, every_token: bool = False) -> torch.Tensor:
        """The CLS vector after the final LayerNorm: what the head sees and stages 2-3 match.

        The last layer computes the CLS token only; `every_token` runs it over all tokens as the
        reference ViT does (same result to float rounding; for counting the paper's MACs)."""
        return self.transformer(self.tokens(img), queries=None if every_token else 1)[:, 0]

    def forward(self, img: torch.Tensor, every_token: bool = False) -> torch.Tensor:
        return self.mlp_head(self.pooled(img, every_token))

    def cls_attention(self, img: torch.Tensor) -> torch.Tensor:
        """Last-layer attention from CLS to every patch, averaged over heads: (batch, patches)."""
        return self.transformer.last_attention(self.tokens(img))[:, :, 0, 1:].mean(dim=1)
