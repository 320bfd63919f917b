"""The grocery "Packages" data set on disk: split lists, class names, images, a content hash.

Layout (see ``src/go_perception/data/grocery/README.md``): ``classes.csv``, ``{train,val,test}.txt``
with lines ``path, fine id, coarse id`` and ``iconic/<name>.jpg`` catalogue images. Class names
(the fine-grained names, e.g. ``Arla-Standard-Milk``) are the SKUs.
"""

from __future__ import annotations

import csv
import hashlib
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

SPLITS = ("train", "val", "test")
DEFAULT_DATA_DIR = Path(__file__).resolve().parents[3] / "data" / "grocery"


@dataclass(frozen=True)
class LabelledImage:
    """One photograph with its class index into ``GroceryData.skus``."""

    path: Path
    label: int


@dataclass(frozen=True)
class GroceryData:
    """Class names, split lists and catalogue images of one data folder."""

    root: Path
    skus: tuple[str, ...]
    splits: dict[str, tuple[LabelledImage, ...]]
    iconic: tuple[Path | None, ...]

    def split(self, name: str) -> tuple[LabelledImage, ...]:
        """The images of split ``name`` (train, val or test)."""
        if name not in self.splits:
            raise ValueError(f"unknown split '{name}' (known: {', '.join(self.splits)})")
        return self.splits[name]


def load_grocery(root: Path = DEFAULT_DATA_DIR) -> GroceryData:
    """Read the class table and the split lists of ``root``.

    Raises:
        FileNotFoundError: when ``classes.csv``, a split list or a listed image is missing
            (naming the file).
        ValueError: when a list line names a class that ``classes.csv`` lacks.
    """
    root = Path(root)
    table = root / "classes.csv"
    if not table.is_file():
        raise FileNotFoundError(f"grocery data: {table} not found")
    with open(table, newline="") as f:
        rows = list(csv.reader(f))[1:]
    ids = {int(r[1]): r[0] for r in rows}
    skus = tuple(ids[k] for k in sorted(ids))
    index = {name: i for i, name in enumerate(skus)}
    splits: dict[str, tuple[LabelledImage, ...]] = {}
    for split in SPLITS:
        listing = root / f"{split}.txt"
        if not listing.is_file():
            raise FileNotFoundError(f"grocery data: split list {listing} not found")
        items = []
        for n, line in enumerate(listing.read_text().splitlines(), 1):
            if not line.strip():
                continue
            fields = [x.strip() for x in line.split(",")]
            fine = int(fields[1])
            if fine not in ids:
                raise ValueError(f"{listing}:{n}: class id {fine} is not in {table}")
            path = root / fields[0]
            if not path.is_file():
                raise FileNotFoundError(f"{listing}:{n}: image {path} not found")
            items.append(LabelledImage(path, index[ids[fine]]))
        splits[split] = tuple(items)
    iconic = tuple(
        (root / "iconic" / f"{s}.jpg") if (root / "iconic" / f"{s}.jpg").is_file() else None
        for s in skus
    )
    return GroceryData(root=root, skus=skus, splits=splits, iconic=iconic)


def read_bgr(path: Path) -> np.ndarray:
    """Decode an image file to a uint8 BGR array (H, W, 3).

    Raises:
        ValueError: when the file is missing or cannot be decoded (naming it).
    """
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None or image.size == 0:
        raise ValueError(f"cannot read image {path}: missing, empty or not an image")
    return image


def data_hash(root: Path = DEFAULT_DATA_DIR) -> str:
    """SHA-256 over the relative paths and bytes of every list, table and image under ``root``.

    Names the exact data a model was trained on, so a committed model can be reproduced.
    """
    root = Path(root)
    digest = hashlib.sha256()
    files = sorted(
        p for p in root.rglob("*") if p.is_file() and p.suffix in {".jpg", ".txt", ".csv"}
    )
    for path in files:
        digest.update(str(path.relative_to(root)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()
