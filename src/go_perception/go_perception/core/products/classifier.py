"""Run the product network on onnxruntime: image crops in, SKUs ranked by probability out."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

LOG = logging.getLogger(__name__)

DEFAULT_MODEL = Path(__file__).resolve().parents[3] / "models" / "products.onnx"


@dataclass(frozen=True)
class SkuScore:
    """One candidate product: its SKU and a probability in [0, 1]."""

    sku: str
    score: float


@dataclass(frozen=True)
class ClassifierConfig:
    """How the network is run.

    ``top_k``: how many SKUs to return per crop. ``tta``: also classify a centre zoom of each
    crop keeping ``tta_zoom`` of its width and height, and average the probabilities
    (test-time augmentation; costs a second pass). ``threads``: onnxruntime intra-op threads.
    """

    top_k: int = 5
    tta: bool = False
    tta_zoom: float = 0.8
    threads: int = 1

    def __post_init__(self) -> None:
        if not 0.0 < self.tta_zoom <= 1.0:
            raise ValueError(f"tta_zoom must be in (0, 1], got {self.tta_zoom}")


class ProductClassifier:
    """A product network loaded from ONNX (see ``network.py`` for its inputs and metadata)."""

    def __init__(self, model_path: Path = DEFAULT_MODEL, config: ClassifierConfig | None = None):
        """Load the model.

        Raises:
            FileNotFoundError: when ``model_path`` does not exist (naming it).
            ValueError: when the model is not a product network (no SKU list in its metadata).
        """
        import onnxruntime as ort

        self.config = config or ClassifierConfig()
        path = Path(model_path)
        if not path.is_file():
            raise FileNotFoundError(
                f"product model {path} not found (train one: ./gostore train products --out {path})"
            )
        options = ort.SessionOptions()
        options.intra_op_num_threads = self.config.threads
        options.inter_op_num_threads = 1
        self._session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        meta = self._session.get_modelmeta().custom_metadata_map
        if "skus" not in meta or "input_size" not in meta:
            raise ValueError(f"{path} is not a product model: no 'skus'/'input_size' metadata")
        self.skus: tuple[str, ...] = tuple(json.loads(meta["skus"]))
        self.input_size = int(meta["input_size"])
        self.recipe: dict[str, object] = json.loads(meta.get("recipe", "{}"))
        self.path = path

    def _prepare(self, crop: np.ndarray) -> np.ndarray:
        """BGR uint8 (H, W, 3) of any size -> float32 RGB (3, S, S) in [0, 255]."""
        size = self.input_size
        h, w = crop.shape[:2]
        interp = cv2.INTER_AREA if max(h, w) > size else cv2.INTER_LINEAR
        resized = cv2.resize(crop, (size, size), interpolation=interp)
        return resized[..., ::-1].transpose(2, 0, 1).astype(np.float32)

    def probabilities(self, crops: list[np.ndarray]) -> np.ndarray:
        """Class probabilities (N, K) for BGR uint8 crops (H, W, 3); K = ``len(self.skus)``.

        Raises:
            ValueError: when a crop is not a non-empty (H, W, 3) uint8 array.
        """
        for i, crop in enumerate(crops):
            if crop.dtype != np.uint8 or crop.ndim != 3 or crop.shape[2] != 3 or crop.size == 0:
                raise ValueError(
                    f"crop {i}: expected a non-empty uint8 (H, W, 3) BGR image, got "
                    f"{crop.dtype} {crop.shape}"
                )
        if not crops:
            return np.zeros((0, len(self.skus)), np.float32)
        views = [self._prepare(c) for c in crops]
        if self.config.tta:
            views += [self._prepare(_centre_zoom(c, self.config.tta_zoom)) for c in crops]
        logits = self._session.run(None, {"image": np.stack(views)})[0]
        probs = _softmax(logits)
        if self.config.tta:
            probs = 0.5 * (probs[: len(crops)] + probs[len(crops) :])
        return probs

    def rank(self, crops: list[np.ndarray]) -> list[list[SkuScore]]:
        """The ``top_k`` most probable SKUs per crop, most probable first."""
        probs = self.probabilities(crops)
        k = min(self.config.top_k, len(self.skus))
        out = []
        for row in probs:
            best = np.argsort(-row, kind="stable")[:k]
            out.append([SkuScore(self.skus[i], float(row[i])) for i in best])
        return out


def _centre_zoom(image: np.ndarray, keep: float) -> np.ndarray:
    h, w = image.shape[:2]
    dh, dw = round(h * (1 - keep) / 2), round(w * (1 - keep) / 2)
    return image[dh : h - dh, dw : w - dw] if h - 2 * dh > 0 and w - 2 * dw > 0 else image


def _softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)
