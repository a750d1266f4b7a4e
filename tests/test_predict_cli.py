"""`emovit predict`: output formats, path expansion, per-file errors and exit codes."""
from __future__ import annotations

import csv
import io
import json

import pytest
from typer.testing import CliRunner

from emovit.cli import app
from conftest import MODEL_LABELS as LABELS, write_model

runner = CliRunner()


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    return write_model(tmp_path_factory.mktemp("model") / "tiny.pt")


def predict(*args):
    return runner.invoke(app, ["predict", *map(str, args)])


def test_table(model_file, write_tone):
    a, b = write_tone("a.wav"), write_tone("b.wav", seconds=6.0, freq=300)
    result = predict(a, b, "--model", model_file)
    assert result.exit_code == 0, result.output
    header, *rows = result.stdout.splitlines()
    assert header.split() == ["file", "label", "prob", "duration"]
    assert [r.split()[0] for r in rows] == [str(a), str(b)]
    for row in rows:
        _, label, prob, duration, unit = row.split()
        assert label in LABELS and 1 / 3 <= float(prob) <= 1 and unit == "s"
    assert rows[1].split()[3] == "6.0"


def test_json_and_csv_agree(model_file, write_tone):
    a, b = write_tone("a.wav"), write_tone("b.wav", freq=300)
    as_json = json.loads(predict(a, b, "--model", model_file, "--json").stdout)
    as_csv = list(csv.DictReader(io.StringIO(predict(a, b, "--model", model_file, "--csv").stdout)))
    assert [r["file"] for r in as_json] == [r["file"] for r in as_csv] == [str(a), str(b)]
    for j, c in zip(as_json, as_csv):
        assert set(j) == {"file", "label", "probabilities", "duration"}
        assert sum(j["probabilities"].values()) == pytest.approx(1.0)
        assert j["label"] == c["label"] and float(c["duration"]) == pytest.approx(j["duration"])
        assert [float(c[k]) for k in LABELS] == pytest.approx([j["probabilities"][k] for k in LABELS])


def test_folders_are_searched_recursively_and_globs_expanded(model_file, write_tone, tmp_path):
    write_tone("corpus/x/one.wav")
    write_tone("corpus/x/y/two.WAV")
    write_tone("corpus/three.flac")
    (tmp_path / "corpus" / "notes.txt").write_text("not audio")
    found = json.loads(predict(tmp_path / "corpus", "--model", model_file, "--json").stdout)
    assert sorted(r["file"].rsplit("/", 1)[1] for r in found) == ["one.wav", "three.flac", "two.WAV"]
    globbed = json.loads(predict(tmp_path / "corpus" / "**" / "*.wav", "--model", model_file, "--json").stdout)
    assert [r["file"].rsplit("/", 1)[1] for r in globbed] == ["one.wav"]


def test_window_gives_long_files_a_timeline(model_file, write_tone):
    short, long = write_tone("short.wav", seconds=3.0), write_tone("long.wav", seconds=10.0)
    records = json.loads(predict(short, long, "--model", model_file, "--json", "--window", 4).stdout)
    assert "timeline" not in records[0]
    assert [s["start"] for s in records[1]["timeline"]] == pytest.approx([0, 2, 4, 6])
    table = predict(short, long, "--model", model_file, "--window", 4, "--hop", 3).stdout.splitlines()
    assert len(table) == 1 + 2 + 3 and table[3].startswith("  0.0-4.0 s") and table[5].startswith("  6.0-10.0 s")
    rows = list(csv.DictReader(io.StringIO(predict(long, "--model", model_file, "--csv", "--window", 4).stdout)))
    assert [r["start"] for r in rows] == ["", "0.0", "2.0", "4.0", "6.0"]


def test_bad_file_is_reported_and_the_rest_finish(model_file, write_tone, tmp_path):
    good = write_tone("good.wav")
    bad = tmp_path / "bad.wav"
    bad.write_text("not audio at all")
    result = predict(bad, good, "--model", model_file, "--json")
    assert result.exit_code == 1
    assert [r["file"] for r in json.loads(result.stdout)] == [str(good)]
    assert result.stderr.startswith(f"error: {bad}: not a readable audio file")


def test_no_audio_anywhere_exits_2_naming_the_path(model_file, tmp_path):
    (tmp_path / "empty").mkdir()
    result = predict(tmp_path / "empty", "--model", model_file)
    assert result.exit_code == 2
    assert f"error: {tmp_path / 'empty'}: no audio files" in result.stderr
    assert "no such file" in predict(tmp_path / "nowhere.wav", "--model", model_file).stderr
    assert "no files match" in predict(tmp_path / "*.ogg", "--model", model_file).stderr


def test_missing_model_exits_2(write_tone, tmp_path, monkeypatch):
    clip = write_tone("a.wav")
    result = predict(clip, "--model", tmp_path / "missing.pt")
    assert result.exit_code == 2 and "missing.pt: no such model file" in result.stderr
    monkeypatch.setattr("emovit.inference.modelfile.BUNDLED_MODEL", tmp_path / "assets" / "bundled.pt")
    result = predict(clip)
    assert result.exit_code == 2
    assert "no bundled model at" in result.stderr and "--model RUN_DIR_OR_FILE" in result.stderr


