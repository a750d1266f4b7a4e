from dataclasses import replace

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


def test_the_paper_recipe_is_the_paper(monkeypatch):
    """`--recipe paper` stays exactly the paper: Adam 1e-4 halved every 10 epochs, batch 4, 50 epochs a
    stage, alpha 10, the three augmented views, and none of the newer recipe's options."""
    from emovit.config import StageConfig, load_recipe

    recipe = load_recipe("paper")
    assert recipe.stage == StageConfig()
    stage = recipe.stage
    assert (stage.epochs, stage.batch_size, stage.optimizer, stage.lr, stage.betas, stage.weight_decay,
            stage.schedule, stage.lr_halve_every, stage.alpha) == (50, 4, "adam", 1e-4, (0.9, 0.999), 0.0, "step", 10, 10.0)
    assert not stage.augments_batches and stage.ema_decay == 0 and stage.label_smoothing == 0 and stage.kd_weight == 0
    assert recipe.augment.views == 4 and recipe.per_model == {} and recipe.dropout == 0.0
    assert recipe.drop_path == 0.0
    assert (recipe.teacher_depth, recipe.student_depth, recipe.patch_size) == (6, 3, (128, 1))
    assert recipe.models == ("teacher", "student", "plain") and recipe.student_network == "student"


def test_recipe_emovit_2_is_recipe_emovit_without_masks_and_label_smoothing():
    """emovit-2 is the ablation's pick (variant 33): every other setting, TIM-Net's recipe included, is emovit's."""
    import dataclasses

    from emovit.config import load_recipe

    old, new = load_recipe("emovit"), load_recipe("emovit-2")
    assert (new.stage.freq_masks, new.stage.time_masks, new.stage.label_smoothing) == (0, 0, 0.0)
    assert (old.stage.freq_masks, old.stage.time_masks, old.stage.label_smoothing) == (2, 2, 0.1)
    unmasked = dataclasses.replace(old.stage, freq_masks=0, freq_width=0, time_masks=0, time_width=0,
                                   label_smoothing=0.0)
    assert new.stage == unmasked
    assert new.per_model == old.per_model and new.augment == old.augment and new.frontend == old.frontend
    assert dataclasses.replace(new, name="emovit", stage=old.stage) == old


def test_the_timnet_mel_recipe_trains_it_as_timnet_is_trained():
    """benchmarks/peers/recipes/timnet-mel.toml repeats TIM-Net's published settings under the other network's
    name (per_model is keyed by name): they must stay TIM-Net's for its rows to say input against network."""
    from pathlib import Path

    from emovit.config import load_recipe

    recipe = load_recipe(Path(__file__).parents[1] / "benchmarks/peers/recipes/timnet-mel.toml")
    assert recipe.stage_for("timnet-mel") == recipe.stage_for("timnet") == load_recipe("emovit").stage_for("timnet")
    assert recipe.stage_for("timnet-mel").epochs == 500 and recipe.stage_for("timnet-mel").select == "last"


def test_the_joined_recipe_trains_each_expert_as_it_is_trained_alone():
    """benchmarks/peers/recipes/joined.toml repeats TIM-Net's published settings for `timnet-mel-duo` and leaves
    the student recipe emovit-2's: each expert of a joined duo keeps its own recipe."""
    from dataclasses import asdict
    from pathlib import Path

    from emovit.config import load_recipe

    recipe = load_recipe(Path(__file__).parents[1] / "benchmarks/peers/recipes/joined.toml")
    timnet = load_recipe(Path(__file__).parents[1] / "benchmarks/peers/recipes/timnet-mel.toml").stage_for("timnet-mel")
    joined = recipe.stage_for("timnet-mel-duo")
    assert joined.freq_masks == joined.time_masks == timnet.freq_masks == timnet.time_masks == 0
    inert = {"freq_width", "time_width"}  # mask widths, with no masks (emovit-2's base has them at 0)
    assert ({k: v for k, v in asdict(joined).items() if k not in inert}
            == {k: v for k, v in asdict(timnet).items() if k not in inert})
    assert recipe.stage_for("plain") == load_recipe("emovit-2").stage_for("plain")


