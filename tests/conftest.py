"""Shared fixtures and helpers: where the real corpora are, small synthetic audio, a generated
EmoDB-named corpus, tiny networks and model files, stage data, the repo's scripts as modules."""
from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch


def load_script(name: str):
    """scripts/NAME.py imported as a module (the scripts are not part of the package)."""
    spec = importlib.util.spec_from_file_location(name, Path(__file__).resolve().parents[1] / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while the script runs
    spec.loader.exec_module(module)
    return module


def shared_data() -> Path:
    """../shared/data beside the checkout (or $EMOVIT_SHARED_DATA); skips the test when absent."""
    env = os.environ.get("EMOVIT_SHARED_DATA")
    path = Path(env) if env else Path(__file__).resolve().parents[2] / "shared" / "data"
    if not path.is_dir():
        pytest.skip(f"real corpora not found at {path}: set EMOVIT_SHARED_DATA or place ../shared/data")
    return path


def tone(seconds: float = 1.0, rate: int = 16000, freq: float = 440.0, seed: int = 0) -> np.ndarray:
    """A voiced-like test signal: a tone with harmonics, an envelope and a little noise."""
    t = np.arange(int(seconds * rate)) / rate
    rng = np.random.default_rng(seed)
    wave = sum(np.sin(2 * np.pi * freq * k * t) / k for k in range(1, 5)) * np.hanning(len(t))
    return (0.3 * wave + 0.01 * rng.standard_normal(len(t))).astype(np.float32)


@pytest.fixture
def write_tone(tmp_path):
    def write(name: str, seconds: float = 1.0, rate: int = 16000, freq: float = 440.0, seed: int = 0) -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        sf.write(path, tone(seconds, rate, freq, seed), rate)
        return path
    return write


def pytest_addoption(parser):
    parser.addoption("--assume-amx", action="store_true",
                     help="Run as if the CPU had AMX, so that precision 'auto' picks bf16 (bf16 is emulated, "
                          "slowly, where there is none): checks on any machine that no exact test depends on it.")


@pytest.fixture(autouse=True)
def _assume_amx(request, monkeypatch):
    if request.config.getoption("--assume-amx") and not request.node.get_closest_marker("real_cpu_flags"):
        from emovit import hardware

        monkeypatch.setattr(hardware, "has_amx", lambda: True)


# ----------------------------------------------------------------------------------------------
# models and data

MODEL_LABELS = ["anger", "neutral", "sadness"]  # the tiny model file's classes
STAGE_LABELS = ["a", "b", "c"]  # the stage tests' classes


def write_model(path, centre: str = "global"):
    """A tiny randomly initialised student saved the way `emovit reproduce` saves its models (`centre`: its
    normaliser's, "speaker" for a per-speaker-normalised model)."""
    from emovit.config import LogMelConfig
    from emovit.features import Normalizer
    from emovit.inference import model_file
    from emovit.models import EmotionViT, student_config

    torch.manual_seed(0)
    model = EmotionViT(student_config(3, depth=1, dim=32, heads=2, dim_head=16, mlp_dim=32))
    from emovit.checkpoint import save_torch

    mean = 0.0 if centre == "speaker" else -40.0
    save_torch(model_file(model, MODEL_LABELS, Normalizer(mean, 15.0, centre), LogMelConfig(), meta={}), path)
    return path


def small_network(kind: str, seed: int = 0):
    """A one-layer teacher or student on 32x32 images, for stage tests."""
    from emovit.models import EmotionViT, student_config, teacher_config

    torch.manual_seed(seed)
    make = teacher_config if kind == "teacher" else student_config
    return EmotionViT(make(3, depth=1, patch_size=(32, 1), dim=32, heads=2, dim_head=16, mlp_dim=32,
                           image_size=(32, 32)))


def fit_losses(model, x, labels, optimiser, steps: int = 30, **loss_options) -> list[float]:
    """Full-batch cross-entropy steps on (x, labels); the loss before each step, for tests that training lowers it."""
    losses = []
    for _ in range(steps):
        loss = torch.nn.functional.cross_entropy(model(x), labels, **loss_options)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        losses.append(loss.item())
    return losses


def stage_data(n: int = 12, views: int = 2, seed: int = 0):
    """StageData of 32x32 images whose class shows in the low bands, with `views` noisy views each."""
    from emovit.stages import StageData

    g = torch.Generator().manual_seed(seed)
    labels = torch.arange(n) % 3
    base = torch.randn(n, 1, 1, 32, 32, generator=g) * 0.1
    base[:, :, :, :10] += labels[:, None, None, None, None].float()  # class signal in the low bands
    images = base + torch.randn(n, views, 1, 32, 32, generator=g) * 0.1
    return StageData(train_images=images, train_labels=labels, val_images=images[:6, 0], val_labels=labels[:6])


def is_conv_bias_before_instance_norm(name: str) -> bool:
    """The teacher stem's conv biases: InstanceNorm cancels them, so they get no gradient."""
    parts = name.split(".")
    return parts[0] == "stem" and parts[-1] == "bias" and int(parts[2]) % 3 == 0


EMODB_EMOTIONS = {"W": 300.0, "N": 150.0, "T": 220.0}  # anger, neutral, sadness: a pitch per class


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """A generated corpus named as EmoDB names its files: 5 speakers x 3 texts x 3 emotions, 1.2 s each."""
    root = tmp_path_factory.mktemp("emodb") / "wav"
    root.mkdir()
    for speaker in ("03", "08", "09", "10", "11"):
        for letter, freq in EMODB_EMOTIONS.items():
            for i, text in enumerate(("a01", "a02", "b01")):
                seed = int(speaker) * 100 + i
                sf.write(root / f"{speaker}{text}{letter}a.wav", tone(1.2, freq=freq * (1 + 0.02 * i), seed=seed), 16000)
    return root
