"""The `emovit` command line: one entry point, a sub-command per job.  It parses options and prints;
what the commands do lives in the library (the settings and their defaults in `emovit.config`)."""
from __future__ import annotations

import json
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from .config import PRECISIONS, STUDENT_NETWORKS
from .corpora import CORPORA
from .protocols import FOLD_PROTOCOLS, PROTOCOLS

# Typer >= 0.29 prints "<bool>" after every flag in its rich help ("--json <bool>"), which reads as if the
# flag took a value; click's plain help shows flags as flags.
app = typer.Typer(add_completion=False, no_args_is_help=True, rich_markup_mode=None,
                  help="Speech emotion recognition with vertical-patch Vision Transformers (Kim & Lee, 2024).")

Corpus = Enum("Corpus", {name: name for name in CORPORA}, type=str)
Protocol = Enum("Protocol", {name.replace("-", "_"): name for name in PROTOCOLS}, type=str)


def _fail(message: str) -> None:
    typer.secho(f"error: {message}", err=True, fg=typer.colors.RED)
    raise typer.Exit(2)


def _warn(message: str) -> None:
    typer.secho(f"warning: {message}", err=True, fg=typer.colors.YELLOW)


def _index(corpus: str, root: Path):
    from .corpora import index_corpus

    try:
        result = index_corpus(corpus, root)
    except (FileNotFoundError, ValueError) as e:
        _fail(str(e))
    for path, reason in result.skipped:
        typer.secho(f"skipped {path}: {reason}", err=True, fg=typer.colors.YELLOW)
    return result


CORPUS_HELP = "Corpus adapter to index --root with; repeat --corpus/--root to train on several corpora."
ROOT_HELP = "Corpus folder (for csv: the CSV file); one per --corpus, in the same order."
LABELS_HELP = ("Comma-separated emotions to keep (e.g. anger,disgust,fear,happiness,neutral,sadness); "
               "utterances with other labels are left out and counted in config.json. Default: all.")
PROTOCOL_HELP = ("paper: random 80/20 of utterances (speakers overlap); paper-leaky: augmented copies made before "
                 "the split (shows the leak); speaker: ~20% of speakers held out (of each corpus); loso: leave one "
                 "speaker out; kfold: --folds-fold stratified cross-validation over utterances (speakers overlap, "
                 "as TIM-Net's papers); emobox: the EmoBox benchmark's published folds (EmoDB, SAVEE, RAVDESS).")
RECIPE_HELP = ("Training recipe: a name (emovit: what emovit's models are trained with; paper: the paper's, exactly; "
               "paper-e20, bundled-e8, timnet: src/emovit/recipes/) or a .toml file; the options below override it.")

# Options shared by the training commands (reproduce, compare, baseline), declared once. Recipe
# settings default to None: "take the recipe's value".
Corpora = Annotated[list[Corpus], typer.Option("--corpus", help=CORPUS_HELP)]
Roots = Annotated[list[Path], typer.Option("--root", help=ROOT_HELP)]
Labels = Annotated[Optional[str], typer.Option("--labels", help=LABELS_HELP)]
ProtocolOption = Annotated[Protocol, typer.Option("--protocol", help=PROTOCOL_HELP)]
Folds = Annotated[int, typer.Option("--folds", help="Folds of --protocol kfold (at least 2, at most the smallest "
                                                    "class's count).")]
ValSpeakers = Annotated[Optional[int], typer.Option(
    "--val-speakers", help="Training speakers of each corpus held out as validation where it is by speaker "
                           "(speaker, loso, emobox folds with unseen test speakers). Default: 10% of them, at least "
                           "1 (loso: 1); a corpus with under 5 speakers validates on utterances.")]
RunDir = Annotated[Path, typer.Option("--out", help="Run directory. Re-running the same command resumes it.")]
RecipeName = Annotated[str, typer.Option("--recipe", help=RECIPE_HELP)]
Epochs = Annotated[Optional[int], typer.Option("--epochs", help="Epochs of each stage (paper: 50). Fewer for a smoke run.")]
BatchSize = Annotated[Optional[int], typer.Option("--batch-size", help="Mini-batch size (paper: 4).")]
LearningRate = Annotated[Optional[float], typer.Option("--lr", help="Learning rate (paper: Adam 1e-4).")]
LrHalveEvery = Annotated[Optional[int], typer.Option("--lr-halve-every", help="Halve the learning rate every N epochs "
                                                                             "(paper: 10).")]
Alpha = Annotated[Optional[float], typer.Option("--alpha", help="Weight of L1 feature matching in the student's stage 3 "
                                                              "(paper: 10).")]
Views = Annotated[Optional[int], typer.Option("--views", help="Views per training clip: 1 = no augmentation, 4 = "
                                              "original + noise, time-shift and speed copies (one drawn per clip each "
                                              "epoch).")]
Select = Annotated[Optional[str], typer.Option("--select", help="Weights kept from each stage: 'best' validation epoch "
                                               "(validation comes from the training part) or 'last'.")]
Seed = Annotated[Optional[int], typer.Option("--seed", help="Seed of the split, initialisation, augmentation and sample "
                                                          "order.")]
