"""The paper's three training stages (Kim & Lee 2024, Figure 1), one loop for all three.

  stage 1  teacher              cross-entropy
  stage 2  student (matching)   L1(student pooled, frozen teacher pooled)
  stage 3  student              cross-entropy + alpha * L1(student pooled, teacher pooled)

The teacher is frozen in stages 2 and 3, so its pooled features for every training view are
computed once (`teacher_features`) instead of every step: the same numbers, a fraction of the
time. Each stage checkpoints atomically every `checkpoint_every` steps and at every epoch end;
the order of samples and the view drawn for each are a function of (seed, epoch) only, so a
resumed run replays exactly what an uninterrupted run would have done.
"""
from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

from . import distributed
from .batch_augment import BatchAugment, NoiseField, soft_cross_entropy
from .checkpoint import load_torch, save_json, save_torch
from .config import StageConfig
from .metrics import classification_report
from .precision import autocast
from .progress import Progress, report

STAGE_LOSSES = {"teacher": "ce", "match": "l1", "student": "ce+l1", "plain": "ce"}
TIMNET_BETAS = (0.93, 0.98)  # TIM-Net's published Adam betas (recipes/timnet.toml), for temporal_lr


@dataclass
class StageData:
    """Normalised images. Training images carry a view axis: (n, views, 1, H, W)."""

    train_images: torch.Tensor
    train_labels: torch.Tensor
    val_images: torch.Tensor
    val_labels: torch.Tensor
    train_targets: torch.Tensor | None = None  # teacher pooled features (n, views, dim)
    val_targets: torch.Tensor | None = None  # (m, dim)
    train_target_logits: torch.Tensor | None = None  # teacher logits (n, views, classes), for logit distillation
    train_functionals: torch.Tensor | None = None  # (n, dims) the clips' openSMILE functionals (StageConfig)
    train_classical: torch.Tensor | None = None  # (n, classes) a classical model's probabilities (classical_kd_weight)
    train_speakers: torch.Tensor | None = None  # (n,) the speaker index of each training clip (speaker_adversarial)
    silence: float = 0.0  # the value of silence in these normalised images (what masks and crops fill with)
    noise: NoiseField | None = None  # what mixing noise into them needs (log-Mel images, global normalisation)


def _head_shape(head: torch.nn.Module) -> tuple[int, int]:
    """(pooled width, classes) of a head that starts and ends with Linear layers (possibly one), or that says
    them (`models.emovit.ExpertHeads`)."""
    if hasattr(head, "in_features"):
        return head.in_features, head.out_features
    linears = [m for m in head.modules() if isinstance(m, torch.nn.Linear)]
    return linears[0].in_features, linears[-1].out_features


