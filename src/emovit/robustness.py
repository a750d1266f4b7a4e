"""Robustness evaluation: short crops, joined-clip recordings read as a timeline, and added noise.

For the test part of any protocol (a list of ``(path, label)``), :func:`evaluate_robustness`
reports WA, UA and the answer distribution of a :class:`~emovit.recognizer.Recognizer` on

- the full clips (exactly what :meth:`Recognizer.predict` sees: the first 4 s, zero-padded);
- centre crops of 0.7, 1 and 2 s (:func:`centre_crop`; the model zero-pads them to 4 s);
- the full clips with white or speech-shaped noise added at 20 and 10 dB SNR
  (:func:`add_noise_at_snr`, :func:`white_noise`, :func:`speech_shaped_noise`);
- the full clips as a narrowband (telephone-rate, 8 kHz) recording gives them (:func:`narrowband`): a
  recording condition none of the corpora has, and one a user meets;
- recordings of about 60 s made by joining the test clips (:func:`join_clips`), classified window
  by window with :meth:`Recognizer.timeline`, each window scored against the clip that covers
  most of it.

:func:`targets_report` sets the figures beside the four targets of the robustness issue and
:func:`robustness_markdown` prints them as tables.

Definitions (also written into every result under ``"definitions"``):

- **Centre crop**: the middle ``round(seconds x rate)`` samples (start ``(len - n) // 2``); a clip
  no longer than the crop is kept whole (counted as ``shorter_than_crop``).
- **SNR**: ``10 log10(P_speech / P_noise)`` where both powers are mean squares over the *active
  speech samples* of the clean clip, i.e. the 20 ms frames whose power is within 40 dB of the
  clip's loudest frame (:func:`active_mask`).  Leading and trailing silence therefore does not
  dilute the speech level; noise is added over the whole clip, silences included.
- **Speech-shaped noise**: white Gaussian noise filtered (in the frequency domain, zero phase) by
  the square root of the long-term average power spectrum of reference utterances
  (:func:`long_term_spectrum`: 32 ms Hann frames, hop 16 ms, power averaged over all frames of
  all references).  The references must be from the *training* side of the split, never the test
  part (:func:`evaluate_robustness` refuses an overlap): the spectrum then matches the corpus'
  speakers, microphones and language, which a fixed curve (ITU-T P.50) would not, and no test
  audio leaks into the corruption.
- **Narrowband**: the clip resampled to 8 kHz and back with soxr ('HQ', as every decoded file is): nothing
  above 4 kHz is left, as in a telephone or narrowband-codec recording; the level and the rest are unchanged.
- **Window scoring** (joined recordings): a window is scored against the label of the clip that
  covers more than half of the window's duration; windows with no such clip (straddling two
  clips, or mostly gap) are excluded and counted.

- **Per-speaker calibration** (a model trained with per-speaker normalisation, which reads a clip only
  with its speaker's reference): in every condition each test speaker's reference is taken from that
  speaker's clips *in that condition* (their crops, their noisy clips), as `emovit predict
  --same-speaker` takes it from the files it is given; joined recordings are then made of one
  speaker's clips each and calibrated on themselves.

Everything random is drawn from ``numpy.random.default_rng`` seeded by ``seed``, the condition and
the clip's path, so a result is reproducible and does not depend on the order of ``items``.

Inference goes through the public API only: audio made here (crops, noisy clips, joined
recordings) is handed to :meth:`Recognizer.predict_batch` / :meth:`Recognizer.timeline` as
in-memory 32-bit float WAV bytes, which decode to exactly the same samples.
"""
from __future__ import annotations

import io
import os
import warnings
import zlib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import soundfile as sf
from sklearn.metrics import accuracy_score, balanced_accuracy_score

from .audio import AudioError, load_audio, resample
from .config import SAMPLE_RATE

NOISES = ("white", "speech")
ACTIVE_FRAME_SECONDS = 0.02
ACTIVE_FLOOR_DB = 40.0
LTAS_FFT = 512  # 32 ms at 16 kHz
JOINED_SECONDS = 60.0
NARROWBAND_RATE = 8000  # a telephone line's sampling rate: speech up to 4 kHz
NARROWBAND = f"narrowband_{NARROWBAND_RATE // 1000}kHz"  # its condition's name in a result

