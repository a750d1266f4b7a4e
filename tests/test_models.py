import numpy as np
import pytest
import torch

from emovit.models import CoordinateEncoding, EmotionViT, Student, Teacher, student_config, teacher_config
from emovit.profile import PAPER_SIZES, count

from conftest import fit_losses


@pytest.mark.parametrize("name,make", [("teacher", lambda: Teacher(7)), ("student", lambda: Student(7))])
def test_sizes_within_15_percent_of_paper(name, make):
    measured = count(make())
    paper = PAPER_SIZES[name]
    assert abs(measured["params_m"] / paper["params_m"] - 1) < 0.15
    assert abs(measured["gmacs"] / paper["gmacs"] - 1) < 0.15


def test_exact_parameter_counts_pin_the_architecture():
    # 3 x (attention 328,448 + feed-forward 132,096) + patch embedding + CLS + head
    assert count(Student(7))["params"] == 1_417_991
    assert count(Teacher(7))["params"] == 2_912_200
    assert count(Teacher(7, depth=12))["params"] == 5_675_464


def test_teacher_patch_dim_includes_coordinate_channels():
    teacher = Teacher(7)
    assert teacher.vit.to_patch_embedding[2].in_features == 3 * 128
    assert Student(7).vit.to_patch_embedding[2].in_features == 128
    assert Teacher(7, patch_size=(16, 16)).vit.to_patch_embedding[2].in_features == 3 * 16 * 16


def test_student_mac_count_as_run():
    # patch embedding 128 x 128 x 256; two full layers over 129 tokens (qkv, q.kT, a.v, out, MLP);
    # the last layer: keys and values of 129 tokens, everything else for the CLS token; head 256 x 7
    full_layer = 129 * 256 * 960 + 2 * 5 * 129 * 129 * 64 + 129 * 320 * 256 + 2 * 129 * 256 * 256
    last_layer = 129 * 256 * 640 + 256 * 320 + 2 * 5 * 129 * 64 + 320 * 256 + 2 * 256 * 256
    assert round(count(Student(7))["gmacs_run"] * 1e9) == 128 * 128 * 256 + 2 * full_layer + last_layer + 256 * 7
    assert round(count(Student(7))["gmacs_all"] * 1e9) == 128 * 128 * 256 + 3 * full_layer + 256 * 7


@pytest.mark.parametrize("kind", ["student", "teacher"])
def test_cls_only_last_layer_gives_the_every_token_result_and_gradients(kind):
    torch.manual_seed(0)
    model = _small(kind).train()
    x = torch.randn(3, 1, 128, 128)
    outputs, grads = [], []
    for every_token in (False, True):
        model.zero_grad()
        out = model(x, every_token=every_token)
        out.square().sum().backward()
        outputs.append(out.detach())
        grads.append([p.grad.clone() for p in model.parameters()])
    torch.testing.assert_close(outputs[0], outputs[1], atol=1e-5, rtol=1e-5)
    for cls_only, every in zip(*grads):
        torch.testing.assert_close(cls_only, every, atol=1e-5, rtol=1e-4)


def _small(kind):
    make = teacher_config if kind == "teacher" else student_config
    return EmotionViT(make(5, depth=2, dim=32, heads=2, dim_head=16, mlp_dim=32)).eval()


def test_student_has_no_positional_information():
    torch.manual_seed(0)
    student = _small("student")
    x = torch.randn(2, 1, 128, 128)
    perm = torch.randperm(128)
    with torch.no_grad():
        assert torch.allclose(student(x), student(x[..., perm]), atol=1e-5)


def test_teacher_output_depends_on_time_order():
    torch.manual_seed(0)
    teacher = _small("teacher")
    x = torch.randn(2, 1, 128, 128)
    perm = torch.randperm(128)
    with torch.no_grad():
        assert not torch.allclose(teacher(x), teacher(x[..., perm]), atol=1e-3)