@torch.no_grad()
def infer(model: torch.nn.Module, images: torch.Tensor, device: torch.device, precision: str = "fp32",
          batch_size: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits and pooled features of `images`, in eval mode, in fp32 on the CPU.

    Any network of `emovit.models` will do (`pooled(x)`, `head`, `inference_batch`: SepTr 1x1, with
    16,512 tokens per clip, asks for smaller batches than the 64 of the others).
    """
    batch_size = batch_size or model.inference_batch
    model.eval()
    logits, pooled = [], []
    for i in range(0, len(images), batch_size):
        x = images[i:i + batch_size].to(device)
        with autocast(device, precision):
            p = model.pooled(x)
            z = model.head(p)
        logits.append(z.float().cpu())
        pooled.append(p.float().cpu())
    if not logits:
        dim, classes = _head_shape(model.head)
        return torch.empty(0, classes), torch.empty(0, dim)
    return torch.cat(logits), torch.cat(pooled)


def teacher_features(teacher, images: torch.Tensor, device, precision="fp32") -> torch.Tensor:
    """Frozen teacher's pooled features for images of shape (n, [views,] 1, H, W)."""
    return teacher_outputs(teacher, images, device, precision)[0]


def teacher_outputs(teacher, images: torch.Tensor, device, precision="fp32") -> tuple[torch.Tensor, torch.Tensor]:
    """Frozen teacher's pooled features and logits for images of shape (n, [views,] 1, H, W)."""
    lead = images.shape[:-3]
    logits, pooled = infer(teacher, images.reshape(-1, *images.shape[-3:]), device, precision)
    return pooled.reshape(*lead, -1), logits.reshape(*lead, -1)


def _epoch_plan(n: int, views: int, seed: int, epoch: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
    return torch.randperm(n, generator=g), torch.randint(0, views, (n,), generator=g)


class _ReverseGradient(torch.autograd.Function):
    """Identity forward; the gradient times -scale backward (Ganin & Lempitsky 2015): what the head after it
    learns to predict, the network before it learns to hide."""

    @staticmethod
    def forward(ctx, x, scale: float):
        ctx.scale = scale
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad):
        return -ctx.scale * grad, None


def speaker_head(dim: int, speakers: int) -> torch.nn.Module:
    """The adversary of `speaker_adversarial`: a one-hidden-layer MLP from the pooled feature to the speakers."""
    return torch.nn.Sequential(torch.nn.Linear(dim, dim), torch.nn.GELU(), torch.nn.Linear(dim, speakers))


def reversal_scale(weight: float, progress: float) -> float:
    """DANN's ramp of the reversed gradient: weight * (2 / (1 + exp(-10 p)) - 1) at progress p in [0, 1]
    of the stage, so the adversary learns the speakers before the network is pushed to hide them."""
    return weight * (2.0 / (1.0 + math.exp(-10.0 * progress)) - 1.0)


class _Objective(torch.nn.Module):
    """The model and what a stage reads from it, in one forward, so that DDP sees one call a step; with
    `functionals` (a Linear from the pooled feature), also its prediction of the clip's functionals; with
    `speakers` (speaker_head), the adversary's speaker logits through a gradient reversed by `reversal`; with a
    head of experts (`models.emovit.ExpertHeads`), each expert's own logits."""

    def __init__(self, model: torch.nn.Module, kind: str, functionals: torch.nn.Module | None = None,
                 speakers: torch.nn.Module | None = None):
        super().__init__()
        self.model, self.kind, self.functionals, self.speakers = model, kind, functionals, speakers
        self.reversal = 0.0

    def forward(self, x):
        pooled = self.model.pooled(x)
        head = self.model.head
        logits = None if self.kind == "l1" else head(pooled)
        experts = head.experts(pooled) if logits is not None and hasattr(head, "experts") else None
        predicted = self.functionals(pooled) if self.functionals is not None else None
        speaker_logits = self.speakers(_ReverseGradient.apply(pooled, self.reversal)) \
            if self.speakers is not None else None
        return pooled, logits, experts, predicted, speaker_logits


def _sample_losses(kind: str, pooled, logits, y, target, config: StageConfig, soft_y=None,
                   target_logits=None, experts=None) -> torch.Tensor:
    """Per-sample loss: CE (label smoothing; soft labels after mixup), L1 (mean over feature dimensions)
    or CE + alpha * L1, plus, with kd_weight, T^2 * KL(teacher || student) of the logits at temperature T.
    With `experts` (their logits), the CE is each expert's own, summed: each learns as if alone."""
    losses = 0.0
    if kind != "l1":
        for z in experts if experts is not None else [logits]:
            losses = losses + (soft_cross_entropy(z.float(), soft_y, config.label_smoothing) if soft_y is not None
                               else F.cross_entropy(z.float(), y, reduction="none",
                                                    label_smoothing=config.label_smoothing))
    if kind != "ce":
        losses = losses + (config.alpha if kind == "ce+l1" else 1.0) * (pooled.float() - target).abs().mean(dim=1)
    if config.kd_weight and target_logits is not None:
        t = config.kd_temperature
        kl = F.kl_div(F.log_softmax(logits.float() / t, -1), F.log_softmax(target_logits / t, -1),
                      reduction="none", log_target=True).sum(-1)
        losses = losses + config.kd_weight * t * t * kl
    return losses


def _validate(kind: str, model, data: StageData, device, precision, alpha: float, labels: list[str]) -> dict:
    logits, pooled = infer(model, data.val_images, device, precision)
    out: dict = {}
    if len(data.val_labels) == 0:
        return out
    if kind in ("ce", "ce+l1"):
        out["val_ce"] = float(F.cross_entropy(logits, data.val_labels))
        report = classification_report(data.val_labels.numpy(), logits.argmax(1).numpy(), labels)
        out["val_wa"], out["val_ua"] = report["wa"], report["ua"]
    if kind in ("l1", "ce+l1"):
        out["val_l1"] = float(F.l1_loss(pooled, data.val_targets))
    out["val_loss"] = out.get("val_ce", 0.0) + (alpha if kind == "ce+l1" else 1.0) * out.get("val_l1", 0.0)
    return out


def _score(kind: str, metrics: dict) -> float:
    """Higher is better: validation UA for classifying stages, minus L1 for matching."""
    if not metrics:
        return 0.0
    if kind == "l1":
        return -metrics["val_l1"]
    return metrics["val_ua"] - 1e-3 * metrics["val_loss"]  # loss breaks UA ties


def make_optimizer(model: torch.nn.Module, config: StageConfig, steps_per_epoch: int = 1):
    """The stage's optimiser and its learning-rate schedule: `step` and `constant` are stepped once per
    epoch, `cosine` (linear warm-up, then a cosine to zero) once per optimiser step."""
    kind = torch.optim.AdamW if config.optimizer == "adamw" else torch.optim.Adam
    parameters = list(model.parameters())
    # one fused kernel for the whole update (measured +6% a student step on a CPU; the same update to 1e-7)
    fused = all(p.device.type in ("cpu", "cuda") and p.dtype.is_floating_point for p in parameters)
    groups: list = parameters
    if config.temporal_lr:
        temporal = {id(p) for m in model.modules() if getattr(m, "temporal", None) is not None
                    for p in m.temporal.parameters()}
        if not temporal:
            raise ValueError("temporal_lr is set but the network has no TIM-Net branch or expert "
                             "(student-tim, student-duo)")
        groups = [{"params": [p for p in parameters if id(p) not in temporal]},
                  {"params": [p for p in parameters if id(p) in temporal], "lr": config.temporal_lr,
                   "betas": TIMNET_BETAS, "weight_decay": 0.0}]
    optimizer = kind(groups, lr=config.lr, betas=config.betas, weight_decay=config.weight_decay, fused=fused)
    if config.schedule == "constant":
        return optimizer, torch.optim.lr_scheduler.LambdaLR(optimizer, lambda epoch: 1.0)
    if config.schedule == "cosine":
        warmup, total = config.warmup_epochs * steps_per_epoch, config.epochs * steps_per_epoch

        def factor(step: int) -> float:
            if step < warmup:
                return (step + 1) / warmup
            return 0.5 * (1.0 + math.cos(math.pi * min(1.0, (step - warmup) / max(1, total - warmup))))

        return optimizer, torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
    return optimizer, torch.optim.lr_scheduler.StepLR(optimizer, step_size=config.lr_halve_every, gamma=0.5)


class WeightAverage:
    """An exponential moving average of a model's weights (ema = d * ema + (1 - d) * weights after every
    optimiser step; buffers such as BatchNorm statistics are copied), validated and kept in place of the
    raw weights: a smoother model from the same run."""

    def __init__(self, model: torch.nn.Module, decay: float):
        self.decay = decay
        self.state = {k: v.detach().clone() for k, v in model.state_dict().items()}

    @torch.no_grad()
    def update(self, model: torch.nn.Module) -> None:
        for key, value in model.state_dict().items():
            if value.is_floating_point():
                self.state[key].mul_(self.decay).add_(value.detach(), alpha=1.0 - self.decay)
            else:
                self.state[key].copy_(value)

    def swapped_into(self, model: torch.nn.Module):
        """A context in which `model` holds the averaged weights."""
        average = self

        class _Swap:
            def __enter__(self):
                self.raw = {k: v.detach().clone() for k, v in model.state_dict().items()}
                model.load_state_dict(average.state)

            def __exit__(self, *exc):
                model.load_state_dict(self.raw)

        return _Swap()


def _step_inputs(data: StageData, batch: torch.Tensor, share: torch.Tensor, view_of: torch.Tensor,
                 augment: BatchAugment | None, generator: torch.Generator | None, num_classes: int,
                 num_speakers: int, extras: dict[str, torch.Tensor]):
    """This rank's share of one step: images, labels, soft labels (after mixup, else None), the rows of the
    per-clip `extras` (name -> (n, width) tensor: functionals, a classical model's probabilities) and speakers
    (with `num_speakers`: indices, or soft rows after mixup). The augmentation sees the global batch, so every
    rank draws the same; the rows of the auxiliary targets are mixed like the labels (one row, split after)."""
    idx = batch[share]
    if augment is None:
        return (data.train_images[idx, view_of[idx]], data.train_labels[idx], None,
                {name: rows[idx] for name, rows in extras.items()},
                data.train_speakers[idx] if num_speakers else None)
    rows = [F.one_hot(data.train_labels[batch], num_classes).float()]
    if num_speakers:
        rows.append(F.one_hot(data.train_speakers[batch], num_speakers).float())
    rows += [extra[batch] for extra in extras.values()]
    x, mixed = augment(data.train_images[batch, view_of[batch]], torch.cat(rows, dim=1), num_classes, generator)
    widths = [num_classes] + ([num_speakers] if num_speakers else []) + [e.shape[1] for e in extras.values()]
    parts = list(mixed[share].split(widths, dim=1))
    soft_y = parts.pop(0)
    speaker = parts.pop(0) if num_speakers else None
    return x[share], data.train_labels[idx], soft_y, dict(zip(extras, parts)), speaker


def check_stage(kind: str, config: StageConfig, data: StageData) -> None:
    """Refuse settings a stage cannot honour, with the reason."""
    if config.augments_batches and kind != "ce":
        raise ValueError("masks, crops, warps, noise, band limits and mixup change the images a step sees, but this stage "
                         "matches the frozen teacher's features of the unchanged images: use them in CE-only stages "
                         "(teacher, plain), e.g. through the recipe's per_model settings")
    if config.noise_prob and data.noise is None:
        raise ValueError("noise_prob mixes noise into log-Mel images in dB below their peak, and these images are not "
                         "(TIM-Net's MFCCs, or per-utterance or per-speaker normalisation): set it for log-Mel models "
                         "under global normalisation only")
    if config.kd_weight and kind == "l1":
        raise ValueError("kd_weight distils logits in a stage with labels, not in the matching stage")
    if config.kd_weight and data.train_target_logits is None:
        raise ValueError("kd_weight needs logits to distil (StageData.train_target_logits): the KT student's "
                         "teacher's (set it in per_model.student) or a peer's (emovit compare's plain-timnet)")
    if config.kd_weight and config.mixup_prob:
        raise ValueError("kd_weight does not combine with mixup: the logits distilled are each clip's own, and "
                         "a mixed image has none")
    if config.functionals_weight and (kind == "l1" or data.train_functionals is None):
        raise ValueError("functionals_weight needs a stage with labels and the clips' functionals "
                         "(StageData.train_functionals, computed by emovit.runs with the baseline extra)")
    if config.classical_kd_weight and (kind == "l1" or data.train_classical is None):
        raise ValueError("classical_kd_weight needs a stage with labels and a classical model's probabilities "
                         "for the clips (StageData.train_classical, computed by emovit.runs with the baseline extra)")
    if config.compile and config.speaker_adversarial:
        raise ValueError("compile does not combine with speaker_adversarial: the reversed gradient's scale "
                         "changes every step, and each change would compile the step again")
    if config.speaker_adversarial:
        if kind == "l1":
            raise ValueError("speaker_adversarial trains against a speaker classifier in a stage with labels "
                             "(teacher, plain, student), not in the matching stage")
        if data.train_speakers is None or len(torch.unique(data.train_speakers)) < 2:
            raise ValueError("speaker_adversarial needs at least two speakers in the training part "
                             "(StageData.train_speakers)")


def compiled(objective: torch.nn.Module, device: torch.device) -> torch.nn.Module:
    """`objective` under torch.compile (fixed shapes: the last, smaller batch of an epoch compiles once more).
    On CPU, Inductor writes C++: without a compiler the stage is refused here, before any step."""
    if device.type == "cpu":
        from torch._inductor.cpp_builder import get_cpp_compiler

        try:
            get_cpp_compiler()
        except Exception as e:  # torch says which compilers it looked for
            raise ValueError(f"compile needs a C++ compiler on CPU (g++ or clang++, or $CXX): {e}") from None
    return torch.compile(objective, dynamic=False)


def run_stage(name: str, model: torch.nn.Module, data: StageData, config: StageConfig, out_dir: str | Path,
              labels: list[str], device: torch.device = torch.device("cpu"), precision: str = "fp32",
              progress: bool = True, on_step: Callable[[int], None] | None = None, seed: int = 0) -> dict:
    """Train one stage, resuming from out_dir/checkpoint.pt if a previous run stopped.  `seed` fixes
    the order of samples and the view drawn for each, epoch by epoch.

    Writes out_dir/final.pt (the selected weights) and history.json; returns the summary.
    """
    kind = STAGE_LOSSES[name]
    out_dir = Path(out_dir)
    ckpt_path, final_path = out_dir / "checkpoint.pt", out_dir / "final.pt"
    if final_path.exists():
        final = load_torch(final_path)
        model.load_state_dict(final["model"])
        return final["summary"]
    check_stage(kind, config, data)
    model.to(device)
    n, views = data.train_images.shape[:2]
    views = min(views, config.views or views)
    steps_per_epoch = math.ceil(n / config.batch_size)
    functionals = None
    if config.functionals_weight:  # trained with the model, dropped with the stage
        functionals = torch.nn.Linear(model.config.dim, data.train_functionals.shape[1]).to(device)
    adversary, num_speakers = None, 0
    if config.speaker_adversarial:  # trained with the model, dropped with the stage
        num_speakers = int(data.train_speakers.max()) + 1
        adversary = speaker_head(model.config.dim, num_speakers).to(device)
    objective = _Objective(model, kind, functionals, adversary)
    extras = {}  # per-clip targets a step reads alongside the labels (mixed with them under mixup)
    if functionals is not None:
        extras["functionals"] = data.train_functionals
    if config.classical_kd_weight:
        extras["classical"] = data.train_classical
    optimizer, scheduler = make_optimizer(objective, config, steps_per_epoch)
    average = WeightAverage(model, config.ema_decay) if config.ema_decay else None
    augment = BatchAugment.from_config(config, fill=data.silence, noise=data.noise) if config.augments_batches else None
    state = {"epoch": 0, "batch": 0, "history": [], "best_score": -math.inf, "best_epoch": None,
             "loss_sum": 0.0, "correct": 0, "seen": 0, "speakers_correct": 0, "wall": 0.0}
    if ckpt_path.exists():
        ckpt = load_torch(ckpt_path)
        model.load_state_dict(ckpt["model"])
        if functionals is not None:
            functionals.load_state_dict(ckpt["functionals"])
        if adversary is not None:
            adversary.load_state_dict(ckpt["adversary"])
        optimizer.load_state_dict(ckpt["optimizer"])
        scheduler.load_state_dict(ckpt["scheduler"])
        torch.set_rng_state(ckpt["torch_rng"])
        if average is not None:
            average.state = ckpt["average"]
        state = ckpt["state"]
        report(f"[{name}] resuming at epoch {state['epoch'] + 1}, batch {state['batch']}", progress)

    def checkpoint():
        if distributed.writes():
            save_torch({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                        "scheduler": scheduler.state_dict(), "torch_rng": torch.get_rng_state(),
                        "average": average.state if average is not None else None,
                        "functionals": functionals.state_dict() if functionals is not None else None,
                        "adversary": adversary.state_dict() if adversary is not None else None,
                        "state": state, "config": asdict(config), "seed": seed}, ckpt_path)
        distributed.sync_replicas()

    adversarial = objective  # the unwrapped objective, whose reversal scale a step sets
    if distributed.data_parallel():
        objective = torch.nn.parallel.DistributedDataParallel(  # matching leaves the head unused
            objective, device_ids=[device.index] if device.type == "cuda" else None,
            find_unused_parameters=kind == "l1")
    if config.compile:  # the state dicts stay the model's own: the compiled wrapper is never saved
        objective = compiled(objective, device)
    rank, world = (distributed.rank(), distributed.world_size()) if distributed.data_parallel() else (0, 1)
    num_classes = len(labels)
    step_counter = 0
    while state["epoch"] < config.epochs:
        epoch = state["epoch"]
        started = time.perf_counter()
        order, view_of = _epoch_plan(n, views, seed, epoch)
        model.train()
        bar = Progress(range(state["batch"], steps_per_epoch), f"{name} epoch {epoch + 1}/{config.epochs}",
                       total=steps_per_epoch, done=state["batch"], enabled=progress and distributed.writes())
        for b in bar:
            batch = order[b * config.batch_size:(b + 1) * config.batch_size]
            share = torch.arange(len(batch)).tensor_split(world)[rank]  # this rank's share of the global batch
            idx = batch[share]
            # augmentations draw from (seed, epoch, batch): every rank and a resumed run alike
            g = torch.Generator().manual_seed(seed * 1_000_003 + epoch * 10_007 + b) if augment is not None else None
            x, y, soft_y, extra, speaker = _step_inputs(data, batch, share, view_of, augment, g, num_classes,
                                                        num_speakers, extras)
            x, y, soft_y = x.to(device), y.to(device), soft_y.to(device) if soft_y is not None else None
            target = data.train_targets[idx, view_of[idx]].to(device) if data.train_targets is not None else None
            target_logits = data.train_target_logits[idx, view_of[idx]].to(device) \
                if config.kd_weight and data.train_target_logits is not None else None
            if adversary is not None:
                progress_made = (epoch * steps_per_epoch + b) / (config.epochs * steps_per_epoch)
                adversarial.reversal = reversal_scale(config.speaker_adversarial, progress_made)
            with autocast(device, precision):
                pooled, logits, experts, predicted, speaker_logits = objective(x)
                losses = _sample_losses(kind, pooled, logits, y, target, config, soft_y, target_logits, experts)
                if predicted is not None:
                    wanted = extra["functionals"].to(device)
                    losses = losses + config.functionals_weight * (predicted.float() - wanted).square().mean(1)
                if "classical" in extra:  # cross-entropy against the classical model's probabilities
                    losses = losses + config.classical_kd_weight * soft_cross_entropy(logits.float(),
                                                                                      extra["classical"].to(device))
                if speaker_logits is not None:  # the adversary's own loss; the network sees it reversed
                    speaker = speaker.to(device)
                    losses = losses + (soft_cross_entropy(speaker_logits.float(), speaker) if speaker.dim() == 2
                                       else F.cross_entropy(speaker_logits.float(), speaker, reduction="none"))
            # sum / global batch, times world because DDP averages gradients over ranks:
            # the update is the single-process one whatever the share of each rank
            loss = losses.sum() * (world / len(batch))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            if config.schedule == "cosine":
                scheduler.step()
            if average is not None:
                average.update(model)
            correct = int((logits.argmax(1) == y).sum()) if logits is not None else 0
            spoken = int((speaker_logits.argmax(1) == (speaker.argmax(1) if speaker.dim() == 2 else speaker)).sum()) \
                if speaker_logits is not None else 0
            loss_sum, seen, correct, spoken = distributed.sum_across(
                [float(losses.detach().sum()), len(idx), correct, spoken], device)
            state["loss_sum"] += loss_sum
            state["seen"] += int(seen)
            state["correct"] += int(correct)
            if adversary is not None:
                state["speakers_correct"] += int(spoken)
            state["batch"] = b + 1
            postfix = {"loss": f"{state['loss_sum'] / state['seen']:.4f}"}
            if kind != "l1":
                postfix["acc"] = f"{state['correct'] / state['seen']:.3f}"
            bar.set_note(postfix)
            step_counter += 1
            if on_step is not None:
                on_step(step_counter)
            if config.checkpoint_every and state["batch"] % config.checkpoint_every == 0 \
                    and state["batch"] < steps_per_epoch:
                state["wall"] += time.perf_counter() - started
                started = time.perf_counter()
                checkpoint()
        bar.close()
        lr = optimizer.param_groups[0]["lr"]
        if config.schedule != "cosine":
            scheduler.step()
        if average is not None:
            with average.swapped_into(model):
                metrics = _validate(kind, model, data, device, precision, config.alpha, labels)
                kept = {k: v.clone() for k, v in model.state_dict().items()}
        else:
            metrics = _validate(kind, model, data, device, precision, config.alpha, labels)
            kept = None
        record = {"epoch": epoch + 1, "train_loss": state["loss_sum"] / max(state["seen"], 1), "lr": lr,
                  **metrics}
        if kind != "l1":
            record["train_acc"] = state["correct"] / max(state["seen"], 1)
        if adversary is not None:  # how well the adversary still tells the speakers apart (chance: 1 / speakers)
            record["train_speaker_acc"] = state["speakers_correct"] / max(state["seen"], 1)
        state["history"].append(record)
        score = _score(kind, metrics)
        if config.select == "last" or score > state["best_score"]:
            state["best_score"], state["best_epoch"] = score, epoch + 1
            if distributed.writes():
                save_torch({"model": kept if kept is not None else model.state_dict(), "epoch": epoch + 1},
                           out_dir / "best.pt")
        state.update(epoch=epoch + 1, batch=0, loss_sum=0.0, correct=0, seen=0, speakers_correct=0)
        state["wall"] += time.perf_counter() - started
        checkpoint()
        shown = {k: float(f"{v:.4g}") for k, v in record.items() if isinstance(v, float)}
        report(f"[{name}] epoch {epoch + 1}/{config.epochs} {shown}", progress and distributed.writes())
    best = load_torch(out_dir / "best.pt")
    model.load_state_dict(best["model"])
    summary = {"stage": name, "loss": kind, "epochs": config.epochs, "selected_epoch": best["epoch"],
               "select": config.select, "wall_seconds": state["wall"], "config": asdict(config), "seed": seed,
               "history": state["history"], "precision": precision}
    if distributed.writes():
        save_json(state["history"], out_dir / "history.json")
        save_torch({"model": model.state_dict(), "summary": summary}, final_path)
    distributed.sync_replicas()
    return summary


def seed_everything(seed: int) -> None:
    torch.manual_seed(seed)
    np.random.seed(seed)
