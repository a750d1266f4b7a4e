"""TIM-Net (emovit.models.timnet) and its MFCC front end (emovit.mfcc) against the published code."""
from __future__ import annotations

import math

import librosa
import numpy as np
import pytest
import torch

import emovit.models.config as model_config_module
from emovit.audio import centre_fit
from emovit.config import TIMNET_SIGNAL_LENGTH as MEAN_SIGNAL_LENGTH, MfccConfig
from emovit.mfcc import MfccFrontEnd
from emovit.models.config import ModelConfig
from emovit.models.timnet import CausalConv1d, TIMNet, timnet_config

from conftest import fit_losses

RATE = 22050
# float32 rounding of the STFT and mel sums: measured at most ~1.2e-4 dB on these signals. The
# floor (peak - 80 dB) is taken per clip on both sides, so clipping cannot make the two differ.
DB_TOLERANCE = 2e-3
# The ortho DCT is orthonormal, so a frame's MFCC error is at most the L2 norm of its dB error,
# <= sqrt(128) * DB_TOLERANCE ~ 0.023 (coefficients reach ~1000 in magnitude).
MFCC_TOLERANCE = math.sqrt(128) * DB_TOLERANCE


@pytest.fixture(autouse=True)
def timnet_arch(monkeypatch):
    """Accept arch 'timnet' until config.ARCHS lists it (a no-op once it does)."""
    if "timnet" not in model_config_module.ARCHS:
        monkeypatch.setattr(model_config_module, "ARCHS", (*model_config_module.ARCHS, "timnet"))


