"""The `emovit` command line: one entry point, a sub-command per job."""
from __future__ import annotations

import glob
import json
import os
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Speech emotion recognition with vertical-patch Vision Transformers (Kim & Lee, 2024).")


class Corpus(str, Enum):
    emodb = "emodb"
    savee = "savee"
    cremad = "cremad"
    ravdess = "ravdess"
    tess = "tess"
    csv = "csv"
    folder = "folder"


class Protocol(str, Enum):
    paper = "paper"
    paper_leaky = "paper-leaky"
    speaker = "speaker"
    loso = "loso"


def _fail(message: str) -> None:
    typer.secho(f"error: {message}", err=True, fg=typer.colors.RED)
    raise typer.Exit(2)


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


# Options shared by the training commands (reproduce, compare, baseline), declared once.
Corpora = Annotated[list[Corpus], typer.Option("--corpus", help=CORPUS_HELP)]
Roots = Annotated[list[Path], typer.Option("--root", help=ROOT_HELP)]
Labels = Annotated[Optional[str], typer.Option("--labels", help=LABELS_HELP)]
RunDir = Annotated[Path, typer.Option("--out", help="Run directory. Re-running the same command resumes it.")]
Epochs = Annotated[int, typer.Option("--epochs", help="Epochs of each stage (paper: 50). Fewer for a smoke run.")]
BatchSize = Annotated[int, typer.Option("--batch-size", help="Mini-batch size (paper: 4).")]
LearningRate = Annotated[float, typer.Option("--lr", help="Adam learning rate (paper: 1e-4).")]
LrHalveEvery = Annotated[int, typer.Option("--lr-halve-every", help="Halve the learning rate every N epochs (paper: 10).")]
Alpha = Annotated[float, typer.Option("--alpha", help="Weight of L1 feature matching in the student's stage 3 (paper: 10).")]
Views = Annotated[int, typer.Option("--views", help="Views per training clip: 1 = no augmentation, 4 = original + "
                                    "noise, time-shift and speed copies (one drawn per clip each epoch).")]
Select = Annotated[str, typer.Option("--select", help="Weights kept from each stage: 'best' validation epoch "
                                     "(validation comes from the training part) or 'last'.")]
Seed = Annotated[int, typer.Option("--seed", help="Seed of the split, initialisation, augmentation and sample order.")]
Precision = Annotated[str, typer.Option("--precision", help="The network's arithmetic: fp32, bf16 (autocast) or auto "
                                        "(bf16 on CUDA or AMX CPUs, fp32 elsewhere).")]
Device = Annotated[str, typer.Option("--device", help="cpu, cuda or auto.")]
Cache = Annotated[Path, typer.Option("--cache", help="Feature cache directory.")]
CheckpointEvery = Annotated[int, typer.Option("--checkpoint-every", help="Also checkpoint every N steps inside an epoch.")]
Quiet = Annotated[bool, typer.Option("--quiet", help="No progress bars.")]
DEFAULT_CACHE = Path.home() / ".cache" / "emovit"


def _check_precision(precision: str) -> None:
    if precision not in ("auto", "fp32", "bf16"):
        _fail("--precision must be auto, fp32 or bf16")


def _training_device(select: str, precision: str, device: str) -> str:
    """Check the options every training command shares; returns the device to train on."""
    if select not in ("best", "last"):
        _fail("--select must be 'best' or 'last'")
    _check_precision(precision)
    if device != "auto":
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


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


def _names(text: str, choices, option: str) -> list[str]:
    """Comma-separated names, checked against `choices`."""
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in choices]
    if unknown or not names:
        _fail(f"{option}: unknown or no model(s) {unknown}; choose from {', '.join(choices)}")
    return names


