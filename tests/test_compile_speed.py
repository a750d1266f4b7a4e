"""scripts/compile_speed.py: the eager and the compiled step side by side, the compiled one's speed-up and
compile time in the JSON (Dynamo's eager backend here: the graph captured, nothing compiled to C++)."""
import json
import sys

import pytest
import torch

from conftest import load_script

compile_speed = load_script("compile_speed")


def test_both_steps_are_timed_and_the_ratio_is_reported(tmp_path, monkeypatch):
    real = torch.compile
    monkeypatch.setattr(torch, "compile", lambda fn, **kw: real(fn, backend="eager", **kw))
    torch._dynamo.reset()
    out = tmp_path / "speed.json"
    monkeypatch.setattr(sys, "argv", ["compile_speed.py", "--model", "timnet", "--batch-size", "2", "--steps", "2",
                                      "--precision", "fp32", "--json", str(out)])
    assert compile_speed.main() == 0
    result = json.loads(out.read_text())
    eager, compiled = result["variants"]["eager"], result["variants"]["compiled"]
    assert eager["speedup"] == 1.0 and compiled["compile"] is True and compiled["compile_s"] >= 0
    assert compiled["speedup"] == pytest.approx(eager["ms_per_step"] / compiled["ms_per_step"])
    assert result["model"] == "timnet" and result["precision"] == "fp32" and result["threads"] == 1
