"""ONNX export: the graph agrees with PyTorch on real and generated speech, describes itself, and
runs behind the same Recognizer API (predict, batches, timelines, embeddings, the CLI)."""
from __future__ import annotations

import json
import sys

import numpy as np
import pytest
import torch

pytest.importorskip("onnx", reason="ONNX export needs the onnx extra: pip install 'emovit[onnx]'")
pytest.importorskip("onnxruntime", reason="ONNX inference needs the onnx extra: pip install 'emovit[onnx]'")
import onnx  # noqa: E402
from typer.testing import CliRunner  # noqa: E402

from conftest import shared_data, tone  # noqa: E402
from emovit.audio import AudioError, fit_length, load_audio  # noqa: E402
from emovit.checkpoint import save_torch  # noqa: E402
from emovit.cli import app  # noqa: E402
from emovit.config import LogMelConfig  # noqa: E402
from emovit.export import ExportError, ExportFrontEnd, export_onnx, parity, probe_signals  # noqa: E402
from emovit.features import LogMelFrontEnd, Normalizer  # noqa: E402
from emovit.inference import ModelFileError, OnnxRecognizer, Prediction, Recognizer, model_file  # noqa: E402
from emovit.models import EmotionViT, student_config, teacher_config  # noqa: E402

EMODB = ["anger", "boredom", "disgust", "fear", "happiness", "neutral", "sadness"]
TOLERANCE = 1e-4  # max abs probability difference PyTorch vs onnxruntime
runner = CliRunner()


def write_student(path, config=None, normalizer=None):
    """A paper-sized student (random weights, head scaled x8 so probabilities are far from uniform)."""
    torch.manual_seed(0)
    model = EmotionViT(config or student_config(len(EMODB)))
    with torch.no_grad():
        model.vit.mlp_head.weight.mul_(8)
    save_torch(model_file(model, EMODB, normalizer or Normalizer(-45.0, 17.0), LogMelConfig(),
                          meta={"corpus": ["emodb"]}), path)
    return path


def write_centred_student(path, centre: str):
    """A one-layer student whose normaliser centres each clip's bands as `centre` says first."""
    return write_student(path, student_config(len(EMODB), depth=1), Normalizer(0.0, 12.0, centre))


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    folder = tmp_path_factory.mktemp("export")
    pt = write_student(folder / "student.pt")
    difference = export_onnx(pt, folder / "student.onnx")
    assert difference < TOLERANCE
    return pt, folder / "student.onnx"


@pytest.fixture(scope="module")
def pair(models):
    return Recognizer.load(models[0], precision="fp32"), Recognizer.load(models[1])


def tones() -> np.ndarray:
    return np.stack([fit_length(tone(seconds, freq=freq, seed=seed))
                     for seconds, freq, seed in ((4.0, 120, 0), (2.5, 220, 1), (6.0, 330, 2), (0.7, 500, 3))])


def test_front_end_graph_equals_the_log_mel_front_end():
    waves = torch.from_numpy(np.concatenate([tones(), probe_signals()]))
    reference = LogMelFrontEnd()(waves)
    exported = ExportFrontEnd(LogMelConfig())(waves)
    assert exported.shape == reference.shape == (7, 1, 128, 128)
    assert (exported - reference).abs().max() < 1e-3  # dB, on a -80..0 scale


@pytest.mark.parametrize("settings", [dict(hop_length=160, n_fft=400, win_length=400),  # 16 sub-sequences
                                      dict(hop_length=100, n_fft=512, win_length=300, clip_seconds=3.3)])
def test_front_end_graph_factors_other_stft_settings(settings):
    config = LogMelConfig(**settings)
    waves = torch.from_numpy(np.random.default_rng(0).standard_normal((2, config.clip_samples)).astype(np.float32))
    reference = LogMelFrontEnd(config)(waves)
    assert (ExportFrontEnd(config)(waves) - reference).abs().max() < 1e-3


def test_parity_on_generated_tones(pair):
    torch_rec, onnx_rec = pair
    a, b = torch_rec.probabilities(list(tones())), onnx_rec.probabilities(list(tones()))
    print(f"tones: max |p_torch - p_onnx| = {np.abs(a - b).max():.2e}")
    assert np.abs(a - b).max() < TOLERANCE
    assert (a.argmax(1) == b.argmax(1)).all()
    assert a.max() > 0.5  # the scaled head makes the check meaningful: not all probabilities near 1/7