def test_the_robust_joined_recipe_changes_only_the_timnet_experts_views_and_crops():
    """benchmarks/peers/recipes/joined-robust.toml: joined.toml with the TIM-Net expert on the students' four
    augmented views and recipe emovit's random crops; its optimiser, length and selection, and the student, kept."""
    from dataclasses import asdict
    from pathlib import Path

    from emovit.config import load_recipe

    recipes = Path(__file__).parents[1] / "benchmarks/peers/recipes"
    joined, robust = (load_recipe(recipes / f"{name}.toml") for name in ("joined", "joined-robust"))
    before, after = (asdict(r.stage_for("timnet-mel-duo")) for r in (joined, robust))
    assert {k for k in before if before[k] != after[k]} == {"views", "crop_prob"}
    assert (before["views"], after["views"], after["crop_prob"]) == (1, 4, load_recipe("emovit").stage.crop_prob)
    assert robust.stage_for("plain") == joined.stage_for("plain")


def test_the_noisy_recipes_add_only_noise_to_the_models_that_read_log_mel_images():
    """benchmarks/peers/recipes/emovit-noise.toml and joined-noisy.toml: recipe emovit and the joined-robust TIM-Net
    expert with speech-shaped noise on half the images at 0-20 dB, nothing else changed; the KT student's matching
    stage and TIM-Net's MFCC network keep none."""
    from dataclasses import asdict
    from pathlib import Path

    from emovit.config import load_recipe

    recipes = Path(__file__).parents[1] / "benchmarks/peers/recipes"
    pairs = ((load_recipe("emovit"), load_recipe(recipes / "emovit-noise.toml"), "plain"),
             (load_recipe(recipes / "joined-robust.toml"), load_recipe(recipes / "joined-noisy.toml"), "timnet-mel-duo"))
    for plain, noisy, model in pairs:
        before, after = asdict(plain.stage_for(model)), asdict(noisy.stage_for(model))
        assert {k for k in before if before[k] != after[k]} == {"noise_prob"}
        assert (after["noise_prob"], after["noise_snr"]) == (0.5, (0.0, 20.0))
    emovit_noise = pairs[0][1]
    assert emovit_noise.stage_for("student").noise_prob == 0 and emovit_noise.stage_for("timnet").noise_prob == 0


def test_noise_trains_where_the_images_allow_it_and_is_refused_elsewhere(tmp_path):
    """noise_prob needs StageData.noise (log-Mel images in dB below their peak under one global normalisation):
    without it the stage refuses with the reason; with it a short run learns."""
    from emovit.batch_augment import NoiseField

    data = _data(n=24)
    config = StageConfig(epochs=5, batch_size=4, lr=3e-3, noise_prob=0.5, noise_snr=(5.0, 20.0), checkpoint_every=0,
                         select="last")
    with pytest.raises(ValueError, match="noise_prob"):
        run_stage("plain", _small("student", seed=3), data, config, tmp_path / "refused", LABELS, progress=False)
    texture = torch.rand(4, 32, 32, generator=torch.Generator().manual_seed(0)) + 0.5
    data.noise = NoiseField(texture, mean=-40.0, std=20.0)
    summary = run_stage("plain", _small("student", seed=3), data, config, tmp_path / "noisy", LABELS, progress=False)
    assert summary["history"][-1]["val_ce"] < summary["history"][0]["val_ce"]


def test_the_student_network_is_a_recipe_setting_checked_by_name():
    from emovit.config import STUDENT_NETWORKS, load_recipe
    from emovit.models import MODELS
    from emovit.reproduce import paper_jobs

    assert set(STUDENT_NETWORKS) <= set(MODELS)
    recipe = load_recipe("emovit").with_overrides({"student_network": "student-stem"})
    (plain,) = paper_jobs(7, recipe)
    assert plain.build().config.stem and plain.build().config.extra["stem_channels"] == [8, 8, 1]
    assert plain.title.endswith("network student-stem")
    with pytest.raises(ValueError, match="student-learned"):
        load_recipe("emovit").with_overrides({"student_network": "teacher"})


