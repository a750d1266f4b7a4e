"""Figures of the paper, drawn from trained models so a user can check each claim on their data.

- `attention_figure` (Figure 6): last-layer CLS attention over the patches, Gaussian-smoothed and
  laid over the log-Mel image, for several models on the same clips and on time-shifted copies.
- `cosine_figure` (Figure 8): per-clip cosine similarity between the teacher's pooled features
  and those of students trained with and without knowledge transfer, on a run's test part.
Confusion matrices (Figure 7) are written by every run (`metrics.plot_confusion`).
"""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import torch
from matplotlib.figure import Figure
from scipy.ndimage import gaussian_filter

from .audio import load_audio
from .inference import Recognizer, TorchRecognizer
from .metrics import save_figure


def attention_map(recognizer: TorchRecognizer, wave: np.ndarray, sigma: float = 2.0) -> tuple[np.ndarray, np.ndarray]:
    """(log-Mel image in dB, smoothed CLS attention on the same H x W grid) for one clip."""
    model = recognizer.model
    if not hasattr(model, "cls_attention"):
        raise ValueError(f"{recognizer.path}: this architecture has no CLS attention map")
    clip = recognizer.clip(wave)
    with torch.inference_mode():
        image = recognizer.frontend(torch.from_numpy(clip)[None].to(recognizer.device))
        attention = model.cls_attention(recognizer.normalizer(image))[0].float().cpu().numpy()
    h, w = model.config.image_size
    ph, pw = model.config.patch_size
    grid = attention.reshape(h // ph, w // pw)
    full = np.kron(grid, np.ones((ph, pw))) / (ph * pw)
    return image[0, 0].cpu().numpy(), gaussian_filter(full, sigma)


def attention_figure(models: dict[str, TorchRecognizer], paths: list[str], out: str | Path, shift_seconds: float = 0.5,
                     sigma: float = 2.0) -> None:
    """Rows: each clip and its copy shifted later by `shift_seconds`; columns: the spectrogram,
    then each model's attention over it (brighter = more attention)."""
    rate = next(iter(models.values())).sample_rate
    rows = []
    for path in paths:
        wave = load_audio(path, rate)
        shifted = np.concatenate([np.zeros(int(shift_seconds * rate), np.float32), wave])
        rows += [(Path(path).name, wave), (f"{Path(path).name}, shifted {shift_seconds:g} s", shifted)]
    cols = 1 + len(models)
    fig = Figure(figsize=(2.6 * cols, 2.4 * len(rows)), layout="constrained")
    axes = fig.subplots(len(rows), cols, squeeze=False)
    for r, (title, wave) in enumerate(rows):
        spectrogram = None
        for c, (name, recognizer) in enumerate(models.items(), start=1):
            spectrogram, attention = attention_map(recognizer, wave, sigma)
            ax = axes[r][c]
            ax.imshow(spectrogram, origin="lower", aspect="auto", cmap="gray")
            ax.imshow(attention, origin="lower", aspect="auto", cmap="inferno", alpha=0.6)
            ax.set_title(name if r == 0 else "", fontsize=9)
            ax.set_xticks([])
            ax.set_yticks([])
        ax = axes[r][0]
        ax.imshow(spectrogram, origin="lower", aspect="auto", cmap="magma")
        ax.set_ylabel(title, fontsize=8)
        ax.set_xticks([])
        ax.set_yticks([])
        if r == 0:
            ax.set_title("log-Mel (time →, mel ↑)", fontsize=9)
    fig.suptitle("Last-layer CLS attention, Gaussian-smoothed (σ = %g px)" % sigma, fontsize=10)
    save_figure(fig, out)


def _test_paths(run_dir: Path) -> list[str]:
    with open(run_dir / "split.csv", newline="") as f:
        return [r["path"] for r in csv.DictReader(f) if r["part"] == "test" and r["view"] == "0"]


def cosine_figure(run_dir: str | Path, out: str | Path) -> dict:
    """Histogram of per-clip cosine similarity to the teacher for each student of a run."""
    run_dir = Path(run_dir)
    teacher = Recognizer.load(run_dir / "models" / "teacher.pt")
    students = {name: Recognizer.load(run_dir / "models" / f"{name}.pt")
                for name in ("student", "plain") if (run_dir / "models" / f"{name}.pt").exists()}
    if not students:
        raise FileNotFoundError(f"{run_dir}/models holds no student.pt or plain.pt")
    paths = _test_paths(run_dir)
    reference = np.stack([teacher.embed(p) for p in paths])
    cosines = {}
    for name, student in students.items():
        feats = np.stack([student.embed(p) for p in paths])
        cosines[name] = (feats * reference).sum(1) / (np.linalg.norm(feats, axis=1) * np.linalg.norm(reference, axis=1))
    titles = {"student": "with knowledge transfer", "plain": "without (CE only)"}
    fig = Figure(figsize=(6, 3.6), layout="constrained")
    ax = fig.subplots()
    bins = np.linspace(-1, 1, 41)
    for name, values in cosines.items():
        ax.hist(values, bins=bins, alpha=0.7, label=f"{titles.get(name, name)}: mean {values.mean():.3f}")
    ax.set_xlabel("cosine similarity to the teacher's pooled feature")
    ax.set_ylabel("test clips")
    ax.set_title(f"Teacher-student feature similarity, {len(paths)} test clips", fontsize=10)
    ax.legend(fontsize=8)
    save_figure(fig, out)
    return {name: {"mean": float(v.mean()), "std": float(v.std()), "n": int(v.size)} for name, v in cosines.items()}