def test_parity_on_real_emodb_clips(pair):
    folder = shared_data() / "emodb" / "wav"
    files = sorted(folder.glob("*.wav"))[:12]
    if not files:
        pytest.skip(f"no EmoDB clips in {folder}")
    torch_rec, onnx_rec = pair
    clips = [fit_length(load_audio(f)) for f in files]
    a, b = torch_rec.probabilities(clips), onnx_rec.probabilities(clips)
    print(f"EmoDB ({len(files)} clips): max |p_torch - p_onnx| = {np.abs(a - b).max():.2e}")
    assert np.abs(a - b).max() < TOLERANCE
    assert (a.argmax(1) == b.argmax(1)).all()
    assert np.abs(torch_rec.embed(files[0]) - onnx_rec.embed(files[0])).max() < 1e-3


def test_metadata_describes_the_model(models):
    proto = onnx.load(models[1])
    props = {p.key: p.value for p in proto.metadata_props}
    assert props["emovit_format"] == "emovit-onnx/1"
    assert json.loads(props["labels"]) == EMODB
    assert LogMelConfig.from_dict(json.loads(props["frontend"])) == LogMelConfig()
    assert json.loads(props["normalizer"])["mean"] == -45.0
    assert json.loads(props["model_config"])["arch"] == "vit" and json.loads(props["model_config"])["depth"] == 3
    assert json.loads(props["meta"]) == {"corpus": ["emodb"]}
    assert props["source_model"] == "student.pt" and "16000 Hz mono" in props["input"]
    graph = proto.graph
    assert [i.name for i in graph.input] == ["waveform"]
    assert [o.name for o in graph.output] == ["probabilities", "embedding"]
    dims = graph.input[0].type.tensor_type.shape.dim
    assert dims[0].dim_param == "batch" and dims[1].dim_value == 64000


def test_onnx_recognizer_gives_the_same_predictions(pair, write_tone, tmp_path):
    torch_rec, onnx_rec = pair
    assert isinstance(onnx_rec, OnnxRecognizer) and onnx_rec.labels == EMODB
    assert (onnx_rec.sample_rate, onnx_rec.clip_seconds) == (16000, 4.0)

    def same(a: Prediction, b: Prediction):
        assert (a.label, a.source) == (b.label, b.source) and a.duration == pytest.approx(b.duration)
        assert max(abs(a.probabilities[k] - b.probabilities[k]) for k in EMODB) < TOLERANCE

    clip = write_tone("clip.wav", seconds=3.0, rate=22050, freq=180)
    same(torch_rec.predict(clip), onnx_rec.predict(clip))
    same(torch_rec.predict(clip.read_bytes()), onnx_rec.predict(clip.read_bytes()))
    samples = tone(2.0, rate=8000)
    same(torch_rec.predict(samples, sample_rate=8000), onnx_rec.predict(samples, sample_rate=8000))

    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk")
    batch = onnx_rec.predict_batch([clip, broken, clip], batch_size=2)
    assert isinstance(batch[1], AudioError)
    same(batch[0], torch_rec.predict(clip))
    same(batch[2], torch_rec.predict(clip))

    long = write_tone("long.wav", seconds=9.0, freq=240)
    a, b = torch_rec.timeline(long, 4.0, 2.0), onnx_rec.timeline(long, 4.0, 2.0)
    same(a, b)
    assert [s.start for s in a.timeline] == [s.start for s in b.timeline] == pytest.approx([0, 2, 4, 6])
    for x, y in zip(a.timeline, b.timeline):
        assert max(abs(x.probabilities[k] - y.probabilities[k]) for k in EMODB) < TOLERANCE


def test_teacher_with_stem_and_coordinates_exports(tmp_path):
    small = teacher_config(len(EMODB), depth=1, dim=32, heads=2, dim_head=16, mlp_dim=32)
    pt = write_student(tmp_path / "teacher.pt", small)
    assert export_onnx(pt, tmp_path / "teacher.onnx") < TOLERANCE
    assert parity(Recognizer.load(pt, precision="fp32"), Recognizer.load(tmp_path / "teacher.onnx"), tones()) < TOLERANCE