TARGETS = {
    "crop_1s": 0.10,  # 1 s crops: WA at most 10 points below full clips
    "crop_0.7s_top": 0.40,  # 0.7 s crops: no class over 40% of the answers
    "joined": 0.10,  # timeline WA at most 10 points below per-clip WA of the same clips
    "snr_10dB": 0.15,  # 10 dB SNR: WA at most 15 points below clean
}


# ----------------------------------------------------------------------------------------------
# signal functions


def _wave(wave) -> np.ndarray:
    wave = np.asarray(wave, dtype=np.float32)
    if wave.ndim != 1:
        raise ValueError(f"expected a 1-D mono waveform, got shape {wave.shape}")
    return wave


def centre_crop(wave: np.ndarray, seconds: float, rate: int) -> np.ndarray:
    """The middle ``round(seconds * rate)`` samples of ``wave`` (a new float32 array).

    The crop starts at ``(len(wave) - n) // 2`` (an odd excess leaves the extra sample at the end).
    A wave no longer than the crop is returned whole (a copy); it is not padded here, the
    recognizer zero-pads every input to its clip length anyway."""
    wave = _wave(wave)
    n = int(round(seconds * rate))
    if n < 1:
        raise ValueError(f"crop length must be at least one sample, got {seconds} s at {rate} Hz")
    if len(wave) <= n:
        return wave.copy()
    start = (len(wave) - n) // 2
    return wave[start:start + n].copy()


def narrowband(wave: np.ndarray, rate: int, band_rate: int = NARROWBAND_RATE) -> np.ndarray:
    """``wave`` as a recording at ``band_rate`` gives it, back at ``rate``: resampled down and up (soxr 'HQ'),
    so nothing above ``band_rate / 2`` is left; the same length as ``wave``."""
    wave = _wave(wave)
    if not 0 < band_rate < rate:
        raise ValueError(f"band_rate must be between 0 and the wave's rate {rate} Hz, got {band_rate}")
    back = resample(resample(wave, rate, band_rate), band_rate, rate)
    out = np.zeros(len(wave), dtype=np.float32)
    out[:min(len(wave), len(back))] = back[:len(wave)]
    return out