Precision = Annotated[Optional[str], typer.Option("--precision", help="The network's arithmetic: fp32, bf16 (autocast) "
                                                  "or auto (bf16 on CUDA or AMX CPUs, fp32 elsewhere).")]
InitFrom = Annotated[Optional[Path], typer.Option("--init-from", help="A model file (RUN/models/NAME.pt, e.g. "
                                                  "pre-trained on other corpora) whose weights, all but the head's, "
                                                  "start the networks of its shape; the others start at random.")]
Device = Annotated[str, typer.Option("--device", help="cpu, cuda or auto.")]
Cache = Annotated[Path, typer.Option("--cache", help="Feature cache directory.")]
CheckpointEvery = Annotated[Optional[int], typer.Option("--checkpoint-every", help="Also checkpoint every N steps "
                                                        "inside an epoch.")]
Compile = Annotated[Optional[str], typer.Option("--compile", help="Models (comma-separated, e.g. timnet) whose training "
                                                 "steps run under torch.compile: faster where small operations "
                                                 "dominate (TIM-Net; BENCHMARKS.md, Training speed), after minutes of "
                                                 "compiling; a C++ compiler on CPU. The same arithmetic up to "
                                                 "rounding; a run resumes with or without it.")]
Quiet = Annotated[bool, typer.Option("--quiet", help="No progress output.")]
DEFAULT_CACHE = Path.home() / ".cache" / "emovit"


def _check_precision(precision: str | None) -> str:
    if precision is not None and precision not in PRECISIONS:
        _fail(f"--precision must be {', '.join(PRECISIONS[:-1])} or {PRECISIONS[-1]}")
    return precision or "auto"


def _device(device: str) -> str:
    if device != "auto":
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def _recipe(name: str, overrides: dict):
    """The named recipe with the options the user gave; a bad name or value fails with the reason."""
    from .config import load_recipe

    try:
        return load_recipe(name).with_overrides(overrides)
    except (ValueError, TypeError) as e:
        _fail(f"--recipe {name}: {e}")


def _training_overrides(epochs, batch_size, lr, lr_halve_every, alpha, select, checkpoint_every, views, seed,
                        precision, init_from) -> dict:
    """The recipe settings the training options replace (None: the option was not given)."""
    if init_from is not None and not init_from.is_file():
        _fail(f"--init-from {init_from}: no such model file")
    return {"stage.epochs": epochs, "stage.batch_size": batch_size, "stage.lr": lr,
            "stage.lr_halve_every": lr_halve_every, "stage.alpha": alpha, "stage.select": select,
            "stage.checkpoint_every": checkpoint_every, "augment.views": views, "seed": seed,
            "precision": _check_precision(precision) if precision else None,
            "init_from": str(init_from) if init_from is not None else None}


def _compiled(recipe, models: str | None, choices):
    """The recipe with --compile's models' training steps compiled (per_model.NAME.compile)."""
    from dataclasses import replace

    if not models:
        return recipe
    per_model = dict(recipe.per_model)
    for name in _names(models, choices, "--compile"):
        per_model[name] = {**per_model.get(name, {}), "compile": True}
    return replace(recipe, per_model=per_model)


def _corpus_set(corpora: list[Corpus], roots: list[Path], labels: str | None = None):
    """Index each --corpus at its --root, merge them (speakers made corpus:speaker when there are
    several) and keep the --labels asked for; returns the utterances and the count left out per label."""
    from .corpora import merge_corpora, select_labels

    if len(corpora) != len(roots):
        _fail(f"got {len(corpora)} --corpus and {len(roots)} --root; give one --root per --corpus, in order")
    utterances = merge_corpora([_index(c.value, r).utterances for c, r in zip(corpora, roots)])
    if not labels:
        return utterances, {}
    try:
        return select_labels(utterances, [x.strip() for x in labels.split(",") if x.strip()])
    except ValueError as e:
        _fail(f"--labels: {e}")


def _check_folds(protocol: Protocol, folds: int, utterances) -> None:
    """--folds is refused below 2 or above the smallest class's count, with the reason."""
    if protocol.value != "kfold":
        return
    from collections import Counter

    smallest, count = min(Counter(u.label for u in utterances).items(), key=lambda kv: kv[1])
    if not 2 <= folds <= count:
        _fail(f"--folds {folds}: k-fold needs 2 to {count} folds here (each fold must hold every class once; "
              f"the smallest class, {smallest}, has {count} utterances)")


def _names(text: str, choices, option: str) -> list[str]:
    """Comma-separated names, checked against `choices`."""
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in choices]
    if unknown or not names:
        _fail(f"{option}: unknown or no model(s) {unknown}; choose from {', '.join(choices)}")
    return names


@app.command()
def index(corpus: Corpus = typer.Argument(..., help="Corpus adapter; csv takes a CSV file (path,label[,speaker]), "
                                                   "folder a directory with one sub-folder per label."),
          root: Path = typer.Argument(..., help="The corpus folder as distributed (or the CSV file)."),
          out: Path = typer.Option(Path("manifest.csv"), "--out", "-o", help="Manifest CSV to write.")):
    """Turn a corpus folder into a manifest (path, label, speaker, corpus, sex, sentence, intensity)."""
    from collections import Counter

    from .corpora.manifest import write_manifest

    result = _index(corpus.value, root)
    write_manifest(result.utterances, out)
    counts = Counter(u.label for u in result.utterances)
    speakers = {u.speaker for u in result.utterances}
    typer.echo(f"{len(result.utterances)} utterances, {len(speakers)} speakers, {len(counts)} classes -> {out}")
    for label, n in counts.most_common():
        typer.echo(f"  {label:<10} {n}")
    if result.skipped:
        typer.echo(f"{len(result.skipped)} files skipped (listed above on stderr)")


