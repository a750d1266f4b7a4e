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
  anything else            cross-entropy only (stage 'teacher' for the teacher family, 'plain'
                           otherwise; the two differ in name only)
Seeds follow reproduce: student-shaped networks start from seed+1, the others from seed, so
compare's teacher, student and plain equal reproduce's on the same split and recipe.

RUN/ has reproduce's layout: config.json, manifest.csv, split.csv, leakage.json, one folder per
stage (named after the model; the student's matching stage is match/), models/NAME.pt,
confusion-NAME.png, results.json, results.md. Re-running the same command resumes.
"""
from __future__ import annotations

import json
import time
from dataclasses import asdict
from functools import partial
from pathlib import Path

import torch

from .checkpoint import save_json, save_text
from .corpora.manifest import Utterance, write_manifest
from .models import MODELS, build
from .protocols import make_split
from .reproduce import (MODEL_TITLES, Job, Recipe, evaluate_jobs, machine, prepare_split, results_markdown,
                        split_results, train_jobs)
from .precision import resolve_precision

TRANSFER = {"student": "teacher", "student-16x16": "teacher-16x16"}  # student -> the teacher it learns from
CHOICES = (*MODELS, "plain")
_UNUSED = ("teacher_depth", "student_depth", "patch_size", "stages", "baseline")  # set by the model names


class CompareError(ValueError):
    """Settings compare cannot run with; the message says what to change."""


def compare_jobs(names: list[str], num_classes: int, checkpoint: str | Path | None = None) -> list[Job]:
    """Jobs for the requested names, each teacher a student needs placed (once) before it."""
    unknown = [n for n in names if n not in CHOICES]
    if unknown:
        raise CompareError(f"unknown model(s) {unknown}; choose from {', '.join(CHOICES)}")
    order: list[str] = []
    for name in names:
        for needed in (TRANSFER.get(name), name):
            if needed is not None and needed not in order:
                order.append(needed)
    jobs = []
    for name in order:
        built = "student" if name == "plain" else name
        ckpt = checkpoint if built.startswith("ast") else None
        make = partial(build, built, num_classes, checkpoint=ckpt)
        student_shaped = built.startswith("student")
        title = MODEL_TITLES.get(name, name)
        if name in TRANSFER:
            match = "match" if name == "student" else f"{name}-match"
            jobs.append(Job(name, title, make, (("match", match), ("student", name)), seed_offset=1,
                            teacher=TRANSFER[name], reference=TRANSFER[name]))
        else:
            stage = "teacher" if name.startswith("teacher") else "plain"
            reference = "teacher" if name == "plain" and "teacher" in order else None
            jobs.append(Job(name, title, make, ((stage, name),), seed_offset=int(student_shaped),
                            reference=reference))
    return jobs


def compare(utterances: list[Utterance], protocol: str, names: list[str], run_dir: str | Path, recipe: Recipe,
            cache_dir: str | Path | None, device: torch.device, progress: bool = True,
            checkpoint: str | Path | None = None, time_runs: int = 10, threads: int = 1) -> dict:
    """Train and test `names` on one split of `utterances`; write RUN/results.{json,md}.

    Raises CompareError for LOSO (one split only), unknown names, or a run directory that holds a
    run with other settings (re-running the same settings resumes it).
    """
    if protocol == "loso":
        raise CompareError("compare runs one split; choose paper, paper-leaky or speaker (loso has many folds)")
    run_dir = Path(run_dir)
    cache_dir = Path(cache_dir) if cache_dir else None
    labels = sorted({u.label for u in utterances})
    jobs = compare_jobs(names, len(labels), checkpoint)
    settings = {"protocol": protocol, "models": list(names),
                "recipe": {k: v for k, v in asdict(recipe).items() if k not in _UNUSED},
                "ast_checkpoint": str(checkpoint) if checkpoint else None}
    settings = json.loads(json.dumps(settings))  # tuples as lists, as they read back
    previous = run_dir / "config.json"
    if previous.exists():
        old = json.loads(previous.read_text())
        if {k: old.get(k) for k in settings} != settings:
            raise CompareError(f"{run_dir} holds a run with other settings ({previous}); resume it with the same "
                             "options or choose a new --out")
    config = {**settings, "labels": labels, "machine": machine(), "n_utterances": len(utterances),
              "corpora": sorted({u.corpus for u in utterances}),
              "descriptions": {job.name: MODELS[job.name][0] for job in jobs if job.name in MODELS}}
    write_manifest(utterances, run_dir / "manifest.csv")
    save_json(config, run_dir / "config.json")

    started = time.perf_counter()
    precision = resolve_precision(recipe.precision, device)
    split = make_split(utterances, protocol, seed=recipe.seed, views=recipe.views)
    prepared = prepare_split(split, labels, run_dir, recipe, cache_dir, progress)
    trained, summaries = train_jobs(jobs, prepared, labels, run_dir, recipe, device, precision, progress)
    results = split_results(split, prepared, labels, recipe, precision)
    results["models"] = evaluate_jobs(jobs, trained, summaries, prepared, split, labels, run_dir, recipe, device,
                                      precision, time_runs=time_runs, threads=threads)
    results["timing"] = {"features_seconds": prepared.feature_seconds,
                         **{f"{s}_seconds": summaries[s]["wall_seconds"] for s in summaries},
                         "total_seconds": time.perf_counter() - started}
    results["config"] = config
    save_json(results, run_dir / "results.json")
    save_text(compare_markdown(results), run_dir / "results.md")
    return results


def compare_markdown(results: dict) -> str:
    """reproduce's table, then what each row is and how its time was measured."""
    lines = [results_markdown(results).rstrip("\n"), ""]
    descriptions = results.get("config", {}).get("descriptions", {})
    for name, m in results["models"].items():
        what = descriptions.get(name, m.get("title", name))
        stages = " + ".join(f"{s} ({e} epochs)" for s, e in m.get("epochs", {}).items())
        lines.append(f"- **{m.get('title', name)}**: {what}; trained by {stages}")
    first = next(iter(results["models"].values()), {})
    if "ms_per_clip" in first:
        lines += ["", f"CPU ms/clip: one 4 s clip (batch 1) after warm-up, median of {first['runs']} runs, "
                  f"{first['threads']} thread(s), on {results.get('config', {}).get('machine', {}).get('cpu', '?')}. "
                  "GMACs: layers with weights, one forward pass (see `emovit profile`)."]
    return "\n".join(lines) + "\n"