def test_learned_position_breaks_permutation_invariance():
    torch.manual_seed(0)
    model = EmotionViT(student_config(5, depth=1, dim=32, heads=2, dim_head=16, mlp_dim=32, position="learned")).eval()
    x = torch.randn(1, 1, 128, 128)
    with torch.no_grad():
        assert not torch.allclose(model(x), model(x[..., torch.randperm(128)]), atol=1e-3)


def test_coordinates_follow_input_size_and_range():
    x = torch.zeros(3, 2, 10, 20, dtype=torch.float64)
    out = CoordinateEncoding()(x)
    assert out.shape == (3, 4, 10, 20) and out.dtype == torch.float64
    xs, ys = out[0, 2], out[0, 3]
    assert xs[0, 0] == -1 and xs[0, -1] == 1 and torch.all(xs[:, 5] == xs[0, 5])
    assert ys[0, 0] == -1 and ys[-1, 0] == 1 and torch.all(ys[4, :] == ys[4, 0])


def test_stem_keeps_size_and_forward_backward_runs():
    teacher = _small("teacher").train()
    x = torch.randn(2, 1, 128, 128)
    assert teacher.stem(x).shape == (2, 1, 128, 128)
    logits = teacher(x)
    logits.sum().backward()
    assert logits.shape == (2, 5)
    assert all(p.grad is not None for p in teacher.parameters())


def test_pooled_feature_is_what_the_head_sees():
    student = _small("student")
    x = torch.randn(2, 1, 128, 128)
    with torch.no_grad():
        assert torch.allclose(student.vit.mlp_head(student.pooled(x)), student(x))
        assert student.pooled(x).shape == (2, 32)


def test_cls_attention_is_a_distribution_over_patches():
    student = _small("student")
    with torch.no_grad():
        att = student.cls_attention(torch.randn(2, 1, 128, 128))
    assert att.shape == (2, 128)
    assert torch.all(att >= 0) and torch.all(att.sum(-1) <= 1 + 1e-5)


def test_a_network_without_head_or_pooled_is_refused_at_construction():
    """The Network contract is abstract: a subclass that forgets a piece fails when built, not in training."""
    from emovit.models.network import Network

    class Incomplete(Network):
        arch = "vit"

        def pooled(self, x):
            return x

    with pytest.raises(TypeError, match="head"):
        Incomplete(None)


@pytest.mark.parametrize("name", ["student-learned", "student-conv", "student-stem", "student-level", "student-tim",
                                  "student-duo"])
def test_student_variants_stay_within_the_students_budget(name):
    # the budget for a shipped variant: <= 1.5M parameters, <= 0.2 GMACs as run, same input
    from emovit.models import build

    measured = count(build(name, 7))
    assert measured["params"] <= 1_500_000 and measured["gmacs_run"] <= 0.2
    assert build(name, 7)(torch.randn(1, 1, 128, 128)).shape == (1, 7)


def test_conv_position_sees_frame_order_but_not_the_clips_offset():
    # the plain student reads a set of frames; the conv encoding makes it read their order, and a
    # clip shifted in its frame (speech anywhere, as random crops make it) gives the same tokens
    from emovit.models import build

    torch.manual_seed(0)
    model = build("student-conv", 5, depth=1, dim=32, heads=2, dim_head=16, mlp_dim=32).eval()
    conv = model.vit.conv_position.conv
    assert conv.groups == 32 and conv.kernel_size == (7,)
    x = torch.zeros(1, 1, 128, 128)
    x[..., 20:60] = torch.randn(1, 1, 128, 40)
    with torch.no_grad():
        assert not torch.allclose(model(x), model(x[..., torch.randperm(128)]), atol=1e-3)
        shifted = torch.roll(x, 30, dims=-1)  # silence (zeros) stays silence around the speech
        torch.testing.assert_close(model(x), model(shifted), rtol=1e-4, atol=1e-5)


