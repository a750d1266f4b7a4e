"""`emovit reproduce`: corpus -> split -> teacher -> student (with and without knowledge
transfer) -> openSMILE baseline, all on one split, written to a run directory.

RUN/
  config.json        recipe, protocol, seeds, machine
  manifest.csv       the indexed corpus; split.csv which file went where; leakage.json
  teacher/ match/ student/ plain/    per-stage checkpoint.pt (resume), best.pt, final.pt, history.json, curves.png
  models/*.pt        self-contained models (weights, config, labels, normaliser, front end)
  confusion-*.png, results.json, results.md
LOSO writes one such directory per fold under RUN/folds/ and pools them in RUN/results.*.
"""
from __future__ import annotations

import json
import os
import platform
import time
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import torch

from . import distributed
from .checkpoint import save_json, save_torch, save_text
from .corpora.manifest import Utterance, write_manifest
from .features import FeatureCache, FrontEndConfig, LogMelFrontEnd, Normalizer
from .metrics import classification_report, cosine_similarity, per_group_reports, plot_confusion, plot_curves, summarize_folds
from .models import EmotionViT, student_config, teacher_config
from .profile import count, time_per_clip
from .protocols import Split, leakage_audit, loso_folds, make_split, write_split
from .precision import resolve_precision
from .stages import StageConfig, StageData, infer, run_stage, seed_everything, teacher_features
from .views import build_images

MODELS = ("teacher", "student", "plain")
MODEL_TITLES = {
    "teacher": "Teacher (conv stem + ICE + ViT)",
    "student": "Student with knowledge transfer (stages 2+3)",
    "plain": "Student without knowledge transfer (CE only)",
}


@dataclass
class Recipe:
    """The `paper` recipe's defaults are the paper's settings (design.md)."""

    epochs: int = 50  # per stage
    batch_size: int = 4
    lr: float = 1e-4
    lr_halve_every: int = 10
    alpha: float = 10.0
    teacher_depth: int = 6
    student_depth: int = 3
    patch_size: tuple[int, int] = (128, 1)
    views: int = 4  # original + noise + shift + speed copies
    select: str = "best"
    seed: int = 0
    precision: str = "auto"
    baseline: str | None = "ComParE_2016"
    checkpoint_every: int = 200
    stages: tuple[str, ...] = MODELS

    def stage_config(self) -> StageConfig:
        return StageConfig(epochs=self.epochs, batch_size=self.batch_size, lr=self.lr,
                           lr_halve_every=self.lr_halve_every, alpha=self.alpha, select=self.select,
                           seed=self.seed, checkpoint_every=self.checkpoint_every)