@app.command()
def profile(as_json: bool = typer.Option(False, "--json", help="Print JSON for scripts."),
            num_classes: int = typer.Option(7, help="Classifier width (7 for EmoDB and SAVEE)."),
            models: str = typer.Option("all", help="Comma-separated registry names (default: every registered "
                                                   "network; see the table)."),
            time_it: bool = typer.Option(False, "--time", help="Also measure CPU milliseconds per clip: batch 1, "
                                                               "after warm-up, median of --runs runs."),
            runs: int = typer.Option(10, help="Timed forward passes per model (with --time)."),
            threads: int = typer.Option(1, help="torch.set_num_threads for the timing (with --time).")):
    """Parameters and GMACs (one input image) of every network, next to the paper's Table 3, and
    with --time CPU time per clip; each as a multiple of the student's. GMACs count layers with
    weights (as the paper's figures do); 'all' adds attention's two products; 'run' is every product
    of emovit's forward pass (its ViTs compute the last layer for the CLS token only)."""
    from .models import MODELS
    from .profile import profile_models
    from .report import profile_table

    names = list(MODELS) if models == "all" else _names(models, MODELS, "--models")
    if runs < 1 or threads < 1:
        _fail("--runs and --threads must be at least 1")
    announce = (lambda name: typer.echo(f"timing {name} ...", err=True)) if time_it and not as_json else None
    rows = profile_models(num_classes, names, timing=time_it, runs=runs, threads=threads, on_model=announce)
    typer.echo(json.dumps(rows, indent=2) if as_json else profile_table(rows, time_it, runs, threads))


@app.command()
def reproduce(
    corpus: Corpora,
    root: Roots,
    out: RunDir,
    labels: Labels = None,
    protocol: ProtocolOption = Protocol.paper,
    folds: Folds = 10,
    val_speakers: ValSpeakers = None,
    recipe: RecipeName = "emovit",
    models: Optional[str] = typer.Option(None, help="Which of teacher,student,plain to train (the student learns "
                                                    "from the teacher; paper: all three)."),
    teacher_depth: Optional[int] = typer.Option(None, help="Teacher ViT depth (paper: 6 or 12)."),
    student_depth: Optional[int] = typer.Option(None, help="Student ViT depth (paper: 3)."),
    student_network: Optional[str] = typer.Option(None, help="The student's network (`emovit profile` lists them): "
                                                  + ", ".join(STUDENT_NETWORKS) + " (paper: student)."),
    patch: Optional[str] = typer.Option(None, help="Patch height x width: 128x1 vertical (paper) or 16x16 square."),
    epochs: Epochs = None,
    batch_size: BatchSize = None,
    lr: LearningRate = None,
    lr_halve_every: LrHalveEvery = None,
    alpha: Alpha = None,
    select: Select = None,
    views: Views = None,
    seed: Seed = None,
    precision: Precision = None,
    init_from: InitFrom = None,
    device: Device = "auto",
    baseline: Optional[str] = typer.Option(None, help="openSMILE functionals for the SVM baseline on the same split: "
                                           "ComParE_2016 (paper recipe), eGeMAPSv02 or none."),
    cache: Cache = DEFAULT_CACHE,
    checkpoint_every: CheckpointEvery = None,
    compile: Compile = None,
    quiet: Quiet = False,
    distribute: str = typer.Option("batch", help="Under torchrun: 'batch' runs every stage data-parallel "
                                                 "(DDP, same results as one process); 'folds' spreads the folds of "
                                                 "loso, kfold or emobox over the processes."),
):
    """Run the paper's three stages (plus a CE-only student and an openSMILE+SVM baseline) on a
    corpus under one protocol; write results.json, results.md, confusion matrices, the split and
    the leakage audit to --out."""
    import torch

    from . import distributed
    from .config import RECIPE_MODELS, ResumeError, parse_patch
    from .reproduce import reproduce as run

    chosen = None if models is None else tuple(m.strip() for m in models.split(",") if m.strip())
    try:
        patch_size = parse_patch(patch) if patch is not None else None
    except ValueError as e:
        _fail(f"--patch: {e}")
    settings = _recipe(recipe, {**_training_overrides(epochs, batch_size, lr, lr_halve_every, alpha, select,
                                                       checkpoint_every, views, seed, precision, init_from),
                                "teacher_depth": teacher_depth, "student_depth": student_depth,
                                "student_network": student_network, "patch_size": patch_size, "models": chosen})
    settings = _compiled(settings, compile, RECIPE_MODELS)
    if baseline is not None:
        from dataclasses import replace

        settings = replace(settings, baseline=None if baseline.lower() == "none" else baseline)
    if distribute == "folds" and protocol.value not in FOLD_PROTOCOLS:
        _fail(f"--distribute folds is for protocols with folds ({', '.join(FOLD_PROTOCOLS)}); "
              f"{protocol.value} has one split (use batch)")
    try:
        distributed.init_from_env(torch.device(_device(device)), distribute)
    except ValueError as e:
        _fail(str(e))
    utterances, left_out = _corpus_set(corpus, root, labels)
    _check_folds(protocol, folds, utterances)
    try:
        run(utterances, protocol.value, out, settings, cache, torch.device(_device(device)), progress=not quiet,
            left_out=left_out, folds=folds, val_speakers=val_speakers)
    except (ResumeError, ValueError) as e:
        _fail(str(e))
    if distributed.is_main():
        typer.echo((out / "results.md").read_text())


