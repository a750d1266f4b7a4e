"""Tests for emovit.audio on generated fixtures (and, when present, a few real corpus files)."""
from __future__ import annotations

import io
import os
import re
import struct
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from emovit.audio import (
    CLIP_SECONDS,
    SAMPLE_RATE,
    AudioError,
    audio_info,
    fit_length,
    from_array,
    iter_blocks,
    load_audio,
)


def tone(rate: int, seconds: float = 1.0, freq: float = 1000.0, channels: int = 1, seed: int = 0) -> np.ndarray:
    """A 1 kHz sine plus a little noise, (n,) or (n, channels), peak about 0.55."""
    t = np.arange(int(round(rate * seconds))) / rate
    x = 0.5 * np.sin(2 * np.pi * freq * t) + 0.01 * np.random.default_rng(seed).standard_normal(len(t))
    if channels > 1:
        x = np.stack([x * (1 - 0.1 * c) for c in range(channels)], axis=1)
    return x.astype(np.float32)


def peak_hz(wave: np.ndarray, rate: int = SAMPLE_RATE) -> float:
    spectrum = np.abs(np.fft.rfft(wave * np.hanning(len(wave))))
    return float(np.fft.rfftfreq(len(wave), 1 / rate)[spectrum.argmax()])


def riff_wav(data: bytes, rate=16000, channels=1, bits=16, extra: bytes = b"") -> bytes:
    """A PCM WAV built by hand; ``extra`` chunks go between 'fmt ' and 'data'."""
    align = channels * bits // 8
    fmt = struct.pack("<4sIHHIIHH", b"fmt ", 16, 1, channels, rate, rate * align, align, bits)
    body = b"WAVE" + fmt + extra + b"data" + struct.pack("<I", len(data)) + data
    return b"RIFF" + struct.pack("<I", len(body)) + body


def chunk(tag: bytes, payload: bytes) -> bytes:
    return tag + struct.pack("<I", len(payload)) + payload + (b"\0" if len(payload) % 2 else b"")


def pcm16(x: np.ndarray) -> bytes:
    return (np.clip(x, -1, 1) * 32767).astype("<i2").tobytes()


# ---------------------------------------------------------------------------------------------
# formats


@pytest.mark.parametrize("rate", [8000, 16000, 22050, 44100, 48000])
def test_rates_resampled_to_16k_keep_the_tone(tmp_path, rate):
    path = tmp_path / f"tone_{rate}.wav"
    sf.write(path, tone(rate), rate, subtype="PCM_16")
    wave = load_audio(path)
    assert wave.dtype == np.float32 and wave.ndim == 1
    assert abs(len(wave) - SAMPLE_RATE) <= 1
    assert abs(peak_hz(wave) - 1000) <= 2
    assert 0.4 < np.abs(wave).max() < 0.7


@pytest.mark.parametrize(
    "fmt,subtype,ext,tol",
    [
        ("WAV", "PCM_U8", "wav", 0.02),
        ("WAV", "PCM_16", "wav", 1e-4),
        ("WAV", "PCM_24", "wav", 1e-6),
        ("WAV", "PCM_32", "wav", 1e-6),
        ("WAV", "FLOAT", "wav", 1e-7),
        ("FLAC", "PCM_16", "flac", 1e-4),
        ("FLAC", "PCM_24", "flac", 1e-6),
        ("OGG", "VORBIS", "ogg", None),
        ("MP3", "MPEG_LAYER_III", "mp3", None),
    ],
)
def test_formats_and_bit_depths(tmp_path, fmt, subtype, ext, tol):
    x = tone(16000)
    path = tmp_path / f"clip_{subtype}.{ext}"
    sf.write(path, x, 16000, format=fmt, subtype=subtype)
    wave = load_audio(path)
    assert wave.dtype == np.float32 and wave.ndim == 1
    assert abs(peak_hz(wave) - 1000) <= 2
    if tol is not None:  # lossless: same samples up to quantisation
        assert len(wave) == len(x)
        np.testing.assert_allclose(wave, x, atol=tol)
    else:  # lossy codecs may add encoder delay / padding
        assert abs(len(wave) - len(x)) < 0.1 * 16000


