import librosa
import numpy as np
import pytest
import torch

from conftest import tone
from emovit.features import FeatureCache, LogMelFrontEnd, Normalizer
from emovit.config import LogMelConfig
from emovit.views import build_images


def _librosa_reference(wave: np.ndarray) -> np.ndarray:
    mel = librosa.feature.melspectrogram(y=wave, sr=16000, n_fft=1024, hop_length=64, win_length=512,
                                         window="hamming", n_mels=128, power=2.0, center=True, pad_mode="constant")
    return librosa.power_to_db(mel, ref=np.max, amin=1e-10, top_db=80.0)


def test_log_mel_matches_librosa_before_resizing():
    wave = np.zeros(64000, dtype=np.float32)
    wave[:24000] = tone(1.5, freq=220.0)
    ours = LogMelFrontEnd().spectrogram_db(torch.from_numpy(wave)[None])[0].numpy()
    ref = _librosa_reference(wave)
    assert ours.shape == ref.shape == (128, 1001)  # 4 s at hop 64
    assert np.abs(ours - ref).max() < 0.05  # dB; float32 vs float64 arithmetic


def test_image_is_128_by_128_in_db_range():
    frontend = LogMelFrontEnd()
    images = frontend(torch.from_numpy(np.stack([tone(4.0), tone(4.0, freq=300.0)])))
    assert images.shape == (2, 1, 128, 128)
    assert images.max() <= 0.0 and images.min() >= -80.0
    assert images.amax(dim=(1, 2, 3)).min() > -1.0  # each clip's peak is near 0 dB


def test_time_axis_resize_keeps_where_sound_is():
    wave = np.zeros(64000, dtype=np.float32)
    wave[32000:48000] = tone(1.0)  # sound only in the third second
    image = LogMelFrontEnd()(torch.from_numpy(wave)[None])[0, 0]
    loudness = image.mean(dim=0)
    assert loudness[70:90].mean() > loudness[:50].mean() + 20


def test_normalizer_standardises():
    images = torch.randn(10, 1, 8, 8) * 5 - 40
    norm = Normalizer.fit(images)
    out = norm(images)
    assert abs(float(out.mean())) < 1e-4 and abs(float(out.std()) - 1) < 1e-3


def test_cache_hits_by_content_and_rebuilds_corrupt_entries(write_tone, tmp_path):
    a = write_tone("a.wav", 2.0)
    b = write_tone("copy_of_a.wav", 2.0)  # same bytes, other name
    frontend = LogMelFrontEnd()
    cache = FeatureCache(tmp_path / "cache", frontend.config)
    first = build_images([(str(a), 0), (str(a), 1)], frontend, cache, progress=False)
    files = sorted(cache.root.rglob("*.npy"))
    assert len(files) == 2
    again = build_images([(str(b), 0), (str(b), 1)], frontend, cache, progress=False)
    assert torch.equal(first.images, again.images)
    assert len(sorted(cache.root.rglob("*.npy"))) == 2
    files[0].write_bytes(files[0].read_bytes()[:100])  # truncate one entry
    rebuilt = build_images([(str(a), 0), (str(a), 1)], frontend, cache, progress=False)
    assert torch.allclose(rebuilt.images, first.images)
    assert len(np.load(files[0])) == 1


def test_views_differ_and_are_deterministic(write_tone):
    path = str(write_tone("x.wav", 3.0))
    frontend = LogMelFrontEnd()
    one = build_images([(path, v) for v in range(4)], frontend, None, seed=1, progress=False).images
    two = build_images([(path, v) for v in range(4)], frontend, None, seed=1, progress=False).images
    other_seed = build_images([(path, 1)], frontend, None, seed=2, progress=False).images
    assert torch.equal(one, two)
    for v in range(1, 4):
        assert not torch.allclose(one[0], one[v])
    assert not torch.allclose(one[1], other_seed[0])


def test_bad_file_is_reported_and_the_rest_goes_on(write_tone, tmp_path):
    good = write_tone("good.wav")
    bad = tmp_path / "bad.wav"
    bad.write_text("not audio at all")
    built = build_images([(str(bad), 0), (str(good), 0)], LogMelFrontEnd(), None, progress=False)
    assert built.items == [(str(good), 0)] and built.images.shape == (1, 1, 128, 128)
    assert str(bad) in built.failures and "bad.wav" in built.failures[str(bad)]


def test_config_fingerprint_changes_with_settings():
    assert LogMelConfig().fingerprint() != LogMelConfig(hop_length=128).fingerprint()


def test_utterance_centring_takes_out_a_constant_per_band_and_ignores_padding():
    from emovit.features import centre_bands

    torch.manual_seed(0)
    speech = torch.randn(1, 1, 8, 12) * 5 - 30  # dB-like values
    voice = torch.linspace(-6, 6, 8)[None, None, :, None]  # what one speaker or microphone adds to every frame
    padded = torch.cat([speech, torch.full((1, 1, 8, 20), -80.0)], dim=-1)  # a short clip, zero-padded
    centred = centre_bands(speech)
    assert torch.allclose(centred.mean(-1), torch.zeros(1, 1, 8), atol=1e-5)
    assert torch.allclose(centre_bands(speech + voice), centred, atol=1e-4)  # the constant per band is gone
    assert torch.allclose(centre_bands(padded)[..., :12], centred, atol=1e-4)  # padding does not move the mean
    normalizer = Normalizer.fit(torch.cat([speech, speech + voice]), centre="utterance")
    assert normalizer.centre == "utterance" and abs(normalizer.mean) < 1e-4
    with pytest.raises(ValueError, match="centre"):
        Normalizer.fit(speech, centre="speakers")


def test_speaker_centring_takes_out_each_speakers_constant_and_keeps_each_clips_own():
    """Per-speaker normalisation removes what a voice adds to all of its clips alike, pooled over the
    speaker's clips and views, and keeps what differs between one speaker's clips (an emotion's tilt)."""
    from emovit.features import centre_speakers

    torch.manual_seed(0)
    clips = torch.randn(4, 2, 1, 8, 12) * 5 - 30  # 4 clips x 2 views
    tilt = torch.linspace(-3, 3, 8)[None, None, None, :, None]  # one clip's own spectral tilt
    clips[1] += tilt[0]
    voices = [torch.linspace(-6, 6, 8), torch.linspace(4, -4, 8)]  # two speakers' constants per band
    speakers = ["a", "a", "b", "b"]
    voiced = clips + torch.stack([voices[0], voices[0], voices[1], voices[1]])[:, None, None, :, None]
    centred = centre_speakers(voiced, speakers)
    assert torch.allclose(centred, centre_speakers(clips, speakers), atol=1e-4)  # the voices are gone
    assert centred[:2].mean(dim=(0, 1, 2, 4)).abs().max() < 1e-4  # speaker a's bands centred over its clips
    assert (centred[1] - centred[0]).mean(dim=(0, 1, 3)).std() > 1.0  # clip 1's tilt is still there
    assert not torch.allclose(centred, voiced - voiced.mean(dim=(1, 2, 4), keepdim=True), atol=1e-2)
    normalizer = Normalizer.fit(voiced, centre="speaker", speakers=speakers)
    assert normalizer.centre == "speaker" and abs(normalizer.mean) < 1e-4
    assert torch.allclose(normalizer(voiced, speakers), centred / normalizer.std, atol=1e-4)
    with pytest.raises(ValueError, match="speaker of every clip"):
        normalizer(voiced)
    with pytest.raises(ValueError, match="3 speakers for 4 clips"):
        centre_speakers(voiced, speakers[:3])
