"""Two models trained apart, joined into one `student-duo` model file.

A `student-duo` network trained as one learns its TIM-Net expert under the student's recipe, where it does
not learn what TIM-Net learns under its own (BENCHMARKS.md, EmoDB kfold). Joining keeps each expert's own
training: the paper's student with the students' recipe and TIM-Net's network on the same log-Mel image
(`timnet-mel-duo`, the duo's width) with TIM-Net's published recipe, each selected as its run selected it,
then put side by side as the duo's two experts (the answer the mean of their log-probabilities,
`models.emovit.ExpertHeads`). Nothing is trained or chosen here, so a joined fold's model is chosen
without its test part exactly as its two parts were.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from .audio import decode
from .checkpoint import save_torch
from .inference import Recognizer
from .inference.modelfile import ModelFileError, read_model_file
from .models.config import ModelConfig
from .models.registry import build_from_config
from .models.timnet import TIMNET_DEFAULTS

EXPERTS = ("student's expert", "TIM-Net's expert", "together")
PLAIN_STUDENT = {"arch": "vit", "stem": False, "coordinates": False, "position": "none"}


def _check_student(path: Path, config: ModelConfig) -> None:
    wrong = {k: getattr(config, k) for k, v in PLAIN_STUDENT.items() if getattr(config, k) != v}
    if wrong or config.extra:
        raise ModelFileError(f"{path}: not the paper's student network (it has {wrong or config.extra}); "
                             "the first model must be a plain student (e.g. RUN/models/plain.pt)")


def _check_temporal(path: Path, config: ModelConfig, image_size: tuple[int, int]) -> None:
    if config.arch != "timnet":
        raise ModelFileError(f"{path}: a {config.arch!r} network, not TIM-Net's; the second model must be "
                             "TIM-Net on the log-Mel image (e.g. RUN/models/timnet-mel-duo.pt)")
    if tuple(config.image_size) != tuple(image_size):
        raise ModelFileError(f"{path}: TIM-Net reads {tuple(config.image_size)} inputs, the student "
                             f"{tuple(image_size)}: join it with a TIM-Net on the same log-Mel image (timnet-mel*, "
                             "not the MFCC timnet)")
    settings = {**TIMNET_DEFAULTS, **config.extra}
    other = {k: settings[k] for k in ("kernel_size", "dilations", "dropout") if settings[k] != TIMNET_DEFAULTS[k]}
    if other:
        raise ModelFileError(f"{path}: TIM-Net with non-default {other}; a duo's expert has TIM-Net's defaults")


def join_models(student_path: str | Path, temporal_path: str | Path) -> dict:
    """The `student-duo` model file made of a plain student's and a log-Mel TIM-Net's model files, which must
    share labels, normaliser and front end (two models of one run's fold do)."""
    student_path, temporal_path = Path(student_path), Path(temporal_path)
    student, temporal = read_model_file(student_path), read_model_file(temporal_path)
    s_config, t_config = ModelConfig.from_dict(student["model_config"]), ModelConfig.from_dict(temporal["model_config"])
    _check_student(student_path, s_config)
    _check_temporal(temporal_path, t_config, s_config.image_size)
    for key in ("labels", "normalizer", "frontend"):
        if student[key] != temporal[key]:
            raise ModelFileError(f"{student_path} and {temporal_path}: their {key} differ; join two models "
                                 "trained on the same training part (one run's fold)")
    filters = int(t_config.extra["filters"])
    duo_config = ModelConfig.from_dict({**s_config.to_dict(),
                                        "extra": {"temporal_filters": filters, "temporal_expert": True}})
    duo = build_from_config(duo_config)
    state = {**student["state_dict"], **{f"temporal.{k}": v for k, v in temporal["state_dict"].items()}}
    duo.load_state_dict(state, strict=True)
    meta = {**student.get("meta", {}), "joined": {"student": str(student_path), "temporal": str(temporal_path)}}
    return {**student, "model_config": duo.config.to_dict(), "state_dict": duo.state_dict(), "meta": meta}


def join(student_path: str | Path, temporal_path: str | Path, out: str | Path) -> Path:
    """Write the joined model file to `out` (atomically) and return its path."""
    blob = join_models(student_path, temporal_path)
    save_torch(blob, out)
    return Path(out)


def expert_answers(recognizer: Recognizer, paths: list[str], batch: int = 32) -> dict[str, np.ndarray]:
    """Each expert's answers (label indices) on these clips and the pair's, read as `emovit compare` tests a
    model (each clip cut or padded to the model's clip), so the student's expert answers as the student alone did
    before the join (the numbers of its run's results.json)."""
    clips = [recognizer.clip(decode(p, recognizer.sample_rate).wave) for p in paths]
    pooled = torch.from_numpy(np.concatenate([recognizer.embeddings(clips[i:i + batch])
                                              for i in range(0, len(clips), batch)]))
    head = recognizer.model.head
    with torch.no_grad():
        logits = (*head.experts(pooled), head(pooled))
    return {name: z.argmax(1).numpy() for name, z in zip(EXPERTS, logits)}