def test_student_with_conv_positions_exports(tmp_path):
    small = student_config(len(EMODB), depth=1, dim=32, heads=2, dim_head=16, mlp_dim=32, position="conv")
    pt = write_student(tmp_path / "conv.pt", small)
    assert export_onnx(pt, tmp_path / "conv.onnx") < TOLERANCE
    assert parity(Recognizer.load(pt, precision="fp32"), Recognizer.load(tmp_path / "conv.onnx"), tones()) < TOLERANCE


def test_student_with_frame_levels_exports(tmp_path):
    small = student_config(len(EMODB), depth=1, dim=32, heads=2, dim_head=16, mlp_dim=32, extra={"frame_level": True})
    pt = write_student(tmp_path / "level.pt", small)
    assert export_onnx(pt, tmp_path / "level.onnx") < TOLERANCE
    assert parity(Recognizer.load(pt, precision="fp32"), Recognizer.load(tmp_path / "level.onnx"), tones()) < TOLERANCE


def test_student_with_a_temporal_branch_exports(tmp_path):
    # student-tim's TIM-Net branch (causal dilated convolutions, BatchNorm, a flipped copy) in the graph too
    small = student_config(len(EMODB), depth=1, dim=32, heads=2, dim_head=16, mlp_dim=32, extra={"temporal_filters": 8})
    pt = write_student(tmp_path / "tim.pt", small)
    assert export_onnx(pt, tmp_path / "tim.onnx") < TOLERANCE
    assert parity(Recognizer.load(pt, precision="fp32"), Recognizer.load(tmp_path / "tim.onnx"), tones()) < TOLERANCE


def test_student_with_a_temporal_expert_exports(tmp_path):
    # student-duo's two experts and the mean of their log-probabilities in the graph
    small = student_config(len(EMODB), depth=1, dim=32, heads=2, dim_head=16, mlp_dim=32,
                           extra={"temporal_filters": 8, "temporal_expert": True})
    pt = write_student(tmp_path / "duo.pt", small)
    assert export_onnx(pt, tmp_path / "duo.onnx") < TOLERANCE
    assert parity(Recognizer.load(pt, precision="fp32"), Recognizer.load(tmp_path / "duo.onnx"), tones()) < TOLERANCE


def test_failed_check_leaves_no_file_behind(models, tmp_path):
    out = tmp_path / "model.onnx"
    with pytest.raises(ExportError, match="disagrees with PyTorch"):
        export_onnx(models[0], out, tolerance=-1.0)
    assert list(tmp_path.iterdir()) == []


def test_bad_onnx_files_are_model_file_errors(tmp_path):
    text = tmp_path / "notes.onnx"
    text.write_text("not a graph")
    with pytest.raises(ModelFileError, match=r"notes.onnx: not an ONNX model onnxruntime can run"):
        Recognizer.load(text)
    x = onnx.helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1])
    y = onnx.helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1])
    foreign = onnx.helper.make_model(onnx.helper.make_graph([onnx.helper.make_node("Identity", ["x"], ["y"])],
                                                            "g", [x], [y]),
                                     opset_imports=[onnx.helper.make_opsetid("", 17)])
    onnx.save(foreign, tmp_path / "foreign.onnx")
    with pytest.raises(ModelFileError, match=r"foreign.onnx: not an emovit ONNX file"):
        Recognizer.load(tmp_path / "foreign.onnx")