@pytest.fixture(autouse=True)
def one_thread():
    """These tensors are tiny: on a shared 2-core machine a second intra-op thread only waits
    (a 60k-element flip took 6 ms with 2 threads, 13 us with 1); the training run 16 s -> 1.2 s."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def speech_like(n: int, seed: int, amplitude: float = 0.3, silence: int = 0) -> np.ndarray:
    """Two tones, one swelling, plus noise; optionally a stretch of digital silence on both ends."""
    rng = np.random.default_rng(seed)
    t = np.arange(n) / RATE
    f0 = rng.uniform(100, 300)
    wave = np.sin(2 * np.pi * f0 * t) + 0.5 * np.sin(2 * np.pi * 7.3 * f0 * t) * np.hanning(n)
    wave = amplitude * (wave + 0.05 * rng.standard_normal(n))
    wave[:silence] = 0
    wave[n - silence:] = 0
    return wave.astype(np.float32)


# --- front end ---

def test_mfcc_matches_librosa_per_clip_in_a_batch():
    config = MfccConfig(clip_samples=24000)
    clips = [speech_like(24000, 0), speech_like(24000, 1, amplitude=1e-3), speech_like(24000, 2, silence=6000)]
    frontend = MfccFrontEnd(config)
    batch = torch.from_numpy(np.stack(clips))
    mfcc, db = frontend(batch), frontend.log_mel_db(batch)
    assert mfcc.shape == (3, 1, *config.image_size) == (3, 1, 39, 1 + 24000 // 512)
    assert mfcc.dtype == torch.float32
    for i, y in enumerate(clips):
        ref_db = librosa.power_to_db(librosa.feature.melspectrogram(y=y, sr=RATE))
        ref = librosa.feature.mfcc(y=y, sr=RATE, n_mfcc=39)
        np.testing.assert_allclose(db[i].numpy(), ref_db, rtol=0, atol=DB_TOLERANCE)
        np.testing.assert_allclose(mfcc[i, 0].numpy(), ref, rtol=0, atol=MFCC_TOLERANCE)
    assert (db[2] == db[2].max() - 80).any()  # the silent ends reach the floor: it was exercised


def test_reflect_padding_matches_librosa_before_0_9():
    y = speech_like(8000, 3)
    ours = MfccFrontEnd(MfccConfig(clip_samples=8000, pad_mode="reflect"))(torch.from_numpy(y)[None])[0, 0]
    ref = librosa.feature.mfcc(y=y, sr=RATE, n_mfcc=39, pad_mode="reflect")
    np.testing.assert_allclose(ours.numpy(), ref, rtol=0, atol=MFCC_TOLERANCE)


def test_mfcc_config_sizes_and_round_trip():
    assert MfccConfig().image_size == (39, 188)
    assert MfccConfig.for_corpus("savee").image_size == (39, 1 + 130000 // 512)
    assert MfccConfig.for_corpus("ravdess").clip_samples == MEAN_SIGNAL_LENGTH["ravdess"] == 110000
    config = MfccConfig.for_corpus("emodb", pad_mode="reflect")
    assert MfccConfig.from_dict(config.to_dict()) == config
    assert config.fingerprint() != MfccConfig().fingerprint()
    assert MfccFrontEnd()(torch.zeros(0, 96000)).shape == (0, 1, 39, 188)
    with pytest.raises(ValueError):
        MfccConfig(pad_mode="edge")


@pytest.mark.parametrize("n,length,expected", [
    (5, 10, [0, 0, 1, 2, 3, 4, 5, 0, 0, 0]),  # shortfall 5: 2 before, 3 after
    (6, 10, [0, 0, 1, 2, 3, 4, 5, 6, 0, 0]),  # shortfall 4: 2 and 2
    (10, 7, [2, 3, 4, 5, 6, 7, 8]),            # excess 3: crop from 3 // 2 = 1
    (10, 6, [3, 4, 5, 6, 7, 8]),               # excess 4: crop from 2
    (6, 6, [1, 2, 3, 4, 5, 6]),
])
def test_centre_fit_as_get_feature(n, length, expected):
    out = centre_fit(np.arange(1, n + 1, dtype=np.float32), length)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, expected)


# --- network ---

def test_shapes_and_interface():
    model = TIMNet(timnet_config(7)).eval()
    assert model.config.image_size == (39, 188) and model.config.arch == "timnet"
    x = torch.randn(2, 1, 39, 188)
    with torch.no_grad():
        assert model.pooled(x).shape == (2, 39)
        assert model.levels(x).shape == (2, 8, 39)
        torch.testing.assert_close(model(x), model.head(model.pooled(x)))
        assert model(torch.randn(3, 1, 39, 57)).shape == (3, 7)  # any frame count: pooled over time
    with pytest.raises(ValueError):
        TIMNet(timnet_config(7, image_size=(40, 188)))


def test_exact_parameter_count_and_config_round_trip():
    # 2 input 1x1 convs (39*39+39) + 16 blocks of [2 convs (39*39*2+39) + 2 BatchNorms (2*39)]
    # + 8 level weights + head 39*7+7
    expected = 2 * 1560 + 16 * (2 * 3081 + 2 * 78) + 8 + 280
    model = TIMNet(timnet_config(7))
    assert sum(p.numel() for p in model.parameters()) == expected == 104_496
    config = ModelConfig.from_dict(model.config.to_dict())
    assert config == model.config
    assert timnet_config(4, filters=64, dilations=10).extra["filters"] == 64
    assert sum(p.numel() for p in TIMNet(timnet_config(7, dilations=10)).parameters()) == expected + 4 * 6318 + 2


def test_timnet_mel_is_timnet_on_the_log_mel_image():
    """`timnet-mel`: the same network with the image's 128 mel bands as inputs; only the two input 1x1 convs
    grow (128*39 weights each instead of 39*39), and it reads the log-Mel front end, not MFCCs."""
    from emovit.models import FRONT_ENDS, build
    model = build("timnet-mel", 7)
    assert model.config.image_size == (128, 128) and "timnet-mel" not in FRONT_ENDS
    assert sum(p.numel() for p in model.parameters()) == 104_496 + 2 * (128 - 39) * 39 == 111_438
    with torch.no_grad():
        assert model(torch.randn(2, 1, 128, 128)).shape == (2, 7)


def test_keras_initialisation():
    model = TIMNet(timnet_config(7))
    assert model.level_weights.shape == (8, 1) and model.level_weights.abs().max() <= 0.05
    bn = model.forward_blocks[0].net[1]
    assert bn.eps == 1e-3 and bn.momentum == 0.01
    assert all(not m.bias.detach().any() for m in model.modules() if isinstance(m, (torch.nn.Conv1d, torch.nn.Linear)))


def test_causal_convolution_never_sees_the_future():
    conv = CausalConv1d(3, 4, 2, dilation=4)
    x = torch.randn(1, 3, 20)
    y = x.clone()
    y[..., 12] += 1.0
    changed = (conv(x) - conv(y)).abs().sum(dim=1)[0] > 0
    assert changed.nonzero()[:, 0].tolist() == [12, 16]  # taps at t and t - 4 only


def test_time_reversal_swaps_the_branches():
    """Not invariant to reversing time, but reversing the input is the same as swapping the two
    branches' weights: the backward branch really reads the reversed sequence."""
    torch.manual_seed(0)
    model = TIMNet(timnet_config(3)).eval()
    x = torch.randn(2, 1, 39, 40)
    reversed_x = x.flip(-1)
    with torch.no_grad():
        assert not torch.allclose(model(x), model(reversed_x), atol=1e-4)
        swapped = TIMNet(timnet_config(3)).eval()
        state = model.state_dict()
        for name, value in state.items():
            other = name.replace("forward_", "@").replace("backward_", "forward_").replace("@", "backward_")
            swapped.state_dict()[other].copy_(value)
        torch.testing.assert_close(swapped(reversed_x), model(x), atol=1e-5, rtol=1e-5)