def test_student_stem_is_tiny_and_breaks_permutation_invariance():
    from emovit.models import build

    torch.manual_seed(0)
    model = build("student-stem", 5, depth=1, dim=32, heads=2, dim_head=16, mlp_dim=32).eval()
    convs = [m for m in model.stem.net if isinstance(m, torch.nn.Conv2d)]
    assert [c.out_channels for c in convs] == [8, 8, 1]
    x = torch.randn(1, 1, 128, 128)
    with torch.no_grad():
        assert not torch.allclose(model(x), model(x[..., torch.randperm(128)]), atol=1e-3)


def test_student_level_tells_frames_apart_by_level_where_the_student_cannot():
    # the patch LayerNorm maps a frame and the same frame 10 dB louder (in normalised units: shifted)
    # or with its contrast doubled to the same token; student-level's two extra inputs keep them apart
    from emovit.models import build

    torch.manual_seed(0)
    small = dict(depth=1, dim=32, heads=2, dim_head=16, mlp_dim=32)
    plain, level = build("student", 5, **small).eval(), build("student-level", 5, **small).eval()
    assert sum(p.numel() for p in level.parameters()) - sum(p.numel() for p in plain.parameters()) == 2 * 32
    frame = torch.randn(128)
    x = frame[None, None, :, None].expand(1, 1, 128, 128).clone()
    for changed in (x + 1.5, 2 * x):
        with torch.no_grad():
            torch.testing.assert_close(plain(x), plain(changed), rtol=1e-4, atol=1e-4)
            assert not torch.allclose(level(x), level(changed), atol=1e-3)
    assert count(build("student-level", 7))["params"] == 1_418_503


def test_student_tim_adds_a_narrow_timnet_feature_to_the_students_cls():
    # student-tim = the paper's student + a 30-filter TIM-Net on the same image whose head maps to 256:
    # pooled = the ViT's CLS + that projection; the branch makes the network see frame order
    from emovit.models import build

    torch.manual_seed(0)
    model = build("student-tim", 7).eval()
    assert model.temporal.config.extra["filters"] == 30 and model.temporal.head.out_features == 256
    x = torch.randn(2, 1, 128, 128)
    with torch.no_grad():
        torch.testing.assert_close(model.pooled(x), model.vit.pooled(x) + model.temporal(x))
        assert not torch.allclose(model(x), model(x[..., torch.randperm(128)]), atol=1e-4)
    assert count(model)["params"] == 1_417_991 + 76_164 == 1_494_155
    assert count(build("student", 7))["params"] == 1_417_991


def test_student_tim_trains_and_lowers_the_loss():
    """A short run with the students' optimiser (Adam) on two classes a level shift apart in the low
    bands: the loss falls and the training clips end right."""
    from emovit.models import build

    torch.manual_seed(0)
    small = dict(depth=1, dim=32, heads=2, dim_head=16, mlp_dim=32, image_size=(128, 32))
    model = build("student-tim", 2, **small)
    labels = torch.arange(16) % 2
    x = 0.5 * torch.randn(16, 1, 128, 32)
    x[:, :, :16] += 0.5 * (2 * labels[:, None, None, None] - 1)
    losses = fit_losses(model, x, labels, torch.optim.Adam(model.parameters(), lr=1e-3))
    assert np.mean(losses[-5:]) < 0.5 * losses[0]
    with torch.no_grad():
        assert torch.equal(model.eval()(x).argmax(dim=1), labels)


def test_student_duo_answers_with_the_mean_of_its_two_experts_log_probabilities():
    # student-duo = the paper's student and a 33-filter TIM-Net on the same image, each with its own classifier:
    # pooled = CLS and TIM-Net's pooled feature side by side; the answer averages the experts' log-probabilities
    from emovit.models import build

    torch.manual_seed(0)
    model = build("student-duo", 7).eval()
    assert model.temporal.config.extra["filters"] == 33 and model.temporal.head.out_features == 7
    x = torch.randn(2, 1, 128, 128)
    with torch.no_grad():
        cls, timnet = model.vit.pooled(x), model.temporal.pooled(x)
        torch.testing.assert_close(model.pooled(x), torch.cat((cls, timnet), dim=-1))
        experts = model.head.experts(model.pooled(x))
        torch.testing.assert_close(experts[0], model.vit.mlp_head(cls))
        torch.testing.assert_close(experts[1], model.temporal(x))
        torch.testing.assert_close(model(x), (experts[0].log_softmax(-1) + experts[1].log_softmax(-1)) / 2)
    # the heads are saved once, as their networks' own weights
    assert not [k for k in model.state_dict() if not k.startswith(("vit.", "temporal."))]
    assert count(model)["params"] == 1_417_991 + 81_624 == 1_499_615
    assert count(build("student-duo", 8))["params"] <= 1_500_000  # RAVDESS's 8 classes