def machine() -> dict:
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    info = {"platform": platform.platform(), "python": platform.python_version(), "torch": torch.__version__,
            "cpu": cpu, "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads()}
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    return info


def _train_items(split: Split) -> list[list[tuple[str, int]]]:
    """Training samples as groups of views; a step draws one view of a group."""
    groups: dict[str, list[tuple[str, int]]] = {}
    for u, v in split.train_views:
        key = u.path if split.protocol != "paper-leaky" else f"{u.path}#{v}"
        groups.setdefault(key, []).append((u.path, v))
    return list(groups.values())


def _stack_groups(groups, image_of) -> torch.Tensor:
    return torch.stack([torch.stack([image_of[it] for it in g]) for g in groups])


def deployable(model: torch.nn.Module, labels, normalizer: Normalizer, frontend: FrontEndConfig, meta: dict) -> dict:
    """What a Recognizer needs to run a model with no run directory around it."""
    return {"format": "emovit-model/1", "model_config": model.config.to_dict(), "state_dict": model.state_dict(),
            "labels": list(labels), "normalizer": asdict(normalizer), "frontend": frontend.to_dict(), "meta": meta}


@dataclass
class SplitData:
    """A split as normalised images: what every model of a run trains on and is tested on."""

    data: StageData
    test_images: torch.Tensor
    test_labels: torch.Tensor
    test_corpora: list[str]
    normalizer: Normalizer
    frontend: FrontEndConfig
    audit: dict
    failures: dict
    feature_seconds: float


@dataclass
class Job:
    """One model of a run: how to build it, which stages train it and where each stage writes.

    `stages` holds (stage name of `emovit.stages`, folder under the run directory). A job with a
    `teacher` is trained on that job's pooled features (stages 'match' and 'student'); a job with
    a `reference` reports the cosine similarity of its test features to that job's.
    """

    name: str
    title: str
    build: Callable[[], torch.nn.Module]
    stages: tuple[tuple[str, str], ...]
    seed_offset: int = 0
    teacher: str | None = None
    reference: str | None = None


def paper_jobs(num_classes: int, recipe: Recipe) -> list[Job]:
    """The recipe's models: teacher, then student (stages 2+3) and the CE-only student, which
    start from the same weights (same seed) so that only knowledge transfer differs."""
    def teacher():
        return EmotionViT(teacher_config(num_classes, recipe.teacher_depth, recipe.patch_size))

    def student():
        return EmotionViT(student_config(num_classes, recipe.student_depth, recipe.patch_size))

    jobs = [Job("teacher", MODEL_TITLES["teacher"], teacher, (("teacher", "teacher"),))]
    if "student" in recipe.stages:
        jobs.append(Job("student", MODEL_TITLES["student"], student, (("match", "match"), ("student", "student")),
                        seed_offset=1, teacher="teacher", reference="teacher"))
    if "plain" in recipe.stages:
        jobs.append(Job("plain", MODEL_TITLES["plain"], student, (("plain", "plain"),), seed_offset=1,
                        reference="teacher"))
    return jobs


def prepare_split(split: Split, labels: list[str], run_dir: Path, recipe: Recipe, cache_dir: Path | None,
                  progress: bool = True) -> SplitData:
    """Write the split and its leakage audit, build every image once and normalise them with the
    training part's statistics."""
    run_dir.mkdir(parents=True, exist_ok=True)
    label_index = {name: i for i, name in enumerate(labels)}
    audit = leakage_audit(split)
    if distributed.writes():
        write_split(split, run_dir / "split.csv")
        save_json(audit, run_dir / "leakage.json")

    frontend_config = FrontEndConfig()
    frontend = LogMelFrontEnd(frontend_config)
    cache = FeatureCache(cache_dir, frontend_config) if cache_dir else None
    groups = _train_items(split)
    val_items = [(u.path, v) for u, v in split.val_views]
    test_items = [(u.path, v) for u, v in split.test_views]
    wanted = sorted({it for g in groups for it in g} | set(val_items) | set(test_items))
    t0 = time.perf_counter()
    built = build_images(wanted, frontend, cache, seed=recipe.seed, progress=progress)
    feature_seconds = time.perf_counter() - t0
    image_of = dict(zip(built.items, built.images))
    failed = set(built.failures)
    groups = [g for g in groups if g[0][0] not in failed]
    val_items = [it for it in val_items if it[0] not in failed]
    test_items = [it for it in test_items if it[0] not in failed]
    label_of = {u.path: label_index[u.label] for u in split.train + split.val + split.test}
    corpus_of = {u.path: u.corpus for u in split.test}

    train_raw = _stack_groups(groups, image_of)
    normalizer = Normalizer.fit(train_raw)
    data = StageData(
        train_images=normalizer(train_raw),
        train_labels=torch.tensor([label_of[g[0][0]] for g in groups]),
        val_images=normalizer(torch.stack([image_of[it] for it in val_items])) if val_items
        else torch.empty(0, 1, *frontend_config.image_size),
        val_labels=torch.tensor([label_of[p] for p, _ in val_items], dtype=torch.long),
    )
    return SplitData(data=data, test_images=normalizer(torch.stack([image_of[it] for it in test_items])),
                     test_labels=torch.tensor([label_of[p] for p, _ in test_items]),
                     test_corpora=[corpus_of[p] for p, _ in test_items], normalizer=normalizer,
                     frontend=frontend_config, audit=audit, failures=dict(built.failures),
                     feature_seconds=feature_seconds)


def train_jobs(jobs: list[Job], prepared: SplitData, labels: list[str], run_dir: Path, recipe: Recipe,
               device: torch.device, precision: str, progress: bool = True) -> tuple[dict, dict]:
    """Train the jobs in order (a teacher before the jobs that follow it); finished stages are
    loaded, not retrained. Returns the trained models by job name and stage summaries by folder."""
    data, stage_config = prepared.data, recipe.stage_config()
    trained: dict[str, torch.nn.Module] = {}
    summaries: dict[str, dict] = {}
    targets_of = None
    for job in jobs:
        if job.teacher is not None and job.teacher != targets_of:
            teacher = trained[job.teacher].to(device)
            data.train_targets = teacher_features(teacher, data.train_images, device, precision)
            data.val_targets = teacher_features(teacher, data.val_images, device, precision)
            targets_of = job.teacher
        seed_everything(recipe.seed + job.seed_offset)
        model = job.build()
        for stage, folder in job.stages:
            summaries[folder] = run_stage(stage, model, data, stage_config, run_dir / folder, labels, device,
                                          precision, progress)
        trained[job.name] = model
    return trained, summaries


def evaluate_jobs(jobs: list[Job], trained: dict, summaries: dict, prepared: SplitData, split: Split,
                  labels: list[str], run_dir: Path, recipe: Recipe, device: torch.device, precision: str,
                  time_runs: int = 0, threads: int = 1) -> dict:
    """Test every trained job once on the test part: scores, confusion PNG, size, training time
    (and, with time_runs, CPU milliseconds per clip); training curves of every stage; each model
    saved as RUN/models/NAME.pt."""
    for folder, summary in summaries.items():
        plot_curves(summary["history"], run_dir / folder / "curves.png", f"{folder} — {split.protocol}")
    test_images, test_labels = prepared.test_images, prepared.test_labels
    references = {job.reference for job in jobs if job.reference in trained}
    reference_features = {name: infer(trained[name], test_images, device, precision)[1] for name in references}
    meta = {"protocol": split.protocol, "seed": recipe.seed, "corpus": sorted({u.corpus for u in split.train})}
    entries = {}
    for job in jobs:
        model = trained[job.name]
        logits, pooled = infer(model, test_images, device, precision)
        predicted = logits.argmax(1).numpy()
        report = classification_report(test_labels.numpy(), predicted, labels)
        by_corpus = per_group_reports(test_labels.numpy(), predicted, prepared.test_corpora, labels)
        if by_corpus:
            report["per_corpus"] = by_corpus
        plot_confusion(report["confusion"], labels, run_dir / f"confusion-{job.name}.png",
                       f"{job.title}\n{split.protocol} protocol, test n={len(test_labels)}")
        entry = {"title": job.title, **count(model), **report,
                 "epochs": {stage: summaries[folder]["epochs"] for stage, folder in job.stages},
                 "selected_epoch": {stage: summaries[folder]["selected_epoch"] for stage, folder in job.stages},
                 "train_seconds": sum(summaries[folder]["wall_seconds"] for _, folder in job.stages)}
        if time_runs:
            entry.update(time_per_clip(model.cpu(), prepared.frontend.image_size, runs=time_runs, threads=threads))
            model.to(device)
        if job.reference in reference_features:
            entry["cosine_to_teacher"] = cosine_similarity(pooled.numpy(), reference_features[job.reference].numpy())
        entries[job.name] = entry
        save_torch(deployable(model, labels, prepared.normalizer, prepared.frontend, meta),
                   run_dir / "models" / f"{job.name}.pt")
    return entries


def run_split(split: Split, labels: list[str], run_dir: Path, recipe: Recipe, cache_dir: Path | None,
              device: torch.device, progress: bool = True) -> dict:
    """Train and evaluate every model of the recipe on one split; returns the results dict."""
    started = time.perf_counter()
    precision = resolve_precision(recipe.precision, device)
    prepared = prepare_split(split, labels, run_dir, recipe, cache_dir, progress)
    jobs = paper_jobs(len(labels), recipe)
    trained, summaries = train_jobs(jobs, prepared, labels, run_dir, recipe, device, precision, progress)
    if not distributed.writes():
        return {}  # a data-parallel replica: rank 0 evaluates and writes
    results = split_results(split, prepared, labels, recipe, precision)
    results["models"] = evaluate_jobs(jobs, trained, summaries, prepared, split, labels, run_dir, recipe, device,
                                      precision)
    if recipe.baseline:
        from .baseline import run_baseline  # optional dependency: opensmile

        results["models"]["opensmile"] = run_baseline(split, labels, recipe.baseline,
                                                       cache_dir=cache_dir / "opensmile" if cache_dir else None,
                                                       seed=recipe.seed)
    results["timing"] = {"features_seconds": prepared.feature_seconds,
                         **{f"{s}_seconds": summaries[s]["wall_seconds"] for s in summaries},
                         "total_seconds": time.perf_counter() - started}
    save_json(results, run_dir / "results.json")
    save_text(results_markdown(results), run_dir / "results.md")
    return results


def split_results(split: Split, prepared: SplitData, labels: list[str], recipe: Recipe, precision: str) -> dict:
    """The part of results.json that describes the split rather than a model."""
    return {"models": {}, "protocol": split.protocol, "fold": split.fold, "seed": recipe.seed,
            "split": split.summary(), "leakage": prepared.audit, "labels": labels, "precision": precision,
            "failures": prepared.failures}


def results_markdown(results: dict) -> str:
    """The paper's Table 2 layout: one row per model, with the protocol stated."""
    split = results["split"]
    where = (f"{len(results['folds'])} folds, one per held-out speaker group (each fold's split and results "
             "under folds/)" if "folds" in results else split_line(split))
    lines = [f"# Results — protocol `{results['protocol']}`" + (f", fold {results['fold']}" if results.get("fold") else ""),
             "", f"Split: {where}", f"Leakage audit: {results['leakage'].get('verdict', '')}", "",
             "| Model | Params (M) | GMACs | WA | UA | macro-F1 | epochs | train time (s) |",
             "|---|---|---|---|---|---|---|---|"]
    timed = any("ms_per_clip" in m for m in results["models"].values())
    if timed:
        lines[-2:] = [lines[-2] + " CPU ms/clip |", lines[-1] + "---|"]
    for name, m in results["models"].items():
        params = f"{m['params_m']:.2f}" if "params_m" in m else "—"
        gmacs = f"{m['gmacs']:.2f}" if "gmacs" in m else "—"
        epochs = "+".join(str(v) for v in m.get("epochs", {}).values()) or "—"
        secs = m.get("train_seconds", m.get("wall_seconds"))
        scores = " | ".join(_score_cell(m[k]) for k in ("wa", "ua", "macro_f1"))
        row = f"| {m.get('title', m.get('model', name))} | {params} | {gmacs} | {scores} | {epochs} | {secs:.0f} |"
        if timed:
            row += f" {m['ms_per_clip']:.1f} |" if "ms_per_clip" in m else " — |"
        lines.append(row)
    pooled = {k: m["pooled"] for k, m in results["models"].items() if "pooled" in m}
    if pooled:
        lines += ["", "Scores are mean ± std over folds. Pooled over all folds (one confusion matrix): "
                  + ", ".join(f"{k} WA {p['wa']:.3f} / UA {p['ua']:.3f}" for k, p in pooled.items())]
    per_corpus = {k: m["per_corpus"] for k, m in results["models"].items() if "per_corpus" in m}
    if per_corpus:
        corpora = sorted({c for v in per_corpus.values() for c in v})
        lines += ["", "Per corpus of the test part (UA / WA):", "",
                  "| Model | " + " | ".join(corpora) + " |", "|---|" + "---|" * len(corpora)]
        lines += [f"| {results['models'][k].get('title', results['models'][k].get('model', k))} | "
                  + " | ".join(f"{v[c]['ua']:.3f} / {v[c]['wa']:.3f} (n={v[c]['n']})" if c in v else "—"
                               for c in corpora) + " |" for k, v in per_corpus.items()]
    cos = {k: m["cosine_to_teacher"]["mean"] for k, m in results["models"].items() if "cosine_to_teacher" in m}
    if cos:
        lines += ["", "Cosine similarity of pooled test features to the teacher's: "
                  + ", ".join(f"{k} {v:.3f}" for k, v in cos.items())]
    if "timing" in results:
        lines += ["", "Time (s): " + ", ".join(f"{k.replace('_seconds', '')} {v:.0f}" for k, v in results["timing"].items())]
    return "\n".join(lines) + "\n"


def _score_cell(value) -> str:
    return f"{value['mean']:.3f} ± {value['std']:.3f}" if isinstance(value, dict) else f"{value:.3f}"


def split_line(summary: dict) -> str:
    sizes = summary.get("sizes", {})
    speakers = summary.get("speakers", {})
    return "; ".join(f"{part} {sizes.get(part, '?')} clips / {len(speakers.get(part, []))} speakers"
                     for part in ("train", "val", "test"))


def reproduce(utterances: list[Utterance], protocol: str, run_dir: str | Path, recipe: Recipe,
              cache_dir: str | Path | None, device: torch.device, progress: bool = True,
              left_out: dict[str, int] | None = None) -> dict:
    """Run the recipe under a protocol; LOSO runs every fold and pools them. `left_out` (label ->
    count of utterances not trained on) is recorded in config.json so the run says what it skipped."""
    run_dir = Path(run_dir)
    cache_dir = Path(cache_dir) if cache_dir else None
    labels = sorted({u.label for u in utterances})
    config = {"protocol": protocol, "recipe": asdict(recipe), "labels": labels, "machine": machine(),
              "n_utterances": len(utterances), "corpora": sorted({u.corpus for u in utterances}),
              "utterances_per_corpus": dict(sorted(Counter(u.corpus for u in utterances).items())),
              "labels_left_out": left_out or {}, "processes": distributed.world_size()}
    main = distributed.is_main()
    if main:
        write_manifest(utterances, run_dir / "manifest.csv")
        save_json(config, run_dir / "config.json")
    started = time.perf_counter()
    if protocol != "loso":
        split = make_split(utterances, protocol, seed=recipe.seed, views=recipe.views)
        results = run_split(split, labels, run_dir, recipe, cache_dir, device, progress)
    else:
        folds = loso_folds(utterances, seed=recipe.seed, views=recipe.views)
        mine = range(distributed.rank(), len(folds), distributed.world_size()) if distributed.spread_folds() \
            else range(len(folds))
        per_fold = {}
        for i in mine:
            if progress:
                print(f"== fold {i + 1}/{len(folds)}: test speakers {folds[i].fold}")
            per_fold[i] = run_split(folds[i], labels, run_dir / "folds" / f"{folds[i].fold}", recipe, cache_dir,
                                    device, progress)
        distributed.barrier()
        if not main:
            return {}
        if distributed.spread_folds():  # the other processes' folds are on disk
            per_fold = {i: json.loads((run_dir / "folds" / f"{s.fold}" / "results.json").read_text())
                        for i, s in enumerate(folds)}
        results = pool_folds([per_fold[i] for i in range(len(folds))], labels, run_dir)
    if not main:
        return {}
    results["config"] = config
    results["wall_seconds"] = time.perf_counter() - started
    save_json(results, run_dir / "results.json")
    save_text(results_markdown(results), run_dir / "results.md")
    return results


def pool_folds(per_fold: list[dict], labels: list[str], run_dir: Path) -> dict:
    """Mean +- std over folds and the pooled confusion, per model."""
    models = {}
    for name in per_fold[0]["models"]:
        reports = [f["models"][name] for f in per_fold]
        pooled = summarize_folds(reports)
        plot_confusion(pooled["confusion"], labels, run_dir / f"confusion-{name}.png",
                       f"{reports[0].get('title', name)}\nLOSO, pooled over {len(per_fold)} folds")
        first = reports[0]
        if "cosine_to_teacher" in first:
            pooled["cosine_to_teacher"] = {"mean": float(sum(r["cosine_to_teacher"]["mean"] for r in reports) / len(reports))}
        models[name] = {**{k: first[k] for k in ("title", "params_m", "gmacs", "epochs", "model") if k in first},
                        **pooled, "train_seconds": sum(r.get("train_seconds", r.get("wall_seconds", 0)) for r in reports)}
    return {"models": models, "protocol": "loso", "fold": None, "folds": [f["fold"] for f in per_fold],
            "split": {"folds": len(per_fold)}, "leakage": {"verdict": "; ".join(sorted({f['leakage'].get('verdict', '') for f in per_fold}))},
            "labels": labels}