def test_a_short_training_run_lowers_the_loss():
    """The authors' optimiser (Adam, lr 1e-3, betas 0.93/0.98) and label smoothing 0.1 on two
    classes a level shift apart. (Pooled features start small, the level weights being drawn from
    +-0.05, so the loss starts slowly; seeds 0-4 all end below 0.6 from about 0.69.)"""
    torch.manual_seed(0)
    n, frames = 32, 48
    labels = torch.arange(n) % 2
    x = 0.5 * torch.randn(n, 1, 39, frames)
    x[:, 0] += 0.5 * (2 * labels[:, None, None] - 1)
    model = TIMNet(timnet_config(2, image_size=(39, frames)))
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-3, betas=(0.93, 0.98), eps=1e-8)
    losses = fit_losses(model, x, labels, optimiser, label_smoothing=0.1)
    assert np.mean(losses[-5:]) < 0.9 * losses[0]
    with torch.no_grad():
        assert torch.equal(model.eval()(x).argmax(dim=1), labels)


def test_eval_is_deterministic_and_training_drops_channels():
    torch.manual_seed(0)
    model = TIMNet(timnet_config(7))
    x = torch.randn(2, 1, 39, 64)
    with torch.no_grad():
        model.train()
        assert not torch.equal(model(x), model(x))  # SpatialDropout1D at 0.1
        model.eval()
        torch.testing.assert_close(model(x), model(x), rtol=0, atol=0)


def test_timnet_is_trained_on_raw_mfccs(corpus):
    """As in the public code (main.py feeds the extracted MFCCs unchanged): the normaliser a TIM-Net job
    gets is the identity, so its images equal the front end's output, while log-Mel jobs are standardised."""
    from emovit.config import AugmentConfig, Recipe
    from emovit.corpora import index_corpus
    from emovit.protocols import make_split
    from emovit.runs import frontend_settings, prepare_split

    recipe = Recipe(augment=AugmentConfig(views=1))
    split = make_split(index_corpus("emodb", corpus).utterances, "paper", views=1)
    labels = sorted({u.label for u in split.train})
    mfcc = prepare_split(split, labels, frontend_settings("mfcc", recipe, ["emodb"]), recipe, None, progress=False)
    assert (mfcc.normalizer.mean, mfcc.normalizer.std) == (0.0, 1.0) and mfcc.data.noise is None  # no dB to mix in
    raw = MfccFrontEnd(mfcc.frontend)(torch.from_numpy(np.stack([_clip(u.path, mfcc.frontend) for u in split.test])))
    assert torch.allclose(mfcc.test_images, raw.reshape(mfcc.test_images.shape), atol=1e-3)
    logmel = prepare_split(split, labels, frontend_settings("logmel", recipe, ["emodb"]), recipe, None, progress=False)
    assert abs(float(logmel.data.train_images.mean())) < 1e-3 and logmel.normalizer.std != 1.0


def _clip(path, config: MfccConfig) -> np.ndarray:
    from emovit.audio import load_audio
    return centre_fit(load_audio(path, config.sample_rate), config.clip_samples)
