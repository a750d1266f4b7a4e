"""Progress off a terminal: a plain line at a steady rate (stage, step, elapsed, ETA, loss)."""
from __future__ import annotations

import io

import torch

from conftest import STAGE_LABELS, small_network, stage_data
from emovit import progress
from emovit.config import StageConfig
from emovit.stages import run_stage


def test_lines_off_a_terminal_say_where_the_job_is(monkeypatch):
    monkeypatch.setattr(progress, "LINE_EVERY", 0.0)
    out = io.StringIO()  # not a TTY
    bar = progress.Progress(range(3, 5), "teacher epoch 1/50", total=5, done=3, stream=out)
    for _ in bar:
        bar.set_note({"loss": "0.50"})
    lines = out.getvalue().splitlines()
    assert lines == [lines[0], lines[1]] and lines[0].startswith("[teacher epoch 1/50] step 4/5, 0:00 elapsed, ETA ")
    assert lines[1].startswith("[teacher epoch 1/50] step 5/5") and lines[1].endswith("loss 0.50")


def test_a_stage_reports_its_steps_when_output_is_not_a_terminal(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(progress, "LINE_EVERY", 0.0)
    config = StageConfig(epochs=1, batch_size=4, lr=1e-3, checkpoint_every=0)
    run_stage("plain", small_network("student"), stage_data(n=8), config, tmp_path, STAGE_LABELS,
              torch.device("cpu"), progress=True)
    err = capsys.readouterr().err
    assert "[plain epoch 1/1] step 1/2" in err and "[plain epoch 1/1] step 2/2" in err and "loss" in err
    assert "[plain] epoch 1/1 {" in err  # the epoch summary