@app.command()
def profile(as_json: bool = typer.Option(False, "--json", help="Print JSON for scripts."),
            num_classes: int = typer.Option(7, help="Classifier width (7 for EmoDB and SAVEE)."),
            models: str = typer.Option("all", help="Comma-separated registry names (default: every registered "
                                                   "network; see the table)."),
            time_it: bool = typer.Option(False, "--time", help="Also measure CPU milliseconds per clip: batch 1, "
                                                               "after warm-up, median of --runs runs."),
            runs: int = typer.Option(10, help="Timed forward passes per model (with --time)."),
            threads: int = typer.Option(1, help="torch.set_num_threads for the timing (with --time).")):
    """Parameters and GMACs (one 128x128 input) of every network, next to the paper's Table 3, and
    with --time CPU time per clip; each as a multiple of the student's. GMACs count layers with
    weights (as the paper's figures do); 'all' adds attention's two products; 'run' is every product
    of emovit's forward pass (its ViTs compute the last layer for the CLS token only)."""
    from .models import MODELS
    from .profile import profile_models

    names = list(MODELS) if models == "all" else _names(models, MODELS, "--models")
    if runs < 1 or threads < 1:
        _fail("--runs and --threads must be at least 1")
    announce = (lambda name: typer.echo(f"timing {name} ...", err=True)) if time_it and not as_json else None
    rows = profile_models(num_classes, names, timing=time_it, runs=runs, threads=threads, on_model=announce)
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    typer.echo(f"{'model':<19} {'params (M)':>10} {'GMACs':>8} {'all':>8} {'run':>8}   {'paper M':>7} {'paper G':>7}"
               + (f" {'ms/clip':>9}" if time_it else "") + f"   {'params×':>8} {'GMACs×':>8}"
               + (f" {'time×':>8}" if time_it else ""))
    for r in rows:
        paper = (f"{r['paper_params_m']:>7.1f} {r['paper_gmacs']:>7.1f}" if "paper_params_m" in r else " " * 15)
        line = f"{r['model']:<19} {r['params_m']:>10.3f} {r['gmacs']:>8.3f} {r['gmacs_all']:>8.3f} {r['gmacs_run']:>8.3f}   {paper}"
        line += f" {r['ms_per_clip']:>9.1f}" if time_it else ""
        if "params_vs_student" in r:
            line += f"   {r['params_vs_student']:>8.1f} {r['gmacs_vs_student']:>8.1f}"
            line += f" {r['time_vs_student']:>8.1f}" if time_it else ""
        typer.echo(line)
    typer.echo("GMACs: layers with weights (as the paper counts); all: with attention's products; "
               "run: every product emovit's forward pass does. ×: multiple of the student's.")
    for r in rows:
        if "note" in r:
            typer.echo(f"note ({r['model']}): {r['note']}")
    if time_it:
        typer.echo(f"time: batch 1, median of {runs} runs after warm-up, {threads} thread(s), on this machine's CPU")


def _parse_patch(text: str) -> tuple[int, int]:
    try:
        h, w = (int(v) for v in text.lower().split("x"))
    except ValueError:
        _fail(f"--patch must look like 128x1 or 16x16, not {text!r}")
    return h, w


