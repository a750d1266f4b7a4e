"""Metrics on hand-computable cases; plots are real PNG files."""
import numpy as np
import pytest

from emovit.metrics import classification_report, cosine_similarity, plot_confusion, plot_curves, summarize_folds

PNG = b"\x89PNG\r\n\x1a\n"


def test_known_confusion():
    labels = ["a", "b", "c"]
    r = classification_report([0, 0, 1, 1, 2, 2], [0, 1, 1, 1, 2, 0], labels)
    assert r["confusion"] == [[1, 1, 0], [0, 2, 0], [1, 0, 1]]
    assert r["wa"] == pytest.approx(4 / 6)
    assert r["ua"] == pytest.approx((0.5 + 1 + 0.5) / 3)
    assert r["per_class_recall"] == {"a": 0.5, "b": 1.0, "c": 0.5}
    assert r["support"] == {"a": 2, "b": 2, "c": 2} and r["n"] == 6
    assert r["macro_f1"] == pytest.approx(np.mean([0.5, 0.8, 2 / 3]))


def test_ua_differs_from_wa_on_imbalanced_data_and_absent_class_keeps_its_row():
    labels = ["major", "minor", "absent"]
    y_true = np.array([0] * 90 + [1] * 10)
    y_pred = np.zeros(100, dtype=int)  # always the majority class
    r = classification_report(y_true, y_pred, labels)
    assert r["wa"] == pytest.approx(0.9)
    assert r["ua"] == pytest.approx(0.5)  # mean recall over the two classes present
    assert len(r["confusion"]) == 3 and r["confusion"][2] == [0, 0, 0]
    assert r["per_class_recall"]["absent"] is None
    with pytest.raises(ValueError):
        classification_report([0, 3], [0, 0], labels)


def test_cosine():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(20, 8))
    same = cosine_similarity(a, a.copy())
    assert same["mean"] == pytest.approx(1.0) and same["std"] == pytest.approx(0.0, abs=1e-9)
    assert cosine_similarity(a, -a)["median"] == pytest.approx(-1.0)
    assert cosine_similarity(np.eye(2), np.array([[0.0, 1.0], [0.0, 1.0]]))["mean"] == pytest.approx(0.5)


def test_summarize_folds():
    labels = ["a", "b"]
    f1 = classification_report([0, 0, 1, 1], [0, 0, 1, 1], labels)
    f2 = classification_report([0, 0, 1, 1], [0, 1, 0, 1], labels)
    s = summarize_folds([f1, f2])
    assert s["n_folds"] == 2 and s["wa"]["mean"] == pytest.approx(0.75) and s["wa"]["std"] == pytest.approx(0.25)
    assert s["confusion"] == [[3, 1], [1, 3]] and s["pooled"]["ua"] == pytest.approx(0.75)


def test_plots_are_png(tmp_path):
    plot_confusion([[5, 1, 0], [2, 7, 1], [0, 0, 0]], ["anger", "happiness", "neutral"], tmp_path / "cm.png", "test")
    plot_confusion([[5, 1], [2, 7]], ["a", "b"], tmp_path / "sub" / "cm_counts.png", "counts", normalize=False)
    history = [{"epoch": 1, "train_loss": 1.2, "val_loss": None, "val_ua": None, "lr": 1e-4},
               {"epoch": 2, "train_loss": 0.9, "val_loss": 1.0, "val_ua": 0.4},
               {"epoch": 3, "train_loss": 0.7, "val_loss": 0.8, "val_ua": 0.55}]
    plot_curves(history, tmp_path / "curves.png", "curves")
    plot_curves([{"epoch": 1, "train_loss": 1.0}], tmp_path / "loss_only.png", "loss only")
    for name in ("cm.png", "sub/cm_counts.png", "curves.png", "loss_only.png"):
        assert (tmp_path / name).read_bytes()[:8] == PNG
    assert not [p for p in tmp_path.rglob(".*")]
    with pytest.raises(ValueError):
        plot_confusion([[1]], ["a", "b"], tmp_path / "bad.png", "bad")


def test_per_group_reports_score_each_group_and_skip_a_single_group():
    from emovit.metrics import per_group_reports

    labels = ["anger", "neutral"]
    reports = per_group_reports([0, 1, 0, 1], [0, 1, 1, 1], ["a", "a", "b", "b"], labels)
    assert reports["a"]["wa"] == 1.0 and reports["b"]["wa"] == 0.5 and reports["b"]["n"] == 2
    assert per_group_reports([0, 1], [0, 1], ["a", "a"], labels) == {}
