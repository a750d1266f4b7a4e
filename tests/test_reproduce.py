"""End to end on a tiny EmoDB-named fixture corpus: index -> split -> 3 stages -> results."""
import csv
import json
import shutil

import pytest
import torch
from typer.testing import CliRunner

from conftest import tone
from emovit.cli import app
from emovit.corpora import index_corpus
from emovit.config import AugmentConfig, Recipe, ResumeError, StageConfig
from emovit.predictions import read_predictions
from emovit.reproduce import reproduce

import soundfile as sf

@pytest.fixture(scope="module")
def run(corpus, tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    utterances = index_corpus("emodb", corpus).utterances
    recipe = Recipe(stage=StageConfig(epochs=1, checkpoint_every=0), baseline="eGeMAPSv02")
    results = reproduce(utterances, "paper", out, recipe, out / "cache", torch.device("cpu"), progress=False)
    return out, results, recipe, utterances


def test_results_name_protocol_sizes_and_every_model(run):
    out, results, _, _ = run
    saved = json.loads((out / "results.json").read_text())
    assert saved["protocol"] == "paper"
    assert set(saved["models"]) == {"teacher", "student", "plain", "opensmile"}
    for name, m in saved["models"].items():
        assert {"wa", "ua", "macro_f1", "confusion"} <= set(m), name
        assert len(m["confusion"]) == 3
    assert saved["split"]["sizes"]["test"] == 9  # 20% of 45, stratified
    assert saved["split"]["speakers"]["test"]
    assert saved["config"]["machine"]["cpu_count"] >= 1
    assert saved["models"]["teacher"]["epochs"] == {"teacher": 1}
    assert saved["models"]["student"]["epochs"] == {"match": 1, "student": 1}
    assert "cosine_to_teacher" in saved["models"]["student"]
    assert "speakers overlap" in saved["leakage"]["verdict"]
    table = (out / "results.md").read_text()
    assert "protocol `paper`" in table and "| Teacher" in table
    for name in ("teacher", "student", "plain"):
        assert (out / f"confusion-{name}.png").read_bytes()[:4] == b"\x89PNG"
        assert (out / "models" / f"{name}.pt").exists()


def test_augmented_views_only_in_training(run):
    out, _, recipe, _ = run
    with open(out / "split.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    views = {part: {int(r["view"]) for r in rows if r["part"] == part} for part in ("train", "val", "test")}
    assert views["train"] == set(range(recipe.augment.views))
    assert views["val"] == {0} and views["test"] == {0}
    test_paths = {r["path"] for r in rows if r["part"] == "test"}
    assert test_paths.isdisjoint({r["path"] for r in rows if r["part"] == "train"})


def test_logit_distillation_set_for_the_student_applies_to_its_stage_3_not_its_matching_stage(corpus, tmp_path):
    """per_model.student.kd_weight, as check_stage's refusal tells a user to set it: the student's two stages
    share the student's settings, and the matching stage (no labels, no logits) runs without it."""
    from emovit.runs import stage_settings

    utterances = index_corpus("emodb", corpus).utterances
    recipe = Recipe(stage=StageConfig(epochs=1, checkpoint_every=0), baseline=None, augment=AugmentConfig(views=1),
                    models=("teacher", "student"), per_model={"student": {"kd_weight": 1.0, "kd_temperature": 2.0}})
    assert stage_settings(recipe, "student", "match").kd_weight == 0.0
    assert stage_settings(recipe, "student", "student").kd_weight == 1.0
    assert stage_settings(recipe, "teacher", "teacher").kd_weight == 0.0
    results = reproduce(utterances, "paper", tmp_path, recipe, tmp_path / "cache", torch.device("cpu"), progress=False)
    assert set(results["models"]) == {"teacher", "student"}
    assert (tmp_path / "match" / "final.pt").exists() and (tmp_path / "student" / "final.pt").exists()
    everywhere = Recipe(stage=StageConfig(epochs=1, checkpoint_every=0, kd_weight=1.0), baseline=None,
                        augment=AugmentConfig(views=1), models=("teacher",))
    with pytest.raises(ValueError, match="per_model.student"):  # the teacher has no teacher to distil
        reproduce(utterances, "paper", tmp_path / "t", everywhere, tmp_path / "cache", torch.device("cpu"),
                  progress=False)
    plain_too = Recipe(stage=StageConfig(epochs=1, checkpoint_every=0), baseline=None, augment=AugmentConfig(views=1),
                       per_model={"student": {"kd_weight": 1.0}, "plain": {"kd_weight": 1.0}})
    with pytest.raises(ValueError, match="logits to distil"):  # the CE-only student is not the KT student
        reproduce(utterances, "paper", tmp_path / "p", plain_too, tmp_path / "cache", torch.device("cpu"),
                  progress=False)


def test_rerun_resumes_finished_stages_without_training(run):
    out, results, recipe, utterances = run
    stamps = {s: (out / s / "final.pt").stat().st_mtime_ns for s in ("teacher", "match", "student", "plain")}
    again = reproduce(utterances, "paper", out, recipe, out / "cache", torch.device("cpu"), progress=False)
    assert {s: (out / s / "final.pt").stat().st_mtime_ns for s in stamps} == stamps
    assert again["models"]["student"]["wa"] == results["models"]["student"]["wa"]


def test_cli_index_and_profile(corpus, tmp_path):
    runner = CliRunner()
    res = runner.invoke(app, ["index", "emodb", str(corpus), "--out", str(tmp_path / "m.csv")])
    assert res.exit_code == 0, res.output
    assert "45 utterances, 5 speakers, 3 classes" in res.output
    with open(tmp_path / "m.csv", newline="") as f:
        assert {"path", "label", "speaker", "corpus"} <= set(csv.DictReader(f).fieldnames)
    res = runner.invoke(app, ["profile", "--json"])
    rows = {r["model"]: r for r in json.loads(res.output)}
    assert rows["student"]["paper_params_m"] == 1.5 and abs(rows["student"]["params_ratio"] - 1) < 0.15


def test_cli_reports_missing_corpus_clearly(tmp_path):
    res = CliRunner().invoke(app, ["index", "emodb", str(tmp_path / "nowhere")])
    assert res.exit_code == 2
    assert "does not exist" in res.output and "Traceback" not in res.output


def test_cli_refuses_to_resume_with_other_settings(corpus, run):
    out = run[0]
    res = CliRunner().invoke(app, ["reproduce", "--corpus", "emodb", "--root", str(corpus), "--out", str(out),
                                   "--epochs", "2"])
    assert res.exit_code == 2 and "other settings" in res.output


def test_loso_runs_every_fold_and_pools(corpus, tmp_path):
    utterances = index_corpus("emodb", corpus).utterances
    recipe = Recipe(stage=StageConfig(epochs=1, checkpoint_every=0), baseline=None, augment=AugmentConfig(views=1),
                    models=("teacher",))
    results = reproduce(utterances, "loso", tmp_path, recipe, tmp_path / "cache", torch.device("cpu"), progress=False)
    assert results["protocol"] == "loso" and len(results["folds"]) == 5
    teacher = results["models"]["teacher"]
    assert len(teacher["wa"]["folds"]) == 5 and 0 <= teacher["ua"]["mean"] <= 1
    assert sum(map(sum, teacher["confusion"])) == 45  # every clip tested exactly once
    assert "± " in (tmp_path / "results.md").read_text()
    for fold in results["folds"]:
        assert (tmp_path / "folds" / fold / "results.json").exists()
    rows = read_predictions(tmp_path)  # every clip once, each with the teacher's answer, in its fold
    assert sorted(r["path"] for r in rows) == sorted(u.path for u in utterances)
    assert {r["fold"] for r in rows} == set(results["folds"])
    confusion = teacher["confusion"]
    labels = results["labels"]
    assert sum(r["teacher"] == r["label"] for r in rows) == sum(confusion[i][i] for i in range(len(labels)))
    for r in rows:
        assert r["speaker"] == r["fold"]  # loso: a fold tests one speaker


def test_a_finished_fold_is_kept_from_its_results_alone(corpus, tmp_path):
    """A fold whose results.json is there is not trained again, even with no model files beside it (a run
    continued in another session from the fold results it kept); the other folds train as before, and a
    results.json written for another split is refused."""
    utterances = index_corpus("emodb", corpus).utterances
    recipe = Recipe(stage=StageConfig(epochs=1, checkpoint_every=0), baseline=None, augment=AugmentConfig(views=1),
                    models=("teacher",), precision="fp32")  # fp32: the folds trained again equal the first run's
    first = reproduce(utterances, "loso", tmp_path / "first", recipe, tmp_path / "cache", torch.device("cpu"),
                      progress=False)
    kept, finished = tmp_path / "kept", first["folds"][:3]
    (kept / "folds").mkdir(parents=True)
    shutil.copy(tmp_path / "first" / "config.json", kept)
    for fold in finished:
        (kept / "folds" / fold).mkdir()
        shutil.copy(tmp_path / "first" / "folds" / fold / "results.json", kept / "folds" / fold)
    again = reproduce(utterances, "loso", kept, recipe, tmp_path / "cache", torch.device("cpu"), progress=False)
    for fold in first["folds"]:
        assert (kept / "folds" / fold / "teacher").exists() == (fold not in finished), fold
    assert again["models"]["teacher"]["confusion"] == first["models"]["teacher"]["confusion"]
    assert again["models"]["teacher"]["wa"]["folds"] == first["models"]["teacher"]["wa"]["folds"]

    moved = json.loads((kept / "folds" / finished[0] / "results.json").read_text())
    moved["split"]["sizes"]["test"] += 1
    (kept / "folds" / finished[0] / "results.json").write_text(json.dumps(moved))
    with pytest.raises(ResumeError, match="another split"):
        reproduce(utterances, "loso", kept, recipe, tmp_path / "cache", torch.device("cpu"), progress=False)


def test_paper_leaky_puts_augmented_copies_in_test(corpus, tmp_path):
    utterances = index_corpus("emodb", corpus).utterances
    recipe = Recipe(stage=StageConfig(epochs=1, checkpoint_every=0), baseline=None, models=("teacher",))
    results = reproduce(utterances, "paper-leaky", tmp_path, recipe, tmp_path / "cache", torch.device("cpu"),
                        progress=False)
    with open(tmp_path / "split.csv", newline="") as f:
        test_views = {(r["path"], int(r["view"])) for r in csv.DictReader(f) if r["part"] == "test"}
    assert len(test_views) == 36  # 20% of 45 clips x 4 views
    assert {v for _, v in test_views} == {0, 1, 2, 3}
    assert sum(map(sum, results["models"]["teacher"]["confusion"])) == 36
    assert results["leakage"]["same_recording"]


@pytest.fixture(scope="module")
def savee(tmp_path_factory):
    """SAVEE-named clips (DC_a01.wav layout): anger, neutral, sadness, and surprise to be left out."""
    root = tmp_path_factory.mktemp("savee")
    for s, speaker in enumerate(("DC", "JE", "JK", "KL")):
        for code, freq in {"a": 300.0, "n": 150.0, "sa": 220.0, "su": 500.0}.items():
            for i in (1, 2, 3):
                sf.write(root / f"{speaker}_{code}{i:02d}.wav", tone(1.0, freq=freq * (1 + 0.02 * i), seed=s * 10 + i),
                         16000)
    return root


def test_cli_trains_on_several_corpora_with_a_label_subset(corpus, savee, tmp_path):
    out = tmp_path / "run"
    res = CliRunner().invoke(app, ["reproduce", "--corpus", "emodb", "--root", str(corpus), "--corpus", "savee",
                                   "--root", str(savee), "--labels", "anger,neutral,sadness", "--protocol", "speaker",
                                   "--epochs", "1", "--views", "1", "--models", "teacher,plain",
                                   "--baseline", "eGeMAPSv02", "--checkpoint-every", "0", "--quiet",
                                   "--cache", str(tmp_path / "cache"), "--out", str(out)])
    assert res.exit_code == 0, res.output
    saved = json.loads((out / "results.json").read_text())
    config = saved["config"]
    assert config["corpora"] == ["emodb", "savee"] and config["labels"] == ["anger", "neutral", "sadness"]
    assert config["labels_left_out"] == {"surprise": 12}
    assert config["utterances_per_corpus"] == {"emodb": 45, "savee": 36}
    test_speakers = saved["split"]["speakers"]["test"]
    assert {s.split(":")[0] for s in test_speakers} == {"emodb", "savee"}  # every corpus tested on new voices
    assert saved["leakage"]["speaker_independent"]
    for name in ("teacher", "plain", "opensmile"):
        per_corpus = saved["models"][name]["per_corpus"]
        assert set(per_corpus) == {"emodb", "savee"}
        assert sum(r["n"] for r in per_corpus.values()) == saved["split"]["sizes"]["test"]
    assert "Per corpus of the test part" in (out / "results.md").read_text()


def test_cli_validates_on_as_many_speakers_as_asked_and_refuses_it_where_validation_is_by_utterance(corpus, tmp_path):
    out = tmp_path / "run"
    base = ["reproduce", "--corpus", "emodb", "--root", str(corpus), "--protocol", "speaker", "--epochs", "1",
            "--views", "1", "--models", "plain", "--baseline", "none", "--checkpoint-every", "0", "--quiet",
            "--cache", str(tmp_path / "cache"), "--out", str(out)]
    res = CliRunner().invoke(app, base + ["--val-speakers", "2"])
    assert res.exit_code == 0, res.output
    saved = json.loads((out / "results.json").read_text())
    speakers = saved["split"]["speakers"]
    assert len(speakers["val"]) == 2 and len(speakers["test"]) == 1 and len(speakers["train"]) == 2
    assert saved["config"]["val_speakers"] == 2
    other = CliRunner().invoke(app, base + ["--val-speakers", "1"])
    assert other.exit_code == 2 and "other settings" in other.output
    default = CliRunner().invoke(app, base)  # the protocol's default is another split too
    assert default.exit_code == 2 and "other settings" in default.output
    too_many = CliRunner().invoke(app, base[:-1] + [str(tmp_path / "r2"), "--val-speakers", "4"])
    assert too_many.exit_code == 2 and "leave no training speaker" in too_many.output
    zero = CliRunner().invoke(app, base + ["--val-speakers", "0"])
    assert zero.exit_code == 2 and "at least 1" in zero.output
    kfold = CliRunner().invoke(app, ["reproduce", "--corpus", "emodb", "--root", str(corpus), "--protocol", "kfold",
                                     "--val-speakers", "2", "--out", str(tmp_path / "k")])
    assert kfold.exit_code == 2 and "not on speakers" in kfold.output and "Traceback" not in kfold.output


def test_cli_rejects_unknown_labels_and_unpaired_roots(corpus, savee, tmp_path):
    runner = CliRunner()
    base = ["reproduce", "--out", str(tmp_path / "r"), "--corpus", "emodb", "--root", str(corpus)]
    res = runner.invoke(app, base + ["--labels", "anger,joy"])
    assert res.exit_code == 2 and "joy" in res.output and "Traceback" not in res.output
    res = runner.invoke(app, base + ["--labels", "anger,fear"])
    assert res.exit_code == 2 and "no utterance is labelled fear" in res.output
    res = runner.invoke(app, base + ["--corpus", "savee"])
    assert res.exit_code == 2 and "one --root per --corpus" in res.output


def test_without_opensmile_reproduce_runs_the_networks_and_says_how_to_add_it(corpus, tmp_path, monkeypatch):
    from emovit import runs

    monkeypatch.setattr(runs, "available", lambda extra: extra != "baseline")
    result = CliRunner().invoke(app, ["reproduce", "--corpus", "emodb", "--root", str(corpus), "--out",
                                      str(tmp_path / "run"), "--epochs", "1", "--views", "1", "--models", "teacher",
                                      "--cache", str(tmp_path / "cache"), "--quiet"])
    assert result.exit_code == 0, result.output
    assert "the openSMILE baseline (ComParE_2016) is skipped" in result.stderr
    assert ".venv/bin/pip install -e '.[baseline]'" in result.stderr
    saved = json.loads((tmp_path / "run" / "results.json").read_text())
    assert list(saved["models"]) == ["teacher"] and saved["config"]["baseline_run"] is None


def test_a_split_numbers_its_training_speakers_for_the_adversary(corpus):
    """speaker_adversarial reads StageData.train_speakers: one index per training clip, shared by a speaker's
    clips and by no other speaker's, 0..S-1 over the training part's S speakers."""
    from emovit.protocols import make_split
    from emovit.runs import frontend_settings, prepare_split

    recipe = Recipe(augment=AugmentConfig(views=1))
    split = make_split(index_corpus("emodb", corpus).utterances, "speaker", views=1)
    labels = sorted({u.label for u in split.train})
    data = prepare_split(split, labels, frontend_settings("logmel", recipe, ["emodb"]), recipe, None,
                         progress=False).data
    speakers = sorted({u.speaker for u in split.train})
    assert data.train_speakers.tolist() == [speakers.index(u.speaker) for u in split.train]


def test_per_speaker_normalisation_centres_each_part_on_its_own_speakers_clips(corpus):
    """recipe normalization "speaker": the training and test images are the global ones centred speaker by
    speaker, the test speakers on their own (unlabelled) test clips."""
    from emovit.features import centre_speakers
    from emovit.protocols import make_split
    from emovit.runs import frontend_settings, prepare_split

    split = make_split(index_corpus("emodb", corpus).utterances, "speaker", views=1)
    labels = sorted({u.label for u in split.train})
    parts = {}
    for normalization in ("global", "speaker"):
        recipe = Recipe(augment=AugmentConfig(views=1), normalization=normalization)
        parts[normalization] = prepare_split(split, labels, frontend_settings("logmel", recipe, ["emodb"]), recipe,
                                             None, progress=False)
    plain, centred = parts["global"], parts["speaker"]
    assert centred.normalizer.centre == "speaker"
    raw = lambda images: images * plain.normalizer.std + plain.normalizer.mean  # noqa: E731
    unscaled = lambda images: images * centred.normalizer.std + centred.normalizer.mean  # noqa: E731
    assert len({u.speaker for u in split.train}) >= 2
    for images, raw_images, units in ((centred.data.train_images, plain.data.train_images, split.train),
                                      (centred.test_images, plain.test_images, split.test)):
        speakers = [u.speaker for u in units]
        assert torch.allclose(unscaled(images), centre_speakers(raw(raw_images), speakers), atol=1e-3)
    # masks and crops fill with silence as the centred images have it: the floor minus its speaker's band mean
    band_means = raw(plain.data.train_images) - unscaled(centred.data.train_images)
    floor = centred.normalizer.standardise(-80.0 - band_means).mean()
    uncentred_floor = float(centred.normalizer.standardise(torch.tensor(-80.0)))  # what a global run fills with
    assert abs(centred.data.silence - float(floor)) < 1e-3 and abs(centred.data.silence - uncentred_floor) > 0.5, \
        (centred.data.silence, uncentred_floor)
    # noise is mixed into images in dB below their peak: the globally normalised ones carry what it needs
    assert centred.data.noise is None
    noise = plain.data.noise
    assert (noise.mean, noise.std, noise.top_db) == (plain.normalizer.mean, plain.normalizer.std, 80.0)
    assert noise.texture.shape[-2:] == plain.data.train_images.shape[-2:] and noise.bandwidths.shape == (128,)


def test_warm_start_copies_all_but_the_head_into_networks_of_the_files_shape():
    from emovit.models import build
    from emovit.warm_start import matches, warm_start

    torch.manual_seed(0)
    source = build("student", 7)
    pretrained = {"model_config": source.config.to_dict(), "state_dict": source.state_dict()}
    torch.manual_seed(1)
    target = build("student", 4, dropout=0.1, drop_path=0.2)  # other classes, dropout, depth drop: the same network
    head_before = {k: v.clone() for k, v in target.head.state_dict().items()}
    assert matches(target, pretrained) and not matches(build("teacher", 4), pretrained)
    assert not matches(build("student-stem", 7), pretrained)
    copied = warm_start(target, pretrained)
    assert copied and not any(name.startswith("head.") for name in copied)
    for name in copied:
        assert torch.equal(target.state_dict()[name], source.state_dict()[name]), name
    for name, value in target.head.state_dict().items():
        assert torch.equal(value, head_before[name]), name


def test_warm_start_leaves_both_heads_of_a_duo_fresh():
    # student-duo's head reads the ViT's and TIM-Net's classifiers, registered where they live: neither is copied
    from emovit.models import build
    from emovit.warm_start import warm_start

    small = dict(depth=1, dim=32, heads=2, dim_head=16, mlp_dim=32)
    source = build("student-duo", 7, **small)
    copied = warm_start(build("student-duo", 4, **small), {"model_config": source.config.to_dict(),
                                                            "state_dict": source.state_dict()})
    assert set(source.state_dict()) - set(copied) == {"vit.mlp_head.weight", "vit.mlp_head.bias",
                                                      "temporal.classifier.weight", "temporal.classifier.bias"}


def test_cli_fine_tunes_from_a_pre_trained_model_file_and_says_so(run, corpus, tmp_path):
    """--init-from: the CE-only student starts from another run's student (all but the head, here for two
    of its three classes); the teacher, another network, starts at random; a file that is not a model
    file is refused with its name."""
    pre_trained = run[0] / "models" / "plain.pt"
    out = tmp_path / "fine-tuned"
    base = ["reproduce", "--corpus", "emodb", "--root", str(corpus), "--labels", "anger,sadness", "--epochs", "1",
            "--views", "1", "--baseline", "none", "--checkpoint-every", "0", "--quiet",
            "--cache", str(tmp_path / "cache")]
    res = CliRunner().invoke(app, base + ["--models", "teacher,plain", "--init-from", str(pre_trained),
                                          "--out", str(out)])
    assert res.exit_code == 0, res.output
    saved = json.loads((out / "results.json").read_text())
    assert saved["config"]["recipe"]["init_from"] == str(pre_trained)
    assert saved["models"]["plain"]["init_from"] == str(pre_trained)
    assert saved["models"]["plain"]["title"].endswith(f"started from {pre_trained}")
    assert "init_from" not in saved["models"]["teacher"]
    res = CliRunner().invoke(app, base + ["--models", "teacher", "--init-from", str(pre_trained),
                                          "--out", str(tmp_path / "teacher-only")])
    assert res.exit_code == 2 and "none of this run's networks" in res.output and "Traceback" not in res.output
    res = CliRunner().invoke(app, base + ["--init-from", str(run[0] / "results.json"), "--out", str(tmp_path / "x")])
    assert res.exit_code == 2 and "results.json: not an emovit model file" in res.output
    res = CliRunner().invoke(app, base + ["--init-from", str(tmp_path / "absent.pt"), "--out", str(tmp_path / "y")])
    assert res.exit_code == 2 and "absent.pt: no such model file" in res.output


def test_a_rerun_of_finished_stages_does_not_make_their_targets_again(run, monkeypatch):
    """A finished KT student is loaded, not trained: the teacher's outputs on the training set, which only its
    training reads, are not computed again (a run reusing finished stages pays for evaluation only)."""
    import emovit.runs

    def refuse(*args, **kwargs):
        raise AssertionError("teacher outputs computed for a finished stage")

    monkeypatch.setattr(emovit.runs, "teacher_outputs", refuse)
    out, results, recipe, utterances = run
    again = reproduce(utterances, "paper", out, recipe, out / "cache", torch.device("cpu"), progress=False)
    assert again["models"]["student"]["wa"] == results["models"]["student"]["wa"]
