"""Every setting of emovit and its default, in one place: the front ends, the augmented views, the
training stages, and the recipe that bundles them for `reproduce` and `compare`.

Defaults are the paper's (Kim & Lee 2024) where it gives them; `recipes/*.toml` in the package are
named recipes (`paper`, ...), read with :func:`load_recipe` and overridden field by field from the
command line. A run directory records the resolved recipe in config.json, and
:func:`check_resume` is the one place that decides whether a run may be resumed with given settings.
"""
from __future__ import annotations

import hashlib
import json
import sys
from dataclasses import asdict, dataclass, field, fields, replace
from importlib import resources
from pathlib import Path
from typing import Any, ClassVar

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

SAMPLE_RATE = 16000  # every log-Mel model hears 16 kHz mono
CLIP_SECONDS = 4.0  # and 4 s of it per forward pass
PADS = ("zeros", "repeat")


def _fingerprint(settings: dict) -> str:
    return hashlib.sha1(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]


# ----------------------------------------------------------------------------------------------
# front ends


@dataclass(frozen=True)
class LogMelConfig:
    """The paper's log-Mel image: STFT n_fft 1024 / hop 64 / 512-sample Hamming window, 128 Slaney mel
    bands, dB below the clip's peak with an 80 dB floor, the time axis resized to 128."""

    kind: ClassVar[str] = "logmel"
    sample_rate: int = SAMPLE_RATE
    clip_seconds: float = CLIP_SECONDS
    n_fft: int = 1024
    hop_length: int = 64
    win_length: int = 512
    n_mels: int = 128
    top_db: float = 80.0
    image_size: tuple[int, int] = (128, 128)  # (mel bands, time steps)
    pad: str = "zeros"  # a recording shorter than the clip: zeros after it (the paper's), or "repeat" it
    crop: ClassVar[str] = "start"  # the clip is the recording's first clip_seconds

    def __post_init__(self):
        if self.pad not in PADS:
            raise ValueError(f"pad must be one of {', '.join(PADS)}, not {self.pad!r}")

    @property
    def clip_samples(self) -> int:
        return int(round(self.sample_rate * self.clip_seconds))

    def to_dict(self) -> dict:
        return {"kind": self.kind, **asdict(self)}

    @classmethod
    def from_dict(cls, d: dict) -> "LogMelConfig":
        d = {k: v for k, v in d.items() if k != "kind"}
        d["image_size"] = tuple(d["image_size"])
        return cls(**d)

    def fingerprint(self) -> str:
        """Names cached images: equal settings, equal fingerprint (the paper's settings keep the name
        they had before `kind` and `pad` existed)."""
        settings = asdict(self)
        if settings["pad"] == "zeros":
            del settings["pad"]
        return _fingerprint(settings)


# `mean_signal_length` per corpus (samples at 22050 Hz) of TIM-Net's code (Jiaxin-Ye/TIM-Net_SER)
TIMNET_SIGNAL_LENGTH = {"casia": 88000, "emodb": 96000, "emovo": 96000, "iemocap": 310000, "ravdess": 110000,
                        "savee": 130000}
PAD_MODES = ("constant", "reflect")


