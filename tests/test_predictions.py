"""Per-clip predictions (emovit.predictions): the exact McNemar test, and pairing two files' answers only
where they are answers on the same test clips."""
import pytest
from scipy.stats import binom
from typer.testing import CliRunner

from emovit.cli import app
from emovit.predictions import (PredictionsError, mcnemar, paired_between, paired_within, read_predictions,
                                write_predictions)


def _rows(answers: dict[str, list[str]], labels: list[str], fold: str = "1") -> list[dict[str, str]]:
    return [{"fold": fold, "path": f"clip{i}.wav", "view": "0", "corpus": "emodb", "speaker": "03", "label": label,
             **{name: said[i] for name, said in answers.items()}} for i, label in enumerate(labels)]


def test_mcnemar_counts_the_disagreements_and_gives_the_exact_two_sided_p():
    a = [True] * 10 + [True] * 7 + [False] * 1 + [False] * 2
    b = [True] * 10 + [False] * 7 + [True] * 1 + [False] * 2
    result = mcnemar(a, b)
    assert (result["n"], result["a_right"], result["b_right"], result["a_only"], result["b_only"]) == (20, 17, 11, 7, 1)
    assert result["p"] == pytest.approx(2 * binom.cdf(1, 8, 0.5))  # 0.0703: 7 against 1 is not yet < 0.05
    assert mcnemar([True, False], [True, False])["p"] == 1.0  # never disagree: no evidence either way
    with pytest.raises(ValueError):
        mcnemar([True], [True, False])


def test_files_round_trip_and_pair_on_shared_clips_only(tmp_path):
    labels = ["anger", "sadness", "anger", "neutral"]
    first = _rows({"plain": ["anger", "sadness", "neutral", "neutral"],
                   "timnet": ["anger", "anger", "anger", "neutral"]}, labels)
    write_predictions(first, tmp_path / "a" / "predictions.csv")
    assert read_predictions(tmp_path / "a") == first
    [pair] = paired_within(first)
    assert (pair["a"], pair["b"], pair["a_only"], pair["b_only"]) == ("plain", "timnet", 1, 1)
    second = _rows({"plain": ["anger", "sadness", "anger", ""]}, labels)  # its front end could not read clip3
    for r in second:  # the same corpus read from another folder: the clips pair by corpus, speaker and name
        r["path"] = "/elsewhere/emodb/" + r["path"]
    result = paired_between(first, "timnet", second, "plain")
    assert (result["n"], result["a_only"], result["b_only"], result["only_a"], result["only_b"]) == (3, 0, 1, 1, 0)


def test_pairs_of_other_clips_or_labels_are_refused_by_name(tmp_path):
    ours = _rows({"plain": ["anger"]}, ["anger"])
    theirs = [dict(r, path="other.wav") for r in ours]
    with pytest.raises(PredictionsError, match="no test clip in common"):
        paired_between(ours, "plain", theirs, "plain", ("ours", "theirs"))
    relabelled = [dict(r, label="sadness") for r in ours]
    with pytest.raises(PredictionsError, match="different labels to 1 shared clips"):
        paired_between(ours, "plain", relabelled, "plain")
    twice = ours + [dict(r, path="a/" + r["path"]) for r in ours]  # one speaker's clip0.wav in two folders
    with pytest.raises(PredictionsError, match="ours: two test clips named clip0.wav for speaker 03 of emodb"):
        paired_between(twice, "plain", ours, "plain", ("ours", "theirs"))
    with pytest.raises(PredictionsError, match="no such file"):
        read_predictions(tmp_path)
    for fold in ("1", "2"):  # a run with two folds finished and none pooled yet: the two read together
        write_predictions(_rows({"plain": ["anger"]}, ["anger"], fold),
                          tmp_path / "run" / "folds" / fold / "predictions.csv")
    assert [r["fold"] for r in read_predictions(tmp_path / "run")] == ["1", "2"]
    (tmp_path / "results.csv").write_text("path,label\nx.wav,anger\n")
    with pytest.raises(PredictionsError, match="results.csv: not a predictions file"):
        read_predictions(tmp_path / "results.csv")


def test_cli_names_the_run_and_the_model_it_cannot_find(tmp_path):
    write_predictions(_rows({"plain": ["anger", "sadness"]}, ["anger", "anger"]), tmp_path / "run" / "predictions.csv")
    write_predictions(_rows({"timnet": ["anger", "anger"]}, ["anger", "anger"]), tmp_path / "peer" / "predictions.csv")
    said = CliRunner().invoke(app, ["paired", str(tmp_path / "run"), str(tmp_path / "peer")])
    assert said.exit_code == 0, said.output
    assert "plain 0.500 against" in said.output and "timnet 1.000" in said.output and "p = 1" in said.output
    missing = CliRunner().invoke(app, ["paired", f"{tmp_path / 'run'}:student", str(tmp_path / "peer")])
    assert missing.exit_code == 2 and "no model 'student'; it has plain" in missing.output
    absent = CliRunner().invoke(app, ["paired", str(tmp_path / "nowhere"), str(tmp_path / "peer")])
    assert absent.exit_code == 2 and "no such file" in absent.output and "Traceback" not in absent.output
