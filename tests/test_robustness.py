"""Robustness evaluation: crops, noise at a set SNR, speech-shaped noise, joined recordings, the report."""
from __future__ import annotations

import copy
import json
import random

import numpy as np
import pytest
import soundfile as sf

from conftest import tone
from emovit.audio import load_audio
from emovit.recognizer import Recognizer
from emovit.robustness import (
    TARGETS, _wav_bytes, active_mask, add_noise_at_snr, centre_crop, evaluate_robustness, join_clips,
    long_term_spectrum, majority_clip, measured_snr, narrowband, robustness_markdown, speech_shaped_noise,
    targets_report, white_noise,
)
from conftest import MODEL_LABELS as LABELS, write_model

RATE = 16000


@pytest.fixture(scope="module")
def rec(tmp_path_factory):
    return Recognizer.load(write_model(tmp_path_factory.mktemp("model") / "tiny.pt"), precision="fp32")


def with_silence(wave: np.ndarray, before: float = 0.3, after: float = 0.5) -> np.ndarray:
    return np.concatenate([np.zeros(int(before * RATE), np.float32), wave, np.zeros(int(after * RATE), np.float32)])


def coloured(seconds: float, seed: int, low: bool) -> np.ndarray:
    """Noise with a strongly tilted spectrum (integrated: low-heavy; differenced: high-heavy) plus a tone."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(int(seconds * RATE))
    x = np.cumsum(x) - np.convolve(np.cumsum(x), np.ones(64) / 64, mode="same") if low else np.diff(x, prepend=0.0)
    return (0.1 * x / np.std(x) + tone(seconds, RATE, 300.0 if low else 3000.0, seed)).astype(np.float32)


def log_ltas(waves) -> np.ndarray:
    s = long_term_spectrum(waves, RATE)
    keep = (s.freqs > 50) & (s.freqs < 7900)
    return np.log(s.power[keep])


# ----------------------------------------------------------------------------------------------
# signal functions


def test_centre_crop_is_centred_and_of_the_right_length():
    wave = np.arange(RATE * 3 + 1, dtype=np.float32)  # odd excess: the extra sample stays at the end
    for seconds in (0.7, 1.0, 2.0):
        n = int(round(seconds * RATE))
        crop = centre_crop(wave, seconds, RATE)
        start = (len(wave) - n) // 2
        assert len(crop) == n and crop.dtype == np.float32
        assert crop[0] == start and crop[-1] == start + n - 1
        assert abs(start - (len(wave) - start - n)) <= 1  # as much cut on each side
    short = np.ones(RATE // 2, np.float32)
    kept = centre_crop(short, 1.0, RATE)
    assert np.array_equal(kept, short) and kept is not short
    with pytest.raises(ValueError):
        centre_crop(wave, 0.0, RATE)


@pytest.mark.parametrize("kind", ["white", "speech"])
@pytest.mark.parametrize("snr", [20.0, 10.0, 0.0])
def test_mix_has_the_asked_snr_over_active_speech(kind, snr):
    clean = with_silence(tone(1.5, RATE, seed=1))
    before = clean.copy()
    rng = np.random.default_rng(3)
    noise = (white_noise(len(clean), rng) if kind == "white"
             else speech_shaped_noise(len(clean), rng, [coloured(2.0, 5, low=True)], RATE))
    noisy = add_noise_at_snr(clean, noise, snr)
    assert np.array_equal(clean, before) and noisy.dtype == np.float32 and len(noisy) == len(clean)
    # independent measurement: 20 ms frames within 40 dB of the loudest are the active speech
    frames = clean[: len(clean) // 320 * 320].reshape(-1, 320).astype(np.float64)
    power = (frames ** 2).mean(axis=1)
    active = np.repeat(power >= power.max() * 1e-4, 320)
    added = (noisy.astype(np.float64) - clean)[: len(active)]
    snr_measured = 10 * np.log10((frames.ravel()[active] ** 2).mean() / (added[active] ** 2).mean())
    assert abs(snr_measured - snr) < 0.1
    assert abs(measured_snr(clean, noisy) - snr) < 0.1
    assert not active[: int(0.25 * RATE)].any()  # the leading silence is not speech ...
    assert np.abs(noisy[: int(0.25 * RATE)]).max() > 0  # ... but gets noise
    assert active_mask(clean).mean() < 0.8


def test_snr_refuses_silence_and_short_noise():
    with pytest.raises(ValueError, match="silent"):
        add_noise_at_snr(np.zeros(RATE, np.float32), np.ones(RATE, np.float32), 10)
    with pytest.raises(ValueError, match="fewer"):
        add_noise_at_snr(tone(1.0), np.ones(RATE // 2, np.float32), 10)


def test_speech_shaped_noise_follows_the_reference_spectrum_only():
    low = [coloured(1.5, s, low=True) for s in range(3)]
    high = [coloured(1.5, s, low=False) for s in range(3)]
    n_low = speech_shaped_noise(5 * RATE, np.random.default_rng(0), low, RATE)
    n_high = speech_shaped_noise(5 * RATE, np.random.default_rng(0), high, RATE)
    assert np.corrcoef(log_ltas([n_low]), log_ltas(low))[0, 1] > 0.9
    assert np.corrcoef(log_ltas([n_high]), log_ltas(high))[0, 1] > 0.9
    assert np.corrcoef(log_ltas([n_low]), log_ltas(high))[0, 1] < 0.5  # it is the reference's shape, not any
    assert abs(float(np.sqrt(np.mean(n_low.astype(np.float64) ** 2))) - 1.0) < 1e-3
    # the spectrum is all it takes from the references; the randomness is all from rng
    spectrum = long_term_spectrum(low, RATE)
    again = speech_shaped_noise(5 * RATE, np.random.default_rng(0), None, RATE, spectrum=spectrum)
    assert np.array_equal(n_low, again)
    assert not np.array_equal(n_low, speech_shaped_noise(5 * RATE, np.random.default_rng(1), low, RATE))
    with pytest.raises(ValueError):
        speech_shaped_noise(RATE, np.random.default_rng(0), [], RATE)


def test_noise_is_deterministic_for_a_seed():
    assert np.array_equal(white_noise(1000, np.random.default_rng(7)), white_noise(1000, np.random.default_rng(7)))
    assert not np.array_equal(white_noise(1000, np.random.default_rng(7)), white_noise(1000, np.random.default_rng(8)))


def test_joined_segments_match_the_clips():
    waves = [tone(s, RATE, seed=i) for i, s in enumerate((1.2, 0.5, 2.25))]
    for gap in (0.0, 0.25):
        recording, segments = join_clips(waves, RATE, gap_seconds=gap)
        assert len(recording) == sum(map(len, waves)) + 2 * int(gap * RATE)
        assert [i for _, _, i in segments] == [0, 1, 2]
        for (start, end, i), wave in zip(segments, waves):
            a, b = round(start * RATE), round(end * RATE)
            assert np.array_equal(recording[a:b], wave)
        for (_, end, _), (start, _, _) in zip(segments, segments[1:]):
            assert start - end == pytest.approx(gap)
            assert not recording[round(end * RATE):round(start * RATE)].any()
    segments = [(0.0, 1.0, 0), (1.0, 4.0, 1), (4.5, 6.0, 2)]
    assert majority_clip(0.5, 4.5, segments) == 1  # 3 s of 4
    assert majority_clip(3.0, 7.0, segments) is None  # 1 s + 0.5 s gap + 1.5 s: no clip over half
    assert majority_clip(4.0, 6.0, segments) == 2
    assert majority_clip(0.0, 2.0, segments) is None  # an exact half is not a majority


# ----------------------------------------------------------------------------------------------
# the evaluation


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """Test items: tones of a few lengths labelled with the model's labels, one unknown label, one
    broken file; and a separate set of training-side reference files."""
    root = tmp_path_factory.mktemp("corpus")
    items = []
    for i in range(9):
        path = root / f"clip{i}.wav"
        sf.write(path, with_silence(tone(0.8 + 0.35 * i, RATE, 150.0 + 60 * i, seed=i), 0.1, 0.2), RATE)
        items.append((str(path), LABELS[i % len(LABELS)]))
    sf.write(root / "bored.wav", tone(1.0, RATE), RATE)
    items.append((str(root / "bored.wav"), "boredom"))
    (root / "broken.wav").write_bytes(b"RIFF....WAVEnot audio at all")
    items.append((str(root / "broken.wav"), LABELS[0]))
    reference = []
    for i in range(3):
        path = root / f"train{i}.wav"
        sf.write(path, coloured(1.5, 10 + i, low=True), RATE)
        reference.append(str(path))
    return items, reference


@pytest.fixture(scope="module")
def result(rec, corpus):
    items, reference = corpus
    return evaluate_robustness(rec, items, noise_reference=reference, seed=0, batch_size=4, joined_seconds=6.0)


def test_report_has_every_condition_and_answer_fractions_sum_to_one(result, rec):
    cond = result["conditions"]
    assert list(cond) == ["full", "crop_0.7s", "crop_1s", "crop_2s", "white_20dB", "white_10dB",
                          "speech_20dB", "speech_10dB", "narrowband_8kHz"]
    for name, c in cond.items():
        assert c["n"] == 9 and c["failed"] == 0, name
        assert set(c["answers"]) == set(rec.labels)
        assert sum(c["answers"].values()) == pytest.approx(1.0)
        assert 0.0 <= c["wa"] <= 1.0 and 0.0 <= c["ua"] <= 1.0
        assert c["top_answer"]["fraction"] == max(c["answers"].values())
    assert cond["crop_2s"]["shorter_than_crop"] == 3  # clips 0.8+0.3..: the first three are <= 2 s
    assert result["skipped_labels"] == {"boredom": 1}
    assert [f["path"].endswith("broken.wav") for f in result["decode_failures"]] == [True]
    j = result["joined"]
    assert j["clips"] == 9 and j["recordings"] >= 2
    assert j["windows"] == j["timeline_n"] + j["excluded_no_majority"]
    assert sum(j["timeline_answers"].values()) == pytest.approx(1.0)
    assert j["clip_wa"] == cond["full"]["wa"]
    assert sum(j["recording_seconds"]) == pytest.approx(sum(0.8 + 0.35 * i + 0.3 for i in range(9)), abs=1e-3)
    text = robustness_markdown(result)
    for name in cond:
        assert f"| {name} |" in text
    assert "timeline (3 s / 1.5 s)" in text  # the recognizer's timeline default


def test_narrowband_keeps_the_band_under_4_khz_and_removes_what_is_above():
    t = np.arange(RATE) / RATE
    low, high = np.sin(2 * np.pi * 1000 * t), np.sin(2 * np.pi * 6000 * t)
    out = narrowband((0.3 * (low + high)).astype(np.float32), RATE)
    assert out.shape == (RATE,) and out.dtype == np.float32
    middle = slice(RATE // 4, 3 * RATE // 4)  # away from the resampler's edges
    spectrum = np.abs(np.fft.rfft(out[middle]))
    freqs = np.fft.rfftfreq(len(out[middle]), 1 / RATE)
    at = lambda hz: spectrum[np.argmin(np.abs(freqs - hz))]  # noqa: E731
    assert at(6000) < 1e-3 * at(1000)
    assert np.allclose(out[middle], 0.3 * low[middle], atol=0.01)  # the band kept, at its level
    with pytest.raises(ValueError, match="band_rate"):
        narrowband(out, RATE, band_rate=RATE)


def test_full_and_crop_conditions_answer_as_predict_does(rec, corpus):
    """The in-memory float WAV that carries made-up audio to predict_batch changes no sample."""
    path = corpus[0][4][0]
    wave = load_audio(path, RATE)
    via_bytes = rec.predict_batch([_wav_bytes(wave, RATE)])[0]
    assert via_bytes.probabilities == rec.predict(path).probabilities
    crop = centre_crop(wave, 1.0, RATE)
    assert rec.predict_batch([_wav_bytes(crop, RATE)])[0].probabilities == \
        rec.predict(crop, sample_rate=RATE).probabilities


def test_deterministic_by_seed_and_independent_of_item_order(rec, corpus, result):
    items, reference = corpus
    shuffled = items[:]
    random.Random(1).shuffle(shuffled)
    again = evaluate_robustness(rec, shuffled, noise_reference=reference, seed=0, batch_size=3, joined_seconds=6.0)
    assert again["conditions"] == result["conditions"]
    assert evaluate_robustness(rec, items, noise_reference=reference, seed=0, batch_size=4,
                               joined_seconds=6.0) == result


def test_speech_noise_needs_a_reference_apart_from_the_test_items(rec, corpus):
    items, reference = corpus
    with pytest.raises(ValueError, match="noise_reference"):
        evaluate_robustness(rec, items, noises=("speech",), joined=False)
    with pytest.raises(ValueError, match="also test items"):
        evaluate_robustness(rec, items, noise_reference=reference + [items[0][0]], joined=False)
    only_white = evaluate_robustness(rec, items, crops=(), noises=("white",), snrs=(10,), narrow=False, joined=False)
    assert list(only_white["conditions"]) == ["full", "white_10dB"] and only_white["joined"] is None
    no_snr = evaluate_robustness(rec, items, crops=(), snrs=(), joined=False)  # no SNR: no noise drawn, none needed
    assert list(no_snr["conditions"]) == ["full", "narrowband_8kHz"]


def test_targets_report_met_and_missed(result):
    fake = copy.deepcopy(result)
    c = fake["conditions"]
    c["full"]["wa"] = 0.80
    c["crop_1s"]["wa"] = 0.75  # 5 points down: met
    c["crop_0.7s"]["top_answer"] = {"label": "anger", "fraction": 0.55, "count": 5}  # 15 over
    c["white_10dB"]["wa"] = 0.60  # 20 down: missed by 5
    c["speech_10dB"]["wa"] = 0.70
    fake["joined"].update(timeline_wa=0.50, clip_wa_scored=0.58)
    by = {t["target"]: t for t in targets_report(fake)}
    assert by["crop_1s"]["met"] and by["crop_1s"]["missed_by"] == 0
    assert not by["crop_0.7s_top"]["met"] and by["crop_0.7s_top"]["missed_by"] == pytest.approx(0.15)
    assert by["crop_0.7s_top"]["class"] == "anger"
    assert by["joined"]["met"] and by["joined"]["gap"] == pytest.approx(0.08)
    assert not by["white_10dB"]["met"] and by["white_10dB"]["missed_by"] == pytest.approx(0.05)
    assert by["speech_10dB"]["met"]
    assert set(TARGETS) == {"crop_1s", "crop_0.7s_top", "joined", "snr_10dB"}
    assert "missed by 15.0 points" in robustness_markdown(fake)
    del fake["conditions"]["crop_1s"]
    fake["joined"] = None
    by = {t["target"]: t for t in targets_report(fake)}
    assert by["crop_1s"]["met"] is None and by["joined"]["met"] is None


def _per_speaker_run(root, items, reference):
    """A run directory as `emovit reproduce` leaves it, with a per-speaker-normalised model and the test
    items split between two speakers."""
    import csv

    (root / "models").mkdir(parents=True)
    write_model(root / "models" / "plain.pt", centre="speaker")
    with open(root / "split.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["part", "view", "path", "label", "speaker", "corpus"])
        for i, (path, label) in enumerate(items):
            w.writerow(["test", 0, path, label, f"s{i % 2}", "tones"])
        for path in reference:
            w.writerow(["train", 0, path, LABELS[0], "s9", "tones"])
    return root


def test_a_per_speaker_model_is_calibrated_on_each_speaker_in_each_condition(tmp_path, corpus):
    from emovit.evaluate import evaluate_run

    items, reference = corpus
    items = items[:9]  # decodable clips of the model's labels
    run = _per_speaker_run(tmp_path / "run", items, reference)
    rec = Recognizer.load(run / "models" / "plain.pt", precision="fp32")
    with pytest.raises(ValueError, match="speaker of every item"):
        evaluate_robustness(rec, items, noise_reference=reference)

    result = evaluate_run(run, "plain", precision="fp32")["splits"]["split"]
    assert result["calibration"]["speakers"] == 2
    assert "calibrated per speaker (2 speakers)" in (run / "robustness.md").read_text()
    for condition, make in (("full", lambda w: w), ("crop_1s", lambda w: centre_crop(w, 1.0, RATE))):
        answers = {}
        for speaker in (0, 1):  # what --same-speaker does with one speaker's clips of that condition
            clips = [_wav_bytes(make(load_audio(p, RATE)), RATE) for i, (p, _) in enumerate(items) if i % 2 == speaker]
            rec.calibrate(clips)
            for (path, _), prediction in zip(items[speaker::2], rec.predict_batch(clips)):
                answers[path] = prediction.label
        truth = [label for _, label in items]
        said = [answers[p] for p, _ in items]
        assert result["conditions"][condition]["wa"] == pytest.approx(np.mean([t == s for t, s in zip(truth, said)]))
        assert result["conditions"][condition]["answers"] == {
            label: pytest.approx(said.count(label) / len(said)) for label in rec.labels}
    assert result["joined"]["recordings"] == 2  # one speaker's clips each (15 s of tones a speaker)


def test_each_model_of_a_run_can_keep_its_own_robustness_summary(tmp_path, corpus):
    from emovit.evaluate import evaluate_run

    items, reference = corpus
    run = _per_speaker_run(tmp_path / "run", items[:9], reference)
    with pytest.raises(ValueError, match="robustness-plain.txt: .*NAME.json"):
        evaluate_run(run, "plain", precision="fp32", out=run / "robustness-plain.txt")
    summary = evaluate_run(run, "plain", precision="fp32", out=run / "robustness-plain.json")
    assert json.loads((run / "robustness-plain.json").read_text())["mean"] == summary["mean"]
    assert "calibrated per speaker" in (run / "robustness-plain.md").read_text()
    assert not (run / "robustness.json").exists()


def test_the_validation_part_can_be_read_to_choose_between_models(tmp_path, corpus):
    """--part val: the same conditions on the split's validation clips (what a choice between models may read),
    written beside the test part's summary, never over it; a split without validation clips is refused."""
    import csv

    from emovit.evaluate import evaluate_run

    items, reference = corpus
    run = tmp_path / "run"
    (run / "models").mkdir(parents=True)
    write_model(run / "models" / "plain.pt")
    with open(run / "split.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["part", "view", "path", "label", "speaker", "corpus"])
        for part, chosen in (("test", items[:4]), ("val", items[4:9])):
            for i, (path, label) in enumerate(chosen):
                w.writerow([part, 0, path, label, f"s{i % 2}", "tones"])
        for path in reference:
            w.writerow(["train", 0, path, LABELS[0], "s9", "tones"])
    val = evaluate_run(run, "plain", precision="fp32", part="val")
    assert val["part"] == "val" and val["splits"]["split"]["conditions"]["full"]["n"] == 5
    assert (run / "robustness-val.json").exists() and not (run / "robustness.json").exists()
    assert (run / "robustness-val.md").read_text().startswith("Read on the validation part")
    test = evaluate_run(run, "plain", precision="fp32")
    assert test["part"] == "test" and test["splits"]["split"]["conditions"]["full"]["n"] == 4
    with pytest.raises(ValueError, match="part must be one of test, val"):
        evaluate_run(run, "plain", precision="fp32", part="train")
    rows = (run / "split.csv").read_text().splitlines()
    (run / "split.csv").write_text("\n".join(r for r in rows if not r.startswith("val,")) + "\n")
    with pytest.raises(ValueError, match="no val clips"):
        evaluate_run(run, "plain", precision="fp32", part="val")
