"""The openSMILE + linear SVM baseline: SVM on synthetic data, extraction on a synthetic tone."""
import importlib.util

import numpy as np
import pytest
import soundfile as sf

import emovit.baseline
from emovit.baseline import C_GRID, DEFAULT_C, cross_fitted_probabilities, extract_functionals, run_baseline, train_svm
from emovit.corpora.manifest import Utterance
from emovit.protocols import make_split

HAS_OPENSMILE = importlib.util.find_spec("opensmile") is not None
needs_opensmile = pytest.mark.skipif(not HAS_OPENSMILE, reason="opensmile not installed (pip install 'emovit[baseline]')")


def blobs(n_per_class=40, n_classes=3, dim=20, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=4.0, size=(n_classes, dim))
    X = np.concatenate([c + rng.normal(size=(n_per_class, dim)) for c in centres])
    y = np.repeat(np.arange(n_classes), n_per_class)
    return X, y


def test_train_svm_separable():
    X, y = blobs()
    Xv, yv = blobs(n_per_class=10, seed=0)
    model = train_svm(X, y, Xv, yv, seed=0)
    assert (model.predict(X) == y).mean() > 0.95
    assert model.C_ in C_GRID and set(model.val_ua_) == set(C_GRID)
    assert train_svm(X, y).C_ == DEFAULT_C


def test_cross_fitted_probabilities_never_score_a_speaker_with_a_model_that_saw_it(monkeypatch):
    """Soft labels for classical_kd_weight: each speaker's rows are scored by a fit on the other speakers,
    so relabelling one speaker's clips changes nothing in that speaker's own probabilities (C held fixed:
    its choice reads every row's log-loss)."""
    X, y = blobs(n_per_class=20)
    speakers = np.arange(len(y)) % 4
    monkeypatch.setattr(emovit.baseline, "CROSS_FIT_C_GRID", (1e-2,))
    probabilities, C = cross_fitted_probabilities(X, y, speakers, num_classes=4)
    assert C == 1e-2 and probabilities.shape == (len(y), 4)
    assert np.allclose(probabilities.sum(1), 1.0, atol=1e-5) and np.all(probabilities[:, 3] == 0)
    assert (probabilities.argmax(1) == y).mean() > 0.9  # separable blobs: new speakers are still recognised
    relabelled = y.copy()
    relabelled[speakers == 0] = (y[speakers == 0] + 1) % 3
    again, _ = cross_fitted_probabilities(X, relabelled, speakers, num_classes=4)
    assert np.allclose(again[speakers == 0], probabilities[speakers == 0], atol=1e-6)
    assert not np.allclose(again[speakers == 1], probabilities[speakers == 1], atol=1e-3)
    with pytest.raises(ValueError, match="two speakers"):
        cross_fitted_probabilities(X, y, np.zeros(len(y)), num_classes=3)


def tone(path, seconds=1.0, sr=16000, freq=220.0, channels=1):
    t = np.arange(int(seconds * sr)) / sr
    x = 0.3 * np.sin(2 * np.pi * freq * t) * (1 + 0.2 * np.sin(2 * np.pi * 3 * t))
    sf.write(path, np.stack([x] * channels, axis=1) if channels > 1 else x, sr)
    return str(path)


@needs_opensmile
def test_extract_egemaps_on_tone_with_cache(tmp_path):
    wav = tone(tmp_path / "tone.wav")
    flac = tone(tmp_path / "tone44k.flac", sr=44100, channels=2)  # other rate, stereo, FLAC
    cache = tmp_path / "cache"
    X = extract_functionals([wav, flac], "eGeMAPSv02", cache_dir=cache, progress=False)
    assert X.shape == (2, 88) and X.dtype == np.float32 and np.isfinite(X).all()
    assert len(list((cache / "eGeMAPSv02").glob("*.npy"))) == 2
    again = extract_functionals([wav], "eGeMAPSv02", cache_dir=cache, progress=False)
    np.testing.assert_array_equal(again[0], X[0])


@needs_opensmile
def test_run_baseline_end_to_end(tmp_path):
    # Two "emotions" as two pitch ranges, 3 speakers; eGeMAPS + SVM should separate them.
    utts = []
    for s in range(3):
        for k in range(8):
            for lab, f0 in (("anger", 300.0), ("sadness", 110.0)):
                p = tone(tmp_path / f"s{s}_{lab}_{k}.wav", seconds=0.6, freq=f0 * (1 + 0.03 * k + 0.01 * s))
                utts.append(Utterance(p, lab, f"s{s}", "synth"))
    split = make_split(utts, "paper", seed=0, val_fraction=0.2)
    r = run_baseline(split, ["anger", "sadness"], feature_set="eGeMAPSv02", cache_dir=tmp_path / "c", progress=False)
    assert r.title == "openSMILE eGeMAPSv02 + linear SVM" and r.scores["n"] == len(split.test)
    assert r.scores["wa"] >= 0.8 and r.details["C"] in C_GRID and r.train_seconds > 0
    record = r.to_dict()  # the flat record results.json holds, the same keys as a network's
    assert {"title", "wa", "ua", "macro_f1", "confusion", "train_seconds"} <= set(record)
    by_speaker = run_baseline(split, ["anger", "sadness"], feature_set="eGeMAPSv02", cache_dir=tmp_path / "c",
                              progress=False, by_speaker=True)
    assert by_speaker.title.endswith("standardised per speaker") and by_speaker.details["normalization"] == "speaker"
    assert by_speaker.scores["wa"] >= 0.8


def test_standardising_by_speaker_takes_out_each_speakers_offset_and_scale():
    """What a voice adds to (or multiplies) every clip's functionals is gone; differences between one speaker's
    clips stay."""
    from emovit.baseline import standardise_by_speaker

    X, y = blobs(n_per_class=10, n_classes=2, dim=5)
    speakers = np.array(["a", "b"] * 10)  # each speaker has clips of both classes
    voiced = X.copy()
    voiced[speakers == "b"] = voiced[speakers == "b"] * 3.0 + 50.0
    Z = standardise_by_speaker(voiced, list(speakers))
    assert np.allclose(Z, standardise_by_speaker(X, list(speakers)))
    for s in ("a", "b"):
        assert np.allclose(Z[speakers == s].mean(0), 0.0) and np.allclose(Z[speakers == s].std(0), 1.0)
    assert abs(Z[y == 0, 0].mean() - Z[y == 1, 0].mean()) > 1.0  # the classes still differ
    constant = standardise_by_speaker(np.ones((4, 3)), ["a"] * 4)
    assert np.allclose(constant, 0.0)