def test_stereo_and_multichannel_are_averaged(tmp_path):
    for channels in (2, 6):
        x = tone(44100, channels=channels)
        path = tmp_path / f"multi{channels}.flac"
        sf.write(path, x, 44100)
        wave = load_audio(path)
        assert wave.ndim == 1 and abs(len(wave) - 16000) <= 1
        ref = from_array(x.mean(axis=1), 44100)
        np.testing.assert_allclose(wave, ref, atol=1e-4)


def test_wav_with_extra_chunks_before_data(tmp_path):
    x = tone(16000)
    extra = chunk(b"PAD ", b"\0" * 7) + chunk(b"LIST", b"INFOISFT" + struct.pack("<I", 5) + b"test\0\0")
    path = tmp_path / "padded.wav"
    path.write_bytes(riff_wav(pcm16(x), extra=extra))
    wave = load_audio(path)
    assert len(wave) == len(x)
    np.testing.assert_allclose(wave, x, atol=1e-4)


def test_bytes_and_file_objects(tmp_path):
    buf = io.BytesIO()
    sf.write(buf, tone(22050), 22050, format="FLAC")
    data = buf.getvalue()
    a = load_audio(data)
    b = load_audio(io.BytesIO(data))
    path = tmp_path / "x.flac"
    path.write_bytes(data)
    c = load_audio(str(path))
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a, c)
    assert load_audio(data, sample_rate=8000).shape == (8000,)


def test_audio_info(tmp_path):
    path = tmp_path / "info.wav"
    sf.write(path, tone(48000, seconds=2.5, channels=2), 48000)
    duration, rate, channels = audio_info(path)
    assert (rate, channels) == (48000, 2) and duration == pytest.approx(2.5)
    with pytest.raises(AudioError, match="nothere.wav"):
        audio_info(tmp_path / "nothere.wav")


# ---------------------------------------------------------------------------------------------
# from_array and fit_length


def test_from_array_int_dtypes_are_scaled():
    x = tone(16000)
    for dtype, scale in ((np.int16, 32767), (np.int32, 2**31 - 1)):
        np.testing.assert_allclose(from_array((x * scale).astype(dtype), 16000), x, atol=1e-4)
    u8 = np.round(x * 127 + 128).astype(np.uint8)
    np.testing.assert_allclose(from_array(u8, 16000), x, atol=0.01)
    stereo = (tone(8000, channels=2) * 32767).astype(np.int16)
    out = from_array(stereo, 8000)
    assert out.shape == (16000,) and out.dtype == np.float32


def test_from_array_rejects_bad_input():
    good = tone(16000)
    cases = [
        (good.reshape(2, -1), "channels"),  # (channels, n) by mistake
        (good.reshape(1, 1, -1), "shape"),
        (good.astype(complex), "dtype"),
        (np.zeros((16000, 0), np.float32), "zero channels"),
        (np.zeros(0, np.float32), "no samples"),
        (np.where(np.arange(16000) == 5, np.nan, good), "NaN/Inf"),
        (np.zeros(16000, np.float32), "silent"),
        (good[:800], "too short"),
    ]
    for x, words in cases:
        with pytest.raises(AudioError, match=words) as info:
            from_array(x, 16000, name="mic.raw")
        assert "mic.raw" in str(info.value)
    with pytest.raises(AudioError, match="<array>.*sample rate"):
        from_array(good, 500)


def test_fit_length_crops_the_start_and_pads_the_end():
    n = int(CLIP_SECONDS * SAMPLE_RATE)
    long = np.arange(n + 500, dtype=np.float32)
    np.testing.assert_array_equal(fit_length(long), long[:n])
    short = np.ones(1000, np.float32)
    out = fit_length(short)
    assert out.shape == (n,) and out.dtype == np.float32
    assert out[:1000].sum() == 1000 and not out[1000:].any()
    assert fit_length(short, seconds=0.05).shape == (800,)


# ---------------------------------------------------------------------------------------------
# errors: always AudioError, always naming the file