def white_noise(n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` samples of white Gaussian noise of unit variance (float32), drawn from ``rng`` only."""
    if n < 0:
        raise ValueError(f"n must be non-negative, got {n}")
    return rng.standard_normal(n, dtype=np.float32)


@dataclass(frozen=True)
class LongTermSpectrum:
    """Long-term average power spectrum: ``power[k]`` at ``freqs[k]`` Hz (one-sided, arbitrary scale)."""

    freqs: np.ndarray
    power: np.ndarray
    rate: int
    frames: int  # how many analysis frames were averaged


def long_term_spectrum(reference_waves: Sequence[np.ndarray], rate: int, n_fft: int = LTAS_FFT) -> LongTermSpectrum:
    """The long-term average power spectrum of ``reference_waves`` (all at ``rate``).

    Each wave is cut into Hann-windowed frames of ``n_fft`` samples, hop ``n_fft // 2`` (a wave
    shorter than one frame is zero-padded to one); the power spectra of all frames of all waves
    are averaged, so longer utterances weigh more and silent frames add almost nothing."""
    window = np.hanning(n_fft).astype(np.float64)
    hop = n_fft // 2
    total = np.zeros(n_fft // 2 + 1, dtype=np.float64)
    frames = 0
    for wave in reference_waves:
        wave = _wave(wave).astype(np.float64)
        if len(wave) < n_fft:
            wave = np.pad(wave, (0, n_fft - len(wave)))
        starts = np.arange(0, len(wave) - n_fft + 1, hop)
        block = np.stack([wave[s:s + n_fft] for s in starts]) * window
        total += np.sum(np.abs(np.fft.rfft(block, axis=1)) ** 2, axis=0)
        frames += len(starts)
    if frames == 0:
        raise ValueError("speech-shaped noise needs at least one reference utterance")
    power = total / frames
    if not power.any():
        raise ValueError("the reference utterances are silent: no spectrum to shape noise with")
    return LongTermSpectrum(np.fft.rfftfreq(n_fft, 1.0 / rate), power, int(rate), frames)


def shape_noise(noise: np.ndarray, spectrum: LongTermSpectrum) -> np.ndarray:
    """Filter ``noise`` (white, at ``spectrum.rate``) so that its power spectrum follows ``spectrum``.

    Zero-phase filtering in the frequency domain over the whole signal: the rFFT of the noise is
    multiplied by the square root of the spectrum (linearly interpolated onto its bins); the
    result is scaled to unit RMS."""
    noise = _wave(noise)
    if len(noise) == 0:
        return noise.copy()
    freqs = np.fft.rfftfreq(len(noise), 1.0 / spectrum.rate)
    gain = np.sqrt(np.interp(freqs, spectrum.freqs, spectrum.power))
    shaped = np.fft.irfft(np.fft.rfft(noise.astype(np.float64)) * gain, n=len(noise))
    rms = float(np.sqrt(np.mean(shaped ** 2)))
    return (shaped / rms if rms > 0 else shaped).astype(np.float32)


def speech_shaped_noise(n: int, rng: np.random.Generator, reference_waves: Sequence[np.ndarray] | None, rate: int,
                        *, spectrum: LongTermSpectrum | None = None) -> np.ndarray:
    """``n`` samples (float32, unit RMS) of Gaussian noise with the long-term average spectrum of
    ``reference_waves`` (at ``rate``): :func:`white_noise` from ``rng`` shaped by
    :func:`long_term_spectrum` of the references (:func:`shape_noise`).

    The references should be training utterances, never the clips the noise is added to.  Pass a
    precomputed ``spectrum`` (then ``reference_waves`` may be None) to avoid recomputing it for
    every clip; the result is the same."""
    if spectrum is None:
        if reference_waves is None:
            raise ValueError("speech_shaped_noise needs reference_waves or a spectrum")
        spectrum = long_term_spectrum(reference_waves, rate)
    elif spectrum.rate != rate:
        raise ValueError(f"the spectrum is at {spectrum.rate} Hz, the noise is asked at {rate} Hz")
    return shape_noise(white_noise(n, rng), spectrum)


def active_mask(wave: np.ndarray, rate: int = SAMPLE_RATE, frame_seconds: float = ACTIVE_FRAME_SECONDS,
                floor_db: float = ACTIVE_FLOOR_DB) -> np.ndarray:
    """Boolean mask of the samples of active speech: those in non-overlapping ``frame_seconds``
    frames (the last one may be shorter) whose mean power is within ``floor_db`` of the loudest
    frame's.  All False for a silent wave."""
    wave = _wave(wave).astype(np.float64)
    frame = max(1, int(round(frame_seconds * rate)))
    n_frames = -(-len(wave) // frame)
    padded = np.pad(wave, (0, n_frames * frame - len(wave)))
    counts = np.full(n_frames, frame, dtype=np.float64)
    if n_frames:
        counts[-1] = len(wave) - (n_frames - 1) * frame
    power = np.sum(padded.reshape(n_frames, frame) ** 2, axis=1) / np.maximum(counts, 1)
    if not n_frames or power.max() <= 0:
        return np.zeros(len(wave), dtype=bool)
    active = power >= power.max() * 10.0 ** (-floor_db / 10.0)
    return np.repeat(active, frame)[:len(wave)]


def add_noise_at_snr(wave: np.ndarray, noise: np.ndarray, snr_db: float, *, rate: int = SAMPLE_RATE) -> np.ndarray:
    """``wave + g * noise[:len(wave)]`` (float32), with ``g`` such that the SNR is ``snr_db``.

    SNR = 10 log10(mean(wave**2) / mean((g * noise)**2)), both means taken over the same samples:
    the active speech of ``wave`` (:func:`active_mask`: 20 ms frames within 40 dB of the loudest).
    The noise is added over the whole clip.  ``noise`` must be at least as long as ``wave``; a
    silent wave, or noise that is zero over the active speech, raises ValueError."""
    wave, noise = _wave(wave), _wave(noise)
    if len(noise) < len(wave):
        raise ValueError(f"noise has {len(noise)} samples, fewer than the wave's {len(wave)}")
    noise = noise[:len(wave)]
    mask = active_mask(wave, rate)
    if not mask.any():
        raise ValueError("the wave is silent: no active speech to set an SNR against")
    p_speech = float(np.mean(wave[mask].astype(np.float64) ** 2))
    p_noise = float(np.mean(noise[mask].astype(np.float64) ** 2))
    if p_noise <= 0:
        raise ValueError("the noise is zero over the active speech")
    gain = np.sqrt(p_speech / (p_noise * 10.0 ** (snr_db / 10.0)))
    return (wave.astype(np.float64) + gain * noise.astype(np.float64)).astype(np.float32)


def measured_snr(clean: np.ndarray, noisy: np.ndarray, rate: int = SAMPLE_RATE) -> float:
    """The SNR (dB) of ``noisy = clean + noise`` by the definition of :func:`add_noise_at_snr`."""
    clean, noisy = _wave(clean).astype(np.float64), _wave(noisy).astype(np.float64)
    mask = active_mask(clean.astype(np.float32), rate)
    noise = noisy - clean
    return float(10.0 * np.log10(np.mean(clean[mask] ** 2) / np.mean(noise[mask] ** 2)))


def join_clips(waves: Sequence[np.ndarray], rate: int, gap_seconds: float = 0.0
               ) -> tuple[np.ndarray, list[tuple[float, float, int]]]:
    """Concatenate ``waves`` (in the given order) into one recording, with ``gap_seconds`` of
    silence between consecutive clips (none before the first or after the last).

    Returns the recording (float32) and one ``(start, end, index)`` per clip: its span in seconds
    from the start of the recording (``sample / rate``, end exclusive) and its index in
    ``waves``, through which the caller finds its label."""
    if gap_seconds < 0:
        raise ValueError(f"gap_seconds must be non-negative, got {gap_seconds}")
    gap = np.zeros(int(round(gap_seconds * rate)), dtype=np.float32)
    parts: list[np.ndarray] = []
    segments: list[tuple[float, float, int]] = []
    at = 0
    for i, wave in enumerate(waves):
        wave = _wave(wave)
        if i and len(gap):
            parts.append(gap)
            at += len(gap)
        parts.append(wave)
        segments.append((at / rate, (at + len(wave)) / rate, i))
        at += len(wave)
    recording = np.concatenate(parts) if parts else np.zeros(0, dtype=np.float32)
    return recording, segments


def majority_clip(start: float, end: float, segments: Sequence[tuple[float, float, int]]) -> int | None:
    """The index of the clip covering more than half of the window ``[start, end)``, else None."""
    best, best_overlap = None, 0.0
    for s, e, i in segments:
        overlap = min(end, e) - max(start, s)
        if overlap > best_overlap:
            best, best_overlap = i, overlap
    return best if best is not None and best_overlap > 0.5 * (end - start) else None


# ----------------------------------------------------------------------------------------------
# evaluation


def _wav_bytes(wave: np.ndarray, rate: int) -> bytes:
    """32-bit float WAV in memory: decodes to exactly these samples."""
    buf = io.BytesIO()
    sf.write(buf, np.asarray(wave, dtype=np.float32), rate, format="WAV", subtype="FLOAT")
    return buf.getvalue()


def _clip_rng(seed: int, condition: int, path: str) -> np.random.Generator:
    """A generator for one (condition, clip): independent of the order of the items."""
    return np.random.default_rng([int(seed), condition, zlib.crc32(path.encode("utf-8"))])


def _scores(true: list[str], predicted: list[str], labels: list[str]) -> dict:
    """WA, UA (balanced accuracy over the classes present in ``true``), the answer distribution."""
    n = len(true)
    out: dict = {"n": n}
    if not n:
        out.update(wa=None, ua=None, answers={label: 0.0 for label in labels}, top_answer=None)
        return out
    with warnings.catch_warnings():  # a class the model answers but the test part lacks is expected
        warnings.filterwarnings("ignore", message="y_pred contains classes not in y_true")
        ua = float(balanced_accuracy_score(true, predicted))
    counts = Counter(predicted)
    answers = {label: counts.get(label, 0) / n for label in labels}
    top = max(labels, key=lambda label: (answers[label], -labels.index(label)))
    out.update(wa=float(accuracy_score(true, predicted)), ua=ua, answers=answers,
               top_answer={"label": top, "fraction": answers[top], "count": counts.get(top, 0)})
    return out


def _classify(recognizer, waves: list[np.ndarray], batch_size: int,
              speakers: Sequence | None = None) -> list[str | AudioError]:
    """The label (or AudioError) of each wave; with ``speakers``, each speaker's waves are read after
    calibrating the recognizer on them (the decoded samples themselves: no WAV round trip)."""
    rate = recognizer.sample_rate
    if speakers is None:
        results = recognizer.predict_batch([_wav_bytes(w, rate) for w in waves], batch_size=batch_size)
        return [r if isinstance(r, AudioError) else r.label for r in results]
    answers: list = [None] * len(waves)
    for speaker in dict.fromkeys(speakers):
        indices = [i for i, s in enumerate(speakers) if s == speaker]
        recognizer.calibrate([waves[i] for i in indices], sample_rate=rate)
        clips = [_wav_bytes(waves[i], rate) for i in indices]
        for i, r in zip(indices, recognizer.predict_batch(clips, batch_size=batch_size)):
            answers[i] = r if isinstance(r, AudioError) else r.label
    return answers


def _condition(recognizer, waves, labels_true, batch_size, speakers=None, **info) -> tuple[dict, list]:
    answers = _classify(recognizer, waves, batch_size, speakers)
    kept = [(t, a) for t, a in zip(labels_true, answers) if not isinstance(a, AudioError)]
    failed = [str(a) for a in answers if isinstance(a, AudioError)]
    out = {**info, **_scores([t for t, _ in kept], [a for _, a in kept], recognizer.labels),
           "failed": len(failed)}
    if failed:
        out["failures"] = failed[:10]
    return out, answers


def _pack(order: list[int], durations: list[float], target: float, gap: float) -> list[list[int]]:
    """Consecutive runs of ``order``: a recording is closed once it reaches ``target`` seconds."""
    groups: list[list[int]] = [[]]
    length = 0.0
    for i in order:
        if groups[-1]:
            length += gap
        groups[-1].append(i)
        length += durations[i]
        if length >= target:
            groups.append([])
            length = 0.0
    return [g for g in groups if g]


def _joined(recognizer, waves, truth, paths, clip_answers, *, window, hop, seed, batch_size,
            target_seconds, gap_seconds, speakers=None) -> dict:
    """With ``speakers``, every recording is one speaker's clips, and the recognizer is calibrated on
    the recording before its timeline is read."""
    rate = recognizer.sample_rate
    order = [int(i) for i in np.random.default_rng([int(seed), 99]).permutation(len(waves))]
    durations = [len(w) / rate for w in waves]
    if speakers is None:
        groups = _pack(order, durations, target_seconds, gap_seconds)
    else:
        groups = [g for speaker in dict.fromkeys(speakers)
                  for g in _pack([i for i in order if speakers[i] == speaker], durations, target_seconds, gap_seconds)]
    win_true: list[str] = []
    win_pred: list[str] = []
    excluded = 0
    failed: list[str] = []
    scored_clips: set[int] = set()
    seconds = []
    for group in groups:
        recording, segments = join_clips([waves[i] for i in group], rate, gap_seconds)
        seconds.append(len(recording) / rate)
        try:
            if speakers is not None:
                recognizer.calibrate([recording], sample_rate=rate)
            result = recognizer.timeline(_wav_bytes(recording, rate), window=window, hop=hop, batch_size=batch_size)
        except AudioError as e:
            failed.append(str(e))
            continue
        for seg in result.timeline:
            k = majority_clip(seg.start, seg.end, segments)
            if k is None:
                excluded += 1
                continue
            clip = group[k]
            scored_clips.add(clip)
            win_true.append(truth[clip])
            win_pred.append(seg.label)
    out = {"window": window, "hop": hop, "gap_seconds": gap_seconds, "target_seconds": target_seconds,
           "recordings": len(groups), "recording_seconds": [round(s, 3) for s in seconds],
           "clips": len(waves), "windows": len(win_true) + excluded, "excluded_no_majority": excluded,
           "failed": len(failed), **{f"timeline_{k}": v for k, v in
                                     _scores(win_true, win_pred, recognizer.labels).items()}}
    if failed:
        out["failures"] = failed[:10]

    def per_clip(indices) -> dict:
        ok = [i for i in indices if not isinstance(clip_answers[i], AudioError)]
        return _scores([truth[i] for i in ok], [clip_answers[i] for i in ok], recognizer.labels)

    every, scored = per_clip(range(len(waves))), per_clip(sorted(scored_clips))
    out.update(clip_wa=every["wa"], clip_ua=every["ua"], clips_scored=len(scored_clips),
               clip_wa_scored=scored["wa"], clip_ua_scored=scored["ua"],
               clips_never_majority=sorted(Path(paths[i]).name for i in set(range(len(waves))) - scored_clips))
    return out


def _key_seconds(seconds: float) -> str:
    return f"{seconds:g}s"


def evaluate_robustness(recognizer, items: list[tuple[str | os.PathLike, str]], *,
                        crops: Sequence[float] = (0.7, 1.0, 2.0), snrs: Sequence[float] = (20, 10),
                        noises: Sequence[str] = NOISES, narrow: bool = True, joined: bool = True,
                        window: float | None = None, hop: float | None = None, seed: int = 0,
                        noise_reference: list[str | os.PathLike] | None = None, batch_size: int = 32,
                        joined_seconds: float = JOINED_SECONDS, gap_seconds: float = 0.0,
                        speakers: Sequence | None = None) -> dict:
    """Accuracy of ``recognizer`` on ``items`` (the test part: ``(path, label)`` pairs) under
    every condition of the robustness issue; see the module docstring for the definitions.

    Returns a JSON-ready dict: ``conditions`` (``full``, ``crop_<s>s``, ``<noise>_<snr>dB``, each
    with ``n``, ``wa``, ``ua``, ``answers`` (fraction of answers per model label, summing to 1),
    ``top_answer`` and ``failed``; ``narrowband_8kHz`` with ``narrow``), ``joined`` (timeline WA/UA over
    scored windows, windows excluded for want of a majority clip, the per-clip WA/UA of all joined clips
    and of the scored ones),
    ``skipped_labels`` (labels the model does not know: items skipped, per label), ``decode_failures``
    (items that could not be decoded: path and message) and ``definitions``.

    ``noise_reference`` (training-side utterances, required for speech-shaped noise) must not
    share a file with ``items``.  ``window``/``hop`` default to what a user's timeline reads
    (:meth:`Recognizer.timeline_span`).  Recordings are joined in a seeded random order, each closed once
    it reaches ``joined_seconds``, with ``gap_seconds`` of silence between clips.

    ``speakers`` (the speaker of each item, any hashable value) is required for a recognizer of a per-speaker-normalised
    model and ignored otherwise: each speaker's clips are then read after calibrating on them, in
    every condition (module docstring)."""
    unknown_noise = sorted(set(noises) - set(NOISES))
    if unknown_noise:
        raise ValueError(f"unknown noise type(s) {unknown_noise}; choose from {', '.join(NOISES)}")
    per_speaker = recognizer.per_speaker
    if per_speaker and (speakers is None or len(speakers) != len(items)):
        raise ValueError(f"{recognizer.path or 'this model'} was trained with per-speaker normalisation: "
                         "evaluating it needs the speaker of every item (speakers=)")
    rate = recognizer.sample_rate
    labels = list(recognizer.labels)
    window, hop = (float(v) for v in recognizer.timeline_span(window, hop))

    skipped = Counter(str(label) for _, label in items if str(label) not in labels)
    speaker_of = dict(zip((str(p) for p, _ in items), speakers)) if per_speaker else {}
    known = [(str(p), str(label)) for p, label in items if str(label) in labels]
    spectrum = None
    reference_info: dict = {}
    if "speech" in noises and snrs:
        if not noise_reference:
            raise ValueError("speech-shaped noise needs noise_reference: utterances from the training side")
        test_files = {os.path.realpath(p) for p, _ in items}
        shared = sorted(str(p) for p in noise_reference if os.path.realpath(p) in test_files)
        if shared:
            raise ValueError(f"{len(shared)} noise reference file(s) are also test items (e.g. {shared[0]}); "
                             "take the reference from the training part")
        ref_waves, ref_failed = [], []
        for p in noise_reference:
            try:
                ref_waves.append(load_audio(p, rate))
            except AudioError as e:
                ref_failed.append(str(e))
        spectrum = long_term_spectrum(ref_waves, rate)
        reference_info = {"files": len(ref_waves), "seconds": round(sum(len(w) for w in ref_waves) / rate, 1),
                          "frames": spectrum.frames, "failed": len(ref_failed)}

    waves, truth, paths, decode_failures = [], [], [], []
    for path, label in known:
        try:
            waves.append(load_audio(path, rate))
        except AudioError as e:
            decode_failures.append({"path": path, "error": str(e)})
            continue
        truth.append(label)
        paths.append(path)
    by_speaker = [speaker_of[p] for p in paths] if per_speaker else None

    conditions: dict = {}
    full, clip_answers = _condition(recognizer, waves, truth, batch_size, by_speaker, kind="full")
    conditions["full"] = full
    for seconds in crops:
        cropped = [centre_crop(w, seconds, rate) for w in waves]
        n_crop = int(round(seconds * rate))
        conditions[f"crop_{_key_seconds(seconds)}"] = _condition(
            recognizer, cropped, truth, batch_size, by_speaker, kind="crop", seconds=float(seconds),
            shorter_than_crop=sum(len(w) <= n_crop for w in waves))[0]
    for noise_name in noises if snrs else ():  # no SNR asked: no noise to draw
        code = NOISES.index(noise_name) + 1
        base = []
        for w, p in zip(waves, paths):
            rng = _clip_rng(seed, code, p)  # one draw per clip, rescaled for every SNR (paired comparison)
            base.append(white_noise(len(w), rng) if noise_name == "white"
                        else speech_shaped_noise(len(w), rng, None, rate, spectrum=spectrum))
        for snr in snrs:
            noisy = [add_noise_at_snr(w, n, snr, rate=rate) for w, n in zip(waves, base)]
            conditions[f"{noise_name}_{snr:g}dB"] = _condition(
                recognizer, noisy, truth, batch_size, by_speaker, kind="noise", noise=noise_name,
                snr_db=float(snr))[0]
    if narrow:
        conditions[NARROWBAND] = _condition(
            recognizer, [narrowband(w, rate) for w in waves], truth, batch_size, by_speaker, kind="narrowband",
            band_rate=NARROWBAND_RATE)[0]

    result: dict = {
        "model": {"path": str(recognizer.path or ""), "labels": labels,
                  "sample_rate": rate, "clip_seconds": float(recognizer.clip_seconds)},
        "seed": int(seed),
        "items": len(items),
        "evaluated": len(waves),
        "skipped_labels": dict(sorted(skipped.items())),
        "decode_failures": decode_failures,
        "conditions": conditions,
        "joined": None,
        "noise_reference": reference_info or None,
        "definitions": {
            "wa": "accuracy", "ua": "sklearn balanced accuracy over the classes present in the truth",
            "crop": "middle round(s*rate) samples, start (len-n)//2; clips no longer than the crop kept whole; "
                    "the model zero-pads to its clip length",
            "snr": f"10 log10 of speech over noise mean square, both over the clean clip's active speech "
                   f"({ACTIVE_FRAME_SECONDS * 1000:g} ms frames within {ACTIVE_FLOOR_DB:g} dB of the loudest); "
                   "noise added over the whole clip, which the model then reads like a clean one",
            "speech_noise": f"white Gaussian noise filtered by the sqrt of the long-term average power spectrum "
                            f"({LTAS_FFT}-point Hann frames, hop {LTAS_FFT // 2}) of the noise_reference "
                            "utterances (training side, no test file)",
            "narrowband": f"resampled to {NARROWBAND_RATE} Hz and back (soxr HQ): nothing above "
                          f"{NARROWBAND_RATE // 2} Hz, as a telephone-rate recording",
            "window_scoring": "a timeline window is scored against the clip covering more than half of it; "
                              "windows without such a clip are excluded and counted",
        },
    }
    if per_speaker:
        result["calibration"] = {"speakers": len(set(by_speaker)), "definition": (
            "per-speaker normalisation: each speaker's reference is taken from their own clips in the same "
            "condition; joined recordings are one speaker's clips each, calibrated on themselves")}
    if joined and waves:
        result["joined"] = _joined(recognizer, waves, truth, paths, clip_answers, window=window, hop=hop, seed=seed,
                                   batch_size=batch_size, target_seconds=joined_seconds, gap_seconds=gap_seconds,
                                   speakers=by_speaker)
    return result


# ----------------------------------------------------------------------------------------------
# reporting


def _target(name: str, measured, reference, limit: float, what: str, higher_is_worse: bool = True) -> dict:
    if measured is None or (reference is None and higher_is_worse):
        return {"target": name, "description": what, "met": None, "note": "not measured"}
    gap = (reference - measured) if higher_is_worse else measured
    missed = gap - limit
    return {"target": name, "description": what, "measured": measured, "reference": reference,
            "gap": gap, "limit": limit, "met": bool(missed <= 1e-12), "missed_by": max(0.0, missed)}


def targets_report(result: dict) -> list[dict]:
    """The issue's four targets against ``result`` (from :func:`evaluate_robustness`), by WA.

    Each entry: ``target``, ``description``, ``measured``, ``reference``, ``gap`` (points below the
    reference, as a fraction; for the 0.7 s target the largest answer fraction), ``limit``,
    ``met`` (None when not measured) and ``missed_by`` (how far over the limit; 0 when met).
    Drops are one-sided: doing better than the reference always meets a target."""
    cond = result.get("conditions", {})
    full = (cond.get("full") or {}).get("wa")
    out = []
    one = cond.get("crop_1s") or {}
    out.append(_target("crop_1s", one.get("wa"), full, TARGETS["crop_1s"],
                       "1 s centre crops: WA within 10 points of full clips"))
    short = cond.get("crop_0.7s") or {}
    top = (short.get("top_answer") or {})
    entry = _target("crop_0.7s_top", top.get("fraction"), None, TARGETS["crop_0.7s_top"],
                    "0.7 s centre crops: no class over 40% of the answers", higher_is_worse=False)
    if top:
        entry["class"] = top.get("label")
    out.append(entry)
    joined = result.get("joined") or {}
    out.append(_target("joined", joined.get("timeline_wa"), joined.get("clip_wa_scored"), TARGETS["joined"],
                       "joined-clip timeline: window WA within 10 points of the per-clip WA of the same clips"))
    noisy = [k for k, v in cond.items() if v.get("kind") == "noise" and v.get("snr_db") == 10.0]
    if not noisy:
        out.append(_target("snr_10dB", None, None, TARGETS["snr_10dB"], "10 dB SNR: WA within 15 points of clean"))
    for k in noisy:
        out.append(_target(k, cond[k].get("wa"), full, TARGETS["snr_10dB"],
                           f"10 dB SNR ({cond[k]['noise']} noise): WA within 15 points of clean"))
    return out


def _f(x, digits: int = 3) -> str:
    return "-" if x is None else f"{x:.{digits}f}"


def robustness_markdown(result: dict) -> str:
    """Compact Markdown tables: one row per condition, the joined-recording row, the targets."""
    labels = result["model"]["labels"]
    lines = ["| condition | n | WA | UA | top answer | " + " | ".join(labels) + " |",
             "|---|---|---|---|---|" + "---|" * len(labels)]
    for name, c in result["conditions"].items():
        top = c.get("top_answer")
        top_text = f"{top['label']} {top['fraction']:.2f}" if top else "-"
        lines.append(f"| {name} | {c['n']} | {_f(c['wa'])} | {_f(c['ua'])} | {top_text} | "
                     + " | ".join(f"{c['answers'][label]:.2f}" for label in labels) + " |")
    j = result.get("joined")
    if j:
        top = j.get("timeline_top_answer")
        top_text = f"{top['label']} {top['fraction']:.2f}" if top else "-"
        answers = j.get("timeline_answers", {})
        lines.append(f"| timeline ({j['window']:g} s / {j['hop']:g} s) | {j['timeline_n']} | {_f(j['timeline_wa'])} | "
                     f"{_f(j['timeline_ua'])} | {top_text} | "
                     + " | ".join(f"{answers.get(label, 0.0):.2f}" for label in labels) + " |")
        lines += ["", f"Joined: {j['recordings']} recordings of {j['clips']} clips; {j['windows']} windows, "
                      f"{j['excluded_no_majority']} excluded (no clip covers more than half); per-clip WA "
                      f"{_f(j['clip_wa'])} (all clips), {_f(j['clip_wa_scored'])} (the {j['clips_scored']} clips "
                      "that are the majority of a scored window)."]
    notes = []
    if result.get("calibration"):
        notes.append(f"calibrated per speaker ({result['calibration']['speakers']} speakers): "
                     + result["calibration"]["definition"])
    if result.get("skipped_labels"):
        notes.append("skipped (labels the model lacks): "
                     + ", ".join(f"{k} {v}" for k, v in result["skipped_labels"].items()))
    if result.get("decode_failures"):
        notes.append(f"decode failures: {len(result['decode_failures'])}")
    if notes:
        lines += ["", "; ".join(notes) + "."]
    lines += ["", "| target | measured | reference | gap | limit | verdict |", "|---|---|---|---|---|---|"]
    for t in targets_report(result):
        if t["met"] is None:
            lines.append(f"| {t['description']} | - | - | - | - | not measured |")
            continue
        verdict = "met" if t["met"] else f"missed by {100 * t['missed_by']:.1f} points"
        measured = _f(t["measured"]) + (f" ({t['class']})" if t.get("class") else "")
        lines.append(f"| {t['description']} | {measured} | {_f(t['reference'])} | {_f(t['gap'])} | "
                     f"{t['limit']:.2f} | {verdict} |")
    return "\n".join(lines) + "\n"


__all__ = [
    "LongTermSpectrum", "NARROWBAND", "NOISES", "TARGETS", "active_mask", "add_noise_at_snr", "centre_crop",
    "evaluate_robustness", "join_clips", "long_term_spectrum", "majority_clip", "measured_snr", "narrowband",
    "robustness_markdown", "shape_noise", "speech_shaped_noise", "targets_report", "white_noise",
]
