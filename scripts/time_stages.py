"""Where one clip's time goes: decoding, front end and network, each timed alone, on one thread.

    python scripts/time_stages.py [--model RUN_DIR_OR_FILE] [--rounds 20] [--json FILE]
    PYTHONPATH=/path/to/other/checkout/src python scripts/time_stages.py   # the same, for other code

`emovit benchmark speed` times the whole path; this splits it. Each stage (decode + resample of a
synthetic 4 s 48 kHz WAV; PyTorch front end; PyTorch network at batch 1 and per clip at batch 32;
the same network computing every token of its last layer, where the code has that reference; the
ONNX front-end graph and network graph, each exported alone; the whole `predict`) is called
`--calls` times in a row, the stages taking turns, `--rounds` times over: the median over rounds of
each stage's mean call time is reported, with the slowest and fastest round, so that the machine's
drift (large on shared VMs) falls on every stage alike. Uses only public APIs, so it also runs
against older checkouts for before/after comparisons.
"""
from __future__ import annotations

import argparse
import inspect
import json
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import torch

from emovit.audio import fit_length, load_audio
from emovit.benchmark import write_clip
from emovit.recognizer import Recognizer


def _onnx_sessions(rec: Recognizer, folder: Path) -> dict:
    """The export's front-end graph and the network, as two onnxruntime sessions on one thread."""
    try:
        import onnxruntime as ort
    except ImportError:
        return {}
    from emovit.export import ExportFrontEnd

    config = rec.frontend.config  # the PyTorch front end's settings, in this and in older checkouts
    parts = {"frontend": (ExportFrontEnd(config), torch.zeros(1, config.clip_samples)),
             "network": (rec.model, torch.zeros(1, 1, *config.image_size))}
    options = ort.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    sessions = {}
    for name, (module, example) in parts.items():
        path = folder / f"{name}.onnx"
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            torch.onnx.export(module.eval(), (example,), path, opset_version=17, dynamo=False,
                              input_names=["x"], output_names=["y"], dynamic_axes={"x": {0: "batch"}})
        sessions[name] = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    return sessions


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=None, help="model file or run directory (default: the bundled model)")
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--calls", type=int, default=10, help="calls of a stage in a row, per round")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        report = _time_stages(args)
    finally:
        torch.set_num_threads(threads)
    width = max(map(len, report["ms_per_clip"]))
    print(f"{'stage':<{width}}  median ms   fastest   slowest (per clip, 1 thread, {args.rounds} rounds)")
    for name, row in report["ms_per_clip"].items():
        print(f"{name:<{width}}  {row['median']:9.2f} {row['fastest_round']:9.2f} {row['slowest_round']:9.2f}")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    return 0


def _time_stages(args: argparse.Namespace) -> dict:
    rec = Recognizer.load(args.model, precision="fp32")
    with tempfile.TemporaryDirectory() as tmp:
        clip_path = write_clip(Path(tmp) / "clip.wav")
        wave = fit_length(load_audio(clip_path, rec.sample_rate), rec.clip_seconds, rec.sample_rate)
        one = torch.from_numpy(wave[None])
        many = torch.from_numpy(np.stack([wave] * 32))
        with torch.inference_mode():
            image, images = rec.normalizer(rec.frontend(one)), rec.normalizer(rec.frontend(many))
        sessions = _onnx_sessions(rec, Path(tmp))

        def torch_stage(fn):
            def run():
                with torch.inference_mode():
                    fn()
            return run

        stages = {
            "decode + resample (48 kHz WAV)": (lambda: load_audio(clip_path, rec.sample_rate), 1),
            "front end, PyTorch": (torch_stage(lambda: rec.frontend(one)), 1),
            "network, PyTorch, batch 1": (torch_stage(lambda: rec.model(image)), 1),
            "front end, PyTorch, per clip of 32": (torch_stage(lambda: rec.frontend(many)), 32),
            "network, PyTorch, per clip of 32": (torch_stage(lambda: rec.model(images)), 32),
            "predict (file -> probabilities), PyTorch": (lambda: rec.predict(clip_path), 1),
        }
        if "every_token" in inspect.signature(rec.model.forward).parameters:  # the reference the CLS-only last layer replaces
            stages["network, PyTorch, batch 1, every token"] = (torch_stage(lambda: rec.model(image, every_token=True)), 1)
        if sessions:
            wave_in, image_in = one.numpy(), image.numpy()
            stages["front end, ONNX graph"] = (lambda: sessions["frontend"].run(None, {"x": wave_in}), 1)
            stages["network, ONNX graph, batch 1"] = (lambda: sessions["network"].run(None, {"x": image_in}), 1)
        times: dict[str, list[float]] = {name: [] for name in stages}
        for fn, _ in stages.values():
            fn()  # warm-up
        for _ in range(args.rounds):
            for name, (fn, clips) in stages.items():
                calls = args.calls if clips == 1 else max(1, args.calls // 4)
                started = time.perf_counter()
                for _ in range(calls):
                    fn()
                times[name].append(1000 * (time.perf_counter() - started) / calls / clips)
    return {"threads": 1, "rounds": args.rounds, "calls": args.calls, "torch": torch.__version__,
            "model": str(rec.path), "ms_per_clip": {
                name: {"median": float(np.median(t)), "fastest_round": float(min(t)), "slowest_round": float(max(t))}
                for name, t in times.items()}}


if __name__ == "__main__":
    sys.exit(main())
