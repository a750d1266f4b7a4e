"""Optional dependencies (the `emovit[...]` extras): imported on demand, with the install command in
the error when one is missing, so the core package works without them."""
from __future__ import annotations

import importlib
from types import ModuleType

# extra -> the modules it provides (pyproject.toml's [project.optional-dependencies])
EXTRAS = {"baseline": ("opensmile",), "onnx": ("onnx", "onnxruntime"),
          "serve": ("fastapi", "uvicorn", "python_multipart")}


class MissingExtra(ImportError):
    """An optional dependency is not installed; the message says what needs it and how to install it."""


def require(extra: str, what: str, modules: tuple[str, ...] | None = None) -> list[ModuleType]:
    """Import the modules of `extra` (or just `modules` of it), or raise MissingExtra saying that `what`
    needs them and how to install them."""
    imported = []
    for name in modules or EXTRAS[extra]:
        try:
            imported.append(importlib.import_module(name))
        except ImportError:
            raise MissingExtra(f"{what} needs the '{name}' package, which is not installed: "
                               f".venv/bin/pip install -e '.[{extra}]' in a checkout, or pip install 'emovit[{extra}]'") from None
    return imported


def available(extra: str) -> bool:
    """Whether every module of `extra` imports."""
    try:
        require(extra, "")
    except MissingExtra:
        return False
    return True
