"""`emovit reproduce` under torchrun (2 CPU processes, gloo): data-parallel stages give the
single-process weights; LOSO folds spread over processes are pooled by rank 0."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from emovit.checkpoint import load_torch
from conftest import is_conv_bias_before_instance_norm

pytestmark = pytest.mark.slow  # several processes: outside the fast set (pytest -m 'not slow')

BIN = Path(sys.executable).parent
# fp32: equality of weights is an exactness claim (precision 'auto' would be bf16 on an AMX CPU)
COMMON = ["reproduce", "--corpus", "emodb", "--epochs", "1", "--views", "1", "--models", "teacher",
          "--baseline", "none", "--precision", "fp32", "--quiet"]


def _run(args, env_extra=None):
    env = {**os.environ, "OMP_NUM_THREADS": "1", **(env_extra or {})}
    done = subprocess.run(args, capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    return done.stdout


def _torchrun():
    exe = BIN / "torchrun"
    if not exe.exists():
        pytest.skip("torchrun not found next to the Python executable")
    return [str(exe), "--standalone", "--nproc-per-node", "2", "--module", "emovit.cli"]


def test_data_parallel_reproduce_equals_one_process(corpus, tmp_path):  # noqa: F811
    args = COMMON + ["--root", str(corpus), "--cache", str(tmp_path / "cache")]
    _run([str(BIN / "emovit"), *args, "--out", str(tmp_path / "one")])
    out = _run([*_torchrun(), *args, "--out", str(tmp_path / "two")])
    assert out.count("# Results") == 1  # only rank 0 reports
    a = load_torch(tmp_path / "one" / "teacher" / "final.pt")["model"]
    b = load_torch(tmp_path / "two" / "teacher" / "final.pt")["model"]
    for name in a:
        if not is_conv_bias_before_instance_norm(name):
            assert torch.allclose(a[name], b[name], atol=1e-5, rtol=1e-4), name
    assert json.loads((tmp_path / "two" / "config.json").read_text())["processes"] == 2


def test_loso_folds_spread_over_processes(corpus, tmp_path):  # noqa: F811
    args = COMMON + ["--root", str(corpus), "--cache", str(tmp_path / "cache"), "--protocol", "loso"]
    _run([*_torchrun(), *args, "--distribute", "folds", "--out", str(tmp_path / "loso")])
    results = json.loads((tmp_path / "loso" / "results.json").read_text())
    assert len(results["folds"]) == 5
    assert sum(map(sum, results["models"]["teacher"]["confusion"])) == 45
    assert all((tmp_path / "loso" / "folds" / f / "teacher" / "final.pt").exists() for f in results["folds"])
