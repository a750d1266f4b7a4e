"""A run: models trained and tested on the splits of one protocol, in one run directory.

`reproduce` (the paper's teacher, student and CE-only student) and `compare` (any registered
networks side by side) differ only in their list of `Job`s; everything else is here:

  protocol -> splits (one, or folds) -> per split: images (cached, per front end), normalised with the
  training part's statistics -> jobs trained stage by stage (resumable) -> each model tested once on
  the test part -> results.json / results.md, confusion PNGs, RUN/models/NAME.pt; folds pooled.

RUN/
  config.json        protocol, resolved recipe, labels, corpora, machine
  manifest.csv       the indexed corpus; split.csv which file went where; leakage.json
  <stage folders>/   per-stage checkpoint.pt (resume), best.pt, final.pt, history.json, curves.png
  models/*.pt        self-contained model files
  confusion-*.png, results.json, results.md
  predictions.csv    each model's answer for each test clip (emovit.predictions; paired tests in results.*)
Protocols with folds (loso, kfold, emobox) write one such directory per fold under RUN/folds/
and pool them in RUN/results.*.
"""
from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from . import distributed
from .checkpoint import save_json, save_text, save_torch
from .config import MfccConfig, Recipe, ResumeError, check_resume
from .corpora.manifest import Utterance, write_manifest
from .extras import available
from .batch_augment import NoiseField
from .features import FeatureCache, Normalizer, build_frontend, mel_bandwidths, noise_texture
from .hardware import machine
from .inference import model_file, read_model_file
from .metrics import classification_report, cosine_similarity, per_group_reports, plot_confusion, plot_curves
from .profile import count, time_per_clip
from .precision import resolve_precision
from .predictions import paired_within, pool_predictions, prediction_rows, write_predictions
from .progress import report
from .protocols import Split, leakage_audit, protocol_splits, write_split
from .report import results_markdown
from .results import ModelResult, as_dicts, as_results, pool_folds
from .stages import STAGE_LOSSES, StageData, infer, run_stage, seed_everything, teacher_features, teacher_outputs
from .views import build_images
from .warm_start import matches, warm_start


@dataclass
class Job:
    """One model of a run: how to build it, which stages train it and where each stage writes.

    `stages` holds (stage name of `emovit.stages`, folder under the run directory). A job with a
    `teacher` is trained on that job's pooled features (stages 'match' and 'student'); a job with
    a `reference` reports the cosine similarity of its test features to that job's. A job that
    `distils` another (trained before it, on any front end) learns, with its stages' kd_weight, that
    job's logits on the same training clips and views. `frontend` is the input it reads ('logmel' or
    'mfcc'); the recipe's `per_model` settings are looked up by `name`.
    """

    name: str
    title: str
    build: Callable[[], torch.nn.Module]
    stages: tuple[tuple[str, str], ...]
    seed_offset: int = 0
    teacher: str | None = None
    reference: str | None = None
    frontend: str = "logmel"
    distils: str | None = None


@dataclass
class SplitData:
    """A split as normalised images of one front end: what the jobs reading it train and are tested on."""

    data: StageData
    test_images: torch.Tensor
    test_labels: torch.Tensor
    test_corpora: list[str]
    normalizer: Normalizer
    frontend: object  # LogMelConfig or MfccConfig
    failures: dict
    feature_seconds: float
    train_paths: list[str]  # the file of each training row (its views are the row's images)
    test_items: list[tuple[str, int]]  # the (file, view) of each test row


def frontend_settings(kind: str, recipe: Recipe, corpora: list[str]):
    """The front end a job reads: the recipe's log-Mel image, or TIM-Net's MFCCs with the clip length its
    code uses for the corpus (EmoDB's when several corpora or an unknown one are trained on)."""
    if kind == "logmel":
        return recipe.frontend
    try:
        return MfccConfig.for_corpus(corpora[0]) if len(corpora) == 1 else MfccConfig()
    except ValueError:
        return MfccConfig()


def _train_groups(split: Split) -> list[list[tuple[str, int]]]:
    """Training samples as groups of views; a step draws one view of a group."""
    groups: dict[str, list[tuple[str, int]]] = {}
    for u, v in split.train_views:
        key = u.path if split.protocol != "paper-leaky" else f"{u.path}#{v}"
        groups.setdefault(key, []).append((u.path, v))
    return list(groups.values())