def _bad_files(tmp: Path) -> dict[str, tuple[Path, str]]:
    tone16 = pcm16(tone(16000))
    files = {
        "missing": (tmp / "missing.wav", "file not found"),
        "directory": (tmp / "adir.wav", "directory"),
        "empty": (tmp / "empty.wav", "empty"),
        "text": (tmp / "notes.wav", "not a readable audio file"),
        "truncated": (tmp / "truncated.wav", "not a readable audio file"),
        "no frames": (tmp / "noframes.wav", "no samples"),
        "nan": (tmp / "nan.wav", "NaN/Inf"),
        "inf": (tmp / "inf.wav", "NaN/Inf"),
        "zeros": (tmp / "zeros.wav", "silent"),
        "quiet": (tmp / "quiet.wav", "silent"),
        "short": (tmp / "short.wav", r"too short \(0\.050 s"),
        "low rate": (tmp / "lowrate.wav", "sample rate 500 Hz"),
        "high rate": (tmp / "highrate.wav", "sample rate 900000 Hz"),
        "zero channels": (tmp / "nochannels.wav", "[Cc]hannel count is zero"),
    }
    files["directory"][0].mkdir()
    files["empty"][0].write_bytes(b"")
    files["text"][0].write_text("this is not audio, just text\n" * 20)
    files["truncated"][0].write_bytes(riff_wav(tone16)[:30])
    files["no frames"][0].write_bytes(riff_wav(b""))
    nan = tone(16000)
    nan[100] = np.nan
    sf.write(files["nan"][0], nan, 16000, subtype="FLOAT")
    inf = tone(16000)
    inf[-1] = np.inf
    sf.write(files["inf"][0], inf, 16000, subtype="FLOAT")
    sf.write(files["zeros"][0], np.zeros(16000, np.float32), 16000)
    sf.write(files["quiet"][0], tone(16000) * 1e-6, 16000, subtype="FLOAT")
    sf.write(files["short"][0], tone(16000, seconds=0.05), 16000)
    files["low rate"][0].write_bytes(riff_wav(tone16[:2000], rate=500))
    files["high rate"][0].write_bytes(riff_wav(tone16, rate=900000))
    files["zero channels"][0].write_bytes(riff_wav(tone16, channels=0))
    return files


def test_every_bad_file_gives_a_named_audio_error(tmp_path):
    for case, (path, words) in _bad_files(tmp_path).items():
        with pytest.raises(AudioError) as info:
            load_audio(path)
        message = str(info.value)
        assert str(path) in message, (case, message)
        assert re.search(words, message), (case, message)


def test_bad_bytes_are_named_bytes():
    for data, words in ((b"", "is empty"), (b"RIFF....garbage" * 10, "not a readable audio file")):
        with pytest.raises(AudioError, match=f"<bytes>: {words}"):
            load_audio(data)


def test_max_seconds_refuses_long_files_from_the_header(tmp_path):
    path = tmp_path / "long.wav"
    sf.write(path, tone(8000, seconds=30), 8000)
    with pytest.raises(AudioError, match=r"long\.wav: is 30\.0 s long.*max_seconds"):
        load_audio(path, max_seconds=10)
    assert len(load_audio(path, max_seconds=30)) == 30 * 16000


# ---------------------------------------------------------------------------------------------
# iter_blocks


@pytest.fixture(scope="module")
def long_file(tmp_path_factory):
    rng = np.random.default_rng(1)
    rate, seconds = 44100, 30
    t = np.arange(rate * seconds) / rate
    x = 0.3 * np.sin(2 * np.pi * 440 * t * (1 + t / 60))[:, None] + 0.05 * rng.standard_normal((len(t), 2))
    path = tmp_path_factory.mktemp("long") / "long30.wav"
    sf.write(path, x.astype(np.float32), rate, subtype="PCM_16")
    return path


