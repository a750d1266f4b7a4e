"""Training steps of a network with and without torch.compile, side by side in one process (one step of
each in turn, so load from elsewhere falls on both alike): the evidence behind `--compile` (BENCHMARKS.md,
"Training speed"). Random inputs of the network's own shape; the step is emovit.stages' (loss, backward,
Adam).

    python scripts/compile_speed.py --model timnet --batch-size 64 --threads 1 --json OUT.json
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

from emovit import hardware
from emovit.checkpoint import save_json
from emovit.precision import resolve_precision
from emovit.training_speed import compare_training


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="timnet", help="A registry name (timnet, student, teacher, ...).")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--steps", type=int, default=20, help="Timed steps of each variant.")
    parser.add_argument("--precision", default="auto", help="fp32, bf16 or auto (bf16 where AMX has it).")
    parser.add_argument("--json", type=Path, help="Also write the result here.")
    args = parser.parse_args()
    precision = resolve_precision(args.precision, torch.device("cpu"))
    started = time.time()
    result = compare_training(args.model, args.batch_size, args.threads, args.steps, precision,
                              variants={"eager": {}, "compiled": {"compile": True}}, peak=0.0)
    result.update(precision=precision, cpu=hardware.cpu_model(), cpu_flags=hardware.cpu_flags(),
                  torch=torch.__version__, date=time.strftime("%Y-%m-%d", time.gmtime(started)),
                  load_average=list(map(float, Path("/proc/loadavg").read_text().split()[:3])))
    for name, v in result["variants"].items():
        extra = f", compiled in {v['compile_s']:.0f} s" if "compile_s" in v else ""
        print(f"{args.model} batch {args.batch_size}, {precision}, {args.threads} thread(s): {name} "
              f"{v['ms_per_step']:.0f} ms a step, {v['speedup']:.2f}x{extra}")
    if args.json:
        save_json(result, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
