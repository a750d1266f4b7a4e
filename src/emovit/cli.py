"""The `emovit` command line: one entry point, a sub-command per job."""
from __future__ import annotations

import json
from enum import Enum
from pathlib import Path
from typing import Optional

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
            num_classes: int = typer.Option(7, help="Classifier width (7 for EmoDB and SAVEE).")):
    """Parameters and GMACs (one 128x128 input) of each network, next to the paper's Table 3."""
    from .profile import profile_models

    rows = profile_models(num_classes)
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    typer.echo(f"{'model':<16} {'params (M)':>10} {'GMACs':>8}   {'paper params':>12} {'paper GMACs':>11}")
    for r in rows:
        paper = (f"{r['paper_params_m']:>12.1f} {r['paper_gmacs']:>11.1f}" if "paper_params_m" in r else "")
        typer.echo(f"{r['model']:<16} {r['params_m']:>10.3f} {r['gmacs']:>8.3f}   {paper}")


def _parse_patch(text: str) -> tuple[int, int]:
    try:
        h, w = (int(v) for v in text.lower().split("x"))
    except ValueError:
        _fail(f"--patch must look like 128x1 or 16x16, not {text!r}")
    return h, w


@app.command()
def reproduce(
    corpus: Corpus = typer.Option(..., help="Corpus adapter to index --root with."),
    root: Path = typer.Option(..., help="Corpus folder (for csv: the CSV file)."),
    protocol: Protocol = typer.Option(Protocol.paper, help="paper: random 80/20 of utterances (speakers overlap); "
                                      "paper-leaky: augmented copies made before the split (shows the leak); "
                                      "speaker: ~20% of speakers held out; loso: leave one speaker out."),
    out: Path = typer.Option(..., help="Run directory. Re-running the same command resumes it."),
    epochs: int = typer.Option(50, help="Epochs of each stage (paper: 50). Fewer for a smoke run."),
    batch_size: int = typer.Option(4, help="Mini-batch size (paper: 4)."),
    lr: float = typer.Option(1e-4, help="Adam learning rate (paper: 1e-4)."),
    lr_halve_every: int = typer.Option(10, help="Halve the learning rate every N epochs (paper: 10)."),
    alpha: float = typer.Option(10.0, help="Weight of L1 feature matching in stage 3 (paper: 10)."),
    teacher_depth: int = typer.Option(6, help="Teacher ViT depth (paper: 6 or 12)."),
    student_depth: int = typer.Option(3, help="Student ViT depth (paper: 3)."),
    patch: str = typer.Option("128x1", help="Patch height x width: 128x1 vertical (paper) or 16x16 square."),
    views: int = typer.Option(4, help="Views per training clip: 1 = no augmentation, 4 = original + noise, "
                                     "time-shift and speed copies (one drawn per clip each epoch)."),
    select: str = typer.Option("best", help="Weights kept from each stage: 'best' validation epoch "
                                           "(validation comes from the training part) or 'last'."),
    models: str = typer.Option("teacher,student,plain", help="Which of teacher,student,plain to train "
                                                             "(the teacher is always trained)."),
    seed: int = typer.Option(0, help="Seed of the split, initialisation, augmentation and sample order."),
    precision: str = typer.Option("auto", help="fp32, bf16 (autocast) or auto (bf16 on CUDA or AMX CPUs)."),
    device: str = typer.Option("auto", help="cpu, cuda or auto."),
    baseline: str = typer.Option("ComParE_2016", help="openSMILE functionals for the SVM baseline on the same "
                                                       "split: ComParE_2016, eGeMAPSv02 or none."),
    cache: Path = typer.Option(Path.home() / ".cache" / "emovit", help="Feature cache directory."),
    checkpoint_every: int = typer.Option(200, help="Also checkpoint every N steps inside an epoch."),
    quiet: bool = typer.Option(False, help="No progress bars."),
):
    """Run the paper's three stages (plus a CE-only student and an openSMILE+SVM baseline) on a
    corpus under one protocol; write results.json, results.md, confusion matrices, the split and
    the leakage audit to --out."""
    import torch

    from .reproduce import Recipe, reproduce as run

    chosen = tuple(m.strip() for m in models.split(",") if m.strip())
    unknown = set(chosen) - {"teacher", "student", "plain"}
    if unknown:
        _fail(f"--models: unknown model(s) {sorted(unknown)}; choose from teacher, student, plain")
    if select not in ("best", "last"):
        _fail("--select must be 'best' or 'last'")
    if precision not in ("auto", "fp32", "bf16"):
        _fail("--precision must be auto, fp32 or bf16")
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
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
    utterances = _index(corpus.value, root).utterances
    run(utterances, protocol.value, out, recipe, cache, torch.device(device), progress=not quiet)
    typer.echo((out / "results.md").read_text())


def main() -> None:
    app()


if __name__ == "__main__":
    main()
