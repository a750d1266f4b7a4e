"""Peer models (AST, SepTr, teacher variants), the registry, `emovit profile` and `emovit compare`.

Sizes are pinned to the published configurations by counting them out here, term by term, so a
change to an architecture shows up as a wrong formula rather than a silently new number.
"""
from __future__ import annotations

import json

import pytest
import soundfile as sf
import torch
from typer.testing import CliRunner

from conftest import tone
from emovit.checkpoint import save_torch
from emovit.cli import app
from emovit.compare import compare_jobs
from emovit.features import Normalizer
from emovit.config import LogMelConfig
from emovit.models import (AST, MODELS, EmotionViT, ModelConfig, SepTr, ast_config, build, build_from_config,
                           load_deit_weights, model_config)
from emovit.profile import PAPER_SIZES, count
from emovit.recognizer import Recognizer
from emovit.inference import model_file
from emovit.stages import StageConfig, StageData, run_stage

LABELS = ["anger", "neutral", "sadness"]


def linear(i: int, o: int) -> int:
    return i * o + o


def ln(d: int) -> int:
    return 2 * d


def params(model) -> int:
    return sum(p.numel() for p in model.parameters())


def meta(name: str, **overrides):
    """A registry model built on the meta device: right sizes, no memory, no initialisation time."""
    with torch.device("meta"):
        return build(name, 7, **overrides)


def ast_params(dim=768, depth=12, mlp=3072, patches=64, classes=7) -> int:
    """timm ViT blocks (qkv with bias) + conv patch embedding + CLS, distillation and position + AST head."""
    block = ln(dim) + linear(dim, 3 * dim) + linear(dim, dim) + ln(dim) + linear(dim, mlp) + linear(mlp, dim)
    return (linear(16 * 16, dim) + 2 * dim + (patches + 2) * dim + depth * block + ln(dim)
            + ln(dim) + linear(dim, classes))


def septr_params(grid=(128, 128), dim=256, heads=5, dim_head=256, mlp=256, blocks=3, classes=7) -> int:
    """Per block two one-layer transformers (qkv without bias) and two positional tables; no final norm."""
    inner = heads * dim_head
    transformer = ln(dim) + dim * 3 * inner + linear(inner, dim) + ln(dim) + linear(dim, mlp) + linear(mlp, dim)
    block = 2 * transformer + (grid[0] + 1) * dim + (grid[1] + 1) * dim
    return linear(1, dim) + dim + blocks * block + linear(dim, classes)


def test_ast_parameters_are_the_stated_vit_base_configuration():
    assert params(meta("ast")) == ast_params() == 85_312_519
    assert params(meta("ast-overlap")) == ast_params(patches=12 * 12) == 85_373_959  # (128-16)//10+1 = 12
    # the paper's 21.4M is what a DeiT-Small shape gives, not the ViT-Base it states
    small = params(meta("ast", dim=384, heads=6, mlp_dim=1536))
    assert small == ast_params(dim=384, mlp=1536) and round(small / 1e6, 1) == PAPER_SIZES["ast"]["params_m"]


def test_septr_parameters_are_the_published_defaults():
    assert params(meta("septr")) == septr_params() == 8_862_215
    assert params(meta("septr-16x16")) == septr_params(grid=(8, 8)) == 8_677_895
    assert round(8_677_895 / 1e6, 1) == PAPER_SIZES["septr"]["params_m"]  # the paper's 8.7M is the 16x16 count


def test_teacher_variants_differ_only_in_position_information():
    teacher, nope = params(meta("teacher")), params(meta("teacher-nope"))
    assert teacher == 2_912_200
    assert teacher - nope == (ln(384) + linear(384, 256)) - (ln(128) + linear(128, 256))  # two coordinate channels
    assert params(meta("teacher-learned")) == nope + 129 * 256  # one position per patch and CLS
    assert params(meta("teacher-sinusoidal")) == nope  # a fixed table, not a parameter
    cfg = model_config("teacher-nope", 7)
    assert cfg.stem and not cfg.coordinates and cfg.position == "none"


