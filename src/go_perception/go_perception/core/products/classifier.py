"""Run the product network on onnxruntime: image crops in, SKUs ranked by probability out.

The shipped set-up is two models of the same SKU list (``models/README.md``):

- ``products.onnx``, trained with the ceiling-camera degradation (half of its samples shrunk to
  20-128 px, blurred, noised, JPEG-compressed): it reads every size, and is the only model for
  the small crops a ceiling camera sees in a hand;
- ``products_full.onnx``, the *full-size expert*, trained on undegraded photographs: more
  accurate on large, sharp views (a product held up to a camera, a shelf camera), hopeless below
  about 64 px.

A crop's probabilities are ``(1 - w) * main + w * expert``, where the expert's weight ``w``
rises linearly with the crop's longest side from 0 at ``expert_min_px`` to ``expert_weight``
at ``expert_full_px`` (``ClassifierConfig``); the expert runs only on crops with ``w > 0``.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

LOG = logging.getLogger(__name__)

MODELS_DIR = Path(__file__).resolve().parents[3] / "models"
DEFAULT_MODEL = MODELS_DIR / "products.onnx"
DEFAULT_EXPERT = MODELS_DIR / "products_full.onnx"
SHIPPED = "shipped"  # expert_path default: the shipped expert with the shipped model, else none


@dataclass(frozen=True)
class SkuScore:
    """One candidate product: its SKU and a probability in [0, 1]."""

    sku: str
    score: float


@dataclass(frozen=True)
class ClassifierConfig:
    """How the networks are run.

    ``top_k``: how many SKUs to return per crop. ``tta``: also classify a centre zoom of each
    crop keeping ``tta_zoom`` of its width and height, and average the probabilities
    (test-time augmentation; costs a second pass). ``threads``: onnxruntime intra-op threads.
    Full-size expert (when one is loaded): its weight is 0 for crops whose longest side is at
    most ``expert_min_px`` [px], ``expert_weight`` from ``expert_full_px`` [px] up, linear
    between.
    """

    top_k: int = 5
    tta: bool = False
    tta_zoom: float = 0.8
    threads: int = 1
    expert_min_px: float = 80.0
    expert_full_px: float = 112.0
    expert_weight: float = 0.5

    def __post_init__(self) -> None:
        if not 0.0 < self.tta_zoom <= 1.0:
            raise ValueError(f"tta_zoom must be in (0, 1], got {self.tta_zoom}")
        if not 0.0 <= self.expert_weight <= 1.0:
            raise ValueError(f"expert_weight must be in [0, 1], got {self.expert_weight}")
        if not 0.0 <= self.expert_min_px < self.expert_full_px:
            raise ValueError(
                f"need 0 <= expert_min_px < expert_full_px, got {self.expert_min_px}, "
                f"{self.expert_full_px}"
            )

    def expert_share(self, sides_px: np.ndarray) -> np.ndarray:
        """The expert's weight for crops whose longest sides are ``sides_px`` (N,) [px]."""
        ramp = (np.asarray(sides_px, float) - self.expert_min_px) / (
            self.expert_full_px - self.expert_min_px
        )
        return self.expert_weight * np.clip(ramp, 0.0, 1.0)


class _Network:
    """One product ONNX model: SKU list, input size and recipe from its metadata."""

    def __init__(self, path: Path, threads: int) -> None:
        import onnxruntime as ort

        if not path.is_file():
            raise FileNotFoundError(
                f"product model {path} not found (train one: ./gostore train products --out {path})"
            )
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        meta = self.session.get_modelmeta().custom_metadata_map
        if "skus" not in meta or "input_size" not in meta:
            raise ValueError(f"{path} is not a product model: no 'skus'/'input_size' metadata")
        self.skus: tuple[str, ...] = tuple(json.loads(meta["skus"]))
        self.input_size = int(meta["input_size"])
        self.recipe: dict[str, object] = json.loads(meta.get("recipe", "{}"))
        self.path = path

    def prepare(self, crop: np.ndarray) -> np.ndarray:
        """BGR uint8 (H, W, 3) of any size -> float32 RGB (3, S, S) in [0, 255]."""
        size = self.input_size
        h, w = crop.shape[:2]
        interp = cv2.INTER_AREA if max(h, w) > size else cv2.INTER_LINEAR
        resized = cv2.resize(crop, (size, size), interpolation=interp)
        return resized[..., ::-1].transpose(2, 0, 1).astype(np.float32)

    def probabilities(self, crops: list[np.ndarray], tta_zoom: float | None) -> np.ndarray:
        views = [self.prepare(c) for c in crops]
        if tta_zoom is not None:
            views += [self.prepare(_centre_zoom(c, tta_zoom)) for c in crops]
        probs = _softmax(self.session.run(None, {"image": np.stack(views)})[0])
        if tta_zoom is not None:
            probs = 0.5 * (probs[: len(crops)] + probs[len(crops) :])
        return probs


def expert_setting(text: str) -> Path | str | None:
    """``expert_path`` from a parameter or option: "" or "shipped" -> the shipped default,
    "none" -> no expert, anything else -> that file."""
    if text in ("", SHIPPED):
        return SHIPPED
    return None if text == "none" else Path(text)


class ProductClassifier:
    """The product model, plus the full-size expert when there is one (see the module doc)."""

    def __init__(
        self,
        model_path: Path = DEFAULT_MODEL,
        config: ClassifierConfig | None = None,
        expert_path: Path | str | None = SHIPPED,
    ):
        """Load the model(s).

        ``expert_path``: a full-size expert of the same SKUs; ``None``: none; the default: the
        shipped expert when ``model_path`` is the shipped model, none otherwise.

        Raises:
            FileNotFoundError: when a model file does not exist (naming it).
            ValueError: when a file is not a product network (no SKU list in its metadata), or
                the expert's SKUs differ from the model's.
        """
        self.config = config or ClassifierConfig()
        self._main = _Network(Path(model_path), self.config.threads)
        self.skus = self._main.skus
        self.input_size = self._main.input_size
        self.recipe = self._main.recipe
        self.path = self._main.path
        if isinstance(expert_path, str) and expert_path == SHIPPED:
            shipped = Path(model_path).resolve() == DEFAULT_MODEL.resolve()
            expert_path = DEFAULT_EXPERT if shipped else None
        self.expert: _Network | None = None
        if expert_path is not None:
            self.expert = _Network(Path(expert_path), self.config.threads)
            if self.expert.skus != self.skus:
                raise ValueError(
                    f"expert {expert_path} ranks other SKUs than the product model {model_path}"
                )

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
        zoom = self.config.tta_zoom if self.config.tta else None
        probs = self._main.probabilities(crops, zoom)
        if self.expert is not None:
            share = self.config.expert_share(np.array([max(c.shape[:2]) for c in crops]))
            use = np.flatnonzero(share > 0)
            if len(use):
                expert = self.expert.probabilities([crops[i] for i in use], zoom)
                w = share[use, None].astype(np.float32)
                probs[use] = (1.0 - w) * probs[use] + w * expert
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