def test_weight_average_is_the_documented_moving_average():
    from emovit.stages import WeightAverage

    model = _small("student")
    average = WeightAverage(model, decay=0.9)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with torch.no_grad():
        for p in model.parameters():
            p.add_(1.0)
    average.update(model)
    for key, value in model.state_dict().items():
        assert torch.allclose(average.state[key], 0.9 * before[key] + 0.1 * value), key
    with average.swapped_into(model):
        assert all(torch.equal(model.state_dict()[k], v) for k, v in average.state.items())
    assert all(torch.equal(model.state_dict()[k], before[k] + 1.0) for k in before if before[k].is_floating_point())


def test_cosine_schedule_warms_up_then_falls_to_zero():
    from emovit.stages import make_optimizer

    config = StageConfig(epochs=10, lr=1e-3, schedule="cosine", warmup_epochs=2)
    optimizer, scheduler = make_optimizer(_small("student"), config, steps_per_epoch=5)
    lrs = []
    for _ in range(50):
        lrs.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    assert lrs[0] == pytest.approx(1e-4) and lrs[9] == pytest.approx(1e-3)  # linear warm-up over 10 steps
    assert all(a >= b for a, b in zip(lrs[10:], lrs[11:])) and lrs[-1] < 2e-6


def test_temporal_lr_gives_the_timnet_part_timnets_optimiser_on_the_stages_schedule():
    # temporal_lr: the TIM-Net expert of a student-duo at its own pace (TIM-Net's betas, no weight decay), the
    # ViT at the stage's; both follow the cosine; a network without such a part is refused
    from emovit.models import build
    from emovit.stages import _Objective, make_optimizer

    model = build("student-duo", 3, depth=1, dim=32, heads=2, dim_head=16, mlp_dim=32)
    config = StageConfig(epochs=4, optimizer="adamw", lr=3e-4, weight_decay=0.05, schedule="cosine", temporal_lr=1e-3)
    optimizer, scheduler = make_optimizer(_Objective(model, "ce"), config, steps_per_epoch=5)
    vit, temporal = optimizer.param_groups
    assert {id(p) for p in temporal["params"]} == {id(p) for p in model.temporal.parameters()}
    assert len(vit["params"]) + len(temporal["params"]) == len(list(model.parameters()))
    assert (vit["betas"], vit["weight_decay"], temporal["betas"], temporal["weight_decay"]) == \
        ((0.9, 0.999), 0.05, (0.93, 0.98), 0.0)
    for _ in range(10):
        optimizer.step()
        scheduler.step()
    assert temporal["lr"] / vit["lr"] == pytest.approx(1e-3 / 3e-4) and vit["lr"] < 3e-4
    with pytest.raises(ValueError, match="no TIM-Net branch or expert"):
        make_optimizer(_small("student"), config)
    with pytest.raises(ValueError, match="temporal_lr must be at least 0"):
        StageConfig(temporal_lr=-1.0)


def test_the_new_recipe_options_train_and_lower_the_loss(tmp_path):
    """AdamW, warm-up + cosine, label smoothing, SpecAugment masks, crops, mixup and an average of the
    weights, in one short run: it learns (validation CE falls) and keeps the averaged weights."""
    config = StageConfig(epochs=6, batch_size=2, optimizer="adamw", lr=3e-3, weight_decay=0.05, schedule="cosine",
                         warmup_epochs=1, label_smoothing=0.1, freq_masks=1, freq_width=4, time_masks=1, time_width=4,
                         crop_prob=0.3, crop_min_frames=16, mixup_alpha=0.4, mixup_prob=0.3, ema_decay=0.9,
                         checkpoint_every=0, select="last")
    data = _data(n=24)
    data.silence = float(data.train_images.min())
    model = _small("student", seed=3)
    summary = run_stage("plain", model, data, config, tmp_path, LABELS, progress=False)
    history = summary["history"]
    assert history[-1]["val_ce"] < history[0]["val_ce"]
    saved = torch.load(tmp_path / "final.pt", weights_only=False)["model"]
    assert all(torch.equal(saved[k], v) for k, v in model.state_dict().items())


