"""emovit.training_speed (the benchmark's output) and emovit.models.fast (the fast CPU paths it
measures): the fast paths must give the plain paths' outputs and gradients to fp32 rounding."""
import json
import math

import pytest
import torch
import torch.nn.functional as F

from emovit import training_speed as ts
from emovit.models import EmotionViT, build, fast, student_config, teacher_config
from emovit.profile import count

TINY = dict(image_size=(32, 32), patch_size=(32, 1), depth=1, dim=32, heads=2, dim_head=16, mlp_dim=32)
# fp32 tolerances of fast vs plain: logits and pooled features absolutely, gradients relative to
# each tensor's largest entry (sums over 16k pixels in another order: rounding of about 1e-6)
ATOL, GRAD_RTOL = 1e-5, 1e-4


def _is_stem_bias(name: str) -> bool:
    parts = name.split(".")
    return parts[0] == "stem" and parts[-1] == "bias"


def _outputs_and_grads(model, x, y, plain: bool):
    model.zero_grad(set_to_none=True)
    with fast.plain(plain):
        pooled = model.pooled(x)
        logits = model.head(pooled)
        (F.cross_entropy(logits, y) + pooled.square().mean()).backward()
    return pooled.detach(), logits.detach(), {n: p.grad.clone() for n, p in model.named_parameters()}


def _assert_same(model, x, y):
    p0, z0, g0 = _outputs_and_grads(model, x, y, plain=True)
    p1, z1, g1 = _outputs_and_grads(model, x, y, plain=False)
    torch.testing.assert_close(p1, p0, atol=ATOL, rtol=0)
    torch.testing.assert_close(z1, z0, atol=ATOL, rtol=0)
    for name, ref in g0.items():
        if _is_stem_bias(name):
            # cancelled by InstanceNorm: exactly zero on the fast path, rounding noise on the plain one
            assert not g1[name].any(), name
            assert ref.abs().max() < 1e-6 * max(g.abs().max() for g in g0.values()), name
            continue
        scale = ref.abs().max().clamp_min(1e-12)
        assert (g1[name] - ref).abs().max() / scale < GRAD_RTOL, name


# --- the fast paths ------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["teacher", "student"])
def test_fast_path_gives_the_plain_outputs_and_gradients_at_full_size(name):
    torch.manual_seed(0)
    model = build(name, 7).train()
    x, y = torch.randn(3, 1, 128, 128), torch.tensor([0, 3, 6])
    _assert_same(model, x, y)


@pytest.mark.parametrize("make", [teacher_config, student_config])
@pytest.mark.parametrize("batch", [1, 5])  # 5: the stem runs in chunks of fast.STEM_CHUNK
def test_fast_path_gives_the_plain_outputs_and_gradients_small(make, batch):
    torch.manual_seed(1)
    model = EmotionViT(make(4, **{**TINY, "depth": 2})).train()
    x, y = torch.randn(batch, 1, 32, 32) * 3 + 2, torch.arange(batch) % 4
    _assert_same(model, x, y)


def test_fast_path_is_used_and_the_plain_path_is_not():
    model = EmotionViT(teacher_config(4, **TINY))
    x = torch.randn(2, 1, 32, 32)
    assert fast.stem_applies(model.stem.net, x)
    with fast.plain():
        assert not fast.stem_applies(model.stem.net, x)
    assert not fast.stem_applies(model.stem.net, x.double())
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert not fast.applies(x)
    assert not fast.applies(x.to("meta"))
    handle = model.stem.net[4].register_forward_hook(lambda *args: None)
    assert not fast.stem_applies(model.stem.net, x)  # hooks see the layers' own forwards
    handle.remove()
    assert fast.stem_applies(model.stem.net, x)


def test_stem_chunks_give_the_same_output():
    torch.manual_seed(2)
    stem = EmotionViT(teacher_config(4, **TINY)).stem
    x = torch.randn(7, 1, 32, 32)
    whole = fast.stem_forward(stem.net, x, chunk=7)
    torch.testing.assert_close(fast.stem_forward(stem.net, x, chunk=2), whole, atol=ATOL, rtol=0)
    torch.testing.assert_close(fast.stem_forward(stem.net, x, chunk=1), whole, atol=ATOL, rtol=0)


def test_stem_takes_an_empty_batch():  # a DDP rank whose share of the batch is empty
    model = EmotionViT(teacher_config(4, **TINY)).train()
    out = model(torch.randn(0, 1, 32, 32))
    assert out.shape == (0, 4)
    out.sum().backward()