def prepare_split(split: Split, labels: list[str], frontend, recipe: Recipe, cache_dir: Path | None,
                  progress: bool = True) -> SplitData:
    """Build every image of the split once (from the cache where it can) and normalise them with the
    training part's statistics."""
    label_index = {name: i for i, name in enumerate(labels)}
    cache = FeatureCache(cache_dir, frontend) if cache_dir else None
    groups = _train_groups(split)
    val_items = [(u.path, v) for u, v in split.val_views]
    test_items = [(u.path, v) for u, v in split.test_views]
    wanted = sorted({it for g in groups for it in g} | set(val_items) | set(test_items))
    t0 = time.perf_counter()
    built = build_images(wanted, build_frontend(frontend), cache, seed=recipe.seed, augment_config=recipe.augment,
                         progress=progress, desc=f"{frontend.kind} features")
    feature_seconds = time.perf_counter() - t0
    image_of = dict(zip(built.items, built.images))
    failed = set(built.failures)
    groups = [g for g in groups if g[0][0] not in failed]
    val_items = [it for it in val_items if it[0] not in failed]
    test_items = [it for it in test_items if it[0] not in failed]
    label_of = {u.path: label_index[u.label] for u in split.train + split.val + split.test}
    corpus_of = {u.path: u.corpus for u in split.test}
    speaker_of = {u.path: (u.corpus, u.speaker) for u in split.train + split.val + split.test}
    speaker_index = {name: i for i, name in enumerate(sorted({speaker_of[g[0][0]] for g in groups}))}

    train_raw = torch.stack([torch.stack([image_of[it] for it in g]) for g in groups])
    train_speakers = [speaker_of[g[0][0]] for g in groups]
    noise = None
    if frontend.kind == "logmel":
        normalizer = Normalizer.fit(train_raw, recipe.normalization, train_speakers)
        # what masks and crops fill with: the image's floor, moved by the average band mean centring took out
        # (none under global normalisation, whose mean is the raw images')
        silence = float(normalizer.standardise(-frontend.top_db - (train_raw.mean() - normalizer.mean)))
        if recipe.normalization == "global":  # centred images are no longer dB below the peak
            logmel = build_frontend(frontend)
            noise = NoiseField(noise_texture(logmel), normalizer.mean, normalizer.std, frontend.top_db,
                               mel_bandwidths(logmel))
    else:  # TIM-Net reads raw MFCCs, as its public code does; they have no floor, and their mean stands in
        normalizer = Normalizer(0.0, 1.0)
        silence = float(train_raw.mean())

    def normalised(items):  # a part's images; per-speaker centring pools a speaker's clips within the part
        images = torch.stack([image_of[it] for it in items]) if items else torch.empty(0, 1, *frontend.image_size)
        return normalizer(images, [speaker_of[p] for p, _ in items])

    data = StageData(
        train_images=normalizer(train_raw, train_speakers),
        train_labels=torch.tensor([label_of[g[0][0]] for g in groups]),
        val_images=normalised(val_items),
        val_labels=torch.tensor([label_of[p] for p, _ in val_items], dtype=torch.long),
        train_speakers=torch.tensor([speaker_index[s] for s in train_speakers], dtype=torch.long),
        silence=silence,
        noise=noise,
    )
    return SplitData(data=data, test_images=normalised(test_items),
                     test_labels=torch.tensor([label_of[p] for p, _ in test_items]),
                     test_corpora=[corpus_of[p] for p, _ in test_items], normalizer=normalizer, frontend=frontend,
                     failures=dict(built.failures), feature_seconds=feature_seconds,
                     train_paths=[g[0][0] for g in groups], test_items=test_items)


def training_functionals(paths: list[str], cache_dir: Path | None, progress: bool = True) -> np.ndarray:
    """The training clips' openSMILE ComParE functionals (cached per file under CACHE/opensmile), read once
    for whatever a stage teaches from them (functionals_weight, classical_kd_weight)."""
    from .baseline import extract_functionals  # optional dependency: opensmile

    return extract_functionals(paths, "ComParE_2016", cache_dir=cache_dir / "opensmile" if cache_dir else None,
                               progress=progress)


