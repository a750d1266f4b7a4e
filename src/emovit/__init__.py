"""emovit: speech emotion recognition with vertical-patch Vision Transformers (Kim & Lee, 2024).

    from emovit import Recognizer
    Recognizer.load().predict("clip.wav").label     # the bundled model

The public API is importable from here (loaded on first use, so `import emovit` stays light):
Recognizer (and `load`), Prediction, Segment, AudioError, ModelFileError, __version__.
"""
__version__ = "0.1.0"

_PUBLIC = {"Recognizer": "inference", "TorchRecognizer": "inference", "OnnxRecognizer": "inference",
           "Prediction": "inference", "Segment": "inference", "ModelFileError": "inference", "load": "inference",
           "AudioError": "audio", "load_audio": "audio", "Recipe": "config", "load_recipe": "config"}


def __getattr__(name: str):
    if name in _PUBLIC:
        import importlib

        return getattr(importlib.import_module(f".{_PUBLIC[name]}", __name__), name)
    raise AttributeError(f"module 'emovit' has no attribute {name!r}")


def __dir__():
    return sorted([*globals(), *_PUBLIC])


__all__ = ["__version__", *_PUBLIC]
