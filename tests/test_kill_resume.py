"""A training run killed with SIGKILL mid-epoch resumes from its last checkpoint and ends with
the weights of an uninterrupted run."""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from emovit.checkpoint import load_torch

pytestmark = pytest.mark.slow  # several processes: outside the fast set (pytest -m 'not slow')

EMOVIT = str(Path(sys.executable).parent / "emovit")


def _args(corpus, out, cache):  # noqa: F811
    return [EMOVIT, "reproduce", "--corpus", "emodb", "--root", str(corpus), "--out", str(out), "--cache", str(cache),
            "--epochs", "2", "--views", "1", "--models", "teacher", "--baseline", "none", "--checkpoint-every", "2",
            "--precision", "fp32", "--quiet"]  # fp32: the resumed weights must equal the uninterrupted ones


def _env():
    return {**os.environ, "OMP_NUM_THREADS": "1"}


def test_sigkill_mid_epoch_then_resume_gives_the_uninterrupted_weights(corpus, tmp_path):  # noqa: F811
    cache = tmp_path / "cache"
    subprocess.run(_args(corpus, tmp_path / "whole", cache), check=True, env=_env(), capture_output=True, timeout=600)

    ckpt = tmp_path / "killed" / "teacher" / "checkpoint.pt"
    proc = subprocess.Popen(_args(corpus, tmp_path / "killed", cache), env=_env(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    try:
        while time.monotonic() < deadline:
            if ckpt.exists() and load_torch(ckpt)["state"]["batch"] > 0:  # a mid-epoch checkpoint is on disk
                break
            assert proc.poll() is None, "the run ended before it could be killed"
            time.sleep(0.05)
        else:
            raise AssertionError("no mid-epoch checkpoint within 300 s")
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    state = load_torch(ckpt)["state"]
    assert state["epoch"] < 2 and not (tmp_path / "killed" / "teacher" / "final.pt").exists()

    subprocess.run(_args(corpus, tmp_path / "killed", cache), check=True, env=_env(), capture_output=True,
                   timeout=600)
    whole = load_torch(tmp_path / "whole" / "teacher" / "final.pt")["model"]
    resumed = load_torch(tmp_path / "killed" / "teacher" / "final.pt")["model"]
    for name in whole:
        assert torch.equal(whole[name], resumed[name]), name