@app.command()
def reproduce(
    corpus: Corpora,
    root: Roots,
    out: RunDir,
    labels: Labels = None,
    protocol: Protocol = typer.Option(Protocol.paper, help="paper: random 80/20 of utterances (speakers overlap); "
                                      "paper-leaky: augmented copies made before the split (shows the leak); "
                                      "speaker: ~20% of speakers held out (of each corpus); loso: leave one "
                                      "speaker out."),
    epochs: Epochs = 50,
    batch_size: BatchSize = 4,
    lr: LearningRate = 1e-4,
    lr_halve_every: LrHalveEvery = 10,
    alpha: Alpha = 10.0,
    teacher_depth: int = typer.Option(6, help="Teacher ViT depth (paper: 6 or 12)."),
    student_depth: int = typer.Option(3, help="Student ViT depth (paper: 3)."),
    patch: str = typer.Option("128x1", help="Patch height x width: 128x1 vertical (paper) or 16x16 square."),
    views: Views = 4,
    select: Select = "best",
    models: str = typer.Option("teacher,student,plain", help="Which of teacher,student,plain to train "
                                                             "(the teacher is always trained)."),
    seed: Seed = 0,
    precision: Precision = "auto",
    device: Device = "auto",
    baseline: str = typer.Option("ComParE_2016", help="openSMILE functionals for the SVM baseline on the same "
                                                       "split: ComParE_2016, eGeMAPSv02 or none."),
    cache: Cache = DEFAULT_CACHE,
    checkpoint_every: CheckpointEvery = 200,
    quiet: Quiet = False,
    distribute: str = typer.Option("batch", help="Under torchrun: 'batch' runs every stage data-parallel "
                                                 "(DDP, same results as one process); 'folds' spreads LOSO folds "
                                                 "over the processes."),
):
    """Run the paper's three stages (plus a CE-only student and an openSMILE+SVM baseline) on a
    corpus under one protocol; write results.json, results.md, confusion matrices, the split and
    the leakage audit to --out."""
    import torch

    from . import distributed
    from .reproduce import Recipe, reproduce as run

    chosen = tuple(m.strip() for m in models.split(",") if m.strip())
    unknown = set(chosen) - {"teacher", "student", "plain"}
    if unknown:
        _fail(f"--models: unknown model(s) {sorted(unknown)}; choose from teacher, student, plain")
    device = _training_device(select, precision, device)
    recipe = Recipe(epochs=epochs, batch_size=batch_size, lr=lr, lr_halve_every=lr_halve_every, alpha=alpha,
                    teacher_depth=teacher_depth, student_depth=student_depth, patch_size=_parse_patch(patch),
                    views=views, select=select, seed=seed, precision=precision,
                    baseline=None if baseline.lower() == "none" else baseline, checkpoint_every=checkpoint_every,
                    stages=tuple(s for s in ("teacher", "student", "plain") if s in chosen or s == "teacher"))
    previous = out / "config.json"
    if previous.exists():
        from dataclasses import asdict

        old = json.loads(previous.read_text())
        new = json.loads(json.dumps({"protocol": protocol.value, "recipe": asdict(recipe)}))
        if old.get("protocol") != new["protocol"] or old.get("recipe") != new["recipe"]:
            _fail(f"{out} holds a run with other settings ({previous}); resume it with the same options "
                  "or choose a new --out")
    if distribute == "folds" and protocol != Protocol.loso:
        _fail("--distribute folds is for --protocol loso; other protocols have one split (use batch)")
    try:
        distributed.init_from_env(torch.device(device), distribute)
    except ValueError as e:
        _fail(str(e))
    utterances, left_out = _corpus_set(corpus, root, labels)
    if previous.exists():
        old = json.loads(previous.read_text())
        now = {"corpora": sorted({u.corpus for u in utterances}), "labels": sorted({u.label for u in utterances})}
        if any(k in old and old[k] != v for k, v in now.items()):
            _fail(f"{out} holds a run on other corpora or labels ({previous}); choose a new --out")
    run(utterances, protocol.value, out, recipe, cache, torch.device(device), progress=not quiet, left_out=left_out)
    if distributed.is_main():
        typer.echo((out / "results.md").read_text())


