"""`ModelConfig`: everything needed to rebuild any of emovit's networks from a checkpoint.

One dataclass serves the paper's ViTs and the peer models of its Tables 2-3, so that a model
file (`emovit.reproduce.deployable`) stays one format: `arch` says which family builds it
("vit" = EmotionViT, teacher or student; "ast"; "septr") and
`emovit.models.build_from_config` dispatches on it. Files written before `arch` existed have
no such key and load as "vit", which is what they are.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

ARCHS = ("vit", "ast", "septr", "timnet")


@dataclass
class ModelConfig:
    """Shape of one network. Fields a family does not use keep their defaults."""

    num_classes: int = 7
    image_size: tuple[int, int] = (128, 128)
    patch_size: tuple[int, int] = (128, 1)
    dim: int = 256
    depth: int = 3
    heads: int = 5
    dim_head: int = 64
    mlp_dim: int = 256
    dropout: float = 0.0
    drop_path: float = 0.0  # stochastic depth of the ViT's last layer (models.vit.Transformer); 0: none
    stem: bool = False
    coordinates: bool = False
    position: str = "none"
    extra: dict = field(default_factory=dict)  # family-specific settings, e.g. AST's patch stride
    arch: str = "vit"

    def __post_init__(self):
        if self.arch not in ARCHS:
            raise ValueError(f"arch must be one of {ARCHS}, not {self.arch!r}")
        if not 0.0 <= self.drop_path < 1.0:
            raise ValueError(f"drop_path must be in [0, 1), not {self.drop_path}")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "ModelConfig":
        d = {k: v for k, v in d.items() if k != "kind"}  # files before 0.2 repeated `arch` as `kind`
        d["image_size"] = tuple(d["image_size"])
        d["patch_size"] = tuple(d["patch_size"])
        return cls(**d)
