"""scripts/keep_run.sh: a run's small outputs copied into the repository in the layout benchmarks/ holds
(histories renamed by stage, no model files), finished folds only."""
import subprocess
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "keep_run.sh"


def _touch(path: Path, text: str = "{}") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_keeps_results_histories_and_finished_folds_only(tmp_path):
    run, kept = tmp_path / "run", tmp_path / "kept"
    for name in ("results.json", "results.md", "predictions.csv", "config.json", "confusion-plain.png", "manifest.csv",
                 "robustness-joined.json", "robustness-joined.md",
                 "models/plain.pt", "folds/1/results.json", "folds/1/predictions.csv", "folds/1/leakage.json",
                 "folds/1/plain/history.json",
                 "folds/1/plain/final.pt", "folds/1/timnet/history.json", "folds/1/confusion-plain.png",
                 "folds/2/plain/checkpoint.pt"):
        _touch(run / name)
    done = subprocess.run(["bash", str(SCRIPT), str(run), str(kept)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert sorted(str(p.relative_to(kept)) for p in kept.rglob("*") if p.is_file()) == [
        "config.json", "confusion-plain.png", "folds/1/history-plain.json", "folds/1/history-timnet.json",
        "folds/1/leakage.json", "folds/1/predictions.csv", "folds/1/results.json", "predictions.csv", "results.json",
        "results.md", "robustness-joined.json", "robustness-joined.md"]


def test_a_missing_run_is_refused(tmp_path):
    done = subprocess.run(["bash", str(SCRIPT), str(tmp_path / "absent"), str(tmp_path / "kept")],
                          capture_output=True, text=True)
    assert done.returncode == 2 and "is not a run directory" in done.stderr
