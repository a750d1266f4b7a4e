"""emovit benchmark speed: every section runs and reports positive figures, in plain JSON, with targets."""
from __future__ import annotations

import importlib.util
import json

import numpy as np
import soundfile as sf
from conftest import write_model
from typer.testing import CliRunner

from emovit.benchmark import BENCHMARK_FORMAT, format_report, run_benchmark, synthetic_clip, write_recording
from emovit.cli import app

HAVE_ONNX = all(importlib.util.find_spec(m) for m in ("onnx", "onnxruntime"))


def test_run_benchmark_reports_every_section(tmp_path):
    model = write_model(tmp_path / "tiny.pt")
    result = run_benchmark(model, onnx=HAVE_ONNX, runs=3, warmup=1, batch=8, batch_size=4, repeats=1,
                           threads=1, hour_seconds=20)
    assert json.loads(json.dumps(result)) == result  # plain JSON data
    assert result["format"] == BENCHMARK_FORMAT
    machine = result["machine"]
    assert machine["cores"] >= 1 and machine["cpu_model"] and machine["torch"]
    assert result["clip"]["synthetic"] and result["clip"]["seconds"] == 4.0

    backends = ["pytorch", "onnx"] if HAVE_ONNX else ["pytorch"]
    for name in backends:
        latency = result["latency"][name]
        assert latency["threads"] == 1 and latency["runs"] == 3
        assert 0 < latency["min_ms"] <= latency["median_ms"] <= latency["p90_ms"] <= latency["max_ms"]
        throughput = result["throughput"][name]
        assert throughput["threads"] == 1 and throughput["clips"] == 8
        assert throughput["files_clips_per_s"] > 0 and throughput["model_clips_per_s"] > 0
    if not HAVE_ONNX:
        assert "skipped" in result["latency"]["onnx"]

    timeline = result["timeline"]
    assert timeline["audio_seconds"] == 20.0 and timeline["windows"] == 5  # 4 s windows, 4 s apart
    assert timeline["backend"] == "pytorch"
    assert 0 < timeline["seconds"] < timeline["process_seconds"]
    assert 0 < timeline["peak_rss_after_load_mib"] <= timeline["peak_rss_mib"] < 4096
    assert timeline["realtime_factor"] > 0 and timeline["file_mib"] > 0

    names = {t["name"] for t in result["targets"]}
    assert names == {f"latency {b}" for b in backends} | {f"batch {b}" for b in backends} | {
        "timeline time", "timeline memory"}
    assert all(isinstance(t["passed"], bool) and t["value"] > 0 for t in result["targets"])
    report = format_report(result)
    assert "latency: 4 s clip file" in report and "peak RSS" in report and "targets:" in report


def test_cli_writes_json_and_skips_what_it_is_told_to(tmp_path, write_tone):
    model = write_model(tmp_path / "tiny.pt")
    clip = write_tone("clip.wav", seconds=2.0, rate=22050)
    out = tmp_path / "bench" / "speed.json"
    args = ["benchmark", "speed", "--model", str(model), "--no-onnx", "--clip", str(clip), "--hour-seconds", "0",
            "--runs", "2", "--warmup", "0", "--batch", "4", "--batch-size", "2", "--repeats", "1",
            "--threads", "1", "--json", str(out)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "latency: 4 s clip file" in result.output and f"wrote {out}" in result.output
    data = json.loads(out.read_text())
    assert data["clip"] == {"path": str(clip), "synthetic": False, "seconds": 2.0, "sample_rate": 22050,
                            "channels": 1}
    assert data["latency"]["onnx"] == {"skipped": "--no-onnx"}
    assert data["timeline"] == {"skipped": "hour_seconds is 0"}
    assert data["throughput"]["pytorch"]["files_clips_per_s"] > 0

    bad = CliRunner().invoke(app, ["benchmark", "speed", "--model", str(model), "--runs", "0"])
    assert bad.exit_code == 2 and "--runs" in bad.output


def test_recording_is_written_in_chunks_without_seams(tmp_path):
    path = write_recording(tmp_path / "long.flac", seconds=2.5, rate=16000, chunk_seconds=0.7)
    wave, rate = sf.read(path, dtype="float32")
    assert rate == 16000 and len(wave) == 40000
    whole = synthetic_clip(2.5, 16000)  # the same voice in one piece: chunking changes nothing
    assert np.abs(wave - whole).max() < 2e-4  # 16-bit quantisation


def test_time_stages_script_times_every_stage(tmp_path):
    from conftest import load_script

    model = write_model(tmp_path / "tiny.pt")
    out = tmp_path / "stages.json"
    assert load_script("time_stages").main(["--model", str(model), "--rounds", "2", "--calls", "1",
                                            "--json", str(out)]) == 0
    stages = json.loads(out.read_text())["ms_per_clip"]
    expected = {"decode + resample (48 kHz WAV)", "front end, PyTorch", "network, PyTorch, batch 1",
                "network, PyTorch, batch 1, every token", "predict (file -> probabilities), PyTorch"}
    expected |= {"front end, ONNX graph", "network, ONNX graph, batch 1"} if HAVE_ONNX else set()
    assert expected <= set(stages)
    assert all(0 < row["fastest_round"] <= row["median"] <= row["slowest_round"] for row in stages.values())