def test_septr_macs_match_the_paper_when_counted_as_it_counts():
    tokens = 128 * 129  # every transformer: 128 sequences of 128 tokens + CLS
    per_token = 256 * 3 * 1280 + 1280 * 256 + 2 * 256 * 256
    expected = (6 * tokens * per_token + 128 * 128 * 256 + 256 * 7) / 1e9
    sizes = count(meta("septr"))
    assert sizes["gmacs"] == pytest.approx(expected, rel=1e-9)
    assert sizes["gmacs"] == pytest.approx(PAPER_SIZES["septr"]["gmacs"], rel=0.01)
    assert sizes["gmacs_all"] > 1.2 * sizes["gmacs"]  # attention products over 16,512 tokens
    assert count(meta("septr-16x16"))["gmacs"] == pytest.approx(PAPER_SIZES["septr-16x16"]["gmacs"], rel=0.05)


SMALL_IMAGES = {"vertical": (128, 8), "square": (32, 32), "septr": (16, 16)}


def small(name: str):
    """The registry model on a small image; AST keeps its width but only 2 of its 12 blocks (the
    full 85M-parameter stack takes seconds just to initialise; its size is pinned above)."""
    torch.manual_seed(0)
    config = model_config(name, 3)
    size = ((config.image_size[0], 20) if config.arch == "timnet"  # its input rows: 39 MFCCs or 128 mel bands
            else SMALL_IMAGES["septr"] if config.arch == "septr"
            else SMALL_IMAGES["vertical"] if config.patch_size == (128, 1) else SMALL_IMAGES["square"])
    shallow = {"depth": 2} if config.arch == "ast" else {}
    return build(name, 3, image_size=size, **shallow), size


@pytest.mark.parametrize("name", list(MODELS))
def test_every_registered_model_trains_through_the_common_interface(name):
    model, size = small(name)
    x = torch.randn(2, 1, *size)
    logits = model.head(model.pooled(x))
    assert logits.shape == (2, 3)
    torch.nn.functional.cross_entropy(logits, torch.tensor([0, 2])).backward()
    assert all(p.grad is not None for p in model.parameters()), name
    model.eval()
    with torch.no_grad():
        assert torch.allclose(model(x), model.head(model.pooled(x)), atol=1e-5)
        again = build_from_config(ModelConfig.from_dict(json.loads(json.dumps(model.config.to_dict()))))
        again.load_state_dict(model.state_dict())
        assert torch.allclose(again.eval()(x), model(x), atol=1e-6)


def test_old_config_without_arch_still_builds_the_vit():
    old = model_config("student", 3).to_dict()
    del old["arch"]
    assert isinstance(build_from_config(ModelConfig.from_dict(old)), EmotionViT)


def test_septr_attends_within_columns_then_rows():
    """Without positions, SepTr's vertical pass sees each time step as a set of frequencies and its
    horizontal pass each band as a set of frames: permuting frames leaves the output unchanged."""
    torch.manual_seed(0)
    model = build("septr", 3, image_size=(8, 8), dim=16, heads=2, dim_head=8, mlp_dim=16, position="none").eval()
    x = torch.randn(2, 1, 8, 8)
    with torch.no_grad():
        assert torch.allclose(model(x), model(x[..., torch.randperm(8)]), atol=1e-5)
        assert torch.allclose(model(x), model(x[:, :, torch.randperm(8)]), atol=1e-5)
    learned = build("septr", 3, image_size=(8, 8), dim=16, heads=2, dim_head=8, mlp_dim=16).eval()
    with torch.no_grad():
        assert not torch.allclose(learned(x), learned(x[..., torch.randperm(8)]), atol=1e-4)


def tiny_ast(image_size, **overrides):
    shape = {"dim": 32, "depth": 1, "heads": 2, "dim_head": 16, "mlp_dim": 64, **overrides}
    return AST(ast_config(3, image_size=image_size, **shape))