def functionals_targets(features: np.ndarray, dims: int) -> torch.Tensor:
    """The clips' functionals as a network can be taught them: standardised and reduced to `dims` whitened
    principal components, both fitted on these (training) clips."""
    from sklearn.decomposition import PCA
    from sklearn.preprocessing import StandardScaler

    features = StandardScaler().fit_transform(np.nan_to_num(features.astype(np.float64)))
    reduced = PCA(min(dims, *features.shape), whiten=True, random_state=0).fit_transform(features)
    return torch.from_numpy(reduced.astype(np.float32))


def classical_soft_labels(features: np.ndarray, labels: torch.Tensor, speakers: torch.Tensor, num_classes: int,
                          progress: bool = True) -> torch.Tensor:
    """The training clips' cross-fitted probabilities from a logistic regression on their functionals
    (emovit.baseline.cross_fitted_probabilities), for StageConfig.classical_kd_weight."""
    from .baseline import cross_fitted_probabilities

    probabilities, C = cross_fitted_probabilities(features, labels.numpy(), speakers.numpy(), num_classes)
    accuracy = float((probabilities.argmax(1) == labels.numpy()).mean())
    report(f"classical teacher: logistic regression (C {C:g}) scored each training speaker unseen: "
           f"accuracy {accuracy:.3f} on the training clips", progress)
    return torch.from_numpy(probabilities)


def train_jobs(jobs: list[Job], prepared: dict[str, SplitData], labels: list[str], run_dir: Path, recipe: Recipe,
               device: torch.device, precision: str, progress: bool = True,
               cache_dir: Path | None = None) -> tuple[dict, dict]:
    """Train the jobs in order (a teacher before the jobs that follow it); finished stages are
    loaded, not retrained. A job that learns from another gets its own copy of the split's data with
    that job's outputs in it: no other job sees them. Returns the trained models by job name and stage
    summaries by folder."""
    trained: dict[str, torch.nn.Module] = {}
    summaries: dict[str, dict] = {}
    frontend_of = {job.name: job.frontend for job in jobs}
    pretrained = read_model_file(Path(recipe.init_from)) if recipe.init_from else None
    if pretrained is not None and not any(matches(job.build(), pretrained) for job in jobs):
        raise ValueError(f"init_from {recipe.init_from}: none of this run's networks ({', '.join(j.name for j in jobs)}) "
                         f"is the file's ({pretrained['model_config'].get('arch', 'vit')}, "
                         f"depth {pretrained['model_config'].get('depth')}): nothing to start from it")
    for job in jobs:
        data = prepared[job.frontend].data
        stage = recipe.stage_for(job.name)
        # a job whose every stage is finished is only loaded: the targets its training read are not made again
        finished = all((run_dir / folder / "final.pt").exists() for _, folder in job.stages)
        wants_functionals = stage.functionals_weight and data.train_functionals is None and not finished
        wants_classical = stage.classical_kd_weight and data.train_classical is None and not finished
        if wants_functionals or wants_classical:
            features = training_functionals(prepared[job.frontend].train_paths, cache_dir, progress)
            if wants_functionals:
                data.train_functionals = functionals_targets(features, stage.functionals_dims)
            if wants_classical:
                data.train_classical = classical_soft_labels(features, data.train_labels, data.train_speakers,
                                                             len(labels), progress)
        if job.teacher is not None and not finished:
            teacher = trained[job.teacher].to(device)
            train_targets, train_logits = teacher_outputs(teacher, data.train_images, device, precision)
            data = replace(data, train_targets=train_targets, train_target_logits=train_logits,
                           val_targets=teacher_features(teacher, data.val_images, device, precision))
        elif job.distils is not None and not finished:
            data = replace(data, train_target_logits=peer_logits(
                trained[job.distils], prepared[job.frontend], prepared[frontend_of[job.distils]], device, precision))
        seed_everything(recipe.seed + job.seed_offset)
        model = job.build()
        warm = pretrained is not None and matches(model, pretrained)
        if warm:
            warm_start(model, pretrained)
            report(f"[{job.name}] starts from {recipe.init_from} (all but its head)", progress)
        elif pretrained is not None:
            report(f"[{job.name}] trains from scratch: its network is not {recipe.init_from}'s", progress)
        for stage, folder in job.stages:
            summaries[folder] = run_stage(stage, model, data, stage_settings(recipe, job.name, stage), run_dir / folder,
                                          labels, device, precision, progress, seed=recipe.seed)
            summaries[folder]["init_from"] = recipe.init_from if warm else None
        trained[job.name] = model
    return trained, summaries