def test_options_a_stage_cannot_honour_are_refused(tmp_path):
    data = _data()
    teacher = _small("teacher")
    data.train_targets = teacher_features(teacher, data.train_images, torch.device("cpu"))
    data.val_targets = teacher_features(teacher, data.val_images, torch.device("cpu"))
    with pytest.raises(ValueError, match="CE-only stages"):
        run_stage("match", _small("student"), data, StageConfig(epochs=1, mixup_alpha=0.4, mixup_prob=0.5), tmp_path,
                  LABELS, progress=False)
    with pytest.raises(ValueError, match="per_model.student"):
        run_stage("plain", _small("student"), data, StageConfig(epochs=1, kd_weight=1.0), tmp_path / "p", LABELS,
                  progress=False)
    with pytest.raises(ValueError, match="mixup_alpha"):
        StageConfig(mixup_prob=0.5)
    data.train_target_logits = torch.zeros(12, 2, len(LABELS))
    with pytest.raises(ValueError, match="matching stage"):
        run_stage("match", _small("student"), data, StageConfig(epochs=1, kd_weight=1.0), tmp_path / "m", LABELS,
                  progress=False)
    with pytest.raises(ValueError, match="mixup"):
        run_stage("plain", _small("student"), data, StageConfig(epochs=1, kd_weight=1.0, mixup_alpha=0.4, mixup_prob=0.5),
                  tmp_path / "x", LABELS, progress=False)


def test_logit_distillation_adds_the_tempered_kl():
    from emovit.stages import _sample_losses

    logits, teacher = torch.randn(5, 3), torch.randn(5, 3)
    y = torch.tensor([0, 1, 2, 0, 1])
    pooled, target = torch.randn(5, 8), torch.randn(5, 8)
    base = StageConfig(alpha=10.0)
    with_kd = StageConfig(alpha=10.0, kd_weight=0.5, kd_temperature=2.0)
    plain = _sample_losses("ce+l1", pooled, logits, y, target, base)
    kd = _sample_losses("ce+l1", pooled, logits, y, target, with_kd, target_logits=teacher)
    p_t = (teacher / 2).softmax(-1)
    kl = (p_t * (p_t.log() - (logits / 2).log_softmax(-1))).sum(-1)
    assert torch.allclose(kd - plain, 0.5 * 4 * kl, atol=1e-5)


def test_the_clips_functionals_are_taught_through_a_map_dropped_afterwards(tmp_path):
    """functionals_weight: a Linear from the pooled feature learns the clips' (here: made-up) functionals
    alongside the labels, mixed with them under mixup; the model saved is the network alone."""
    data = _data(n=16)
    data.train_functionals = torch.randn(16, 5)
    config = StageConfig(epochs=2, batch_size=4, lr=1e-3, functionals_weight=1.0, mixup_alpha=0.4, mixup_prob=1.0,
                         checkpoint_every=0)
    model = _small("student")
    keys = set(model.state_dict())
    run_stage("plain", model, data, config, tmp_path, LABELS, progress=False)
    final = torch.load(tmp_path / "final.pt", weights_only=False)["model"]
    assert set(final) == keys
    checkpoint = torch.load(tmp_path / "checkpoint.pt", weights_only=False)
    assert checkpoint["functionals"]["weight"].shape == (5, 32)
    data.train_functionals = None
    with pytest.raises(ValueError, match="functionals"):
        run_stage("plain", _small("student"), data, config, tmp_path / "again", LABELS, progress=False)


def test_a_classical_models_probabilities_are_taught_by_cross_entropy(tmp_path):
    """classical_kd_weight: + weight x CE(the clip's classical probabilities, logits); with one-hot
    probabilities and no learning the epoch's loss is exactly (1 + weight) x the CE alone; under mixup the
    probabilities are mixed like the labels and the stage trains; without them the stage is refused."""
    data = _data(n=16)
    data.train_classical = torch.nn.functional.one_hot(data.train_labels, len(LABELS)).float()
    still = dict(epochs=1, batch_size=4, lr=0.0, checkpoint_every=0)
    alone = run_stage("plain", _small("student"), data, StageConfig(**still), tmp_path / "a", LABELS, progress=False)
    taught = run_stage("plain", _small("student"), data, StageConfig(**still, classical_kd_weight=0.5), tmp_path / "b",
                       LABELS, progress=False)
    assert taught["history"][0]["train_loss"] == pytest.approx(1.5 * alone["history"][0]["train_loss"], rel=1e-5)
    mixed = StageConfig(epochs=2, batch_size=4, lr=1e-3, classical_kd_weight=1.0, functionals_weight=1.0,
                        mixup_alpha=0.4, mixup_prob=1.0, checkpoint_every=0)
    data.train_functionals = torch.randn(16, 5)
    summary = run_stage("plain", _small("student"), data, mixed, tmp_path / "c", LABELS, progress=False)
    assert all(torch.isfinite(torch.tensor(h["train_loss"])) for h in summary["history"])
    data.train_classical = None
    with pytest.raises(ValueError, match="classical_kd_weight"):
        run_stage("plain", _small("student"), data, mixed, tmp_path / "d", LABELS, progress=False)
    with pytest.raises(ValueError, match="classical_kd_weight"):
        StageConfig(classical_kd_weight=-1.0)


