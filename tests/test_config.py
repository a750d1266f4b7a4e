"""Resuming a run: which recorded settings must match."""
import json

import pytest

from emovit.config import ResumeError, check_resume


def _write(run_dir, settings):
    (run_dir / "config.json").write_text(json.dumps(settings))


def test_resume_refuses_a_changed_nested_setting(tmp_path):
    _write(tmp_path, {"protocol": "kfold", "recipe": {"stage": {"lr": 1e-4, "epochs": 50}}})
    with pytest.raises(ResumeError, match=r"recipe\.stage\.lr differ"):
        check_resume(tmp_path, {"protocol": "kfold", "recipe": {"stage": {"lr": 3e-4, "epochs": 50}}})


def test_resume_accepts_settings_an_older_run_did_not_record(tmp_path):
    """A setting added to the recipe after the run started (at any depth) does not block resuming it."""
    _write(tmp_path, {"protocol": "kfold", "recipe": {"stage": {"lr": 1e-4}, "size": [128, 128]}})
    check_resume(tmp_path, {"protocol": "kfold", "recipe": {"stage": {"lr": 1e-4, "functionals_weight": 0.0},
                                                              "size": (128, 128), "normalization": "global"}})


def test_resume_of_a_new_directory_is_free(tmp_path):
    check_resume(tmp_path / "absent", {"protocol": "paper"})


def test_resume_accepts_other_execution_settings(tmp_path):
    """How a run is executed (compiled steps, checkpoint frequency) is not what it computes: a run resumes
    with other values of those, at any depth, and still refuses a change of what it computes beside them."""
    _write(tmp_path, {"recipe": {"stage": {"lr": 1e-4, "compile": False, "checkpoint_every": 200},
                                 "per_model": {"timnet": {"compile": False}}}})
    check_resume(tmp_path, {"recipe": {"stage": {"lr": 1e-4, "compile": True, "checkpoint_every": 50},
                                       "per_model": {"timnet": {"compile": True}}}})
    with pytest.raises(ResumeError, match=r"recipe\.stage\.lr differ"):
        check_resume(tmp_path, {"recipe": {"stage": {"lr": 3e-4, "compile": True}}})
