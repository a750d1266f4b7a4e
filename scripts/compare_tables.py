"""Train every comparison behind BENCHMARKS.md's Tables 1-2 (EmoDB and SAVEE, `paper` and `speaker`
protocols, plus EmoDB `paper-leaky`) as plain `emovit compare` runs, several at once.

Each corpus/protocol pair is one split (seed 0), trained by five compare runs over that same split:
  vertical  student (with its teacher) and the CE-only student   -> Table 2, Table 1's ice row
  position  teacher-nope, teacher-learned, teacher-sinusoidal    -> Table 1
  square    student-16x16 (with teacher-16x16)                   -> Figure 6's square column
  ast       AST from scratch                                      -> Table 2
  septr     SepTr, 1x1 patches                                    -> Table 2
  septr-square  SepTr on 16x16 cells (Table 3's cheap SepTr; trainable on a CPU)
Splitting a pair over five runs lets them train in parallel (on one GPU, many small runs keep it
busier than one) and keeps each finished table when a slower run is cut short; the runs of a pair
share the split (same seed and protocol; split.csv is identical, which the script checks).

First the feature cache is filled with a pool of processes (every file, every view), so the runs
only read it. Every command is written to OUT/commands.sh and each run logs to OUT/logs/. Re-running
resumes: finished runs are skipped and unfinished ones resume from their checkpoints.

    python scripts/compare_tables.py --out runs/tables --device cuda --recipe paper-e20
    python scripts/compare_tables.py --out runs/tables --device cpu --parallel 1   # same runs, slowly
"""
from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

GROUPS = {
    "vertical": "student,plain",
    "position": "teacher-nope,teacher-learned,teacher-sinusoidal",
    "square": "student-16x16",
    "ast": "ast",
    "septr": "septr",
    "septr-square": "septr-16x16",
}


def planned_runs(args) -> list[tuple[str, list[str]]]:
    """(name, emovit compare arguments) for every run, in the order they are started."""
    roots = {"emodb": args.emodb, "savee": args.savee}
    pairs = [(corpus, protocol) for protocol in args.protocols.split(",") for corpus in ("emodb", "savee")]
    if args.leaky:
        pairs.append(("emodb", "paper-leaky"))
    runs = []
    for corpus, protocol in pairs:
        groups = ["vertical"] if protocol == "paper-leaky" else args.groups.split(",")
        for group in groups:
            name = f"{corpus}-{protocol}-{group}"
            runs.append((name, ["compare", "--corpus", corpus, "--root", str(roots[corpus]), "--protocol", protocol,
                                "--models", GROUPS[group], "--recipe", args.recipe, "--seed", "0",
                                "--device", args.device, "--precision", args.precision,
                                "--time-runs", str(args.time_runs), "--checkpoint-every", "0",
                                "--cache", str(args.cache), "--quiet", "--out", str(args.out / name)]))
    return runs


def _build_shard(cache: str, items: list[tuple[str, int]]) -> int:
    import torch

    from emovit.features import FeatureCache, LogMelFrontEnd
    from emovit.config import LogMelConfig
    from emovit.views import build_images

    torch.set_num_threads(1)
    config = LogMelConfig()
    built = build_images(items, LogMelFrontEnd(config), FeatureCache(cache, config), seed=0, progress=False)
    for reason in built.failures.values():
        print(reason, file=sys.stderr)
    return len(built.items)


def fill_cache(args) -> None:
    """Every view of every file of both corpora, built once, split over `args.workers` processes."""
    from emovit.corpora import index_corpus

    paths = [u.path for corpus, root in (("emodb", args.emodb), ("savee", args.savee))
             for u in index_corpus(corpus, root).utterances]
    items = [(p, v) for p in paths for v in range(4)]
    shards = [items[i::args.workers] for i in range(args.workers)]
    started = time.perf_counter()
    with ProcessPoolExecutor(args.workers) as pool:
        done = sum(pool.map(_build_shard, [str(args.cache)] * len(shards), shards))
    print(f"feature cache: {done} of {len(items)} images in {time.perf_counter() - started:.0f} s", flush=True)


def run_all(args) -> int:
    runs = planned_runs(args)
    (args.out / "logs").mkdir(parents=True, exist_ok=True)
    emovit = [sys.executable, "-m", "emovit.cli"]
    (args.out / "commands.sh").write_text("".join(f"emovit {shlex.join(a)}\n" for _, a in runs))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    waiting = [r for r in runs if not (args.out / r[0] / "results.json").exists()]
    running: dict[str, tuple[subprocess.Popen, float]] = {}
    failed = []
    while waiting or running:
        while waiting and len(running) < args.parallel:
            name, arguments = waiting.pop(0)
            log = open(args.out / "logs" / f"{name}.log", "a")
            running[name] = (subprocess.Popen(emovit + arguments, stdout=log, stderr=subprocess.STDOUT, env=env),
                             time.perf_counter())
        time.sleep(2)
        for name, (proc, started) in list(running.items()):
            if proc.poll() is not None:
                del running[name]
                ok = proc.returncode == 0
                print(f"{name}: {'done' if ok else f'FAILED (exit {proc.returncode})'} "
                      f"in {time.perf_counter() - started:.0f} s", flush=True)
                if not ok:
                    failed.append(name)
    same = _check_splits(args.out, runs)
    return 1 if failed or not same else 0


def _check_splits(out: Path, runs) -> bool:
    """The runs of one corpus/protocol pair must have trained and tested on the same split."""
    pairs: dict[str, set[bytes]] = {}
    for name, _ in runs:
        split = out / name / "split.csv"
        if split.exists():
            group = max((g for g in GROUPS if name.endswith(f"-{g}")), key=len)
            pairs.setdefault(name[:-len(group) - 1], set()).add(split.read_bytes())
    for pair, splits in pairs.items():
        print(f"{pair}: {'one split shared by its runs' if len(splits) == 1 else 'DIFFERENT SPLITS'}", flush=True)
    return all(len(splits) == 1 for splits in pairs.values())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="Folder for the run directories, logs and commands.")
    parser.add_argument("--emodb", type=Path, default=Path("../shared/data/emodb"))
    parser.add_argument("--savee", type=Path, default=Path("../shared/data/savee/ALL"))
    parser.add_argument("--device", default="auto")
    parser.add_argument("--precision", default="auto")
    parser.add_argument("--recipe", default="paper-e20", help="emovit's recipe for every run (paper-e20: the paper's, "
                        "20 epochs a stage, lr halved every 4, as in BENCHMARKS.md; paper: all 50 epochs).")
    parser.add_argument("--protocols", default="paper,speaker")
    parser.add_argument("--groups", default=",".join(GROUPS), help="Which of " + ", ".join(GROUPS) + ".")
    parser.add_argument("--leaky", action=argparse.BooleanOptionalAction, default=True,
                        help="Also EmoDB paper-leaky (the vertical group).")
    parser.add_argument("--time-runs", type=int, default=0, help="compare's CPU ms/clip timing (0: use "
                        "`emovit profile --time`, which times every network side by side).")
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "emovit")
    parser.add_argument("--parallel", type=int, default=1, help="Runs at once.")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="Processes filling the cache.")
    args = parser.parse_args()
    unknown = set(args.groups.split(",")) - set(GROUPS)
    if unknown:
        parser.error(f"--groups: unknown {sorted(unknown)}")
    args.out.mkdir(parents=True, exist_ok=True)
    fill_cache(args)
    return run_all(args)


if __name__ == "__main__":
    sys.exit(main())