def test_the_reversed_gradient_is_negated_and_scaled_and_ramps_in():
    from emovit.stages import _ReverseGradient, reversal_scale

    x = torch.randn(3, 4, requires_grad=True)
    out = _ReverseGradient.apply(x, 0.25)
    assert torch.equal(out, x)
    out.sum().backward()
    assert torch.equal(x.grad, torch.full((3, 4), -0.25))
    assert reversal_scale(0.5, 0.0) == 0.0
    assert reversal_scale(0.5, 0.5) == pytest.approx(0.5 * (2 / (1 + torch.e ** -5) - 1))
    assert 0.4999 < reversal_scale(0.5, 1.0) <= 0.5


def test_speaker_adversarial_training_drops_its_classifier_and_resumes_exactly(tmp_path):
    """speaker_adversarial: a speaker classifier learns behind a reversed gradient, mixed with the labels
    under mixup; the model saved is the network alone, and an interrupted stage resumes to the same weights."""
    data = _data(n=16)
    data.train_speakers = torch.arange(16) % 4
    config = StageConfig(epochs=2, batch_size=4, lr=1e-3, speaker_adversarial=0.5, mixup_alpha=0.4, mixup_prob=0.5,
                         select="last", checkpoint_every=2)
    reference = _small("student")
    keys = set(reference.state_dict())
    summary = run_stage("plain", reference, data, config, tmp_path / "whole", LABELS, progress=False)
    assert all(0.0 <= h["train_speaker_acc"] <= 1.0 for h in summary["history"])
    assert set(torch.load(tmp_path / "whole" / "final.pt", weights_only=False)["model"]) == keys
    adversary = torch.load(tmp_path / "whole" / "checkpoint.pt", weights_only=False)["adversary"]
    assert adversary["2.weight"].shape == (4, 32)

    def interrupt(step):
        if step == 5:
            raise Interrupt

    with pytest.raises(Interrupt):
        run_stage("plain", _small("student"), data, config, tmp_path / "resumed", LABELS, progress=False,
                  on_step=interrupt)
    resumed = _small("student", seed=9)
    run_stage("plain", resumed, data, config, tmp_path / "resumed", LABELS, progress=False)
    for (name, a), b in zip(reference.state_dict().items(), resumed.state_dict().values()):
        assert torch.equal(a, b), name


def test_speaker_adversarial_training_is_refused_where_it_cannot_work(tmp_path):
    data = _data()
    config = StageConfig(epochs=1, batch_size=4, speaker_adversarial=0.3)
    with pytest.raises(ValueError, match="two speakers"):
        run_stage("plain", _small("student"), data, config, tmp_path / "a", LABELS, progress=False)
    data.train_speakers = torch.zeros(12, dtype=torch.long)
    with pytest.raises(ValueError, match="two speakers"):
        run_stage("plain", _small("student"), data, config, tmp_path / "b", LABELS, progress=False)
    data.train_speakers = torch.arange(12) % 2
    with pytest.raises(ValueError, match="matching stage"):
        run_stage("match", _small("student"), data, config, tmp_path / "c", LABELS, progress=False)
    with pytest.raises(ValueError, match="at least 0"):
        StageConfig(speaker_adversarial=-1.0)