def peer_logits(peer: torch.nn.Module, mine: SplitData, theirs: SplitData, device: torch.device,
                precision: str) -> torch.Tensor:
    """A trained peer's logits on every training clip and view, read through its own front end (`theirs`), as
    rows of the data that distils them (`mine`): (n, views, classes). Both front ends build the same clips'
    views in the same order; a clip one of them could not read would misalign the rows, so that is refused."""
    if mine.train_paths != theirs.train_paths:
        raise ValueError(f"the {theirs.frontend.kind} and {mine.frontend.kind} front ends did not read the same "
                         "training clips; distillation needs the peer's logits for every clip")
    return teacher_outputs(peer.to(device), theirs.data.train_images, device, precision)[1]


def stage_settings(recipe: Recipe, model: str, stage: str):
    """The settings of one of `model`'s stages: the recipe's, with `model`'s per_model overrides. The
    student's matching stage leaves out kd_weight: it distils the teacher's logits in the stage after it
    (per_model.student sets it for both of the student's stages)."""
    settings = recipe.stage_for(model)
    return replace(settings, kd_weight=0.0) if STAGE_LOSSES[stage] == "l1" else settings


def evaluate_jobs(jobs: list[Job], trained: dict, summaries: dict, prepared: dict[str, SplitData], split: Split,
                  labels: list[str], run_dir: Path, recipe: Recipe, device: torch.device, precision: str,
                  time_runs: int = 0, threads: int = 1) -> dict[str, ModelResult]:
    """Test every trained job once on the test part: scores, confusion PNG, size, training time
    (and, with time_runs, CPU milliseconds per clip); training curves of every stage; each model
    saved as RUN/models/NAME.pt."""
    for folder, summary in summaries.items():
        plot_curves(summary["history"], run_dir / folder / "curves.png", f"{folder} — {split.protocol}")
    references = {job.reference for job in jobs if job.reference in trained}
    frontend_of = {job.name: job.frontend for job in jobs}
    reference_features = {name: infer(trained[name], prepared[frontend_of[name]].test_images, device, precision)[1]
                          for name in references}
    meta = {"protocol": split.protocol, "seed": recipe.seed, "corpus": sorted({u.corpus for u in split.train})}
    results = {}
    for job in jobs:
        model, part = trained[job.name], prepared[job.frontend]
        logits, pooled = infer(model, part.test_images, device, precision)
        predicted = logits.argmax(1).numpy()
        scores = classification_report(part.test_labels.numpy(), predicted, labels)
        by_corpus = per_group_reports(part.test_labels.numpy(), predicted, part.test_corpora, labels)
        if by_corpus:
            scores["per_corpus"] = by_corpus
        plot_confusion(scores["confusion"], labels, run_dir / f"confusion-{job.name}.png",
                       f"{job.title}\n{split.protocol} protocol, test n={len(part.test_labels)}")
        details = {}
        if time_runs:
            details.update(time_per_clip(model.cpu(), part.frontend.image_size, runs=time_runs, threads=threads))
            model.to(device)
        if job.reference in reference_features:
            details["cosine_to_teacher"] = cosine_similarity(pooled.numpy(), reference_features[job.reference].numpy())
        warm = summaries[job.stages[0][1]].get("init_from")
        if warm:
            details["init_from"] = warm
        results[job.name] = ModelResult(
            f"{job.title}, started from {warm}" if warm else job.title, scores, sum(summaries[folder]["wall_seconds"] for _, folder in job.stages), count(model),
            {stage: summaries[folder]["epochs"] for stage, folder in job.stages},
            {stage: summaries[folder]["selected_epoch"] for stage, folder in job.stages}, details,
            predictions={item: labels[i] for item, i in zip(part.test_items, predicted.tolist())})
        save_torch(model_file(model, labels, part.normalizer, part.frontend, meta), run_dir / "models" / f"{job.name}.pt")
    return results


