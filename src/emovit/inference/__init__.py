"""Emotion recognition for users: load a trained model once, then classify files, bytes or arrays.

    from emovit import Recognizer
    rec = Recognizer.load("runs/emodb")          # a run directory, a .pt or .onnx file, or None: the bundled model
    rec.predict("clip.wav").label
    rec.timeline("interview.flac").timeline      # one Segment per 3 s window, 1.5 s apart

`base` holds what every backend shares; `pytorch` and `onnx` are the backends, picked by the model
file's suffix; `modelfile` is the model file format.
"""
from .base import Input, Prediction, Recognizer, Segment
from .modelfile import BUNDLED_MODEL, MODEL_FORMAT, ModelFileError, model_file, read_model_file, resolve_model_path
from .onnx import OnnxRecognizer
from .pytorch import TorchRecognizer

load = Recognizer.load

__all__ = ["BUNDLED_MODEL", "Input", "MODEL_FORMAT", "ModelFileError", "OnnxRecognizer", "Prediction", "Recognizer",
           "Segment", "TorchRecognizer", "load", "model_file", "read_model_file", "resolve_model_path"]
