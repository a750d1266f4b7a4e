"""`emovit reproduce`: the paper's models on a corpus under one protocol: the teacher (stage 1),
the student by knowledge transfer (stages 2 and 3), and the same student trained with
cross-entropy only, so that only knowledge transfer differs; the openSMILE baseline on the same
split. The run itself (splits, images, training, results) is `emovit.runs`."""
from __future__ import annotations

from pathlib import Path

import torch

from .config import Recipe
from .corpora.manifest import Utterance
from .models import EmotionViT, build, teacher_config
from .runs import Job, run_protocol

MODEL_TITLES = {
    "teacher": "Teacher (conv stem + ICE + ViT)",
    "student": "Student with knowledge transfer (stages 2+3)",
    "plain": "Student without knowledge transfer (CE only)",
}


def paper_jobs(num_classes: int, recipe: Recipe) -> list[Job]:
    """The recipe's models: teacher, then student (stages 2+3) and the CE-only student, which
    start from the same weights (same seed) so that only knowledge transfer differs; a recipe may
    train the CE-only student alone."""
    def teacher():
        return EmotionViT(teacher_config(num_classes, recipe.teacher_depth, recipe.patch_size, dropout=recipe.dropout,
                                         drop_path=recipe.drop_path))

    def student():
        return build(recipe.student_network, num_classes, depth=recipe.student_depth, patch_size=recipe.patch_size,
                     dropout=recipe.dropout, drop_path=recipe.drop_path)

    def title(model: str) -> str:  # a student that is not the paper's network says which it is
        variant = recipe.student_network != "student" and model != "teacher"
        return f"{MODEL_TITLES[model]}, network {recipe.student_network}" if variant else MODEL_TITLES[model]

    jobs = []
    if "teacher" in recipe.models:
        jobs.append(Job("teacher", MODEL_TITLES["teacher"], teacher, (("teacher", "teacher"),)))
    if "student" in recipe.models:
        jobs.append(Job("student", title("student"), student, (("match", "match"), ("student", "student")),
                        seed_offset=1, teacher="teacher", reference="teacher"))
    if "plain" in recipe.models:
        jobs.append(Job("plain", title("plain"), student, (("plain", "plain"),), seed_offset=1,
                        reference="teacher" if "teacher" in recipe.models else None))
    return jobs


def reproduce(utterances: list[Utterance], protocol: str, run_dir: str | Path, recipe: Recipe,
              cache_dir: str | Path | None, device: torch.device, progress: bool = True,
              left_out: dict[str, int] | None = None, folds: int = 10, val_speakers: int | None = None) -> dict:
    """Run the recipe under a protocol (fold protocols run every fold and pool them); resumes a stopped
    run with the same settings and refuses one with others (config.ResumeError)."""
    settings = {"command": "reproduce", "protocol": protocol, "recipe": recipe.to_dict(),
                "corpora": sorted({u.corpus for u in utterances}), "labels": sorted({u.label for u in utterances})}
    return run_protocol(utterances, protocol, lambda n: paper_jobs(n, recipe), run_dir, recipe, cache_dir, device,
                        settings=settings, progress=progress, folds=folds, left_out=left_out,
                        val_speakers=val_speakers)
