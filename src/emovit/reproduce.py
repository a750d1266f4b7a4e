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

import os
import platform
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from .checkpoint import save_json, save_torch, save_text
from .corpora.manifest import Utterance, write_manifest
from .features import FeatureCache, FrontEndConfig, LogMelFrontEnd, Normalizer
from .metrics import classification_report, cosine_similarity, plot_confusion, plot_curves, summarize_folds
from .models import EmotionViT, student_config, teacher_config
from .profile import count
from .protocols import Split, leakage_audit, loso_folds, make_split, write_split
from .stages import StageConfig, StageData, infer, resolve_precision, run_stage, seed_everything, teacher_features
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
    extra: dict = field(default_factory=dict)

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


def deployable(model: EmotionViT, labels, normalizer: Normalizer, frontend: FrontEndConfig, meta: dict) -> dict:
    """What a Recognizer needs to run a model with no run directory around it."""
    return {"format": "emovit-model/1", "model_config": model.config.to_dict(), "state_dict": model.state_dict(),
            "labels": list(labels), "normalizer": asdict(normalizer), "frontend": frontend.to_dict(), "meta": meta}


def run_split(split: Split, labels: list[str], run_dir: Path, recipe: Recipe, cache_dir: Path | None,
              device: torch.device, progress: bool = True) -> dict:
    """Train and evaluate every model of the recipe on one split; returns the results dict."""
    run_dir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    precision = resolve_precision(recipe.precision, device)
    label_index = {name: i for i, name in enumerate(labels)}
    write_split(split, run_dir / "split.csv")
    audit = leakage_audit(split)
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

    train_raw = _stack_groups(groups, image_of)
    normalizer = Normalizer.fit(train_raw)
    data = StageData(
        train_images=normalizer(train_raw),
        train_labels=torch.tensor([label_of[g[0][0]] for g in groups]),
        val_images=normalizer(torch.stack([image_of[it] for it in val_items])) if val_items
        else torch.empty(0, 1, *frontend_config.image_size),
        val_labels=torch.tensor([label_of[p] for p, _ in val_items], dtype=torch.long),
    )
    test_images = normalizer(torch.stack([image_of[it] for it in test_items]))
    test_labels = torch.tensor([label_of[p] for p, _ in test_items])
    del image_of, train_raw

    stage_config = recipe.stage_config()
    seed_everything(recipe.seed)
    teacher = EmotionViT(teacher_config(len(labels), recipe.teacher_depth, recipe.patch_size))
    summaries = {"teacher": run_stage("teacher", teacher, data, stage_config, run_dir / "teacher", labels,
                                      device, precision, progress)}
    teacher.to(device)
    data.train_targets = teacher_features(teacher, data.train_images, device, precision)
    data.val_targets = teacher_features(teacher, data.val_images, device, precision)

    trained = {"teacher": teacher}
    if "student" in recipe.stages:
        seed_everything(recipe.seed + 1)
        student = EmotionViT(student_config(len(labels), recipe.student_depth, recipe.patch_size))
        summaries["match"] = run_stage("match", student, data, stage_config, run_dir / "match", labels,
                                       device, precision, progress)
        summaries["student"] = run_stage("student", student, data, stage_config, run_dir / "student", labels,
                                         device, precision, progress)
        trained["student"] = student
    if "plain" in recipe.stages:
        seed_everything(recipe.seed + 1)  # same initial weights as the transferred student
        plain = EmotionViT(student_config(len(labels), recipe.student_depth, recipe.patch_size))
        summaries["plain"] = run_stage("plain", plain, data, stage_config, run_dir / "plain", labels,
                                       device, precision, progress)
        trained["plain"] = plain

    for stage, summary in summaries.items():
        plot_curves(summary["history"], run_dir / stage / "curves.png", f"{stage} — {split.protocol}")

    results: dict = {"models": {}, "protocol": split.protocol, "fold": split.fold, "seed": recipe.seed,
                     "split": split.summary(), "leakage": audit, "labels": labels, "precision": precision,
                     "failures": {p: r for p, r in built.failures.items()}}
    _, teacher_test = infer(teacher, test_images, device, precision)
    meta = {"protocol": split.protocol, "seed": recipe.seed, "corpus": sorted({u.corpus for u in split.train})}
    for name, model in trained.items():
        logits, pooled = infer(model, test_images, device, precision)
        report = classification_report(test_labels.numpy(), logits.argmax(1).numpy(), labels)
        plot_confusion(report["confusion"], labels, run_dir / f"confusion-{name}.png",
                       f"{MODEL_TITLES[name]}\n{split.protocol} protocol, test n={len(test_labels)}")
        stage_names = ["teacher"] if name == "teacher" else (["match", "student"] if name == "student" else ["plain"])
        entry = {"title": MODEL_TITLES[name], **count(model.cpu()), **report,
                 "epochs": {s: summaries[s]["epochs"] for s in stage_names},
                 "selected_epoch": {s: summaries[s]["selected_epoch"] for s in stage_names},
                 "train_seconds": sum(summaries[s]["wall_seconds"] for s in stage_names)}
        model.to(device)
        if name != "teacher":
            entry["cosine_to_teacher"] = cosine_similarity(pooled.numpy(), teacher_test.numpy())
        results["models"][name] = entry
        save_torch(deployable(model, labels, normalizer, frontend_config, meta), run_dir / "models" / f"{name}.pt")

    if recipe.baseline:
        from .baseline import run_baseline  # optional dependency: opensmile

        results["models"]["opensmile"] = run_baseline(split, labels, recipe.baseline,
                                                       cache_dir=cache_dir / "opensmile" if cache_dir else None,
                                                       seed=recipe.seed)
    results["timing"] = {"features_seconds": feature_seconds,
                         **{f"{s}_seconds": summaries[s]["wall_seconds"] for s in summaries},
                         "total_seconds": time.perf_counter() - started}
    save_json(results, run_dir / "results.json")
    save_text(results_markdown(results), run_dir / "results.md")
    return results


