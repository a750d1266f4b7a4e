import pytest
import torch

from emovit.models import CoordinateEncoding, EmotionViT, Student, Teacher, student_config, teacher_config
from emovit.profile import PAPER_SIZES, count


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