@dataclass(frozen=True)
class MfccConfig:
    """TIM-Net's input: librosa's default MFCCs at 22050 Hz (n_fft 2048, hop 512, Hann, 128 mel bands,
    dB with an 80 dB floor, DCT-II ortho, 39 kept) of a clip padded or cropped about its centre."""

    kind: ClassVar[str] = "mfcc"
    sample_rate: int = 22050
    clip_samples: int = TIMNET_SIGNAL_LENGTH["emodb"]
    n_fft: int = 2048
    hop_length: int = 512
    n_mels: int = 128
    n_mfcc: int = 39
    top_db: float = 80.0
    pad_mode: str = "constant"  # librosa >= 0.9's STFT end padding; "reflect" before
    crop: ClassVar[str] = "centre"

    def __post_init__(self):
        if self.pad_mode not in PAD_MODES:
            raise ValueError(f"pad_mode must be one of {PAD_MODES}, not {self.pad_mode!r}")
        if self.n_mfcc > self.n_mels:
            raise ValueError(f"n_mfcc={self.n_mfcc} exceeds n_mels={self.n_mels}")

    @classmethod
    def for_corpus(cls, corpus: str, **overrides) -> "MfccConfig":
        """TIM-Net's settings for one corpus (its clip length); `overrides` replace fields."""
        if corpus not in TIMNET_SIGNAL_LENGTH:
            raise ValueError(f"no TIM-Net clip length for {corpus!r}; known: {', '.join(TIMNET_SIGNAL_LENGTH)}")
        return cls(**{"clip_samples": TIMNET_SIGNAL_LENGTH[corpus], **overrides})

    @property
    def clip_seconds(self) -> float:
        return self.clip_samples / self.sample_rate

    @property
    def frames(self) -> int:
        return 1 + self.clip_samples // self.hop_length  # centred frames

    @property
    def image_size(self) -> tuple[int, int]:
        """(coefficients, frames): 39 x 188 for EmoDB's 96000 samples."""
        return (self.n_mfcc, self.frames)

    def to_dict(self) -> dict:
        return {"kind": self.kind, **asdict(self)}

    @classmethod
    def from_dict(cls, d: dict) -> "MfccConfig":
        return cls(**{k: v for k, v in d.items() if k not in ("kind", "image_size")})

    def fingerprint(self) -> str:
        return _fingerprint({"kind": "mfcc", **asdict(self)})


FrontEndSettings = LogMelConfig | MfccConfig
FRONT_ENDS: dict[str, type] = {"logmel": LogMelConfig, "mfcc": MfccConfig}


def frontend_from_dict(d: dict) -> FrontEndSettings:
    """A saved front-end config; files written before `kind` existed are log-Mel."""
    kind = d.get("kind", "logmel")
    if kind not in FRONT_ENDS:
        raise ValueError(f"unknown front end {kind!r}; known: {', '.join(FRONT_ENDS)}")
    return FRONT_ENDS[kind].from_dict(d)


# ----------------------------------------------------------------------------------------------
# augmented views


NOISE_KINDS = ("white", "speech")  # the noise view's noise: white Gaussian, or shaped like the clip
IMAGE_NOISES = ("speech", "white", "mixed")  # noise mixed into training images (stage.noise_kind)


@dataclass(frozen=True)
class AugmentConfig:
    """The paper's three augmentations, made once per training clip as extra views (the paper names
    them without parameters; these ranges are ours, from common practice in SER work)."""

    views: int = 4  # original + one copy per augmentation; 1 = no augmentation
    noise_snr_db: tuple[float, float] = (15.0, 30.0)  # noise at an SNR drawn from this range
    shift_seconds: float = 0.5  # time shift of up to this much either way, zero fill
    speed_factors: tuple[float, float] = (0.9, 1.1)  # Kaldi-style speed perturbation
    noise_kind: str = "white"  # or "speech": noise with the clip's own spectrum (augment.clip_shaped_noise)

    def __post_init__(self):
        if self.noise_kind not in NOISE_KINDS:
            raise ValueError(f"noise_kind must be one of {', '.join(NOISE_KINDS)}, not {self.noise_kind!r}")

    def fingerprint(self) -> str:
        """Names cached augmented copies: other ranges, other copies (white noise, the setting's
        default, is left out so that copies cached before the setting existed keep their name)."""
        settings = asdict(self) | {"views": None}
        if self.noise_kind == "white":
            del settings["noise_kind"]
        return _fingerprint(settings)


# ----------------------------------------------------------------------------------------------
# training


SELECTIONS = ("best", "last")
OPTIMIZERS = ("adam", "adamw")
SCHEDULES = ("step", "constant", "cosine")


