import csv
import shutil

from typer.testing import CliRunner

from emovit.cli import app
from conftest import write_model


def test_attention_figure_for_two_models(write_tone, tmp_path):
    a = write_model(tmp_path / "a.pt")
    b = write_model(tmp_path / "b.pt")
    clip = write_tone("clip.wav", 2.0)
    out = tmp_path / "attention.png"
    res = CliRunner().invoke(app, ["figures", "attention", "-m", str(a), "-m", str(b), "-c", str(clip),
                                   "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert out.read_bytes()[:4] == b"\x89PNG"


def test_attention_figure_reports_bad_clip(tmp_path):
    a = write_model(tmp_path / "a.pt")
    bad = tmp_path / "bad.wav"
    bad.write_text("no audio")
    res = CliRunner().invoke(app, ["figures", "attention", "-m", str(a), "-c", str(bad), "--out", str(tmp_path / "x.png")])
    assert res.exit_code == 2 and "bad.wav" in res.output


def test_cosine_figure_from_a_run_directory(write_tone, tmp_path):
    run = tmp_path / "run"
    (run / "models").mkdir(parents=True)
    for name in ("teacher", "student", "plain"):
        write_model(run / "models" / f"{name}.pt")
    clips = [write_tone(f"c{i}.wav", 1.0, freq=200 + 50 * i) for i in range(3)]
    with open(run / "split.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["part", "path", "view"])
        for c in clips:
            w.writerow(["test", str(c), 0])
    res = CliRunner().invoke(app, ["figures", "cosine", str(run), "--out", str(tmp_path / "cos.png")])
    assert res.exit_code == 0, res.output
    assert "student  mean 1.000" in res.output  # identical weights -> identical features
    assert (tmp_path / "cos.png").read_bytes()[:4] == b"\x89PNG"
    shutil.rmtree(run / "models")
    (run / "models").mkdir()
    res = CliRunner().invoke(app, ["figures", "cosine", str(run)])
    assert res.exit_code == 2