def results_markdown(results: dict) -> str:
    """The paper's Table 2 layout: one row per model, with the protocol stated."""
    split = results["split"]
    lines = [f"# Results — protocol `{results['protocol']}`" + (f", fold {results['fold']}" if results.get("fold") else ""),
             "", f"Split: {split_line(split)}", f"Leakage audit: {results['leakage'].get('verdict', '')}", "",
             "| Model | Params (M) | GMACs | WA | UA | macro-F1 | epochs | train time (s) |",
             "|---|---|---|---|---|---|---|---|"]
    for name, m in results["models"].items():
        params = f"{m['params_m']:.2f}" if "params_m" in m else "—"
        gmacs = f"{m['gmacs']:.2f}" if "gmacs" in m else "—"
        epochs = "+".join(str(v) for v in m.get("epochs", {}).values()) or "—"
        secs = m.get("train_seconds", m.get("wall_seconds"))
        scores = " | ".join(_score_cell(m[k]) for k in ("wa", "ua", "macro_f1"))
        lines.append(f"| {m.get('title', m.get('model', name))} | {params} | {gmacs} | {scores} | {epochs} | {secs:.0f} |")
    pooled = {k: m["pooled"] for k, m in results["models"].items() if "pooled" in m}
    if pooled:
        lines += ["", "Scores are mean ± std over folds. Pooled over all folds (one confusion matrix): "
                  + ", ".join(f"{k} WA {p['wa']:.3f} / UA {p['ua']:.3f}" for k, p in pooled.items())]
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
              cache_dir: str | Path | None, device: torch.device, progress: bool = True) -> dict:
    """Run the recipe under a protocol; LOSO runs every fold and pools them."""
    run_dir = Path(run_dir)
    cache_dir = Path(cache_dir) if cache_dir else None
    labels = sorted({u.label for u in utterances})
    write_manifest(utterances, run_dir / "manifest.csv")
    config = {"protocol": protocol, "recipe": asdict(recipe), "labels": labels, "machine": machine(),
              "n_utterances": len(utterances), "corpora": sorted({u.corpus for u in utterances})}
    save_json(config, run_dir / "config.json")
    started = time.perf_counter()
    if protocol != "loso":
        split = make_split(utterances, protocol, seed=recipe.seed, views=recipe.views)
        results = run_split(split, labels, run_dir, recipe, cache_dir, device, progress)
    else:
        folds = loso_folds(utterances, seed=recipe.seed, views=recipe.views)
        per_fold = []
        for i, split in enumerate(folds):
            if progress:
                print(f"== fold {i + 1}/{len(folds)}: test speakers {split.fold}")
            per_fold.append(run_split(split, labels, run_dir / "folds" / f"{split.fold}", recipe, cache_dir, device,
                                      progress))
        results = pool_folds(per_fold, labels, run_dir)
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