@app.command()
def compare(
    corpus: Corpora,
    root: Roots,
    out: RunDir,
    labels: Labels = None,
    protocol: ProtocolOption = Protocol.paper,
    folds: Folds = 10,
    val_speakers: ValSpeakers = None,
    models: str = typer.Option("student,teacher,ast,septr", help="Comma-separated networks (see `emovit profile`), "
                               "'plain' (the student, CE only) and/or 'opensmile' (the openSMILE + SVM baseline). "
                               "'student' and 'student-16x16' learn by knowledge transfer from "
                               "'teacher'/'teacher-16x16', trained first."),
    recipe: RecipeName = "emovit",
    epochs: Epochs = None,
    batch_size: BatchSize = None,
    lr: LearningRate = None,
    lr_halve_every: LrHalveEvery = None,
    alpha: Alpha = None,
    views: Views = None,
    select: Select = None,
    seed: Seed = None,
    precision: Precision = None,
    init_from: InitFrom = None,
    device: Device = "auto",
    ast_checkpoint: Optional[Path] = typer.Option(None, help="A local timm/DeiT (or AST) state dict to start AST "
                                                  "from; nothing is downloaded. Default: AST from scratch."),
    time_runs: int = typer.Option(10, help="Timed CPU forward passes per model for ms/clip (0: do not time)."),
    threads: int = typer.Option(1, help="torch.set_num_threads for the ms/clip timing."),
    cache: Cache = DEFAULT_CACHE,
    checkpoint_every: CheckpointEvery = None,
    compile: Compile = None,
    quiet: Quiet = False,
    distribute: str = typer.Option("batch", help="Under torchrun: 'batch' (data-parallel stages) or 'folds' (the "
                                                 "folds of loso, kfold or emobox spread over the processes)."),
):
    """Train and test several networks on the same splits (same images, normaliser, optimiser and stage
    loop) and write a Table-2-like results.md: WA, UA, macro-F1, params, GMACs, training time and
    CPU time per clip."""
    import torch

    from . import distributed
    from .compare import CHOICES, CompareError, compare as run
    from .config import ResumeError

    names = _names(models, CHOICES, "--models")
    if time_runs < 0 or threads < 1:
        _fail("--time-runs must be at least 0 and --threads at least 1")
    if ast_checkpoint is not None and not ast_checkpoint.is_file():
        _fail(f"--ast-checkpoint {ast_checkpoint}: no such file")
    settings = _recipe(recipe, _training_overrides(epochs, batch_size, lr, lr_halve_every, alpha, select,
                                                   checkpoint_every, views, seed, precision, init_from))
    settings = _compiled(settings, compile, CHOICES)
    if distribute == "folds" and protocol.value not in FOLD_PROTOCOLS:
        _fail(f"--distribute folds is for protocols with folds ({', '.join(FOLD_PROTOCOLS)})")
    try:
        distributed.init_from_env(torch.device(_device(device)), distribute)
    except ValueError as e:
        _fail(str(e))
    utterances, left_out = _corpus_set(corpus, root, labels)
    _check_folds(protocol, folds, utterances)
    try:
        run(utterances, protocol.value, names, out, settings, cache, torch.device(_device(device)), progress=not quiet,
            checkpoint=ast_checkpoint, time_runs=time_runs, threads=threads, folds=folds, left_out=left_out,
            val_speakers=val_speakers)
    except (CompareError, ResumeError, ValueError) as e:
        _fail(str(e))
    if distributed.is_main():
        typer.echo((out / "results.md").read_text())


