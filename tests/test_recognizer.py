"""Recognizer: model loading, equal answers for every kind of input, batches, timelines, embeddings."""
from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
import torch

from emovit.audio import AudioError
from emovit.checkpoint import save_torch
from emovit.features import Normalizer
from emovit.config import LogMelConfig
from emovit.models import EmotionViT, student_config
from emovit.inference import ModelFileError, Prediction, Recognizer

from conftest import MODEL_LABELS as LABELS, write_model  # noqa: E402


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    return write_model(tmp_path_factory.mktemp("model") / "tiny.pt")


@pytest.fixture(scope="module")
def rec(model_file):
    return Recognizer.load(model_file)


def harmonic(seconds: float, rate: int) -> np.ndarray:
    """A noise-free voiced-like signal, the same waveform at any sample rate."""
    t = np.arange(int(seconds * rate)) / rate
    wave = sum(np.sin(2 * np.pi * 220 * k * t) / k for k in range(1, 6)) * np.hanning(len(t))
    return (0.3 * wave).astype(np.float32)


def close(a: Prediction, b: Prediction, atol: float) -> bool:
    return a.label == b.label and all(abs(a.probabilities[k] - b.probabilities[k]) <= atol for k in LABELS)


def test_load_from_file_and_from_run_dir(tmp_path, model_file, write_tone):
    run = tmp_path / "run"
    write_model(run / "models" / "student.pt")
    a, b = Recognizer.load(model_file), Recognizer.load(run)
    assert a.labels == b.labels == LABELS
    assert b.path == run / "models" / "student.pt"
    clip = write_tone("a.wav")
    assert a.predict(clip).probabilities == b.predict(clip).probabilities


def test_run_dir_without_student_falls_back_then_lists_contents(tmp_path):
    run = tmp_path / "run"
    write_model(run / "models" / "teacher.pt")
    write_model(run / "models" / "plain.pt")
    assert Recognizer.load(run).path.name == "plain.pt"
    empty = tmp_path / "empty"
    (empty / "teacher").mkdir(parents=True)
    (empty / "config.json").write_text("{}")
    with pytest.raises(ModelFileError, match=r"no model in .*it holds: config.json, teacher/"):
        Recognizer.load(empty)


def test_model_file_errors(tmp_path):
    text = tmp_path / "notes.pt"
    text.write_text("hello, not a model\n")
    with pytest.raises(ModelFileError, match=r"notes.pt: not an emovit model file"):
        Recognizer.load(text)
    with pytest.raises(ModelFileError, match=r"missing.pt: no such model file"):
        Recognizer.load(tmp_path / "missing.pt")
    future = tmp_path / "future.pt"
    torch.save({"format": "emovit-model/2"}, future)
    with pytest.raises(ModelFileError, match=r"future.pt: model format 'emovit-model/2' is not supported"):
        Recognizer.load(future)
    training = tmp_path / "checkpoint.pt"
    torch.save({"model": {}, "epoch": 3}, training)
    with pytest.raises(ModelFileError, match=r"checkpoint.pt: not an emovit model file \(no 'format'"):
        Recognizer.load(training)


def test_bundled_model_missing_says_what_to_do(monkeypatch, tmp_path):
    monkeypatch.setattr("emovit.inference.modelfile.BUNDLED_MODEL", tmp_path / "assets" / "bundled.pt")
    with pytest.raises(ModelFileError, match=r"no bundled model at .*bundled.pt: pass --model RUN_DIR_OR_FILE"):
        Recognizer.load()


def test_path_bytes_and_array_give_the_same_numbers(rec, write_tone):
    path = write_tone("clip.wav", seconds=2.5)
    samples, rate = sf.read(path, dtype="float32")
    by_path = rec.predict(path)
    by_bytes = rec.predict(path.read_bytes())
    by_array = rec.predict(samples, sample_rate=rate)
    assert by_path.probabilities == by_bytes.probabilities == by_array.probabilities
    assert sum(by_path.probabilities.values()) == pytest.approx(1.0, abs=1e-6)
    assert by_path.label == max(by_path.probabilities, key=by_path.probabilities.get)
    assert by_path.duration == pytest.approx(2.5)
    assert (by_path.source, by_bytes.source, by_array.source) == (str(path), "<bytes>", "<array>")


