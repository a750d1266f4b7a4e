"""Shared fixtures: where the real corpora are, small synthetic audio, the repo's scripts as modules."""
from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf


def load_script(name: str):
    """scripts/NAME.py imported as a module (the scripts are not part of the package)."""
    spec = importlib.util.spec_from_file_location(name, Path(__file__).resolve().parents[1] / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
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
