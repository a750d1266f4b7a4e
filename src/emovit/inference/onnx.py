"""The onnxruntime backend: an ONNX file written by `emovit export` (front end, normaliser and network
in one graph; labels and settings in its metadata), run without PyTorch's model code."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..config import frontend_from_dict
from ..extras import MissingExtra, require
from ..features import Normalizer
from .base import Recognizer
from .modelfile import ModelFileError

ONNX_FORMAT = "emovit-onnx/1"
INPUT, PROBABILITIES, EMBEDDING = "waveform", "probabilities", "embedding"


class OnnxRecognizer(Recognizer):
    """Decoding and clipping are the Recognizer's; the graph does the rest, always in fp32.  ``threads``
    defaults to PyTorch's thread count, so OMP_NUM_THREADS limits both backends the same way."""

    backend = "onnx"
    suffixes = (".onnx",)

    def __init__(self, session, labels: list[str], frontend, normalizer: Normalizer, path: Path | None = None,
                 meta: dict | None = None):
        super().__init__(labels, frontend, normalizer, "fp32", path, meta)
        self.session = session

    @classmethod
    def open(cls, path: Path, device: str = "cpu", precision: str = "auto", threads: int | None = None,
             **options) -> "OnnxRecognizer":
        """Open an ONNX file written by `emovit export`; CUDA when ``device`` is cuda and onnxruntime has
        it, else the CPU.  ``precision`` is ignored: the graph is fp32."""
        import torch

        if options:
            raise TypeError(f"unexpected option(s) for an ONNX model: {', '.join(options)}")
        try:
            (ort,) = require("onnx", "Running an ONNX model", ("onnxruntime",))
        except MissingExtra as e:
            raise ModelFileError(str(e)) from None
        path = Path(path)
        if not path.is_file():
            raise ModelFileError(f"{path}: no such ONNX file")
        session_options = ort.SessionOptions()
        session_options.intra_op_num_threads = threads or torch.get_num_threads()
        session_options.inter_op_num_threads = 1
        providers = ["CPUExecutionProvider"]
        if str(device).startswith("cuda") and "CUDAExecutionProvider" in ort.get_available_providers():
            providers.insert(0, "CUDAExecutionProvider")
        try:
            session = ort.InferenceSession(str(path), session_options, providers=providers)
        except Exception as e:  # onnxruntime raises its own exception types for every kind of bad file
            raise ModelFileError(f"{path}: not an ONNX model onnxruntime can run "
                                 f"({str(e).splitlines()[0][:200]})") from None
        props = session.get_modelmeta().custom_metadata_map
        if props.get("emovit_format") != ONNX_FORMAT:
            found = props.get("emovit_format")
            raise ModelFileError(f"{path}: not an emovit ONNX file (format {found!r}; expected {ONNX_FORMAT!r}, "
                                 "as written by `emovit export`)")
        try:
            labels = [str(label) for label in json.loads(props["labels"])]
            frontend = frontend_from_dict(json.loads(props["frontend"]))
            norm = json.loads(props["normalizer"])
            normalizer = Normalizer(float(norm["mean"]), float(norm["std"]), norm.get("centre", "global"))
            meta = json.loads(props.get("meta", "{}"))
        except (KeyError, TypeError, ValueError) as e:
            raise ModelFileError(f"{path}: damaged emovit ONNX metadata ({e})") from None
        names = [o.name for o in session.get_outputs()]
        if [i.name for i in session.get_inputs()] != [INPUT] or names[:1] != [PROBABILITIES]:
            raise ModelFileError(f"{path}: unexpected graph inputs/outputs (need {INPUT} -> {PROBABILITIES})")
        return cls(session, labels, frontend, normalizer, path, meta)

    def _run(self, clips: list[np.ndarray], output: str) -> np.ndarray:
        return self.session.run([output], {INPUT: np.stack(clips).astype(np.float32, copy=False)})[0]

    def probabilities(self, clips: list[np.ndarray]) -> np.ndarray:
        return self._run(clips, PROBABILITIES).astype(np.float32, copy=False)

    def embeddings(self, clips: list[np.ndarray]) -> np.ndarray:
        return self._run(clips, EMBEDDING).astype(np.float32, copy=False)