def test_deit_checkpoint_is_adapted_as_ast_adapts_it(tmp_path):
    torch.manual_seed(0)
    source = tiny_ast((64, 64)).state_dict()  # a 4x4 positional grid
    source["patch_embed.proj.weight"] = torch.randn(32, 3, 16, 16)  # RGB filters, as ImageNet models have
    source["head.weight"], source["head_dist.weight"] = torch.randn(1000, 32), torch.randn(1000, 32)
    path = tmp_path / "deit.pth"
    torch.save({"model": {f"module.v.{k}": v for k, v in source.items()}}, path)
    model = tiny_ast((32, 32))  # a 2x2 grid: AST cuts it from the middle
    info = load_deit_weights(model, path)
    assert torch.equal(model.patch_embed.proj.weight, source["patch_embed.proj.weight"].sum(1, keepdim=True))
    grid = source["pos_embed"][0, 2:].reshape(4, 4, 32)
    assert torch.equal(model.pos_embed[0, 2:], grid[1:3, 1:3].reshape(4, 32))
    assert torch.equal(model.blocks[0].attn.qkv.weight, source["blocks.0.attn.qkv.weight"])
    assert len(info["adapted"]) == 2 and info["untrained"] == []  # the AST head had the right shape
    with pytest.raises(ValueError, match="does not fit"):
        load_deit_weights(tiny_ast((32, 32), dim=48, dim_head=24), path)


def test_recognizer_loads_a_peer_model(tmp_path, write_tone):
    torch.manual_seed(0)
    model = build("septr-16x16", 3, dim=16, heads=2, dim_head=8, mlp_dim=16)
    path = tmp_path / "septr.pt"
    save_torch(model_file(model, LABELS, Normalizer(-40.0, 15.0), LogMelConfig(), meta={}), path)
    rec = Recognizer.load(path)
    assert isinstance(rec.model, SepTr)
    assert set(rec.predict(write_tone("a.wav")).probabilities) == set(LABELS)


@pytest.mark.parametrize("name", ["ast", "septr"])
def test_peer_models_train_in_the_stage_loop(name, tmp_path):
    """The stage loop needs nothing but pooled + head: a tiny peer learns a class signal in the low bands."""
    torch.manual_seed(0)
    shape = {"dim": 32, "depth": 1, "heads": 2, "dim_head": 16, "mlp_dim": 32}
    model = build(name, 3, image_size=(16, 16), patch_size=(4, 4) if name == "ast" else (2, 2), **shape)
    labels = torch.arange(12) % 3
    images = torch.randn(12, 1, 1, 16, 16) * 0.1
    images[:, :, :, :4] += labels[:, None, None, None, None].float()
    data = StageData(train_images=images, train_labels=labels, val_images=images[:6, 0], val_labels=labels[:6])
    summary = run_stage("plain", model, data, StageConfig(epochs=4, batch_size=4, lr=1e-3), tmp_path, LABELS,
                        progress=False)
    losses = [h["train_loss"] for h in summary["history"]]
    assert losses[-1] < losses[0] and (tmp_path / "final.pt").exists()


def test_compare_places_each_teacher_before_its_student():
    jobs = {j.name: j for j in compare_jobs(["plain", "student-16x16", "student"], 3)}
    assert list(jobs) == ["plain", "teacher-16x16", "student-16x16", "teacher", "student"]
    assert jobs["student"].stages == (("match", "match"), ("student", "student"))
    assert jobs["student-16x16"].teacher == "teacher-16x16" and jobs["plain"].reference == "teacher"
    assert jobs["plain"].seed_offset == jobs["student"].seed_offset == 1 and jobs["teacher"].seed_offset == 0
    assert compare_jobs(["ast"], 3)[0].stages == (("plain", "ast"),)


def test_profile_lists_every_model_next_to_the_paper():
    res = CliRunner().invoke(app, ["profile", "--json"])
    assert res.exit_code == 0, res.output
    rows = {r["model"]: r for r in json.loads(res.output)}
    assert set(rows) == set(MODELS)
    assert rows["ast"]["params"] == 85_312_519 and rows["ast"]["paper_params_m"] == 21.4 and "note" in rows["ast"]
    assert rows["septr"]["paper_gmacs"] == 143.2 and rows["student"]["params_vs_student"] == 1.0
    res = CliRunner().invoke(app, ["profile", "--models", "student,student-16x16", "--time", "--runs", "1"])
    assert res.exit_code == 0, res.output
    assert "ms/clip" in res.output and "1 thread(s)" in res.output