def test_student_duo_trains_each_expert_on_its_own_loss():
    """In a stage, the duo's cross-entropy is each expert's own, summed: the gradient TIM-Net's weights get
    is the one they would get trained alone, whatever the student's expert says."""
    from emovit.models import build
    from emovit.stages import StageConfig, _Objective, _sample_losses

    torch.manual_seed(0)
    model = build("student-duo", 3, depth=1, dim=32, heads=2, dim_head=16, mlp_dim=32, image_size=(128, 32))
    model.eval()  # TIM-Net's dropout would draw other masks in the second pass
    x, y = torch.randn(6, 1, 128, 32), torch.arange(6) % 3
    pooled, logits, experts, _, _ = _Objective(model, "ce")(x)
    _sample_losses("ce", pooled, logits, y, None, StageConfig(), experts=experts).sum().backward()
    together = [p.grad.clone() for p in model.temporal.parameters()]
    model.zero_grad()
    torch.nn.functional.cross_entropy(model.temporal(x), y, reduction="sum").backward()
    for mine, alone in zip(together, (p.grad for p in model.temporal.parameters())):
        torch.testing.assert_close(mine, alone)


def test_student_duo_is_refused_as_the_knowledge_transfer_student():
    from emovit.config import Recipe

    with pytest.raises(ValueError, match="student-duo cannot be the knowledge-transfer student"):
        Recipe(student_network="student-duo")
    assert Recipe(student_network="student-duo", models=("plain",)).student_network == "student-duo"


def test_stochastic_depth_drops_whole_branches_in_training_only():
    """drop_path: in training each sample's residual branch is kept with probability 1 - rate and then
    scaled by 1 / (1 - rate), so its expectation is the branch; in evaluation the network is exactly the
    one without it; the rate grows linearly from 0 at the first layer to drop_path at the last."""
    from emovit.models.vit import DropPath

    drop = DropPath(0.25).train()
    torch.manual_seed(0)
    out = drop(torch.ones(20_000, 3, 4))
    per_sample = out.flatten(1)
    assert torch.all((per_sample == 0).all(dim=1) | (per_sample == 1 / 0.75).all(dim=1))  # whole samples
    assert abs(float((per_sample[:, 0] == 0).float().mean()) - 0.25) < 0.015
    assert abs(float(out.mean()) - 1.0) < 0.02

    torch.manual_seed(0)
    plain = EmotionViT(student_config(5, depth=3, dim=32, heads=2, dim_head=16, mlp_dim=32))
    torch.manual_seed(0)
    deep = EmotionViT(student_config(5, depth=3, dim=32, heads=2, dim_head=16, mlp_dim=32, drop_path=0.2))
    assert [d.rate for d in deep.vit.transformer.drop_paths] == [0.0, 0.1, 0.2]
    assert plain.vit.transformer.drop_paths is None and plain.state_dict().keys() == deep.state_dict().keys()
    x = torch.randn(4, 1, 128, 128)
    torch.testing.assert_close(plain.eval()(x), deep.eval()(x), atol=0, rtol=0)
    deep.train()
    torch.manual_seed(1)
    first = deep(x)
    torch.manual_seed(2)
    assert not torch.allclose(first, deep(x))  # training draws differ


def test_stochastic_depth_out_of_range_is_refused():
    from emovit.config import Recipe

    with pytest.raises(ValueError, match="drop_path"):
        student_config(5, drop_path=1.0)
    with pytest.raises(ValueError, match="drop_path"):
        Recipe(drop_path=-0.1)