def test_array_needs_its_sample_rate(rec):
    with pytest.raises(ValueError, match="sample_rate is required"):
        rec.predict(harmonic(1.0, 16000))


def test_48k_stereo_matches_16k_mono(rec):
    mono16 = rec.predict(harmonic(3.0, 16000), sample_rate=16000)
    stereo48 = rec.predict(np.stack([harmonic(3.0, 48000)] * 2, axis=1), sample_rate=48000)
    assert close(mono16, stereo48, atol=1e-3)


def test_a_long_recording_is_judged_on_windows_or_on_its_first_clip(rec):
    head = harmonic(4.0, 16000)
    longer = np.concatenate([head, 0.5 * harmonic(3.0, 16000)])
    windows = rec.clips(longer)  # 4 s every 2 s, the last one ending at the end: 0-4, 2-6, 3-7 s
    assert [len(w) for w in windows] == [64000] * 3
    assert np.array_equal(windows[1], longer[32000:96000]) and np.array_equal(windows[2], longer[-64000:])
    expected = rec.probabilities(windows).mean(axis=0)
    b = rec.predict(longer, sample_rate=16000)
    assert np.allclose([b.probabilities[k] for k in rec.labels], expected, atol=1e-6)
    assert b.duration == pytest.approx(7.0)
    rec.long_input = "first"  # the paper's crop: only the first 4 s count
    try:
        a, b = rec.predict(head, sample_rate=16000), rec.predict(longer, sample_rate=16000)
        assert a.probabilities == b.probabilities
    finally:
        rec.long_input = "windows"


def test_batch_goes_on_past_a_corrupt_file(rec, write_tone, tmp_path):
    good = [write_tone("a.wav", freq=220), write_tone("b.wav", seconds=5.0, freq=330)]
    corrupt = tmp_path / "broken.wav"
    corrupt.write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk" * 10)
    results = rec.predict_batch([good[0], corrupt, good[1]], batch_size=2)
    assert isinstance(results[1], AudioError) and "broken.wav" in str(results[1])
    for path, result in zip(good, (results[0], results[2])):
        assert isinstance(result, Prediction) and result.source == str(path)
        assert close(result, rec.predict(path), atol=1e-5)


def test_timeline_of_a_long_file(rec, write_tone):
    path = write_tone("long.wav", seconds=20.0)
    result = rec.timeline(path, window=4.0, hop=2.0)
    starts = [s.start for s in result.timeline]
    assert starts == pytest.approx([0, 2, 4, 6, 8, 10, 12, 14, 16])
    assert all(s.end == pytest.approx(s.start + 4.0) for s in result.timeline)
    assert result.duration == pytest.approx(20.0)
    mean = {k: np.mean([s.probabilities[k] for s in result.timeline]) for k in LABELS}
    assert result.probabilities == pytest.approx(mean)
    assert result.label == max(mean, key=mean.get)
    first, window = rec.predict(sf.read(path, dtype="float32")[0][:64000], sample_rate=16000), result.timeline[0]
    assert first.label == window.label and first.probabilities == pytest.approx(window.probabilities, abs=1e-4)


def test_a_timeline_reads_three_quarters_of_the_clip_every_half_window_by_default(rec, write_tone):
    result = rec.timeline(write_tone("long.wav", seconds=9.0))
    assert rec.timeline_window == pytest.approx(3.0)
    assert [t for s in result.timeline for t in (s.start, s.end)] == pytest.approx([0, 3, 1.5, 4.5, 3, 6, 4.5, 7.5, 6, 9])
    assert [s.start for s in rec.timeline(write_tone("long.wav", seconds=9.0), window=2.0).timeline] == \
        pytest.approx([0, 1, 2, 3, 4, 5, 6, 7])  # a window given: half of it between windows