@app.command()
def predict(
    paths: list[str] = typer.Argument(..., help="Audio files, folders (searched recursively for .wav .flac "
                                                ".ogg .mp3) or glob patterns."),
    model: Optional[Path] = typer.Option(None, "--model", "-m", help="A run directory (uses models/student.pt), "
                                         "a model .pt file or an exported .onnx file; default: the model shipped "
                                         "with emovit."),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON list for scripts."),
    as_csv: bool = typer.Option(False, "--csv", help="Print CSV: file,label,duration,<one column per label>."),
    window: Optional[float] = typer.Option(None, help="Files longer than this many seconds (at most 4; 3 reads "
                                           "continuous speech best) also get a timeline: one verdict per window; "
                                           "the file's verdict is their mean."),
    hop: Optional[float] = typer.Option(None, help="Seconds between timeline windows (default: half the window)."),
    first_clip: bool = typer.Option(False, "--first-clip", help="Judge a recording longer than 4 s on its first 4 s "
                                    "only (the paper's crop) instead of averaged windows."),
    same_speaker: bool = typer.Option(False, "--same-speaker", help="The recordings are all one speaker's: a model "
                                      "trained with per-speaker normalisation is calibrated on all of them first "
                                      "(such a model needs it; others refuse it)."),
    precision: Precision = None,
):
    """Recognise the emotion in speech recordings: a clip of 4 s (shorter ones padded; a longer recording is
    judged on 4 s windows every 2 s, averaged; --first-clip: its first 4 s only), or a timeline with --window."""
    from .audio import AudioError, find_audio_files
    from .inference import ModelFileError, Recognizer
    from .report import PredictionWriter

    if as_json and as_csv:
        _fail("choose one of --json and --csv")
    if hop is not None and window is None:
        _fail("--hop needs --window")
    if window is not None:
        hop = window / 2 if hop is None else hop
        if window <= 0 or hop <= 0:
            _fail("--window and --hop must be positive")
    precision = _check_precision(precision)
    files, problems = find_audio_files(paths)
    for problem in problems:
        flag = next((f for f in ("true", "false", "yes", "no", "1", "0") if problem.startswith(f"{f}: ")), None)
        hint = " (--json and --csv are flags: they take no value)" if flag else ""
        typer.secho(f"error: {problem}{hint}", err=True, fg=typer.colors.RED)
    if not files:
        raise typer.Exit(2)
    try:
        recognizer = Recognizer.load(model, precision=precision)
    except ModelFileError as e:
        _fail(str(e))
    if window is not None and window > recognizer.clip_seconds:
        _fail(f"--window must be at most {recognizer.clip_seconds:g} s, the clip length the model was trained on")
    recognizer.long_input = "first" if first_clip else "windows"
    if recognizer.per_speaker and not same_speaker:
        _fail(f"{recognizer.path}: trained with per-speaker normalisation; give recordings of one speaker with "
              "--same-speaker, which calibrates the model on all of them")
    if same_speaker and not recognizer.per_speaker:
        _fail(f"--same-speaker is for models trained with per-speaker normalisation; {recognizer.path} is not")
    if same_speaker:
        try:
            recognizer.calibrate(files)  # a file that cannot be decoded is reported below, with its prediction
        except ValueError as e:
            _fail(str(e))
    writer = PredictionWriter("json" if as_json else "csv" if as_csv else "table", recognizer.labels, files,
                              window is not None, typer.echo)
    failed = bool(problems)
    for file, result in recognizer.predict_files(files, window, hop):
        if isinstance(result, AudioError):
            typer.secho(f"error: {result}", err=True, fg=typer.colors.RED)
            failed = True
            continue
        for warning in result.warnings:
            _warn(warning)
        writer.add(file, result)
    writer.close()
    if failed:
        raise typer.Exit(1)


@app.command()
def baseline(
    corpus: Corpora,
    root: Roots,
    labels: Labels = None,
    protocol: ProtocolOption = Protocol.paper,
    folds: Folds = 10,
    seeds: str = typer.Option("0,1,2,3,4", help="Comma-separated split seeds (protocols with folds use the first)."),
    feature_set: str = typer.Option("ComParE_2016", help="ComParE_2016 or eGeMAPSv02."),
    out: Path = typer.Option(..., help="Directory for results.json and results.md."),
    cache: Cache = DEFAULT_CACHE,
):
    """openSMILE functionals + linear SVM alone, over several seeds or all folds: the classical
    reference, on exactly the splits `reproduce` uses for the same seed."""
    from .baseline import baseline_study
    from .checkpoint import save_json, save_text
    from .extras import MissingExtra
    from .report import baseline_markdown

    try:
        seed_list = [int(s) for s in seeds.split(",") if s.strip()]
    except ValueError:
        _fail(f"--seeds must be comma-separated integers, not {seeds!r}")
    utterances, _ = _corpus_set(corpus, root, labels)
    _check_folds(protocol, folds, utterances)
    try:
        study = baseline_study(utterances, protocol.value, seed_list, feature_set, cache_dir=cache / "opensmile",
                               folds=folds)
    except (MissingExtra, ValueError) as e:
        _fail(str(e))
    save_json(study, out / "results.json")
    save_text(baseline_markdown(study, "+".join(c.value for c in corpus)), out / "results.md")
    typer.echo((out / "results.md").read_text())


@app.command()
def evaluate(
    run: Path = typer.Argument(..., help="A run directory of `emovit reproduce` or `emovit compare`."),
    model: Optional[str] = typer.Option(None, "--model", "-m", help="Which of the run's models/NAME.pt (default: "
                                        "student, else plain, else teacher)."),
    window: Optional[float] = typer.Option(None, help="Timeline window for the joined recordings (default: a "
                                           "timeline's, 3/4 of the model's clip: 3 s)."),
    hop: Optional[float] = typer.Option(None, help="Seconds between timeline windows (default: half the window)."),
    seed: int = typer.Option(0, help="Seed of the noise, and of the order in which clips are joined."),
    precision: Precision = None,
    out: Optional[Path] = typer.Option(None, "--out", help="Summary to write, NAME.json with NAME.md beside it "
                                       "(default: RUN/robustness.json, RUN/robustness-val.json for --part val), "
                                       "e.g. one per model of a run."),
    part: str = typer.Option("test", "--part", help="The part of each split to read: test, or val to choose "
                             "between models (recipes, pairs, settings) without touching the test part."),
):
    """Robustness of a trained run's model on its test part (every fold): centre crops of 0.7, 1 and 2 s,
    white and speech-shaped noise at 20 and 10 dB SNR, narrowband (8 kHz, telephone-rate) audio, and clips
    joined into ~60 s recordings read as a timeline; writes RUN/robustness.json and robustness.md (or --out). A
    model trained with per-speaker normalisation is calibrated on each test speaker's clips in each condition."""
    from .evaluate import evaluate_run, robustness_report
    from .inference import ModelFileError

    precision = _check_precision(precision)
    try:
        summary = evaluate_run(run, model, precision, seed, window, hop,
                               progress=lambda message: typer.echo(message, err=True), out=out, part=part)
    except (FileNotFoundError, ModelFileError, ValueError) as e:
        _fail(str(e))
    typer.echo(robustness_report(summary))