def test_cli_export_then_predict_with_the_onnx_file(models, write_tone, tmp_path):
    out = tmp_path / "cli.onnx"
    result = runner.invoke(app, ["export", "--format", "onnx", "--model", str(models[0]), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "wrote" in result.stdout and out.is_file()
    clip = write_tone("a.wav", seconds=2.0)
    # the ONNX graph is fp32: it matches PyTorch in fp32 (precision 'auto' is bf16 on AMX CPUs)
    by_pt = json.loads(runner.invoke(app, ["predict", str(clip), "--model", str(models[0]), "--json",
                                           "--precision", "fp32"]).stdout)
    by_onnx = json.loads(runner.invoke(app, ["predict", str(clip), "--model", str(out), "--json"]).stdout)
    assert by_pt[0]["label"] == by_onnx[0]["label"]
    assert by_onnx[0]["probabilities"] == pytest.approx(by_pt[0]["probabilities"], abs=TOLERANCE)


def test_cli_export_errors(models, tmp_path, monkeypatch):
    result = runner.invoke(app, ["export", "--format", "tflite", "--out", str(tmp_path / "m.tflite"),
                                 "--model", str(models[0])])
    assert result.exit_code == 2 and "not supported; use onnx" in result.output
    result = runner.invoke(app, ["export", "--model", str(tmp_path / "missing.pt"), "--out", str(tmp_path / "m.onnx")])
    assert result.exit_code == 2 and "no such model file" in result.output
    monkeypatch.setitem(sys.modules, "onnx", None)  # as if the extra were not installed
    result = runner.invoke(app, ["export", "--model", str(models[0]), "--out", str(tmp_path / "m.onnx")])
    assert result.exit_code == 2 and "pip install 'emovit[onnx]'" in result.output


def test_export_from_a_bf16_recognizer_checks_against_fp32(models, tmp_path):
    """The graph is fp32, so its parity check runs against PyTorch's fp32 answers whatever the
    recognizer handed to export computes in (bf16 autocast on AMX machines by default)."""
    bf16 = Recognizer.load(models[0], precision="bf16")
    assert export_onnx(bf16, tmp_path / "again.onnx") < TOLERANCE
    assert bf16.precision == "bf16"  # the caller's recognizer is left as it was


def test_an_utterance_centred_model_exports_with_its_centring(tmp_path):
    """A model trained with recipe normalization "utterance" carries it in its file, and the ONNX graph
    centres each clip's bands as PyTorch does."""
    path = write_centred_student(tmp_path / "centred.pt", "utterance")
    torch_rec = Recognizer.load(path, precision="fp32")
    assert torch_rec.normalizer.centre == "utterance"
    assert export_onnx(path, tmp_path / "centred.onnx") < TOLERANCE
    onnx_rec = Recognizer.load(tmp_path / "centred.onnx")
    assert onnx_rec.normalizer.centre == "utterance"
    assert parity(torch_rec, onnx_rec, tones()) < TOLERANCE


def test_a_speaker_normalised_model_reads_clips_only_after_calibration_and_is_not_exported(models, tmp_path):
    """Per-speaker normalisation needs the speaker's band means: until calibrate() gives them, such a model
    refuses to run (rather than read wrongly normalised input); calibrated, it normalises as its training did
    (its training's arithmetic on the speaker's images), and the ONNX graph, which cannot hold a reference,
    is refused."""
    from emovit.export import ExportError
    from emovit.features import pooled_band_means

    path = write_centred_student(tmp_path / "by-speaker.pt", "speaker")
    recognizer = Recognizer.load(path, precision="fp32")
    clips = tones()
    assert recognizer.per_speaker
    with pytest.raises(ValueError, match="calibrate it on recordings of the speaker first"):
        recognizer.predict(clips[0], sample_rate=16000)
    with pytest.raises(ValueError, match="at least one usable recording"):
        recognizer.calibrate([b"not audio"])
    assert recognizer.calibrate(list(clips), sample_rate=16000) == []
    images = recognizer.frontend(torch.from_numpy(np.stack([recognizer.clip(c) for c in clips])))
    assert torch.allclose(recognizer.speaker_means, pooled_band_means(images), atol=1e-4)
    expected = recognizer.model((images - recognizer.speaker_means) / 12.0).softmax(-1).detach().numpy()
    got = [recognizer.predict(c, sample_rate=16000).probabilities for c in clips]
    assert np.allclose([[p[label] for label in EMODB] for p in got], expected, atol=1e-5)
    with pytest.raises(ExportError, match="per-speaker normalisation"):
        export_onnx(path, tmp_path / "by-speaker.onnx")
    with pytest.raises(ValueError, match="needs no calibration"):
        Recognizer.load(models[0]).calibrate(list(clips), sample_rate=16000)