def test_bundled_model_recognises_the_example_clips():
    """The quick start: the shipped model on the shipped clips (held out of its training)."""
    from pathlib import Path

    from emovit.recognizer import BUNDLED_MODEL

    examples = Path(__file__).resolve().parents[1] / "examples"
    expected = {"08a01Wa": "anger", "11a02Ec": "disgust", "08a01Ab": "fear", "11a02Fb": "happiness",
                "08a01Na": "neutral", "11a02Tc": "sadness"}
    assert BUNDLED_MODEL.exists()
    result = CliRunner().invoke(app, ["predict", str(examples), "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert len(rows) == 6 and all(len(r["probabilities"]) == 6 for r in rows)
    correct = sum(r["label"] == expected[Path(r["file"]).stem] for r in rows)
    assert correct >= 3  # measured: 4 of 6 on these unseen speakers (examples/README.md lists each)


def test_precision_option(model_file, write_tone):
    """--precision bf16 runs (autocast; emulated on CPUs without AMX) and answers like fp32; a bad value
    is refused before any work."""
    clip = str(write_tone("a.wav"))
    rows = {}
    for precision in ("fp32", "bf16"):
        result = CliRunner().invoke(app, ["predict", clip, "--model", str(model_file), "--json",
                                          "--precision", precision])
        assert result.exit_code == 0, result.output
        rows[precision] = json.loads(result.stdout)[0]["probabilities"]
    assert rows["bf16"] == pytest.approx(rows["fp32"], abs=0.02)
    result = CliRunner().invoke(app, ["predict", clip, "--model", str(model_file), "--precision", "fp16"])
    assert result.exit_code == 2 and "--precision must be auto, fp32 or bf16" in result.output


def test_flags_are_flags_in_help_and_a_value_after_one_is_explained(model_file, write_tone):
    help_text = runner.invoke(app, ["predict", "--help"]).stdout
    assert "--json" in help_text and "<bool>" not in help_text
    clip = write_tone("a.wav")
    result = predict(clip, "--model", model_file, "--json", "true")
    assert result.exit_code == 1
    assert "true: no such file or directory (--json and --csv are flags: they take no value)" in result.output


def test_when_every_file_fails_only_the_errors_are_printed(model_file, tmp_path):
    bad = tmp_path / "text.wav"
    bad.write_text("not audio")
    result = predict(bad, "--model", model_file)
    assert result.exit_code == 1 and result.stdout == ""
    assert f"error: {bad}: not a readable audio file" in result.stderr
    as_json = predict(bad, "--model", model_file, "--json")
    assert json.loads(as_json.stdout) == []


def test_a_truncated_file_gets_an_answer_and_a_warning(model_file, write_tone):
    clip = write_tone("cut.wav", seconds=2.0)
    clip.write_bytes(clip.read_bytes()[:len(clip.read_bytes()) // 2])
    table = predict(clip, "--model", model_file)
    assert table.exit_code == 0 and str(clip) in table.stdout
    assert f"warning: {clip}: is truncated" in table.stderr
    record = json.loads(predict(clip, "--model", model_file, "--json").stdout)[0]
    assert record["label"] in LABELS and "truncated" in record["warnings"][0]


def test_a_per_speaker_model_is_calibrated_on_the_files_with_same_speaker_and_refused_without(model_file, write_tone,
                                                                                               tmp_path):
    by_speaker = write_model(tmp_path / "by-speaker.pt", centre="speaker")
    a, b = write_tone("a.wav"), write_tone("b.wav", freq=300)
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF nonsense")
    refused = predict(a, b, "--model", by_speaker)
    assert refused.exit_code == 2 and "per-speaker normalisation" in refused.output
    assert "--same-speaker" in refused.output
    result = predict(a, b, bad, "--model", by_speaker, "--same-speaker", "--json")
    assert result.exit_code == 1  # the bad file is reported and left out of the calibration; the others answered
    assert [row["file"] for row in json.loads(result.stdout)] == [str(a), str(b)]
    assert "bad.wav" in result.stderr
    alone = json.loads(predict(a, "--model", by_speaker, "--same-speaker", "--json").stdout)[0]
    paired = json.loads(result.stdout)[0]
    assert alone["probabilities"] != paired["probabilities"]  # the reference is the speaker's, from all the files
    not_for_it = predict(a, "--model", model_file, "--same-speaker")
    assert not_for_it.exit_code == 2 and "--same-speaker is for models trained with per-speaker" in not_for_it.output
    for command in (["serve", "--model", by_speaker, "--port", "1"], ["benchmark", "speed", "--model", by_speaker]):
        one_by_one = runner.invoke(app, list(map(str, command)))  # each reads clips one at a time: refused at once
        assert one_by_one.exit_code == 2 and "trained with per-speaker normalisation" in one_by_one.output