@app.command()
def paired(
    a: str = typer.Argument(..., metavar="A", help="RUN[:MODEL]: a run directory (or its predictions.csv) and "
                            "one of its models; MODEL may be left out where the run has one."),
    b: str = typer.Argument(..., metavar="B", help="RUN[:MODEL], the same for the other model (the same run, or a "
                            "run on the same folds)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON for scripts."),
):
    """Two models on the same test clips: how many each gets right that the other does not, and the exact
    McNemar p-value (is the lead more than chance?). Reads the predictions.csv runs write (pooled over folds
    in the run directory, or over the folds finished so far); runs on other folds or another corpus index are
    refused."""
    from .predictions import PredictionsError, model_names, paired_between, read_predictions
    from .report import paired_line

    def side(spec: str) -> tuple[list[dict], str, str]:
        where, _, model = spec.rpartition(":") if ":" in spec else (spec, "", "")
        rows = read_predictions(where)
        names = model_names(rows)
        if not model:
            if len(names) != 1:
                raise PredictionsError(f"{where} has the models {', '.join(names)}: name one as {where}:MODEL")
            model = names[0]
        if model not in names:
            raise PredictionsError(f"{where} has no model {model!r}; it has {', '.join(names)}")
        return rows, model, f"{where}:{model}"

    try:
        (rows_a, model_a, name_a), (rows_b, model_b, name_b) = side(a), side(b)
        result = paired_between(rows_a, model_a, rows_b, model_b, (name_a, name_b))
    except PredictionsError as e:
        _fail(str(e))
    if as_json:
        typer.echo(json.dumps({"a": name_a, "b": name_b, **result}, indent=2))
        return
    typer.echo(paired_line(result, name_a, name_b))
    if result["only_a"] or result["only_b"]:
        typer.echo(f"(clips answered by one side only, left out: {result['only_a']} of A, {result['only_b']} of B)")


figures_app = typer.Typer(no_args_is_help=True, help="The paper's figures, drawn from trained models.")
app.add_typer(figures_app, name="figures")


@figures_app.command("attention")
def figures_attention(
    model: list[Path] = typer.Option(..., "--model", "-m", help="Model file or run directory; repeat to compare "
                                                                "(e.g. a 128x1 and a 16x16 teacher)."),
    clip: list[Path] = typer.Option(..., "--clip", "-c", help="Audio clip; repeat for more rows."),
    out: Path = typer.Option(Path("attention.png"), help="PNG to write."),
    shift: float = typer.Option(0.5, help="Seconds of silence put before the time-shifted copy of each clip."),
    sigma: float = typer.Option(2.0, help="Gaussian smoothing of the attention map, in pixels."),
):
    """Figure 6: last-layer CLS attention over the patches, for each model, on each clip and on a
    time-shifted copy of it."""
    from .audio import AudioError
    from .figures import attention_figure
    from .inference import ModelFileError, Recognizer

    try:
        models = {}
        for m in model:
            rec = Recognizer.load(m)
            ph, pw = rec.model.config.patch_size
            models[f"{rec.path.parent.parent.name or rec.path.stem}/{rec.path.stem} {ph}x{pw}"] = rec
        attention_figure(models, [str(c) for c in clip], out, shift, sigma)
    except (ModelFileError, AudioError, ValueError) as e:
        _fail(str(e))
    typer.echo(f"wrote {out}")


@figures_app.command("cosine")
def figures_cosine(run: Path = typer.Argument(..., help="A run directory of `emovit reproduce`."),
                   out: Path = typer.Option(Path("cosine.png"), help="PNG to write.")):
    """Figure 8: cosine similarity of student features to the teacher's, with and without
    knowledge transfer, on the run's test clips."""
    from .figures import cosine_figure
    from .inference import ModelFileError

    try:
        stats = cosine_figure(run, out)
    except (ModelFileError, FileNotFoundError) as e:
        _fail(str(e))
    for name, s in stats.items():
        typer.echo(f"{name:<8} mean {s['mean']:.3f} ± {s['std']:.3f} over {s['n']} test clips")
    typer.echo(f"wrote {out}")


def _optional(extra: str, what: str) -> None:
    """Fail with the install command when an optional dependency of a command is missing."""
    from .extras import MissingExtra, require

    try:
        require(extra, what)
    except MissingExtra as e:
        _fail(str(e))


