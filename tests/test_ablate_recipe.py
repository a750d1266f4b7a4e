"""scripts/ablate_recipe.py --table-only: the ablation table, robustness means included, read from runs
as emovit writes them or as scripts/keep_run.sh keeps them."""
import argparse
import json

from conftest import load_script

ablate = load_script("ablate_recipe")


def _condition(wa, top_label, top_fraction):
    return {"wa": wa, "top_answer": {"label": top_label, "fraction": top_fraction}}


def _kept_run(folder, val_ua, wa, crop_07=None, speech_top=("boredom", 0.3)):
    """A finished run in kept form (history-plain.json beside results.json); robustness.json when crop_07 is
    given as (wa, top label, top share)."""
    folder.mkdir(parents=True)
    (folder / "results.json").write_text(json.dumps({"models": {"plain": {"wa": wa, "ua": wa - 0.02,
                                                                          "selected_epoch": {"plain": 2}}}}))
    (folder / "history-plain.json").write_text(json.dumps([{"val_ua": 0.1}, {"val_ua": val_ua}]))
    if crop_07:
        conditions = {"crop_1s": _condition(wa - 0.1, "anger", 0.2), "crop_0.7s": _condition(*crop_07),
                      "white_10dB": _condition(wa - 0.05, "anger", 0.3), "speech_10dB": _condition(0.3, *speech_top)}
        (folder / "robustness.json").write_text(json.dumps(
            {"splits": {"split": {"conditions": conditions, "joined": {"timeline_wa": wa - 0.08}}}}))


def _planned(tmp_path, variants):
    args = argparse.Namespace(out=tmp_path, recipe="emovit", corpus="emodb", root=tmp_path, variants=variants,
                              splits="speaker:0,speaker:1", val_speakers=None, table_only=True)
    return ablate.planned(args)


def test_table_means_validation_test_and_robustness_over_splits(tmp_path):
    _kept_run(tmp_path / "v0-speaker-s0", 0.6, 0.70, crop_07=(0.50, "neutral", 0.21))
    _kept_run(tmp_path / "v0-speaker-s1", 0.8, 0.60, crop_07=(0.40, "fear", 0.25), speech_top=("boredom", 0.58))
    _kept_run(tmp_path / "v2-speaker-s0", 0.5, 0.55, crop_07=(0.30, "fear", 0.45))
    _kept_run(tmp_path / "v2-speaker-s1", 0.5, 0.65)  # not evaluated: no robustness means for the variant
    runs = _planned(tmp_path, "0,2")
    assert not (tmp_path / "recipes").exists()  # a table is read, nothing written beside the runs
    recipe, no_crops = [line for line in ablate.table(runs).splitlines()[2:]]
    assert "| 0.700 ± 0.100 | 0.650 ± 0.050 | 0.630 ± 0.050 | 0.600, 0.800 |" in recipe
    assert recipe.endswith("| 0.550 | 0.450 (21-25%) | 0.600 | 0.300 (**boredom 30-58%**) | 0.570 |")
    assert no_crops.endswith("| – | – | – | – | – |")


def test_a_class_over_40_percent_of_short_answers_is_named(tmp_path):
    _kept_run(tmp_path / "v0-speaker-s0", 0.6, 0.7, crop_07=(0.3, "fear", 0.36))
    _kept_run(tmp_path / "v0-speaker-s1", 0.6, 0.7, crop_07=(0.3, "neutral", 0.50))
    row = ablate.table(_planned(tmp_path, "0")).splitlines()[2]
    assert "| 0.300 (**neutral 36-50%**) |" in row
