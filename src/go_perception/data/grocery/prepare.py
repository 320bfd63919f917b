"""Rebuild this folder from the Grocery Store Dataset's "Packages" subset.

Copies the 31 fine-grained packaged-goods classes (train/val/test photographs and one catalogue
("iconic") image each), downscaled so that the longest side is at most ``--max-side`` pixels
(the network sees 112 px; smaller copies keep the repository lean), plus the split lists, the
class table and the licence. Run once by hand; the copy is committed:

    python src/go_perception/data/grocery/prepare.py /path/to/grocery-packages \
        src/go_perception/data/grocery
"""

from __future__ import annotations

import argparse
import csv
import shutil
import sys
from pathlib import Path

import cv2

SPLITS = ("train", "val", "test")


def _downscaled_copy(src: Path, dst: Path, max_side: int, quality: int) -> None:
    image = cv2.imread(str(src), cv2.IMREAD_COLOR)
    if image is None:
        raise ValueError(f"cannot decode {src}")
    h, w = image.shape[:2]
    scale = min(1.0, max_side / max(h, w))
    if scale < 1.0:
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    dst.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(dst), image, [cv2.IMWRITE_JPEG_QUALITY, quality]):
        raise OSError(f"cannot write {dst}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path, help="folder with LICENSE and dataset/")
    parser.add_argument("dest", type=Path, help="folder to write (this one)")
    parser.add_argument("--max-side", type=int, default=160, help="longest image side [px]")
    parser.add_argument("--quality", type=int, default=90, help="JPEG quality of the copies")
    args = parser.parse_args(argv)
    src = args.source / "dataset"
    if not (src / "classes.csv").is_file():
        print(f"error: {src / 'classes.csv'} not found", file=sys.stderr)
        return 2
    args.dest.mkdir(parents=True, exist_ok=True)
    shutil.copy(args.source / "LICENSE", args.dest / "LICENSE")
    with open(src / "classes.csv", newline="") as f:
        rows = [r for r in csv.reader(f)]
    header, packages = rows[0], [r for r in rows[1:] if "/Packages/" in r[4]]
    with open(args.dest / "classes.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(packages)
    for row in packages:
        name = row[0]
        _downscaled_copy(
            src / row[4].lstrip("/"), args.dest / "iconic" / f"{name}.jpg", 2 * args.max_side, 92
        )
    for split in SPLITS:
        lines = [ln for ln in (src / f"{split}.txt").read_text().splitlines() if "/Packages/" in ln]
        for line in lines:
            rel = line.split(",")[0].strip()
            _downscaled_copy(src / rel, args.dest / rel, args.max_side, args.quality)
        (args.dest / f"{split}.txt").write_text("\n".join(lines) + "\n")
        print(f"{split}: {len(lines)} images")
    return 0


if __name__ == "__main__":
    sys.exit(main())