@dataclass(frozen=True)
class StageConfig:
    """Optimiser, schedule and model selection of one training stage. Defaults are the paper's."""

    epochs: int = 50
    batch_size: int = 4
    optimizer: str = "adam"  # adam or adamw
    lr: float = 1e-4
    betas: tuple[float, float] = (0.9, 0.999)
    weight_decay: float = 0.0
    schedule: str = "step"  # step: halve every lr_halve_every epochs; constant; cosine (per step, after warm-up)
    lr_halve_every: int = 10
    warmup_epochs: int = 0  # cosine: the learning rate rises linearly from 0 over these epochs
    label_smoothing: float = 0.0
    views: int | None = None  # how many of the cached views of a clip a step draws from (None: all)
    alpha: float = 10.0  # weight of the L1 feature matching in the student's stage 3
    kd_weight: float = 0.0  # student's stage 3: + kd_weight * T^2 * KL(teacher || student) of logits at T
    kd_temperature: float = 4.0
    ema_decay: float = 0.0  # > 0: an exponential moving average of the weights is validated and kept
    # > 0: a network's TIM-Net branch or expert (student-tim, student-duo) trains at this learning rate with TIM-Net's
    # published optimiser settings (betas 0.93/0.98, no weight decay; recipes/timnet.toml), on the stage's
    # schedule, while the rest keeps the stage's: the two parts each at the pace its own recipe found
    temporal_lr: float = 0.0
    # > 0: + this weight x the mean squared error of a linear map of the pooled feature to the clip's openSMILE
    # ComParE functionals (standardised, PCA to functionals_dims on the training part): the classical features
    # taught to the network during training; the map is dropped afterwards, so inference is unchanged
    functionals_weight: float = 0.0
    functionals_dims: int = 64
    # > 0: + this weight x the cross-entropy of the logits against a classical classifier's probabilities for the
    # clip (logistic regression on its ComParE functionals), each training speaker's clips scored by one fitted
    # on the other training speakers: how a new speaker's clip looks to the model that generalises best to new
    # speakers here, taught to the network (emovit.baseline.cross_fitted_probabilities); inference is unchanged
    classical_kd_weight: float = 0.0
    # > 0: a speaker classifier on the pooled feature behind a reversed gradient (DANN, Ganin & Lempitsky 2015),
    # ramped to this scale over the stage: the network learns features the adversary cannot tell speakers by;
    # the classifier is dropped afterwards, so inference is unchanged
    speaker_adversarial: float = 0.0
    # per-step augmentation of the (normalised) images, in stages with labels only (emovit.batch_augment)
    freq_masks: int = 0  # SpecAugment: this many frequency masks of up to freq_width mel bins
    freq_width: int = 0
    time_masks: int = 0  # and time masks of up to time_width frames
    time_width: int = 0
    crop_prob: float = 0.0  # with this probability keep a random span of >= crop_min_frames frames (16: 0.5 s
    crop_min_frames: int = 16  # of a 4 s image), placed anywhere in the frame, silence elsewhere (short utterances)
    freq_warp: float = 0.0  # > 0: each image's mel axis scaled by a factor in 1 +- this (other vocal tracts)
    noise_prob: float = 0.0  # with this probability noise (noise_kind) is mixed into an image, at an SNR (dB)
    noise_snr: tuple[float, float] = (0.0, 20.0)  # uniform in this range (log-Mel images, global normalisation)
    noise_kind: str = "speech"  # speech-shaped, "white", or "mixed" (either, drawn per image)
    band_prob: float = 0.0  # with this probability the mel bins above a random cutoff are silenced, at least
    band_min_bins: int = 93  # this many kept (93 of 128: 3.4 kHz): narrowband recordings, telephone and codecs
    mixup_alpha: float = 0.0  # mixup with Beta(alpha, alpha) weights on a fraction mixup_prob of batches
    mixup_prob: float = 0.0
    select: str = "best"  # "best" validation epoch or "last"
    checkpoint_every: int = 200  # steps; a checkpoint is also written at every epoch end
    compile: bool = False  # torch.compile the training step (speed only: the same arithmetic up to rounding,
    # a C++ compiler on CPU, a few minutes of compiling first; emovit.stages)

    @property
    def augments_batches(self) -> bool:
        """Whether a step changes its images or labels (masks, crops, warps, noise, band limits, mixup)."""
        return bool(self.freq_masks or self.time_masks or self.crop_prob or self.freq_warp or self.noise_prob
                    or self.band_prob or self.mixup_prob)

    def __post_init__(self):
        if self.select not in SELECTIONS:
            raise ValueError(f"select must be one of {', '.join(SELECTIONS)}, not {self.select!r}")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {', '.join(OPTIMIZERS)}, not {self.optimizer!r}")
        if self.schedule not in SCHEDULES:
            raise ValueError(f"schedule must be one of {', '.join(SCHEDULES)}, not {self.schedule!r}")
        if self.views is not None and self.views < 1:
            raise ValueError(f"views must be at least 1 (or None for all), not {self.views}")
        if self.epochs < 1 or self.batch_size < 1 or self.lr_halve_every < 1:
            raise ValueError("epochs, batch_size and lr_halve_every must be at least 1")
        for name in ("label_smoothing", "crop_prob", "noise_prob", "band_prob", "mixup_prob"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], not {getattr(self, name)}")
        if self.noise_kind not in IMAGE_NOISES:
            raise ValueError(f"noise_kind must be one of {', '.join(IMAGE_NOISES)}, not {self.noise_kind!r}")
        if len(self.noise_snr) != 2 or self.noise_snr[0] > self.noise_snr[1]:
            raise ValueError(f"noise_snr must be [low, high] in dB with low <= high, not {list(self.noise_snr)}")
        if not 0.0 <= self.freq_warp < 1.0:
            raise ValueError(f"freq_warp must be in [0, 1), not {self.freq_warp}")
        if not 0.0 <= self.ema_decay < 1.0:
            raise ValueError(f"ema_decay must be in [0, 1), not {self.ema_decay}")
        if self.mixup_prob and self.mixup_alpha <= 0:
            raise ValueError("mixup_prob > 0 needs mixup_alpha > 0 (the Beta distribution's parameter)")
        if self.functionals_weight < 0 or self.functionals_dims < 1:
            raise ValueError("functionals_weight must be at least 0 and functionals_dims at least 1")
        if self.temporal_lr < 0:
            raise ValueError(f"temporal_lr must be at least 0 (0: the stage's lr), not {self.temporal_lr}")
        if self.classical_kd_weight < 0:
            raise ValueError(f"classical_kd_weight must be at least 0, not {self.classical_kd_weight}")
        if self.speaker_adversarial < 0:
            raise ValueError(f"speaker_adversarial must be at least 0, not {self.speaker_adversarial}")
        if self.kd_weight < 0 or self.kd_temperature <= 0 or self.warmup_epochs < 0:
            raise ValueError("kd_weight and warmup_epochs must be at least 0, kd_temperature above 0")
        if min(self.freq_masks, self.freq_width, self.time_masks, self.time_width) < 0 or self.crop_min_frames < 1:
            raise ValueError("mask counts and widths must be at least 0, crop_min_frames at least 1")
        if self.band_min_bins < 1:
            raise ValueError(f"band_min_bins must be at least 1, not {self.band_min_bins}")