def test_adam_leaves_the_cancelled_stem_bias_alone_and_trains_the_rest_alike():
    """The fast path skips the conv bias that InstanceNorm cancels: its gradient is exactly zero, so
    Adam leaves it as it was (the plain path's rounding noise of ~1e-9, normalised by Adam, moves it
    by whole steps of lr, to no effect on any output). Every other weight follows the plain path;
    Adam's normalised steps turn rounding differences of near-zero gradients into differences of a
    small fraction of a step, so weights agree to 5% of how far training moved them, outputs to 1e-4."""
    torch.manual_seed(3)
    plain = EmotionViT(teacher_config(4, **TINY)).train()
    quick = EmotionViT(teacher_config(4, **TINY)).train()
    quick.load_state_dict(plain.state_dict())
    start = {n: p.detach().clone() for n, p in quick.named_parameters()}
    g = torch.Generator().manual_seed(0)
    batches = [(torch.randn(4, 1, 32, 32, generator=g), torch.randint(0, 4, (4,), generator=g)) for _ in range(5)]
    for model, use_plain in ((plain, True), (quick, False)):
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        for x, y in batches:
            with fast.plain(use_plain):
                loss = F.cross_entropy(model(x), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    a, b = dict(plain.named_parameters()), dict(quick.named_parameters())
    for name in a:
        moved = (a[name] - start[name]).abs().max()
        if _is_stem_bias(name):
            assert torch.equal(b[name], start[name]), name
            assert moved > 0, name  # the plain path's noise
        else:
            assert (b[name] - a[name]).abs().max() <= 0.05 * moved, name
    x = batches[0][0]
    with torch.no_grad():
        torch.testing.assert_close(quick(x), plain(x), atol=1e-4, rtol=1e-4)


def test_state_dict_keys_are_those_of_the_bundled_model():
    """The bundled file loads into the network its config names (the student, or the student-duo it is joined
    into): no key renamed by the fast paths, and the ViT's keys are the registry student's."""
    from pathlib import Path

    import emovit
    from emovit.checkpoint import load_torch
    from emovit.models.config import ModelConfig
    from emovit.models.registry import build_from_config

    path = Path(emovit.__file__).parent / "assets" / "bundled.pt"
    if not path.exists():
        pytest.skip("no bundled model")
    blob = load_torch(path)
    keys = {k for k, v in blob["state_dict"].items() if isinstance(v, torch.Tensor)}
    assert keys == set(build_from_config(ModelConfig.from_dict(blob["model_config"])).state_dict())
    assert set(build("student", 7).state_dict()) == {k for k in keys if not k.startswith("temporal.")}


def test_teacher_state_dict_keys_unchanged():
    keys = list(build("teacher", 7).state_dict())
    assert [k for k in keys if k.startswith("stem.")] == [f"stem.net.{i}.{p}" for i in range(0, 18, 3)
                                                        for p in ("weight", "bias")]
    assert "vit.transformer.layers.0.0.to_qkv.weight" in keys and "vit.mlp_head.bias" in keys


@pytest.mark.parametrize("shape", [(37, 24), (3, 19, 24)])
@pytest.mark.parametrize("bias", [True, False])
def test_linear_matches_f_linear_with_gradients(shape, bias):
    torch.manual_seed(4)
    base = torch.randn(shape[0], shape[1] + 2, *shape[2:]) if len(shape) == 3 else torch.randn(*shape)
    x0 = base[:, 1:-1] if len(shape) == 3 else base  # rows not one stride apart
    w0, b0 = torch.randn(20, 24), (torch.randn(20) if bias else None)
    results = []
    for plain in (True, False):
        x, w = x0.clone().requires_grad_(), w0.clone().requires_grad_()
        b = b0.clone().requires_grad_() if bias else None
        with fast.plain(plain):
            y = fast.linear(x, w, b)
        y.backward(torch.ones_like(y).cumsum(-1))
        results.append([y.detach(), x.grad, w.grad] + ([b.grad] if bias else []))
    for fast_t, plain_t in zip(results[1], results[0]):
        torch.testing.assert_close(fast_t, plain_t, atol=1e-4, rtol=1e-5)


def test_linear_takes_a_cls_slice():
    torch.manual_seed(5)
    x = torch.randn(4, 129, 32, requires_grad=True)
    w = torch.randn(40, 32, requires_grad=True)
    y = fast.linear(x[:, :1], w)
    assert y.shape == (4, 1, 40)
    torch.testing.assert_close(y, F.linear(x[:, :1], w), atol=1e-5, rtol=1e-5)


def test_inference_mode_and_no_grad_run_the_fast_path():
    torch.manual_seed(6)
    model = EmotionViT(teacher_config(4, **TINY)).eval()
    x = torch.randn(20, 1, 32, 32)
    with torch.no_grad(), fast.plain():
        ref = model(x)
    with torch.inference_mode():
        torch.testing.assert_close(model(x), ref, atol=ATOL, rtol=0)
    with torch.no_grad():
        torch.testing.assert_close(model(x), ref, atol=ATOL, rtol=0)


def test_tracing_and_counting_see_the_plain_ops():
    model = EmotionViT(teacher_config(4, **TINY)).eval()
    x = torch.randn(20, 1, 32, 32)
    with torch.no_grad():
        traced = torch.jit.trace(model, x, check_trace=False)
    graph = str(traced.inlined_graph)
    assert "mkldnn::_linear_pointwise" not in graph and "aten::linear" in graph
    assert "aten::instance_norm" in graph
    with fast.plain():
        plain_count = count(model)
    assert count(model) == plain_count


# --- the benchmark -------------------------------------------------------------------------------

def _finite_positive(v) -> bool:
    return isinstance(v, (int, float)) and math.isfinite(v) and v > 0


def test_benchmark_training_output():
    result = ts.benchmark_training(1, (2, 4), steps=2, warmup=1, compare_plain=True, peak_seconds=0.05,
                                   model_overrides=TINY, inference_batch=4)
    result = json.loads(json.dumps(result))  # JSON-able
    for key in ("peak_gmacs_per_s", "cpu", "cpu_flags", "threads", "teacher", "student", "paper_recipe_minutes",
                "peak_by_backend", "plain"):
        assert key in result, key
    assert result["threads"] == 1 and isinstance(result["cpu_flags"], list)
    assert _finite_positive(result["peak_gmacs_per_s"])
    for section in (result, result["plain"]):
        for name in ("teacher", "student"):
            r = section[name]
            for key in ("clips_per_s", "peak_fraction", "gmacs_run", "inference_clips_per_s"):
                assert _finite_positive(r[key]), (name, key)
            assert r["batch_size"] in (2, 4)
            assert set(r["batches"]) == {"2", "4"} and r["paper_batch"]["batch_size"] == ts.PAPER_BATCH
            for figures in r["batches"].values():
                assert _finite_positive(figures["peak_fraction"]) and _finite_positive(figures["speedup"])
        minutes = section["paper_recipe_minutes"]
        assert all(_finite_positive(minutes[k]) for k in ("teacher", "features", "student", "plain", "total"))
        assert minutes["total"] == pytest.approx(sum(v for k, v in minutes.items() if k != "total"))


def test_measure_training_and_peak():
    r = ts.measure_training("student", 2, threads=1, steps=2, warmup=1, peak=10.0, model_overrides=TINY)
    assert r["batch_size"] == 2 and r["threads"] == 1 and r["fast_path"]
    assert _finite_positive(r["clips_per_s"]) and _finite_positive(r["peak_fraction"])
    assert r["peak_fraction"] == pytest.approx(3 * r["gmacs_run"] * r["clips_per_s"] / 10.0)
    assert _finite_positive(ts.measure_peak(1, seconds=0.05, size=256))


def test_measure_training_takes_a_builder():
    r = ts.measure_training(lambda: EmotionViT(teacher_config(3, **TINY)), 2, threads=1, steps=1, warmup=1, peak=5.0)
    assert _finite_positive(r["clips_per_s"]) and r["gmacs_run"] > 0


def test_paper_recipe_formula():
    m = ts.paper_recipe_minutes(teacher_train=10.0, student_train=100.0, teacher_infer=50.0, student_infer=500.0)
    e, n, v, t = 50, 385, 43, 107
    assert m["teacher"] == pytest.approx((e * n / 10 + e * v / 50) / 60)
    assert m["features"] == pytest.approx((4 * n + v) / 50 / 60)
    assert m["student"] == pytest.approx((2 * e * n / 100 + 2 * e * v / 500) / 60)
    assert m["plain"] == pytest.approx((e * n / 100 + e * v / 500) / 60)
    assert m["test"] == pytest.approx((t / 50 + 2 * t / 500) / 60)


@pytest.mark.slow
def test_data_parallel_measurement_runs_two_processes():
    r = ts.measure_data_parallel("teacher", 4, processes=2, steps=1, warmup=1, model_overrides=TINY, peak=5.0)
    assert r["processes"] == 2 and r["batch_size"] == 4
    assert _finite_positive(r["clips_per_s"]) and _finite_positive(r["peak_fraction"])


def test_the_benchmark_training_command_writes_the_documented_json(tmp_path):
    import json

    from typer.testing import CliRunner

    from emovit.cli import app

    out = tmp_path / "speed.json"
    result = CliRunner().invoke(app, ["benchmark", "training", "--models", "student", "--batch-sizes", "4",
                                      "--steps", "1", "--threads", "1", "--json", str(out)])
    assert result.exit_code == 0, result.output
    assert "student" in result.stdout and "of peak" in result.stdout and "peak:" in result.stdout
    saved = json.loads(out.read_text())
    assert {"peak_gmacs_per_s", "cpu"} <= set(saved) and saved["peak_gmacs_per_s"] > 0
    assert {"clips_per_s", "batch_size", "peak_fraction"} <= set(saved["student"])
    assert saved["student"]["batch_size"] == 4 and 0 < saved["student"]["peak_fraction"] < 2