@app.command()
def export(
    out: Path = typer.Option(..., "--out", "-o", help="File to write (model.onnx)."),
    model: Optional[Path] = typer.Option(None, "--model", "-m", help="A run directory (uses models/student.pt) "
                                         "or a model .pt file; default: the model shipped with emovit."),
    format: str = typer.Option("onnx", "--format", help="Export format; onnx is the only one."),
    opset: int = typer.Option(17, help="ONNX opset version."),
):
    """Export a model to ONNX: 16 kHz mono 4 s waveform in, probabilities and embedding out (front end and
    normaliser inside; labels and settings in the file's metadata).  Checked against PyTorch before
    the file is written."""
    if format.lower() != "onnx":
        _fail(f"--format {format!r} is not supported; use onnx")
    _optional("onnx", "emovit export --format onnx")
    from .export import ExportError, export_onnx
    from .inference import ModelFileError

    try:
        difference = export_onnx(model, out, opset=opset)
    except (ModelFileError, ExportError) as e:
        _fail(str(e))
    typer.echo(f"wrote {out} (max probability difference to PyTorch on probe clips: {difference:.1e})")


@app.command()
def join(
    student: Path = typer.Argument(..., help="A plain student's model file (RUN/models/plain.pt)."),
    temporal: Path = typer.Argument(..., help="TIM-Net on the log-Mel image, trained on the same training part "
                                    "(RUN/models/timnet-mel-duo.pt)."),
    out: Path = typer.Option(..., "--out", "-o", help="The student-duo model file to write."),
):
    """Join a student and a TIM-Net trained apart on one training part into one student-duo model file (two
    experts, their log-probabilities averaged): each keeps its own recipe; nothing is trained."""
    from .inference import ModelFileError
    from .join import join as join_files

    try:
        join_files(student, temporal, out)
    except ModelFileError as e:
        _fail(str(e))
    typer.echo(f"wrote {out}")


@app.command()
def serve(
    model: Optional[Path] = typer.Option(None, "--model", "-m", help="A run directory, a model .pt file or an "
                                         ".onnx file; default: the model shipped with emovit."),
    host: str = typer.Option("127.0.0.1", help="Address to listen on (0.0.0.0 for every interface)."),
    port: int = typer.Option(8000, help="TCP port."),
    max_upload_mb: float = typer.Option(20.0, help="Largest accepted upload in MiB (larger: HTTP 413)."),
    max_seconds: float = typer.Option(600.0, help="Longest accepted recording in seconds once decoded."),
    workers: int = typer.Option(1, help="Worker processes, each with its own copy of the model."),
    max_concurrent: int = typer.Option(2, help="Predictions running at once in each worker."),
    max_queue: int = typer.Option(32, help="Predictions waiting in each worker beyond those; more: HTTP 503 with "
                                  "Retry-After."),
    body_timeout: float = typer.Option(60.0, help="Seconds an upload may take to arrive (slower: HTTP 408)."),
    keep_alive: int = typer.Option(5, help="Seconds an idle connection is kept open."),
    precision: Precision = None,
):
    """Serve the model over HTTP: a web page at / (upload or record), JSON at /v1/predict, /v1/health,
    /v1/labels."""
    _optional("serve", "emovit serve")
    from .inference import ModelFileError, Recognizer
    from .serve import Limits, MiB, run

    if max_upload_mb <= 0 or max_seconds <= 0 or body_timeout <= 0:
        _fail("--max-upload-mb, --max-seconds and --body-timeout must be positive")
    if min(workers, max_concurrent, keep_alive) < 1 or max_queue < 0:
        _fail("--workers, --max-concurrent and --keep-alive must be at least 1, --max-queue at least 0")
    precision = _check_precision(precision)
    try:
        recognizer = Recognizer.load(model, precision=precision)
        recognizer.require_single_clips("the service")
    except ModelFileError as e:
        _fail(str(e))
    typer.echo(f"serving {recognizer.path} ({', '.join(recognizer.labels)}) on http://{host}:{port}/"
               f" with {workers} worker(s)")
    limits = Limits(max_concurrent=max_concurrent, max_queue=max_queue, body_timeout=body_timeout)
    run(recognizer, host, port, int(max_upload_mb * MiB), max_seconds, workers=workers, limits=limits,
        keep_alive=keep_alive)


benchmark_app = typer.Typer(no_args_is_help=True, help="Measure inference speed and memory on this machine.")
app.add_typer(benchmark_app, name="benchmark")


