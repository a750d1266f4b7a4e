"""`emovit join`: a student and a log-Mel TIM-Net trained apart become one student-duo model file whose answer is
the mean of the two models' log-probabilities, and pairs that cannot be joined are refused by name."""
from __future__ import annotations

import pytest
import torch
from typer.testing import CliRunner

from emovit.checkpoint import save_torch
from emovit.cli import app
from emovit.config import LogMelConfig
from emovit.features import Normalizer
from emovit.inference import ModelFileError, Recognizer, model_file
from emovit.join import join, join_models
from emovit.models import EmotionViT, build, student_config
from emovit.models.timnet import TIMNet, timnet_config

LABELS = ["anger", "happiness", "sadness"]
IMAGE = (128, 32)


def params(model) -> int:
    return sum(p.numel() for p in model.parameters())


def student(seed: int = 0) -> EmotionViT:
    torch.manual_seed(seed)
    return EmotionViT(student_config(3, depth=1, dim=32, heads=2, dim_head=16, mlp_dim=32, image_size=IMAGE))


def timnet(n_mfcc: int = 128, filters: int = 5) -> TIMNet:
    torch.manual_seed(1)
    return TIMNet(timnet_config(3, n_mfcc=n_mfcc, image_size=(n_mfcc, IMAGE[1]), filters=filters))


def save(model, path, normalizer=None, labels=LABELS):
    save_torch(model_file(model, labels, normalizer or Normalizer(-40.0, 15.0), LogMelConfig(), meta={"seed": 0}),
               path)
    return path


@pytest.fixture()
def pair(tmp_path):
    return save(student(), tmp_path / "plain.pt"), save(timnet(), tmp_path / "timnet-mel-duo.pt")


def test_joined_answer_is_the_mean_of_the_two_models_log_probabilities(pair, tmp_path):
    out = join(*pair, tmp_path / "joined.pt")
    duo = Recognizer.load(out, precision="fp32").model.eval()
    a, b = student().eval(), timnet().eval()
    x = torch.randn(4, 1, *IMAGE)
    with torch.no_grad():
        expected = (a(x).log_softmax(-1) + b(x).log_softmax(-1)) / 2
        experts = duo.head.experts(duo.pooled(x))
        torch.testing.assert_close(duo(x), expected, rtol=0, atol=1e-5)
        torch.testing.assert_close(experts[0], a(x), rtol=0, atol=1e-5)
        torch.testing.assert_close(experts[1], b(x), rtol=0, atol=1e-5)
    assert duo.config.extra == {"temporal_filters": 5, "temporal_expert": True}
    assert params(duo) == params(a) + params(b)
    assert Recognizer.load(out).meta["joined"]["temporal"] == str(pair[1])


def test_the_registry_expert_joins_the_paper_student_within_the_duo_budget(tmp_path):
    plain, temporal = build("student", 7), build("timnet-mel-duo", 7)
    labels = [f"c{i}" for i in range(7)]
    blob = join_models(save(plain, tmp_path / "s.pt", labels=labels), save(temporal, tmp_path / "t.pt", labels=labels))
    assert params(build("student-duo", 7)) == params(plain) + params(temporal) == 1_499_615
    assert blob["model_config"] == build("student-duo", 7).config.to_dict()


def test_pairs_that_cannot_be_joined_are_refused_with_the_file_named(pair, tmp_path):
    plain, temporal = pair
    with pytest.raises(ModelFileError, match="not the paper's student"):
        join_models(temporal, plain)
    with pytest.raises(ModelFileError, match="not TIM-Net's"):
        join_models(plain, plain)
    mfcc = save(timnet(n_mfcc=39), tmp_path / "timnet.pt")
    with pytest.raises(ModelFileError, match="same log-Mel image"):
        join_models(plain, mfcc)
    other = save(timnet(), tmp_path / "other-fold.pt", normalizer=Normalizer(-38.0, 15.0))
    with pytest.raises(ModelFileError, match="normalizer differ"):
        join_models(plain, other)
    result = CliRunner().invoke(app, ["join", str(plain), str(other), "--out", str(tmp_path / "j.pt")])
    assert result.exit_code != 0 and "other-fold.pt" in result.output and not (tmp_path / "j.pt").exists()


def test_the_cli_writes_a_model_the_recognizer_runs(pair, tmp_path):
    out = tmp_path / "joined.pt"
    result = CliRunner().invoke(app, ["join", *map(str, pair), "--out", str(out)])
    assert result.exit_code == 0, result.output
    recognizer = Recognizer.load(out)
    assert recognizer.labels == LABELS and recognizer.model.config.extra["temporal_expert"]