def _eager_compile(monkeypatch) -> list:
    """torch.compile with Dynamo's eager backend (the graph is captured, not compiled to C++: seconds, not
    minutes); returns the list of modules it was given."""
    given, real = [], torch.compile

    def compile_eagerly(module, **kwargs):
        given.append(module)
        return real(module, backend="eager", **kwargs)

    monkeypatch.setattr(torch, "compile", compile_eagerly)
    return given


def test_a_compiled_step_trains_the_same_weights_and_saves_the_models_own(tmp_path, monkeypatch):
    """`compile` wraps the step's objective, not the model: the saved state dicts are the model's (no
    torch.compile prefixes), a compiled run resumes an uncompiled one's checkpoint, and the weights are the
    uncompiled step's."""
    torch._dynamo.reset()
    data = _data()
    config = StageConfig(epochs=2, batch_size=5, lr=1e-3, select="last")  # 12 clips: a last batch of 2
    reference = _small("student")
    run_stage("plain", reference, data, config, tmp_path / "eager", LABELS, progress=False)
    given = _eager_compile(monkeypatch)

    def interrupt(step):
        if step == 4:
            raise Interrupt

    with pytest.raises(Interrupt):  # the first epoch without compile, then resumed with it
        run_stage("plain", _small("student"), data, config, tmp_path / "compiled", LABELS, progress=False,
                  on_step=interrupt)
    resumed = _small("student", seed=9)
    run_stage("plain", resumed, data, replace(config, compile=True), tmp_path / "compiled", LABELS, progress=False)
    assert len(given) == 1 and given[0].model is resumed
    final = torch.load(tmp_path / "compiled" / "final.pt", weights_only=False)["model"]
    assert list(final) == list(reference.state_dict())
    for (name, a), b in zip(reference.state_dict().items(), resumed.state_dict().values()):
        torch.testing.assert_close(b, a, rtol=1e-5, atol=1e-6, msg=name)


def test_compile_is_refused_without_a_compiler_or_with_the_speaker_adversary(tmp_path, monkeypatch):
    import torch._inductor.cpp_builder as cpp_builder

    data = _data()

    def no_compiler():
        raise RuntimeError("No working C++ compiler found")

    monkeypatch.setattr(cpp_builder, "get_cpp_compiler", no_compiler)
    with pytest.raises(ValueError, match="C\\+\\+ compiler on CPU"):
        run_stage("plain", _small("student"), data, StageConfig(epochs=1, compile=True), tmp_path / "a", LABELS,
                  progress=False)
    data.train_speakers = torch.arange(12) % 2
    with pytest.raises(ValueError, match="speaker_adversarial"):
        run_stage("plain", _small("student"), data, StageConfig(epochs=1, compile=True, speaker_adversarial=0.3),
                  tmp_path / "b", LABELS, progress=False)


def test_the_kt_recipes_reuse_the_paper_teacher_and_the_students_and_timnets_settings():
    """benchmarks/peers/recipes/emovit-2-kt.toml trains the teacher exactly as recipe paper-e20 (so commands.sh may
    reuse the paper group's teacher) and the KT student's stages at recipe emovit-2's per_model.student settings;
    joined-kt.toml adds joined-robust's TIM-Net expert unchanged."""
    from dataclasses import asdict
    from pathlib import Path

    from emovit.config import load_recipe

    recipes = Path(__file__).parents[1] / "benchmarks/peers/recipes"
    kt, joined_kt = (load_recipe(recipes / f"{name}.toml") for name in ("emovit-2-kt", "joined-kt"))
    paper = load_recipe("paper-e20")
    assert kt.stage_for("teacher") == paper.stage_for("teacher")
    assert (kt.teacher_depth, kt.augment, kt.frontend) == (paper.teacher_depth, paper.augment, paper.frontend)
    assert kt.stage_for("student") == load_recipe("emovit-2").stage_for("student")
    assert (kt.stage_for("student").crop_prob, kt.stage_for("student").mixup_prob) == (0.0, 0.0)
    for model in ("teacher", "student"):
        assert joined_kt.stage_for(model) == kt.stage_for(model)
    robust = load_recipe(recipes / "joined-robust.toml").stage_for("timnet-mel-duo")
    assert asdict(joined_kt.stage_for("timnet-mel-duo")) == asdict(robust)
