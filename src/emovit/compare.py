"""`emovit compare`: the paper's comparisons measured side by side — any set of registered
networks (`emovit.models.MODELS`) trained and tested on ONE split, with the same images, the same
normaliser, the same optimiser and schedule, and the same stage loop as `emovit reproduce`.

Tables 1-3 of Kim & Lee put numbers from different sources in one table (their teacher and
student, AST and SepTr "trained under the same conditions", sizes from an unnamed counter).
Here every row of results.md comes from one run: WA, UA, macro-F1, parameters, GMACs, training
time and CPU milliseconds per clip.

How each name is trained:
  student, student-16x16   knowledge transfer, as reproduce: the matching teacher (teacher,
                           teacher-16x16) is trained first (and reported), then stages 2 and 3
  plain                    the student network with cross-entropy only (reproduce's 'plain')
  plain-timnet             the same student (same initial weights) distilling TIM-Net's logits, with the
                           recipe's per_model.plain-timnet kd_weight and kd_temperature (beyond the paper:
                           a peer of another family as teacher); TIM-Net is trained first (and reported)
  opensmile                openSMILE ComParE functionals + linear SVM (reproduce's baseline)
  anything else            cross-entropy only (stage 'teacher' for the teacher family, 'plain'
                           otherwise; the two differ in name only)
Seeds follow reproduce: student-shaped networks start from seed+1, the others from seed, so
compare's teacher, student and plain equal reproduce's on the same split and recipe.

RUN/ has reproduce's layout (`emovit.runs`), one folder per stage named after the model (the
student's matching stage is match/); fold protocols write RUN/folds/. Re-running the same command
resumes. TIM-Net reads its own MFCC front end; the recipe's `per_model.timnet` settings give it its
published recipe (recipes/timnet.toml).
"""
from __future__ import annotations

from dataclasses import replace
from functools import partial
from pathlib import Path

import torch

from .config import Recipe
from .corpora.manifest import Utterance
from .models import FRONT_ENDS, MODELS, build
from .reproduce import MODEL_TITLES
from .runs import Job, run_protocol

TRANSFER = {"student": "teacher", "student-16x16": "teacher-16x16"}  # student -> the teacher it learns from
DISTIL = {"plain-timnet": "timnet"}  # a CE-only student -> the peer whose logits it distils
BASELINE = "opensmile"  # openSMILE ComParE functionals + linear SVM on the same splits
CHOICES = (*MODELS, "plain", *DISTIL, BASELINE)
DISTIL_TITLES = {"plain-timnet": "Student distilling TIM-Net's logits (CE + KD, no paper teacher)"}
# settings of a recipe that the model names replace in compare
UNUSED = ("teacher_depth", "student_depth", "student_network", "patch_size", "models", "baseline")


class CompareError(ValueError):
    """Settings compare cannot run with; the message says what to change."""


def compare_jobs(names: list[str], num_classes: int, checkpoint: str | Path | None = None) -> list[Job]:
    """Jobs for the requested names, each teacher a student needs placed (once) before it."""
    unknown = [n for n in names if n not in CHOICES]
    if unknown:
        raise CompareError(f"unknown model(s) {unknown}; choose from {', '.join(CHOICES)}")
    order: list[str] = []
    for name in names:
        for needed in (TRANSFER.get(name), DISTIL.get(name), name):
            if needed is not None and needed not in order:
                order.append(needed)
    jobs = []
    for name in (n for n in order if n != BASELINE):
        built = "student" if name == "plain" or name in DISTIL else name
        ckpt = checkpoint if built.startswith("ast") else None
        make = partial(build, built, num_classes, checkpoint=ckpt)
        student_shaped = built.startswith("student")
        title = MODEL_TITLES.get(name, DISTIL_TITLES.get(name, name))
        frontend = FRONT_ENDS.get(built, "logmel")
        if name in TRANSFER:
            match = "match" if name == "student" else f"{name}-match"
            jobs.append(Job(name, title, make, (("match", match), ("student", name)), seed_offset=1,
                            teacher=TRANSFER[name], reference=TRANSFER[name]))
        else:
            stage = "teacher" if name.startswith("teacher") else "plain"
            reference = "teacher" if name == "plain" and "teacher" in order else None
            jobs.append(Job(name, title, make, ((stage, name),), seed_offset=int(student_shaped),
                            reference=reference, frontend=frontend, distils=DISTIL.get(name)))
    return jobs


def compare(utterances: list[Utterance], protocol: str, names: list[str], run_dir: str | Path, recipe: Recipe,
            cache_dir: str | Path | None, device: torch.device, progress: bool = True,
            checkpoint: str | Path | None = None, time_runs: int = 10, threads: int = 1, folds: int = 10,
            left_out: dict[str, int] | None = None, val_speakers: int | None = None) -> dict:
    """Train and test `names` on the splits of `protocol`; write RUN/results.{json,md}.
    `left_out` (label -> utterances outside --labels) is recorded in config.json, as reproduce does.

    Raises CompareError for unknown names; config.ResumeError for a run directory that holds a run with
    other settings (re-running the same settings resumes it).
    """
    labels = sorted({u.label for u in utterances})
    jobs = compare_jobs(names, len(labels), checkpoint)  # checked before anything is written
    for name in (n for n in names if n in DISTIL):
        settings = recipe.stage_for(name)
        if not settings.kd_weight:
            raise CompareError(f"{name} distils {DISTIL[name]}'s logits with the recipe's per_model.{name}.kd_weight, "
                               "which is 0 here: set it in a recipe file (e.g. benchmarks/peers/recipes/"
                               "paper-e20-timnet-kd.toml)")
        if settings.mixup_prob:
            raise CompareError(f"{name} distils each clip's logits, which a mixed image has none of: "
                               f"set per_model.{name}.mixup_prob = 0")
    recipe_settings = {k: v for k, v in recipe.to_dict().items() if k not in UNUSED}
    settings = {"command": "compare", "protocol": protocol, "models": list(names), "recipe": recipe_settings,
                "ast_checkpoint": str(checkpoint) if checkpoint else None,
                "descriptions": {job.name: MODELS[job.name][0] for job in jobs if job.name in MODELS}}
    baseline = (recipe.baseline or "ComParE_2016") if BASELINE in names else None
    return run_protocol(utterances, protocol, lambda n: compare_jobs(names, n, checkpoint), run_dir,
                        replace(recipe, baseline=baseline), cache_dir, device,
                        settings=settings, progress=progress, folds=folds, time_runs=time_runs, threads=threads,
                        left_out=left_out, val_speakers=val_speakers)