def run_split(split: Split, labels: list[str], jobs: list[Job], run_dir: Path, recipe: Recipe, cache_dir: Path | None,
              device: torch.device, progress: bool = True, time_runs: int = 0, threads: int = 1) -> dict:
    """Train and evaluate every job on one split (and the openSMILE baseline when the recipe asks for
    it); writes and returns the results dict."""
    started = time.perf_counter()
    run_dir.mkdir(parents=True, exist_ok=True)
    audit = leakage_audit(split)
    if distributed.writes():
        write_split(split, run_dir / "split.csv")
        save_json(audit, run_dir / "leakage.json")
    precision = resolve_precision(recipe.precision, device)
    corpora = sorted({u.corpus for u in split.train})
    prepared = {kind: prepare_split(split, labels, frontend_settings(kind, recipe, corpora), recipe, cache_dir,
                                    progress) for kind in dict.fromkeys(job.frontend for job in jobs)}
    trained, summaries = train_jobs(jobs, prepared, labels, run_dir, recipe, device, precision, progress, cache_dir)
    if not distributed.writes():
        return {}  # a data-parallel replica: rank 0 evaluates and writes
    models = evaluate_jobs(jobs, trained, summaries, prepared, split, labels, run_dir, recipe, device, precision,
                           time_runs, threads)
    if recipe.baseline:
        from .baseline import run_baseline  # optional dependency: opensmile

        models["opensmile"] = run_baseline(split, labels, recipe.baseline, seed=recipe.seed, progress=progress,
                                           cache_dir=cache_dir / "opensmile" if cache_dir else None,
                                           by_speaker=recipe.normalization == "speaker")
    failures = {path: reason for part in prepared.values() for path, reason in part.failures.items()}
    rows = prediction_rows(split, {name: m.predictions for name, m in models.items()})
    write_predictions(rows, run_dir / "predictions.csv")
    results = {"models": as_dicts(models), "paired": paired_within(rows), "protocol": split.protocol,
               "fold": split.fold, "seed": recipe.seed,
               "split": split.summary(), "machine": machine(), "leakage": audit, "labels": labels,
               "precision": precision, "failures": failures,
               "timing": {**{f"{kind}_features_seconds": part.feature_seconds for kind, part in prepared.items()},
                          **{f"{s}_seconds": summaries[s]["wall_seconds"] for s in summaries},
                          "total_seconds": time.perf_counter() - started}}
    save_json(results, run_dir / "results.json")
    save_text(results_markdown(results), run_dir / "results.md")
    return results


def run_protocol(utterances: list[Utterance], protocol: str, jobs_for: Callable[[int], list[Job]], run_dir: str | Path,
                 recipe: Recipe, cache_dir: str | Path | None, device: torch.device, *, settings: dict,
                 progress: bool = True, folds: int = 10, time_runs: int = 0, threads: int = 1,
                 left_out: dict[str, int] | None = None, val_speakers: int | None = None) -> dict:
    """Run the jobs under `protocol`: one split, or every fold (resumable fold by fold, spread over
    processes under torchrun --distribute folds) pooled into mean +- std and one confusion.

    `folds` (kfold) and `val_speakers` (None: the protocol's default; how many training speakers of a
    corpus validate where validation is by speaker) shape the splits. They and `settings` are what a
    resumed run must share with the one in `run_dir` (ResumeError otherwise); `left_out` (label -> count
    of utterances not trained on) is recorded in config.json."""
    run_dir = Path(run_dir)
    cache_dir = Path(cache_dir) if cache_dir else None
    splits, protocol_report = protocol_splits(utterances, protocol, seed=recipe.seed, views=recipe.augment.views,
                                              folds=folds, val_speakers=val_speakers)
    settings = {**settings, **({"kfold_folds": folds} if protocol == "kfold" else {}), "val_speakers": val_speakers}
    check_resume(run_dir, settings)
    labels = sorted({u.label for u in utterances})
    recipe = _without_missing_baseline(recipe)
    config = {**json.loads(json.dumps(settings)), "labels": labels, "machine": machine(),
              "n_utterances": len(utterances), "corpora": sorted({u.corpus for u in utterances}),
              "utterances_per_corpus": dict(sorted(Counter(u.corpus for u in utterances).items())),
              "labels_left_out": left_out or {}, "processes": distributed.world_size(),
              "baseline_run": recipe.baseline, **protocol_report}
    main = distributed.is_main()
    if main:
        write_manifest(utterances, run_dir / "manifest.csv")
        save_json(config, run_dir / "config.json")
    started = time.perf_counter()
    jobs = jobs_for(len(labels))
    if len(splits) == 1 and splits[0].fold is None:
        results = run_split(splits[0], labels, jobs, run_dir, recipe, cache_dir, device, progress, time_runs, threads)
    else:
        fold_dirs = [run_dir / "folds" / f"{s.fold}" for s in splits]
        per_fold = {i: done for i, s in enumerate(splits) if (done := finished_fold(s, fold_dirs[i])) is not None}
        if per_fold:
            report(f"== {len(per_fold)} of {len(splits)} folds finished before: their results are kept", progress)
        todo = [i for i in range(len(splits)) if i not in per_fold]
        mine = todo[distributed.rank()::distributed.world_size()] if distributed.spread_folds() else todo
        for i in mine:
            report(f"== fold {i + 1}/{len(splits)} ({protocol} {splits[i].fold}): test speakers "
                   f"{', '.join(splits[i].summary()['speakers']['test'])}", progress)
            per_fold[i] = run_split(splits[i], labels, jobs, fold_dirs[i], recipe, cache_dir, device, progress,
                                    time_runs, threads)
        distributed.barrier()
        if not main:
            return {}
        if distributed.spread_folds():  # the other processes' folds are on disk
            per_fold = {i: json.loads((run_dir / "folds" / f"{s.fold}" / "results.json").read_text())
                        for i, s in enumerate(splits)}
        results = _pooled(protocol, [per_fold[i] for i in range(len(splits))], labels, run_dir, fold_dirs, progress)
    if not main:
        return {}
    results["config"] = config
    results["wall_seconds"] = time.perf_counter() - started
    save_json(results, run_dir / "results.json")
    save_text(results_markdown(results), run_dir / "results.md")
    return results