@benchmark_app.command("speed")
def benchmark_speed(
    model: Optional[Path] = typer.Option(None, "--model", "-m", help="A run directory, a model .pt file or an "
                                         ".onnx file; default: the model shipped with emovit."),
    onnx: bool = typer.Option(True, "--onnx/--no-onnx", help="Also measure the model exported to ONNX (skipped, "
                              "with a note, when onnx/onnxruntime are not installed)."),
    clip: Optional[Path] = typer.Option(None, "--clip", help="Audio file for latency and batch figures; default: "
                                        "a synthetic 4 s clip (tone + noise) written to a temporary WAV."),
    clip_rate: int = typer.Option(48000, help="Sample rate of the synthetic clip (48 kHz: resampling is included)."),
    hour_seconds: float = typer.Option(3600.0, help="Length of the synthetic recording for the timeline "
                                       "figure, in seconds (0: skip it)."),
    window: float = typer.Option(4.0, help="Timeline window in seconds (at most 4)."),
    hop: float = typer.Option(4.0, help="Seconds between timeline windows."),
    runs: int = typer.Option(50, help="Timed predictions for latency (after --warmup untimed ones)."),
    warmup: int = typer.Option(5, help="Untimed predictions before the latency runs."),
    batch: int = typer.Option(256, help="Clips per throughput pass."),
    batch_size: int = typer.Option(32, help="Clips per forward pass (predict_batch, timeline)."),
    repeats: int = typer.Option(3, help="Throughput passes; the median is reported."),
    threads: Optional[int] = typer.Option(None, help="Threads for throughput and timeline; default: every core "
                                          "(os.cpu_count()). Latency always uses 1."),
    json_out: Optional[Path] = typer.Option(None, "--json", help="Also write the full result as JSON to this "
                                            "file ('-': print JSON instead of the table)."),
    precision: Precision = None,
):
    """Latency (one 4 s clip file on 1 thread), batch throughput (all cores) and a long-recording timeline
    (time and peak memory, in a subprocess), for PyTorch and ONNX, next to the project's targets."""
    from .benchmark import format_report, run_benchmark
    from .inference import ModelFileError

    if min(runs, batch, batch_size, repeats) < 1 or warmup < 0 or hour_seconds < 0:
        _fail("--runs, --batch, --batch-size and --repeats must be at least 1, --warmup and --hour-seconds "
              "at least 0")
    if threads is not None and threads < 1:
        _fail("--threads must be at least 1")
    if window <= 0 or hop <= 0:
        _fail("--window and --hop must be positive")
    if clip is not None and not clip.is_file():
        _fail(f"{clip}: no such audio file")
    precision = _check_precision(precision)
    try:
        result = run_benchmark(model, onnx=onnx, clip=clip, clip_rate=clip_rate, precision=precision, runs=runs,
                               warmup=warmup,
                               batch=batch, batch_size=batch_size, repeats=repeats, threads=threads,
                               hour_seconds=hour_seconds, window=window, hop=hop,
                               progress=lambda message: typer.echo(message, err=True))
    except (ModelFileError, ValueError, RuntimeError) as e:  # AudioError is a ValueError
        _fail(str(e))
    if json_out is not None and str(json_out) == "-":
        typer.echo(json.dumps(result, indent=2))
        return
    typer.echo(format_report(result))
    if json_out is not None:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(json.dumps(result, indent=2) + "\n")
        typer.echo(f"wrote {json_out}")


@benchmark_app.command("training")
def benchmark_training(
    threads: Optional[int] = typer.Option(None, help="Threads (default: every core this process may use)."),
    batch_sizes: str = typer.Option("4,8,16,32,64", help="Batch sizes to measure (the paper's 4 is always one)."),
    models: str = typer.Option("teacher,student", help="Networks: teacher, student."),
    steps: int = typer.Option(4, help="Timed training steps per batch size (after 2 untimed ones)."),
    compare_plain: bool = typer.Option(False, "--compare-plain", help="Also the plain path (no fast kernels), step "
                                       "by step alternating with the fast one, and the speed-up."),
    data_parallel: int = typer.Option(0, help="Also N processes under DDP, threads / N threads each (0: no)."),
    precision: Precision = None,
    json_out: Optional[Path] = typer.Option(None, "--json", help="Also write the result as JSON to this file "
                                            "('-': print JSON instead of the table)."),
):
    """Training speed on this machine: the measured peak of a large fp32 matrix product (and bf16 where AMX or
    a GPU has it), then teacher and student training steps (forward, loss, backward, optimiser) in clips/s at
    each batch size, as a fraction of that peak (3 x the forward MACs as run), and the time the EmoDB `paper`
    recipe would take at these speeds."""
    from .report import training_speed_table
    from .training_speed import MODELS, benchmark_training as measure

    names = tuple(n.strip() for n in models.split(",") if n.strip())
    if not names or set(names) - set(MODELS):
        _fail(f"--models: choose from {', '.join(MODELS)}")
    try:
        sizes = tuple(int(b) for b in batch_sizes.split(","))
    except ValueError:
        _fail(f"--batch-sizes must be comma-separated integers, not {batch_sizes!r}")
    if min(sizes) < 1 or steps < 1 or (threads is not None and threads < 1) or data_parallel < 0:
        _fail("--batch-sizes, --steps and --threads must be at least 1, --data-parallel at least 0")
    import torch

    from .precision import resolve_precision

    precision = resolve_precision(_check_precision(precision), torch.device("cpu"))  # bf16 where AMX has it
    result = measure(threads, sizes, models=names, steps=steps, precision=precision,
                     compare_plain=compare_plain, data_parallel=data_parallel,
                     on_progress=lambda message: typer.echo(message, err=True))
    if json_out is not None and str(json_out) == "-":
        typer.echo(json.dumps(result, indent=2))
        return
    typer.echo(training_speed_table(result))
    if json_out is not None:
        from .checkpoint import save_json

        save_json(result, json_out)
        typer.echo(f"wrote {json_out}")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