@app.command()
def compare(
    corpus: Corpora,
    root: Roots,
    out: RunDir,
    labels: Labels = None,
    protocol: Protocol = typer.Option(Protocol.paper, help="paper, paper-leaky or speaker (one split; "
                                      "not loso)."),
    models: str = typer.Option("student,teacher,ast,septr", help="Comma-separated networks (see `emovit profile`) "
                               "and/or 'plain' (the student, CE only). 'student' and 'student-16x16' learn by "
                               "knowledge transfer from 'teacher'/'teacher-16x16', trained first."),
    epochs: Epochs = 50,
    batch_size: BatchSize = 4,
    lr: LearningRate = 1e-4,
    lr_halve_every: LrHalveEvery = 10,
    alpha: Alpha = 10.0,
    views: Views = 4,
    select: Select = "best",
    seed: Seed = 0,
    precision: Precision = "auto",
    device: Device = "auto",
    ast_checkpoint: Optional[Path] = typer.Option(None, help="A local timm/DeiT (or AST) state dict to start AST "
                                                  "from; nothing is downloaded. Default: AST from scratch."),
    time_runs: int = typer.Option(10, help="Timed CPU forward passes per model for ms/clip (0: do not time)."),
    threads: int = typer.Option(1, help="torch.set_num_threads for the ms/clip timing."),
    cache: Cache = DEFAULT_CACHE,
    checkpoint_every: CheckpointEvery = 200,
    quiet: Quiet = False,
):
    """Train and test several networks on ONE split (same images, normaliser, optimiser and stage
    loop) and write a Table-2-like results.md: WA, UA, macro-F1, params, GMACs, training time and
    CPU time per clip."""
    import torch

    from .compare import CHOICES, CompareError, compare as run
    from .reproduce import Recipe

    names = _names(models, CHOICES, "--models")
    if protocol == Protocol.loso:
        _fail("compare runs one split; choose paper, paper-leaky or speaker")
    device = _training_device(select, precision, device)
    if time_runs < 0 or threads < 1:
        _fail("--time-runs must be at least 0 and --threads at least 1")
    if ast_checkpoint is not None and not ast_checkpoint.is_file():
        _fail(f"--ast-checkpoint {ast_checkpoint}: no such file")
    recipe = Recipe(epochs=epochs, batch_size=batch_size, lr=lr, lr_halve_every=lr_halve_every, alpha=alpha,
                    views=views, select=select, seed=seed, precision=precision, baseline=None,
                    checkpoint_every=checkpoint_every)
    utterances, _ = _corpus_set(corpus, root, labels)
    try:
        run(utterances, protocol.value, names, out, recipe, cache, torch.device(device), progress=not quiet,
            checkpoint=ast_checkpoint, time_runs=time_runs, threads=threads)
    except CompareError as e:
        _fail(str(e))
    typer.echo((out / "results.md").read_text())


AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".mp3")


def _audio_files(paths: list[str]) -> tuple[list[str], list[str]]:
    """The audio files that PATHs name, and a message for each PATH that named none.

    A file named outright is tried whatever its extension; folders (searched recursively) and
    globs (expanded here when the shell did not) contribute only files with audio extensions.
    """
    files: list[str] = []
    problems: list[str] = []
    for given in paths:
        if os.path.isfile(given):
            files.append(given)
            continue
        matches = [given] if os.path.isdir(given) else sorted(glob.glob(given, recursive=True))
        if not matches:
            missing = "no files match this pattern" if glob.escape(given) != given else "no such file or directory"
            problems.append(f"{given}: {missing}")
            continue
        found: list[str] = []
        for match in matches:
            inside = Path(match).rglob("*") if os.path.isdir(match) else [Path(match)]
            found += sorted(str(f) for f in inside if f.is_file() and f.suffix.lower() in AUDIO_EXTENSIONS)
        if not found:
            problems.append(f"{given}: no audio files ({' '.join(AUDIO_EXTENSIONS)}) found")
        files += found
    return list(dict.fromkeys(files)), problems


def _predictions(recognizer, files: list[str], window: float | None, hop: float | None, batch_size: int = 32):
    """(file, Prediction or AudioError) in the order of ``files``; with a window, files longer than it
    get a timeline, the others are batched through the model."""
    from .audio import AudioError, audio_info

    for i in range(0, len(files), batch_size):
        chunk = files[i:i + batch_size]
        long: set[str] = set()
        if window is not None:
            for f in chunk:
                try:
                    if audio_info(f)[0] > window:
                        long.add(f)
                except AudioError:
                    pass  # predict_batch below reports it
        short = [f for f in chunk if f not in long]
        batch = dict(zip(short, recognizer.predict_batch(short, batch_size)))
        for f in chunk:
            if f not in long:
                yield f, batch[f]
                continue
            try:
                yield f, recognizer.timeline(f, window, hop, batch_size)
            except AudioError as e:
                yield f, e


def _csv_line(values: list) -> str:
    import csv
    import io

    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(values)
    return buffer.getvalue()


