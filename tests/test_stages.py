import pytest
import torch

from emovit.models import EmotionViT, student_config, teacher_config
from conftest import STAGE_LABELS as LABELS, small_network as _small, stage_data as _data
from emovit.stages import StageConfig, StageData, run_stage, teacher_features


def test_feature_matching_l1_decreases(tmp_path):
    data = _data()
    teacher = _small("teacher")
    data.train_targets = teacher_features(teacher, data.train_images, torch.device("cpu"))
    data.val_targets = teacher_features(teacher, data.val_images, torch.device("cpu"))
    assert data.train_targets.shape == (12, 2, 32)
    student = _small("student", seed=1)
    summary = run_stage("match", student, data, StageConfig(epochs=6, batch_size=4, lr=1e-3), tmp_path, LABELS,
                        progress=False)
    l1 = [h["val_l1"] for h in summary["history"]]
    assert l1[-1] < 0.8 * l1[0]
    assert [h["train_loss"] for h in summary["history"]][-1] < summary["history"][0]["train_loss"]


def test_stage_writes_history_and_selected_weights(tmp_path):
    data = _data()
    model = _small("student")
    summary = run_stage("plain", model, data, StageConfig(epochs=3, batch_size=4, lr=1e-3, lr_halve_every=1),
                        tmp_path, LABELS, progress=False)
    assert [h["epoch"] for h in summary["history"]] == [1, 2, 3]
    assert [h["lr"] for h in summary["history"]] == pytest.approx([1e-3, 5e-4, 2.5e-4])
    assert summary["selected_epoch"] in (1, 2, 3)
    assert (tmp_path / "final.pt").exists() and (tmp_path / "history.json").exists()
    # a finished stage is not trained again
    again = run_stage("plain", _small("student", seed=5), data, StageConfig(epochs=3), tmp_path, LABELS, progress=False)
    assert again["selected_epoch"] == summary["selected_epoch"]


class Interrupt(Exception):
    pass


@pytest.mark.parametrize("stop_at", [5, 6])  # mid-epoch (after a step checkpoint) and at an epoch boundary
def test_resume_after_interruption_gives_the_same_weights(tmp_path, stop_at):
    data = _data()
    config = StageConfig(epochs=3, batch_size=4, lr=1e-3, select="last", checkpoint_every=2)

    reference = _small("teacher")
    run_stage("teacher", reference, data, config, tmp_path / "uninterrupted", LABELS, progress=False)

    def interrupt(step):
        if step == stop_at:
            raise Interrupt

    with pytest.raises(Interrupt):
        run_stage("teacher", _small("teacher"), data, config, tmp_path / "resumed", LABELS, progress=False,
                  on_step=interrupt)
    assert (tmp_path / "resumed" / "checkpoint.pt").exists()
    assert not (tmp_path / "resumed" / "final.pt").exists()
    resumed = _small("teacher", seed=123)  # different init: everything must come from the checkpoint
    summary = run_stage("teacher", resumed, data, config, tmp_path / "resumed", LABELS, progress=False)
    assert len(summary["history"]) == 3
    for (name, a), b in zip(reference.state_dict().items(), resumed.state_dict().values()):
        assert torch.equal(a, b), name


def test_bf16_autocast_gives_the_fp32_answers_within_tolerance():
    from emovit.stages import infer

    data = _data(n=8, views=1)
    model = _small("teacher")
    images = data.train_images[:, 0]
    logits32, pooled32 = infer(model, images, torch.device("cpu"), "fp32")
    logits16, pooled16 = infer(model, images, torch.device("cpu"), "bf16")
    assert logits16.dtype == torch.float32  # results come back in fp32 either way
    p32, p16 = logits32.softmax(-1), logits16.softmax(-1)
    assert (p32 - p16).abs().max() < 0.03
    assert torch.nn.functional.cosine_similarity(pooled32, pooled16).min() > 0.99


@pytest.mark.real_cpu_flags
def test_auto_precision_is_fp32_without_amx_or_cuda(monkeypatch):
    from emovit import hardware, precision

    monkeypatch.setattr(hardware, "_cpuinfo", lambda: "model name\t: Some CPU\nflags\t\t: fpu avx2 fma\n")
    assert hardware.cpu_flags() == ["avx2"] and not hardware.has_amx()
    assert precision.resolve_precision("auto", torch.device("cpu")) == "fp32"
    monkeypatch.setattr(hardware, "_cpuinfo", lambda: "flags\t\t: fpu avx2 avx512f amx_bf16 amx_tile\n")
    assert hardware.has_amx()
    assert precision.resolve_precision("auto", torch.device("cpu")) == "bf16"
    assert precision.resolve_precision("fp32", torch.device("cpu")) == "fp32"
    with pytest.raises(ValueError, match="precision"):
        precision.resolve_precision("fp16", torch.device("cpu"))