# 30 s file: full windows start every hop while start + block <= 30 s; if they leave the end
# uncovered, one shorter window follows (4/4: 0..24 full + 28..30; 4/3: 0..24 full + 27..30).
@pytest.mark.parametrize("block,hop,expected", [(4.0, 2.0, 14), (4.0, 4.0, 8), (4.0, 3.0, 10), (5.0, 7.0, 5)])
def test_iter_blocks_windows_match_load_audio(long_file, block, hop, expected):
    full = load_audio(long_file)
    windows = list(iter_blocks(long_file, block, hop))
    assert len(windows) == expected
    b = int(block * SAMPLE_RATE)
    for i, (start, wave) in enumerate(windows):
        assert start == pytest.approx(i * hop)
        first = int(round(start * SAMPLE_RATE))
        ref = full[first : first + b]
        assert wave.dtype == np.float32 and len(wave) == len(ref)
        assert len(wave) == b or i == len(windows) - 1
        np.testing.assert_allclose(wave, ref, atol=1e-4)


def test_iter_blocks_short_file_and_errors(tmp_path):
    path = tmp_path / "one.flac"
    sf.write(path, tone(16000, seconds=1.5), 16000)
    windows = list(iter_blocks(path, 4.0, 2.0))
    assert len(windows) == 1 and windows[0][0] == 0.0 and len(windows[0][1]) == 24000
    with pytest.raises(AudioError, match="gone.wav: file not found"):
        next(iter_blocks(tmp_path / "gone.wav", 4.0, 2.0))
    with pytest.raises(ValueError):
        next(iter_blocks(path, 0, 1))


# ---------------------------------------------------------------------------------------------
# real corpus files, when the shared data are mounted


def shared_data() -> Path | None:
    env = os.environ.get("EMOVIT_SHARED_DATA")
    path = Path(env) if env else Path(__file__).resolve().parents[2] / "shared" / "data"
    return path if path.is_dir() else None


DATA = shared_data()
needs_data = pytest.mark.skipif(DATA is None, reason="shared corpus data not found (../shared/data or $EMOVIT_SHARED_DATA)")


@needs_data
def test_emodb_files_with_pad_chunk():
    files = sorted((DATA / "emodb" / "wav").glob("14a07*.wav"))
    if not files:
        pytest.skip(f"no EmoDB 14a07* files under {DATA / 'emodb' / 'wav'}")
    padded = [f for f in files if b"PAD " in f.read_bytes()[:64]]
    assert len(padded) >= 4, "expected the 4 EmoDB files that carry a PAD chunk"
    for f in files:
        duration, rate, channels = audio_info(f)
        wave = load_audio(f)
        assert (rate, channels) == (16000, 1) and len(wave) == round(duration * rate)


@needs_data
def test_ravdess_stereo_flac():
    stereo = next(
        (f for f in sorted((DATA / "ravdess").glob("Actor_*/*.flac")) if sf.info(str(f)).channels == 2), None
    )
    if stereo is None:
        pytest.skip(f"no stereo RAVDESS file under {DATA / 'ravdess'}")
    duration, rate, channels = audio_info(stereo)
    wave = load_audio(stereo)
    assert channels == 2 and wave.ndim == 1
    assert len(wave) == pytest.approx(duration * SAMPLE_RATE, abs=1)
    raw, _ = sf.read(stereo, dtype="float32")
    np.testing.assert_allclose(wave, from_array(raw, rate), atol=1e-6)


def _cut_in_half(path):
    data = path.read_bytes()
    path.write_bytes(data[:len(data) // 2])
    return path


@pytest.mark.parametrize("ext,subtype", [("wav", "PCM_16"), ("flac", "PCM_16")])
def test_a_truncated_file_is_decoded_as_far_as_it_goes_with_a_warning(tmp_path, ext, subtype):
    """A file cut in half (its header promises 2 s): what is there is decoded, and the result says so."""
    from emovit.audio import decode

    path = tmp_path / f"cut.{ext}"
    sf.write(path, tone(16000, 2.0), 16000, subtype=subtype)
    whole = decode(path)
    assert whole.warnings == [] and len(whole.wave) == 32000
    cut = decode(_cut_in_half(path))
    assert 0 < len(cut.wave) < 32000
    assert len(cut.warnings) == 1 and str(path) in cut.warnings[0]
    assert "truncated" in cut.warnings[0] or "ends early" in cut.warnings[0]
    warnings: list[str] = []
    blocks = list(iter_blocks(path, 0.5, 0.5, warnings=warnings))
    assert blocks and len(warnings) == 1 and str(path) in warnings[0]
