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


def test_a_recipe_laid_over_its_base_keeps_what_it_does_not_name(tmp_path):
    from emovit.config import load_recipe

    (tmp_path / "short.toml").write_text('base = "emovit"\n[stage]\nepochs = 3\n[per_model.timnet]\nepochs = 7\n')
    (tmp_path / "shorter.toml").write_text('base = "short.toml"\n[augment]\nviews = 1\n')
    emovit, recipe = load_recipe("emovit"), load_recipe(tmp_path / "shorter.toml")
    assert recipe.name == "shorter" and recipe.augment.views == 1 and recipe.stage.epochs == 3
    assert recipe.stage.lr == emovit.stage.lr and recipe.stage.freq_masks == emovit.stage.freq_masks
    assert recipe.per_model["timnet"] == {**emovit.per_model["timnet"], "epochs": 7}
    (tmp_path / "loop.toml").write_text('base = "loop.toml"\n')
    with pytest.raises(ValueError, match="its own base"):
        load_recipe(tmp_path / "loop.toml")
    (tmp_path / "orphan.toml").write_text('base = "no-such-recipe"\n')
    with pytest.raises(ValueError, match="orphan.toml.*unknown recipe 'no-such-recipe'"):
        load_recipe(tmp_path / "orphan.toml")