# ----------------------------------------------------------------------------------------------
# recipes


PRECISIONS = ("auto", "fp32", "bf16")
RECIPE_MODELS = ("teacher", "student", "plain")  # reproduce's models; the student learns from the teacher
# networks reproduce's student and plain may be (registry names, emovit.models.MODELS): the paper's student,
# and variants beyond the paper within its budget (<= 1.5M parameters, <= 0.2 GMACs as run)
STUDENT_NETWORKS = ("student", "student-learned", "student-conv", "student-stem", "student-level", "student-tim",
                    "student-duo")


@dataclass(frozen=True)
class Recipe:
    """Everything `reproduce` and `compare` train with, besides the corpus and the protocol.

    `stage` applies to every stage; `per_model` overrides its fields for the stages of one model
    (e.g. {"timnet": {"lr": 1e-3}}), by model name (teacher, student, plain, or a compare name).
    """

    name: str = "paper"
    seed: int = 0
    precision: str = "auto"
    baseline: str | None = "ComParE_2016"  # openSMILE functionals + SVM on the same split; None: skip
    models: tuple[str, ...] = RECIPE_MODELS
    teacher_depth: int = 6
    student_depth: int = 3
    student_network: str = "student"  # one of STUDENT_NETWORKS, for both the KT and the CE-only student
    patch_size: tuple[int, int] = (128, 1)
    dropout: float = 0.0  # in the ViTs' attention and feed-forward layers
    drop_path: float = 0.0  # stochastic depth of the ViTs' last layer, less in earlier ones (models.vit.Transformer)
    normalization: str = "global"  # "utterance" / "speaker": bands centred on the clip's / its speaker's mean first (features.Normalizer)
    init_from: str | None = None  # a model file whose weights start the run's networks of its shape (emovit.warm_start)
    frontend: LogMelConfig = field(default_factory=LogMelConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    stage: StageConfig = field(default_factory=StageConfig)
    per_model: dict[str, dict[str, Any]] = field(default_factory=dict)

    def __post_init__(self):
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, not {self.precision!r}")
        unknown = set(self.models) - set(RECIPE_MODELS)
        if unknown or not self.models:
            raise ValueError(f"unknown or no model(s) {sorted(unknown)}; choose from {', '.join(RECIPE_MODELS)}")
        if "student" in self.models and "teacher" not in self.models:
            raise ValueError("the student (knowledge transfer) learns from the teacher: models must include teacher")
        if self.student_network not in STUDENT_NETWORKS:
            raise ValueError(f"student_network must be one of {', '.join(STUDENT_NETWORKS)}, "
                             f"not {self.student_network!r}")
        if "student" in self.models and self.student_network == "student-duo":
            raise ValueError("student_network student-duo cannot be the knowledge-transfer student: its pooled "
                             "feature is the CLS and TIM-Net's side by side, not a match for the teacher's; train "
                             "it CE only (models without student)")
        if self.normalization not in ("global", "utterance", "speaker"):
            raise ValueError(f"normalization must be global, utterance or speaker, not {self.normalization!r}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), not {self.dropout}")
        if not 0.0 <= self.drop_path < 1.0:
            raise ValueError(f"drop_path must be in [0, 1), not {self.drop_path}")
        stage_fields = {f.name for f in fields(StageConfig)}
        for model, overrides in self.per_model.items():
            bad = set(overrides) - stage_fields
            if bad:
                raise ValueError(f"per_model.{model}: unknown stage setting(s) {sorted(bad)}; "
                                 f"known: {', '.join(sorted(stage_fields))}")
            self.stage_for(model)  # values checked by StageConfig

    def stage_for(self, model: str) -> StageConfig:
        """The stage settings of `model`'s stages: `stage` with its `per_model` overrides."""
        overrides = self.per_model.get(model, {})
        return replace(self.stage, **_typed(StageConfig, overrides)) if overrides else self.stage

    def to_dict(self) -> dict:
        """Plain JSON-able settings (tuples as lists), as config.json records them."""
        return json.loads(json.dumps(asdict(self)))

    @classmethod
    def from_dict(cls, d: dict) -> "Recipe":
        d = dict(d)
        sections = {"frontend": LogMelConfig, "augment": AugmentConfig, "stage": StageConfig}
        for key, kind in sections.items():
            if key in d:
                d[key] = kind(**_typed(kind, d[key]))
        return cls(**_typed(cls, d))

    def with_overrides(self, overrides: dict[str, Any]) -> "Recipe":
        """A copy with settings replaced: keys are Recipe fields or "section.field" (e.g. "stage.lr",
        "augment.views"); values of None are ignored (an option the user did not give).  A "stage.*"
        setting applies to every model: it replaces the same setting in `per_model` too."""
        d = self.to_dict()
        for key, value in overrides.items():
            if value is None:
                continue
            section, _, name = key.rpartition(".")
            target = d[section] if section else d
            if section and section not in ("frontend", "augment", "stage"):
                raise ValueError(f"unknown recipe section {section!r} in {key!r}")
            if name not in target:
                raise ValueError(f"unknown recipe setting {key!r}")
            target[name] = list(value) if isinstance(value, tuple) else value
            if section == "stage":
                for model_overrides in d["per_model"].values():
                    model_overrides.pop(name, None)
        return Recipe.from_dict(d)


def _typed(kind: type, values: dict) -> dict:
    """`values` with lists turned into tuples where `kind`'s defaults are tuples (TOML and JSON have no
    tuples); unknown keys are refused with the known ones listed."""
    known = {f.name: f for f in fields(kind)}
    unknown = set(values) - set(known)
    if unknown:
        raise ValueError(f"unknown {kind.__name__} setting(s) {sorted(unknown)}; known: {', '.join(sorted(known))}")
    out = {}
    for key, value in values.items():
        default = known[key].default
        out[key] = tuple(value) if isinstance(value, list) and isinstance(default, tuple) else value
    return out


RECIPES_PACKAGE = "emovit.recipes"


def recipe_names() -> list[str]:
    """The recipes shipped with emovit (src/emovit/recipes/NAME.toml)."""
    return sorted(p.name[:-5] for p in resources.files(RECIPES_PACKAGE).iterdir() if p.name.endswith(".toml"))


def load_recipe(name_or_path: str | Path, _bases: tuple[str, ...] = ()) -> Recipe:
    """A recipe by name (one of :func:`recipe_names`) or from a TOML file; ValueError lists the
    valid names when neither exists, and names the file and setting when one is wrong. A recipe with
    `base = "NAME"` (or a .toml path beside it) is that recipe with its own settings laid over it, table by
    table, so a variant names only what it changes."""
    text, where = None, str(name_or_path)
    if where in _bases:
        raise ValueError(f"recipe {where} is its own base ({' -> '.join((*_bases, where))})")
    path = Path(name_or_path)
    if path.suffix == ".toml" or path.is_file():
        if not path.is_file():
            raise ValueError(f"{path}: no such recipe file")
        text = path.read_text()
    else:
        entry = resources.files(RECIPES_PACKAGE).joinpath(f"{name_or_path}.toml")
        if not entry.is_file():
            raise ValueError(f"unknown recipe {str(name_or_path)!r}; choose one of {', '.join(recipe_names())} "
                             "or give a .toml file")
        text = entry.read_text()
    try:
        settings = tomllib.loads(text)
        settings.setdefault("name", path.stem)
        if "patch" in settings:
            settings["patch_size"] = parse_patch(settings.pop("patch"))
        if "base" in settings:
            base = str(settings.pop("base"))
            if base.endswith(".toml") and path.is_file():
                base = str(path.parent / base)
            settings = _laid_over(load_recipe(base, (*_bases, where)).to_dict(), settings)
        return Recipe.from_dict(settings)
    except (tomllib.TOMLDecodeError, TypeError, ValueError) as e:
        raise ValueError(f"recipe {where}: {e}") from None


def _laid_over(base: dict, settings: dict) -> dict:
    """BASE with SETTINGS replacing it key by key, tables (sections, per_model and each model's) merged."""
    merged = dict(base)
    for key, value in settings.items():
        merged[key] = _laid_over(base[key], value) if isinstance(value, dict) and isinstance(base.get(key), dict) \
            else value
    return merged


def parse_patch(text: str) -> tuple[int, int]:
    """'128x1' -> (128, 1)."""
    try:
        h, w = (int(v) for v in str(text).lower().split("x"))
    except ValueError:
        raise ValueError(f"a patch looks like 128x1 or 16x16, not {text!r}") from None
    return h, w


# ----------------------------------------------------------------------------------------------
# resuming


class ResumeError(ValueError):
    """A run directory holds a run with other settings."""


def check_resume(run_dir: str | Path, settings: dict) -> None:
    """Refuse to resume `run_dir` with `settings` when its config.json recorded other values for them.

    Every key of `settings` is compared (JSON-normalised, so tuples equal lists), nested ones too
    (`recipe.stage.lr`); keys the old run did not record, at any depth, are not compared, so runs
    written by an older emovit, before a setting existed, still resume."""
    previous = Path(run_dir) / "config.json"
    if not previous.exists():
        return
    differs = sorted(_differing_keys(json.loads(previous.read_text()), json.loads(json.dumps(settings))))
    if differs:
        raise ResumeError(f"{run_dir} holds a run with other settings ({', '.join(differs)} differ; see {previous}): "
                          "resume it with the same options or choose a new --out")


# how a run is executed, not what it computes: a run resumes with other values of these
EXECUTION_ONLY = frozenset({"checkpoint_every", "compile"})


def _differing_keys(old: dict, new: dict, prefix: str = "") -> list[str]:
    """Dotted names of the keys both dicts hold with different values, descending into nested dicts
    (EXECUTION_ONLY keys not compared)."""
    differs = []
    for key in (new.keys() & old.keys()) - EXECUTION_ONLY:
        if isinstance(old[key], dict) and isinstance(new[key], dict):
            differs += _differing_keys(old[key], new[key], f"{prefix}{key}.")
        elif old[key] != new[key]:
            differs.append(prefix + key)
    return differs