@app.command()
def predict(
    paths: list[str] = typer.Argument(..., help="Audio files, folders (searched recursively for .wav .flac "
                                                ".ogg .mp3) or glob patterns."),
    model: Optional[Path] = typer.Option(None, "--model", "-m", help="A run directory (uses models/student.pt), "
                                         "a model .pt file or an exported .onnx file; default: the model shipped "
                                         "with emovit."),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON list for scripts."),
    as_csv: bool = typer.Option(False, "--csv", help="Print CSV: file,label,duration,<one column per label>."),
    window: Optional[float] = typer.Option(None, help="Files longer than this many seconds (at most 4) also get "
                                           "a timeline: one verdict per window; the file's verdict is their mean."),
    hop: Optional[float] = typer.Option(None, help="Seconds between timeline windows (default: half the window)."),
    precision: Precision = "auto",
):
    """Recognise the emotion in speech recordings (first 4 s of each, or a timeline with --window)."""
    from dataclasses import asdict

    from .audio import AudioError
    from .recognizer import ModelFileError, Recognizer

    if as_json and as_csv:
        _fail("choose one of --json and --csv")
    if hop is not None and window is None:
        _fail("--hop needs --window")
    if window is not None:
        hop = window / 2 if hop is None else hop
        if window <= 0 or hop <= 0:
            _fail("--window and --hop must be positive")
    _check_precision(precision)
    files, problems = _audio_files(paths)
    for problem in problems:
        typer.secho(f"error: {problem}", err=True, fg=typer.colors.RED)
    if not files:
        raise typer.Exit(2)
    try:
        recognizer = Recognizer.load(model, precision=precision)
    except ModelFileError as e:
        _fail(str(e))
    if window is not None and window > recognizer.clip_seconds:
        _fail(f"--window must be at most {recognizer.clip_seconds:g} s, the clip length the model was trained on")

    labels = recognizer.labels
    name_width = max(len("file"), *(len(f) for f in files), 16 if window is not None else 0)
    label_width = max(len("label"), *(len(label) for label in labels))
    if as_csv:
        extra = ["start", "end"] if window is not None else []
        typer.echo(_csv_line(["file", "label", "duration", *extra, *labels]), nl=False)
    elif not as_json:
        typer.echo(f"{'file':<{name_width}}  {'label':<{label_width}}  {'prob':>5}  {'duration':>9}")
    records, failed = [], bool(problems)
    for file, result in _predictions(recognizer, files, window, hop):
        if isinstance(result, AudioError):
            typer.secho(f"error: {result}", err=True, fg=typer.colors.RED)
            failed = True
        elif as_json:
            record = {"file": file, "label": result.label, "probabilities": result.probabilities,
                      "duration": result.duration}
            if result.timeline is not None:
                record["timeline"] = [asdict(s) for s in result.timeline]
            records.append(record)
        elif as_csv:
            blank = ["", ""] if window is not None else []
            typer.echo(_csv_line([file, result.label, round(result.duration, 3), *blank,
                                  *(result.probabilities[label] for label in labels)]), nl=False)
            for s in result.timeline or []:
                typer.echo(_csv_line([file, s.label, round(s.end - s.start, 3), round(s.start, 3), round(s.end, 3),
                                      *(s.probabilities[label] for label in labels)]), nl=False)
        else:
            typer.echo(f"{file:<{name_width}}  {result.label:<{label_width}}  "
                       f"{result.probabilities[result.label]:>5.2f}  {result.duration:>7.1f} s")
            for s in result.timeline or []:
                span = f"  {s.start:.1f}-{s.end:.1f} s"
                typer.echo(f"{span:<{name_width}}  {s.label:<{label_width}}  {s.probabilities[s.label]:>5.2f}")
    if as_json:
        typer.echo(json.dumps(records, indent=2))
    if failed:
        raise typer.Exit(1)


