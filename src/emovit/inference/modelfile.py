"""The emovit model file: one `torch.save`d dict that rebuilds a trained network and everything
needed to feed it (labels, the training split's normaliser, the front-end settings), so that a
model runs anywhere without its run directory. `reproduce` and `compare` write one per model
(RUN/models/NAME.pt); the package ships one (assets/bundled.pt)."""
from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import torch

from ..config import FrontEndSettings

BUNDLED_MODEL = Path(__file__).resolve().parents[1] / "assets" / "bundled.pt"
MODEL_FORMAT = "emovit-model/1"
RUN_PREFERENCE = ("student", "plain", "teacher")  # which of RUN/models/*.pt a run directory stands for
REQUIRED = ("model_config", "state_dict", "labels", "normalizer", "frontend")


class ModelFileError(ValueError):
    """A model path that cannot be used; the message names the path and what is wrong with it."""


def model_file(model: torch.nn.Module, labels, normalizer, frontend: FrontEndSettings, meta: dict) -> dict:
    """What a Recognizer needs to run `model` with no run directory around it."""
    return {"format": MODEL_FORMAT, "model_config": model.config.to_dict(), "state_dict": model.state_dict(),
            "labels": list(labels), "normalizer": asdict(normalizer), "frontend": frontend.to_dict(), "meta": meta}


def resolve_model_path(model: str | Path | None) -> Path:
    """The model file meant by ``model``: the bundled one, a file, or a run directory's best candidate."""
    if model is None:
        if not BUNDLED_MODEL.is_file():
            raise ModelFileError(f"no bundled model at {BUNDLED_MODEL}: pass --model RUN_DIR_OR_FILE "
                                 "(Recognizer.load(path) in Python)")
        return BUNDLED_MODEL
    path = Path(model)
    if not path.exists():
        raise ModelFileError(f"{path}: no such model file or run directory")
    if path.is_file():
        return path
    folder = path / "models" if (path / "models").is_dir() else path
    found = {p.stem: p for p in sorted(folder.glob("*.pt"))}
    for name in (*RUN_PREFERENCE, *found):
        if name in found:
            return found[name]
    listing = ", ".join(sorted(p.name + ("/" if p.is_dir() else "") for p in path.iterdir())) or "nothing"
    raise ModelFileError(f"{path}: no model in {path}/models/ (expected student.pt, plain.pt or teacher.pt); "
                         f"it holds: {listing}")


def read_model_file(path: Path) -> dict:
    """Load and check a model file; weights_only so that opening a model file cannot run code."""
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch.load fails in many ways on foreign files; all mean "not a model file"
        raise ModelFileError(f"{path}: not an emovit model file (torch cannot read it as a PyTorch file of "
                             f"tensors and plain data: {type(e).__name__})") from None
    if not isinstance(blob, dict) or "format" not in blob:
        raise ModelFileError(f"{path}: not an emovit model file (no 'format' entry; a training checkpoint? "
                             "use RUN/models/*.pt)")
    if blob["format"] != MODEL_FORMAT:
        raise ModelFileError(f"{path}: model format {blob['format']!r} is not supported (this emovit reads "
                             f"{MODEL_FORMAT!r})")
    missing = [k for k in REQUIRED if k not in blob]
    if missing:
        raise ModelFileError(f"{path}: damaged model file (missing {', '.join(missing)})")
    return blob
