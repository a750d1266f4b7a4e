"""scripts/compare_tables.py: which compare runs it plans, and its check that the runs of one corpus
and protocol trained on one split."""
import argparse
from pathlib import Path

from conftest import load_script


def load():
    return load_script("compare_tables")


def args(tmp_path, **changes):
    settings = dict(out=tmp_path, emodb=Path("E"), savee=Path("S"), device="cuda", precision="auto", recipe="paper-e20",
                    protocols="paper,speaker", groups="vertical,position,square,ast,septr",
                    leaky=True, time_runs=0, cache=tmp_path / "cache")
    return argparse.Namespace(**{**settings, **changes})


def test_every_corpus_protocol_and_group_once_plus_leaky_vertical(tmp_path):
    module = load()
    runs = dict(module.planned_runs(args(tmp_path)))
    assert len(runs) == 2 * 2 * 5 + 1
    assert "emodb-paper-leaky-vertical" in runs and "savee-paper-leaky-vertical" not in runs
    command = runs["savee-speaker-position"]
    value = {k: command[i + 1] for i, k in enumerate(command) if k.startswith("--")}
    assert value["--corpus"] == "savee" and value["--root"] == "S" and value["--protocol"] == "speaker"
    assert value["--models"] == "teacher-nope,teacher-learned,teacher-sinusoidal"
    assert (value["--recipe"], value["--seed"]) == ("paper-e20", "0")
    assert value["--out"] == str(tmp_path / "savee-speaker-position")
    only = dict(module.planned_runs(args(tmp_path, groups="septr-square", leaky=False, protocols="paper")))
    assert list(only) == ["emodb-paper-septr-square", "savee-paper-septr-square"]
    assert only["emodb-paper-septr-square"][only["emodb-paper-septr-square"].index("--models") + 1] == "septr-16x16"


def test_runs_of_one_pair_must_share_their_split(tmp_path, capsys):
    module = load()
    runs = module.planned_runs(args(tmp_path, protocols="paper", leaky=False, groups=",".join(module.GROUPS)))
    for name, _ in runs:
        (tmp_path / name).mkdir()
        (tmp_path / name / "split.csv").write_text("part,path\ntest,a.wav\n")
    (tmp_path / "savee-paper-ast" / "split.csv").write_text("part,path\ntest,b.wav\n")
    assert module._check_splits(tmp_path, runs) is False
    printed = capsys.readouterr().out
    assert "emodb-paper: one split shared by its runs" in printed
    assert "savee-paper: DIFFERENT SPLITS" in printed
    assert "septr: " not in printed  # 'septr-square' is a group of its pair, not a pair of its own
