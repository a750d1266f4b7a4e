"""The PyTorch backend: an emovit model file's network, front end and normaliser on one device."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ..config import frontend_from_dict
from ..features import Normalizer, build_frontend, pooled_band_means
from ..models import ModelConfig, build_from_config
from ..precision import autocast, resolve_precision
from .base import Recognizer
from .modelfile import ModelFileError, read_model_file


class TorchRecognizer(Recognizer):
    """A network from `emovit.models` with its front end, in eval mode.  ``precision`` is the network's
    arithmetic: 'auto' runs it under bf16 autocast where that is fast (CUDA, CPUs with AMX) and in fp32
    elsewhere; 'fp32' is the reference, 'bf16' forces autocast.  The front end always runs in fp32."""

    backend = "pytorch"
    suffixes = (".pt", ".pth")

    def __init__(self, model: torch.nn.Module, labels: list[str], normalizer: Normalizer, frontend,
                 device: str | torch.device = "cpu", path: Path | None = None, meta: dict | None = None,
                 precision: str = "auto"):
        self.device = torch.device(device)
        super().__init__(labels, frontend, normalizer, resolve_precision(precision, self.device), path, meta)
        self.model = model.to(self.device).eval()
        self.frontend = build_frontend(frontend).to(self.device)

    @classmethod
    def open(cls, path: Path, device: str = "cpu", precision: str = "auto", **options) -> "TorchRecognizer":
        if options:
            raise TypeError(f"unexpected option(s) for a PyTorch model: {', '.join(options)}")
        blob = read_model_file(path)
        try:
            config = ModelConfig.from_dict(blob["model_config"])
            network = build_from_config(config)
            network.load_state_dict(blob["state_dict"])
            labels = [str(label) for label in blob["labels"]]
            norm = blob["normalizer"]
            normalizer = Normalizer(float(norm["mean"]), float(norm["std"]), norm.get("centre", "global"))
            frontend = frontend_from_dict(blob["frontend"])
        except (KeyError, TypeError, ValueError, RuntimeError) as e:
            raise ModelFileError(f"{path}: damaged model file ({str(e).splitlines()[0]})") from None
        if len(labels) != config.num_classes:
            raise ModelFileError(f"{path}: damaged model file ({len(labels)} labels for {config.num_classes} outputs)")
        return cls(network, labels, normalizer, frontend, device, path, blob.get("meta"), precision)

    def _raw_images(self, clips: list[np.ndarray]) -> torch.Tensor:
        """The front end's images of clips, before normalisation."""
        return self.frontend(torch.from_numpy(np.stack(clips)).to(self.device))

    def _images(self, clips: list[np.ndarray]) -> torch.Tensor:
        images = self._raw_images(clips)
        if not self.per_speaker:
            return self.normalizer(images)
        if self.speaker_means is None:
            raise ValueError(f"{self.path or 'this model'} was trained with per-speaker normalisation: calibrate it "
                             "on recordings of the speaker first (Recognizer.calibrate; emovit predict --same-speaker)")
        return self.normalizer.standardise(images - self.speaker_means)

    def band_means(self, clips: list[np.ndarray]) -> torch.Tensor:
        with torch.inference_mode():
            images = torch.cat([self._raw_images(clips[i:i + 32]) for i in range(0, len(clips), 32)])
            return pooled_band_means(images)

    def probabilities(self, clips: list[np.ndarray]) -> np.ndarray:
        with torch.inference_mode():
            images = self._images(clips)
            with autocast(self.device, self.precision):
                logits = self.model(images)
            return logits.float().softmax(-1).cpu().numpy()

    def embeddings(self, clips: list[np.ndarray]) -> np.ndarray:
        with torch.inference_mode():
            images = self._images(clips)
            with autocast(self.device, self.precision):
                pooled = self.model.pooled(images)
            return pooled.float().cpu().numpy()