@app.command()
def baseline(
    corpus: Corpora,
    root: Roots,
    labels: Labels = None,
    protocol: Protocol = typer.Option(Protocol.paper, help="Split protocol, as for reproduce."),
    seeds: str = typer.Option("0,1,2,3,4", help="Comma-separated split seeds (LOSO uses the first)."),
    feature_set: str = typer.Option("ComParE_2016", help="ComParE_2016 or eGeMAPSv02."),
    out: Path = typer.Option(..., help="Directory for results.json and results.md."),
    cache: Cache = DEFAULT_CACHE,
):
    """openSMILE functionals + linear SVM alone, over several seeds or all LOSO folds: the
    classical reference, on exactly the splits `reproduce` uses for the same seed."""
    from .baseline import baseline_markdown, baseline_study
    from .checkpoint import save_json, save_text

    try:
        seed_list = [int(s) for s in seeds.split(",") if s.strip()]
    except ValueError:
        _fail(f"--seeds must be comma-separated integers, not {seeds!r}")
    utterances, _ = _corpus_set(corpus, root, labels)
    study = baseline_study(utterances, protocol.value, seed_list, feature_set, cache_dir=cache / "opensmile")
    save_json(study, out / "results.json")
    save_text(baseline_markdown(study, "+".join(c.value for c in corpus)), out / "results.md")
    typer.echo((out / "results.md").read_text())


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
    from .recognizer import ModelFileError, Recognizer

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
    from .recognizer import ModelFileError

    try:
        stats = cosine_figure(run, out)
    except (ModelFileError, FileNotFoundError) as e:
        _fail(str(e))
    for name, s in stats.items():
        typer.echo(f"{name:<8} mean {s['mean']:.3f} ± {s['std']:.3f} over {s['n']} test clips")
    typer.echo(f"wrote {out}")


def _optional(modules: tuple[str, ...], extra: str, what: str) -> None:
    """Fail with the install command when an optional dependency of a command is missing."""
    import importlib

    for name in modules:
        try:
            importlib.import_module(name)
        except ImportError:
            _fail(f"{what} needs the '{name}' package, which is not installed: pip install 'emovit[{extra}]'")


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
    _optional(("onnx", "onnxruntime"), "onnx", "emovit export --format onnx")
    from .export import ExportError, export_onnx
    from .recognizer import ModelFileError

    try:
        difference = export_onnx(model, out, opset=opset)
    except (ModelFileError, ExportError) as e:
        _fail(str(e))
    typer.echo(f"wrote {out} (max probability difference to PyTorch on probe clips: {difference:.1e})")


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
    precision: Precision = "auto",
):
    """Serve the model over HTTP: a web page at / (upload or record), JSON at /v1/predict, /v1/health,
    /v1/labels."""
    _optional(("fastapi", "uvicorn", "python_multipart"), "serve", "emovit serve")
    from .recognizer import ModelFileError, Recognizer
    from .serve import Limits, MiB, run

    if max_upload_mb <= 0 or max_seconds <= 0 or body_timeout <= 0:
        _fail("--max-upload-mb, --max-seconds and --body-timeout must be positive")
    if min(workers, max_concurrent, keep_alive) < 1 or max_queue < 0:
        _fail("--workers, --max-concurrent and --keep-alive must be at least 1, --max-queue at least 0")
    _check_precision(precision)
    try:
        recognizer = Recognizer.load(model, precision=precision)
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
    precision: Precision = "auto",
):
    """Latency (one 4 s clip file on 1 thread), batch throughput (all cores) and a long-recording timeline
    (time and peak memory, in a subprocess), for PyTorch and ONNX, next to the project's targets."""
    from .benchmark import format_report, run_benchmark
    from .recognizer import ModelFileError

    if min(runs, batch, batch_size, repeats) < 1 or warmup < 0 or hour_seconds < 0:
        _fail("--runs, --batch, --batch-size and --repeats must be at least 1, --warmup and --hour-seconds "
              "at least 0")
    if threads is not None and threads < 1:
        _fail("--threads must be at least 1")
    if window <= 0 or hop <= 0:
        _fail("--window and --hop must be positive")
    if clip is not None and not clip.is_file():
        _fail(f"{clip}: no such audio file")
    _check_precision(precision)
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


def main() -> None:
    app()


if __name__ == "__main__":
    main()
