"""What each part of emovit's fast CPU training path (`emovit.models.fast`) is worth, measured.

    python scripts/ablate_training_speed.py teacher 4 [--steps 6] [--threads 1] [--variants plain,fast,...]

One training step of emovit.stages (via `emovit.training_speed`) per variant in turn, `--steps`
rounds, so that other work on the machine falls on every variant alike; the median step time of
each is printed as clips/s (with the fastest step) and as a ratio to the first variant.

Variants (each is the full fast path with one part taken out or changed):
  plain                 emovit.models.fast.plain(): the networks as written
  fast                  everything on
  fast/MKL linear       linear layers through F.linear (MKL sgemm) instead of oneDNN
  fast/plain stem       the conv stem as nn.Sequential (NCHW, InstanceNorm2d, GELU)
  fast/stem NCHW        fused norm-GELU and chunks, but NCHW convolutions
  fast/stem bias added  the conv adds the bias the norm cancels
  fast/stem CL unfused  channels-last convolutions with InstanceNorm2d + GELU modules
  fast/no chunks        the whole batch through the stem at once
"""
from __future__ import annotations

import argparse
import contextlib
import statistics

import torch
import torch.nn.functional as F

from emovit import training_speed as ts
from emovit.models import fast

ORIGINAL_STEM, ORIGINAL_LINEAR = fast.stem_forward, fast.linear


def _chunked(body):
    def stem(net, x, chunk=None):
        chunk = chunk or fast.STEM_CHUNK
        if x.shape[0] > chunk:
            return torch.cat([stem(net, part, chunk) for part in x.split(chunk)])
        return body(net, x)
    return stem


@_chunked
def stem_nchw(net, x):
    mods = list(net)
    for conv, norm in zip(mods[0::3], mods[1::3]):
        x = fast.norm_gelu(F.conv2d(x, conv.weight, None, padding=1), conv.bias, norm.eps)
    return x


@_chunked
def stem_with_bias(net, x):
    mods = list(net)
    x = fast.channels_last(x)
    for conv, norm in zip(mods[0::3], mods[1::3]):
        x = F.conv2d(x, fast._ChannelsLastWeight.apply(conv.weight), conv.bias, padding=1)
        x = fast.norm_gelu(x, None, norm.eps)
    return x.contiguous()


@_chunked
def stem_cl_unfused(net, x):
    mods = list(net)
    x = fast.channels_last(x)
    for conv, norm, act in zip(mods[0::3], mods[1::3], mods[2::3]):
        x = act(norm(F.conv2d(x, fast._ChannelsLastWeight.apply(conv.weight), conv.bias, padding=1)))
    return x.contiguous()


VARIANTS = {
    "plain": {"plain": True},
    "fast": {},
    "fast/MKL linear": {"linear": F.linear},
    "fast/plain stem": {"stem": lambda net, x, chunk=None: net(x)},
    "fast/stem NCHW": {"stem": stem_nchw},
    "fast/stem bias added": {"stem": stem_with_bias},
    "fast/stem CL unfused": {"stem": stem_cl_unfused},
    "fast/no chunks": {"chunk": 10 ** 9},
}


@contextlib.contextmanager
def patched(stem=None, linear=None, chunk=None):
    chunk_before = fast.STEM_CHUNK
    fast.stem_forward = stem or ORIGINAL_STEM
    fast.linear = linear or ORIGINAL_LINEAR
    fast.STEM_CHUNK = chunk or chunk_before
    try:
        yield
    finally:
        fast.stem_forward, fast.linear, fast.STEM_CHUNK = ORIGINAL_STEM, ORIGINAL_LINEAR, chunk_before


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("model", nargs="?", default="teacher")
    p.add_argument("batch", nargs="?", type=int, default=4)
    p.add_argument("--steps", type=int, default=6)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--variants", default=",".join(VARIANTS))
    a = p.parse_args()
    names = a.variants.split(",")
    torch.set_num_threads(a.threads)
    trainers = {n: ts._Trainer(a.model, a.batch, torch.device("cpu"), fast_path=not VARIANTS[n].get("plain"))
                for n in names}

    def step(name):
        with patched(**{k: v for k, v in VARIANTS[name].items() if k != "plain"}):
            return trainers[name].timed_step()

    for name in names:
        step(name), step(name)
    times = {n: [] for n in names}
    for _ in range(a.steps):
        for name in names:
            times[name].append(step(name))
    reference = statistics.median(times[names[0]])
    for name in names:
        median = statistics.median(times[name])
        print(f"{a.model} batch {a.batch}, {a.threads} thread(s): {name:22s} {a.batch / median:6.1f} clips/s "
              f"(fastest step {a.batch / min(times[name]):6.1f})  {reference / median:.2f}x {names[0]}", flush=True)


if __name__ == "__main__":
    main()