EMOTIONS = {"W": 300.0, "N": 150.0, "T": 220.0}  # anger, neutral, sadness: a pitch per class


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("emodb") / "wav"
    root.mkdir()
    for speaker in ("03", "08", "09"):
        for letter, freq in EMOTIONS.items():
            for i, text in enumerate(("a01", "a02", "b01")):
                sf.write(root / f"{speaker}{text}{letter}a.wav",
                         tone(1.0, freq=freq * (1 + 0.02 * i), seed=int(speaker) * 100 + i), 16000)
    return root


def test_compare_trains_every_model_on_one_split(corpus, tmp_path):
    out = tmp_path / "run"

    def args(models):
        return ["compare", "--corpus", "emodb", "--root", str(corpus), "--protocol", "paper", "--out", str(out),
                "--models", models, "--epochs", "1", "--views", "1", "--time-runs", "1", "--quiet",
                "--cache", str(tmp_path / "cache"), "--checkpoint-every", "0"]

    res = CliRunner().invoke(app, args("student"))
    assert res.exit_code == 0, res.output
    results = json.loads((out / "results.json").read_text())
    assert list(results["models"]) == ["teacher", "student"]  # the student's teacher, trained first
    for name, m in results["models"].items():
        assert {"wa", "ua", "macro_f1", "params", "gmacs", "train_seconds", "ms_per_clip"} <= set(m), name
        assert sum(map(sum, m["confusion"])) == results["split"]["sizes"]["test"] > 0
    assert results["models"]["student"]["epochs"] == {"match": 1, "student": 1}
    assert results["models"]["student"]["params"] == 1_417_991 - 4 * 257  # 3 classes, not 7
    assert "cosine_to_teacher" in results["models"]["student"]
    assert (out / "match" / "final.pt").exists() and (out / "student" / "final.pt").exists()
    table = (out / "results.md").read_text()
    assert "protocol `paper`" in table and "CPU ms/clip" in table and "knowledge transfer" in table
    assert Recognizer.load(out).labels == LABELS
    # each clip's answers, and the two models paired on them (in results.* and with `emovit paired`)
    [pair] = results["paired"]
    assert (pair["a"], pair["b"], pair["n"]) == ("teacher", "student", results["split"]["sizes"]["test"])
    assert "exact McNemar" in table and "| teacher | student |" in table
    said = CliRunner().invoke(app, ["paired", f"{out}:teacher", f"{out / 'predictions.csv'}:student", "--json"])
    assert said.exit_code == 0, said.output
    assert {k: v for k, v in json.loads(said.output).items() if k in pair and k not in "ab"} == {
        k: v for k, v in pair.items() if k not in "ab"}
    ambiguous = CliRunner().invoke(app, ["paired", str(out), f"{out}:student"])
    assert ambiguous.exit_code == 2 and "teacher, student" in ambiguous.output and "Traceback" not in ambiguous.output

    again = CliRunner().invoke(app, args("student,septr"))
    assert again.exit_code == 2 and "other settings" in again.output
    one_fold = CliRunner().invoke(app, ["compare", "--corpus", "emodb", "--root", str(corpus), "--protocol", "kfold",
                                        "--folds", "1", "--out", str(tmp_path / "kfold")])
    assert one_fold.exit_code == 2 and "--folds 1" in one_fold.output and "2 to" in one_fold.output


def test_compare_records_the_labels_it_left_out(corpus, tmp_path):
    # the bundled model's card lists them ("Left out of training"), from config.json as reproduce writes it
    out = tmp_path / "run"
    keep = ",".join(LABELS[:2])
    res = CliRunner().invoke(app, ["compare", "--corpus", "emodb", "--root", str(corpus), "--protocol", "paper",
                                   "--labels", keep, "--models", "plain", "--epochs", "1", "--views", "1",
                                   "--time-runs", "0", "--quiet", "--cache", str(tmp_path / "cache"),
                                   "--checkpoint-every", "0", "--out", str(out)])
    assert res.exit_code == 0, res.output
    config = json.loads((out / "config.json").read_text())
    assert config["labels"] == LABELS[:2] and config["labels_left_out"] == {LABELS[2]: 9}


