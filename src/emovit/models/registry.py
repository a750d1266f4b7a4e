"""Every network emovit can train, by name: the paper's teacher and student, the teacher's
Table 1 variants, and the peer models of Tables 2-3.

All of them keep the contract of `emovit.models.network.Network` (pooled, head, config, ...).
`build(name, n)` makes a fresh one; `build_from_config(config)` rebuilds a saved one; `FRONT_ENDS`
names the input each reads when it is not the paper's log-Mel image (TIM-Net: MFCCs; `timnet-mel` is
TIM-Net's network on the image).
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

from torch import nn

from .ast import AST, ast_config, load_deit_weights
from .config import ModelConfig
from .emovit import (DUO_FILTERS, EmotionViT, student_config, student_duo_config, student_level_config,
                     student_stem_config, student_tim_config, teacher_config)
from .septr import SepTr, septr_config
from .timnet import TIMNet, timnet_config

SQUARE = (16, 16)
IMAGE = (128, 128)  # the paper's log-Mel image: mel bands x frames

# name -> (what it is, config factory taking num_classes)
MODELS: dict[str, tuple[str, Callable[[int], ModelConfig]]] = {
    "teacher": ("Teacher: conv stem + image coordinate encoding + ViT, depth 6 (teacher_ice, Table 1)",
                lambda n: teacher_config(n)),
    "teacher-nope": ("Teacher without positional encoding: conv stem + ViT (teacher_nope, Table 1)",
                     lambda n: teacher_config(n, coordinates=False)),
    "teacher-learned": ("Teacher with a learned positional embedding instead of coordinates",
                        lambda n: teacher_config(n, coordinates=False, position="learned")),
    "teacher-sinusoidal": ("Teacher with a sinusoidal positional embedding instead of coordinates",
                           lambda n: teacher_config(n, coordinates=False, position="sinusoidal")),
    "teacher-16x16": ("Teacher on 16x16 square patches", lambda n: teacher_config(n, patch_size=SQUARE)),
    "teacher-depth12": ("Teacher, depth 12", lambda n: teacher_config(n, depth=12)),
    "student": ("Student: plain ViT, 128x1 vertical patches, depth 3", lambda n: student_config(n)),
    "student-16x16": ("Student on 16x16 square patches", lambda n: student_config(n, patch_size=SQUARE)),
    "student-learned": ("Student with a learned positional embedding (beyond the paper; +33k parameters)",
                        lambda n: student_config(n, position="learned")),
    "student-conv": ("Student with a convolutional positional encoding: a depthwise conv over 7 frames' tokens, "
                     "added to them (beyond the paper; +2k parameters)",
                     lambda n: student_config(n, position="conv")),
    "student-stem": ("Student behind a tiny conv stem: three 3x3 layers of 8, 8, 1 channels (beyond the paper)",
                     lambda n: student_stem_config(n)),
    "student-level": ("Student whose tokens keep their frame's level: each frame's mean and std, which the patch "
                      "LayerNorm removes, as two more inputs (beyond the paper; +512 parameters)",
                      lambda n: student_level_config(n)),
    "student-tim": ("Student beside a narrow TIM-Net branch (30 filters) on the same image, its multi-scale temporal "
                    "feature added to the CLS (beyond the paper; +76k parameters)",
                    lambda n: student_tim_config(n)),
    "student-duo": ("Student and a narrow TIM-Net (33 filters) on the same image as two experts, each with its own "
                    "classifier and loss, their log-probabilities averaged (beyond the paper; +82k parameters)",
                    lambda n: student_duo_config(n)),
    "ast": ("AST (Gong et al. 2021): ViT-Base, 16x16 patches, no overlap, from scratch unless a checkpoint is given",
            lambda n: ast_config(n)),
    "ast-overlap": ("AST with its own overlapping 16x16 patches (stride 10)", lambda n: ast_config(n, stride=(10, 10))),
    "septr": ("SepTr (Ristea et al. 2022): 1x1 patches, 3 separable blocks", lambda n: septr_config(n)),
    "septr-16x16": ("SepTr on 16x16 cells (average-pooled, as SepTr's down_sample_input)",
                    lambda n: septr_config(n, patch_size=SQUARE)),
    "timnet": ("TIM-Net (Ye et al. 2023): bidirectional dilated causal TCN, 8 levels, on 39 raw (unstandardised) MFCCs",
               lambda n: timnet_config(n)),
    "timnet-mel": ("TIM-Net's network on the paper's log-Mel image: its 128 bands are the inputs of the first 1x1 "
                   "convolutions, where TIM-Net has 39 MFCCs (beyond TIM-Net: is the student's gap to it the input "
                   "or the network?)",
                   lambda n: timnet_config(n, n_mfcc=IMAGE[0], image_size=IMAGE)),
    "timnet-mel-duo": ("TIM-Net's network on the log-Mel image, 33 filters (student-duo's TIM-Net expert): trained "
                       "alone, to be joined to a plain student as one student-duo file by `emovit join`",
                       lambda n: timnet_config(n, n_mfcc=IMAGE[0], image_size=IMAGE, filters=DUO_FILTERS)),
}
FRONT_ENDS = {"timnet": "mfcc"}  # the others read the log-Mel image

ARCHITECTURES: dict[str, Callable[[ModelConfig], nn.Module]] = {"vit": EmotionViT, "ast": AST, "septr": SepTr,
                                                                "timnet": TIMNet}


def model_config(name: str, num_classes: int, **overrides) -> ModelConfig:
    """The configuration `name` stands for; `overrides` replace fields (e.g. image_size for tests)."""
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; choose from {', '.join(MODELS)}")
    config = MODELS[name][1](num_classes)
    return ModelConfig.from_dict({**config.to_dict(), **overrides}) if overrides else config


def build_from_config(config: ModelConfig) -> nn.Module:
    """The network a saved ModelConfig describes (files without `arch` are 'vit')."""
    return ARCHITECTURES[config.arch](config)


def build(name: str, num_classes: int, checkpoint: str | Path | None = None, **overrides) -> nn.Module:
    """A fresh network by registry name. `checkpoint`: a local timm/DeiT state dict (AST only)."""
    model = build_from_config(model_config(name, num_classes, **overrides))
    if checkpoint is not None:
        if not isinstance(model, AST):
            raise ValueError(f"a pretrained checkpoint is only supported for AST, not {name!r}")
        load_deit_weights(model, checkpoint)
    return model