def finished_fold(split: Split, fold_dir: Path) -> dict | None:
    """The results of a fold a previous run of the same settings finished (its results.json), or None.

    A finished fold is not trained again, so a run resumes from its folds' results alone (no model
    files): a long run can go on in another session from the fold results it committed. The fold's
    recorded split must be this one (ResumeError otherwise: the corpus on disk or the folds changed)."""
    path = fold_dir / "results.json"
    if not path.exists():
        return None
    done = json.loads(path.read_text())
    if json.loads(json.dumps(split.summary())) != done.get("split"):
        raise ResumeError(f"{path} was written for another split than this run's fold {split.fold} (the corpus on "
                          "disk or the fold table changed): move it away or choose a new --out")
    return done


def _pooled(protocol: str, per_fold: list[dict], labels: list[str], run_dir: Path, fold_dirs: list[Path],
            progress: bool) -> dict:
    """The folds' results pooled; their per-clip predictions too, and the paired tests on them, when every
    fold has them (folds kept from runs before predictions were written have none)."""
    models = pool_folds([as_results(f["models"]) for f in per_fold])
    for name, m in models.items():
        plot_confusion(m.scores["confusion"], labels, run_dir / f"confusion-{name}.png",
                       f"{m.title}\n{protocol}, pooled over {len(per_fold)} folds")
    verdicts = sorted({f["leakage"].get("verdict", "") for f in per_fold})
    pooled = {"models": as_dicts(models), "protocol": protocol, "fold": None, "folds": [f["fold"] for f in per_fold],
              "split": {"folds": len(per_fold)}, "leakage": {"verdict": "; ".join(verdicts)}, "labels": labels}
    without = [d.name for d in fold_dirs if not (d / "predictions.csv").exists()]
    if without:
        report(f"note: folds {', '.join(without)} have no predictions.csv (trained before runs wrote one): no pooled "
               "predictions or paired tests", progress)
    else:
        rows = pool_predictions([d / "predictions.csv" for d in fold_dirs])
        write_predictions(rows, run_dir / "predictions.csv")
        pooled["paired"] = paired_within(rows)
    return pooled


def _without_missing_baseline(recipe: Recipe) -> Recipe:
    """The recipe without its openSMILE baseline when the package is missing, said in one line."""
    if recipe.baseline and not available("baseline"):
        report(f"note: the openSMILE baseline ({recipe.baseline}) is skipped: the opensmile package is not "
               "installed (.venv/bin/pip install -e '.[baseline]' adds it)")
        return replace(recipe, baseline=None)
    return recipe
