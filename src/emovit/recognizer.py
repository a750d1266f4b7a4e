"""`from emovit.recognizer import Recognizer`, as earlier releases and their users' code import it:
the recognizers now live in `emovit.inference`."""
from .inference import (BUNDLED_MODEL, MODEL_FORMAT, ModelFileError, OnnxRecognizer, Prediction, Recognizer, Segment,
                        TorchRecognizer)

__all__ = ["BUNDLED_MODEL", "MODEL_FORMAT", "ModelFileError", "OnnxRecognizer", "Prediction", "Recognizer", "Segment",
           "TorchRecognizer"]