def test_timeline_keeps_the_tail_and_refuses_windows_longer_than_the_clip(rec, write_tone):
    result = rec.timeline(write_tone("odd.wav", seconds=5.0), window=4.0, hop=3.0)
    assert [t for s in result.timeline for t in (s.start, s.end)] == pytest.approx([0.0, 4.0, 3.0, 5.0])
    with pytest.raises(ValueError, match="at most 4 s"):
        rec.timeline(write_tone("x.wav", seconds=5.0), window=6.0)


def test_embed_is_the_pooled_feature(rec, write_tone):
    vector = rec.embed(write_tone("a.wav"))
    assert vector.shape == (32,) and vector.dtype == np.float32 and np.isfinite(vector).all()


def test_bf16_autocast_gives_the_fp32_answers_within_tolerance():
    """The bundled model on the shipped example clips: bf16 autocast (the default on AMX CPUs and CUDA)
    against the fp32 reference."""
    from pathlib import Path

    clips = sorted((Path(__file__).resolve().parents[1] / "examples").glob("*.wav"))
    fp32, bf16 = Recognizer.load(None, precision="fp32"), Recognizer.load(None, precision="bf16")
    assert (fp32.precision, bf16.precision) == ("fp32", "bf16")
    for a, b in zip(fp32.predict_batch(clips), bf16.predict_batch(clips), strict=True):
        assert max(abs(a.probabilities[k] - b.probabilities[k]) for k in a.probabilities) < 0.02, a.source
        first, second = sorted(a.probabilities.values(), reverse=True)[:2]
        if first - second > 0.04:  # a near tie may flip; a clear answer may not
            assert a.label == b.label, a.source
    e32, e16 = fp32.embed(clips[0]), bf16.embed(clips[0])
    assert float(e32 @ e16 / np.linalg.norm(e32) / np.linalg.norm(e16)) > 0.999


def test_auto_precision_on_an_amx_cpu_is_bf16_within_its_tolerance():
    """Where the CPU has AMX, 'auto' is bf16 autocast: the bundled model's answers on the example clips
    stay within bf16's tolerance of fp32 (run here with --assume-amx on other CPUs)."""
    from pathlib import Path

    from emovit import hardware

    if not hardware.has_amx():
        pytest.skip("this CPU has no AMX: precision 'auto' is fp32 here (pytest --assume-amx checks it anyway)")
    clips = sorted((Path(__file__).resolve().parents[1] / "examples").glob("*.wav"))
    auto, fp32 = Recognizer.load(None), Recognizer.load(None, precision="fp32")
    assert auto.precision == "bf16"
    for a, b in zip(auto.predict_batch(clips), fp32.predict_batch(clips), strict=True):
        assert max(abs(a.probabilities[k] - b.probabilities[k]) for k in a.probabilities) < 0.02, a.source


def test_unknown_precision_is_refused(model_file):
    with pytest.raises(ValueError, match="precision"):
        Recognizer.load(model_file, precision="fp16")


def test_readme_python_example_runs_as_written(monkeypatch):
    """The README's Python API example is run exactly as printed, from the repository root."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    block = re.search(r"```python\n(.*?)```", (root / "README.md").read_text(), re.S).group(1)
    monkeypatch.chdir(root)
    exec(compile(block, "README.md", "exec"), {})


def test_the_public_api_is_at_the_top_level():
    import emovit
    from emovit import AudioError as TopAudioError, ModelFileError as TopError, Prediction as TopPrediction
    from emovit import Recognizer as TopRecognizer, load
    from emovit.recognizer import Recognizer as DeepRecognizer  # the earlier deep import still works

    assert TopRecognizer is DeepRecognizer is Recognizer and TopPrediction is Prediction
    assert TopError is ModelFileError and TopAudioError is AudioError
    assert load(None).labels == TopRecognizer.load().labels
    assert emovit.__version__ and "Recognizer" in dir(emovit)