def test_compare_compiles_the_models_named_and_refuses_others(corpus, tmp_path, monkeypatch):
    """--compile NAMES sets per_model.NAME.compile: that model's steps are compiled (Dynamo's eager backend
    here, seconds rather than Inductor's minutes), the others' not; an unknown name is refused with the list."""
    real, given = torch.compile, []

    def compile_eagerly(module, **kwargs):
        given.append(module)
        return real(module, backend="eager", **kwargs)

    monkeypatch.setattr(torch, "compile", compile_eagerly)
    torch._dynamo.reset()
    out = tmp_path / "run"
    base = ["compare", "--corpus", "emodb", "--root", str(corpus), "--protocol", "paper", "--out", str(out),
            "--epochs", "1", "--views", "1", "--time-runs", "0", "--quiet", "--cache", str(tmp_path / "cache")]
    bad = CliRunner().invoke(app, [*base, "--models", "plain", "--compile", "timnett"])
    assert bad.exit_code == 2 and "--compile" in bad.output and "timnet" in bad.output
    res = CliRunner().invoke(app, [*base, "--models", "plain,timnet", "--compile", "timnet"])
    assert res.exit_code == 0, res.output
    assert [type(m.model).__name__ for m in given] == ["TIMNet"]
    recipe = json.loads((out / "config.json").read_text())["recipe"]
    assert recipe["per_model"]["timnet"]["compile"] is True and recipe["stage"]["compile"] is False


def test_a_student_distils_timnets_logits_read_through_its_own_front_end(corpus, tmp_path):
    """plain-timnet: TIM-Net trains first on MFCCs; the student, started from plain's weights, learns its
    logits on the same clips and views as well as the labels, so it ends elsewhere than plain; without a
    kd_weight, or with mixup, compare refuses it before training."""
    recipe = tmp_path / "kd.toml"
    recipe.write_text('name = "kd"\n[stage]\nepochs = 2\n[per_model.plain-timnet]\nkd_weight = 1.0\n'
                      'kd_temperature = 2.0\n[per_model.timnet]\nepochs = 2\nbatch_size = 8\nlr = 1e-3\n')
    out = tmp_path / "run"
    base = ["compare", "--corpus", "emodb", "--root", str(corpus), "--protocol", "paper", "--views", "2",
            "--time-runs", "0", "--quiet", "--cache", str(tmp_path / "cache"), "--checkpoint-every", "0"]
    res = CliRunner().invoke(app, [*base, "--recipe", str(recipe), "--models", "plain,plain-timnet", "--out", str(out)])
    assert res.exit_code == 0, res.output
    results = json.loads((out / "results.json").read_text())
    assert list(results["models"]) == ["plain", "timnet", "plain-timnet"]
    assert "TIM-Net's logits" in results["models"]["plain-timnet"]["title"]
    plain, distilled = (torch.load(out / name / "final.pt", weights_only=False)["model"] for name in ("plain", "plain-timnet"))
    assert plain.keys() == distilled.keys() and any(not torch.equal(plain[k], distilled[k]) for k in plain)
    first = [json.loads((out / name / "history.json").read_text())[0]["train_loss"] for name in ("plain", "plain-timnet")]
    assert first[1] > first[0]  # the same first steps, plus the KL term

    refused = CliRunner().invoke(app, [*base, "--models", "plain-timnet", "--out", str(tmp_path / "none")])
    assert refused.exit_code == 2 and "kd_weight" in refused.output and not (tmp_path / "none").exists()
    recipe.write_text(recipe.read_text().replace("kd_weight = 1.0\n", "kd_weight = 1.0\nmixup_alpha = 0.4\nmixup_prob = 0.5\n"))
    mixed = CliRunner().invoke(app, [*base, "--recipe", str(recipe), "--models", "plain-timnet", "--out",
                                     str(tmp_path / "mixed")])
    assert mixed.exit_code == 2 and "mixup_prob" in mixed.output


def test_peer_logits_refuse_front_ends_that_read_different_clips():
    from types import SimpleNamespace

    from emovit.runs import peer_logits

    logmel = SimpleNamespace(train_paths=["a.wav", "b.wav"], frontend=SimpleNamespace(kind="logmel"))
    mfcc = SimpleNamespace(train_paths=["a.wav"], frontend=SimpleNamespace(kind="mfcc"))  # b.wav unreadable to it
    with pytest.raises(ValueError, match="same training clips"):
        peer_logits(torch.nn.Linear(1, 1), logmel, mfcc, torch.device("cpu"), "fp32")
