"""The product recognition network: a small residual CNN with batch norm, and its ONNX export.

No ImageNet weights can be had offline, so the network is small enough to train from scratch
on about a thousand photographs on a CPU: a strided stem, four stages of one residual block
each (widths ``widths``), global average pooling, dropout and a linear classifier.

The exported ONNX graph takes ``image``: float32 (N, 3, S, S) RGB in [0, 255] and returns
``logits``: float32 (N, K); normalisation is inside the graph so that a caller only resizes.
The class names (SKUs), the input size and the training recipe are stored in the model's
metadata (``skus`` as a JSON list, ``input_size``, ``recipe`` as JSON).
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import torch
from torch import nn

MEAN_RGB = (0.5, 0.5, 0.5)
STD_RGB = (0.25, 0.25, 0.25)


class _Block(nn.Module):
    """A basic residual block: two 3x3 convolutions, BN, ReLU, projection shortcut on change."""

    def __init__(self, c_in: int, c_out: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Sequential(
                nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = torch.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return torch.relu(y + self.shortcut(x))


class ProductNet(nn.Module):
    """Small ResNet classifier. Input (N, 3, S, S) RGB in [0, 255]; output logits (N, K)."""

    def __init__(
        self,
        num_classes: int,
        widths: tuple[int, ...] = (32, 64, 128, 192),
        blocks: tuple[int, ...] = (1, 1, 1, 1),
        dropout: float = 0.2,
    ) -> None:
        super().__init__()
        self.register_buffer("mean", torch.tensor(MEAN_RGB).view(1, 3, 1, 1) * 255.0)
        self.register_buffer("std", torch.tensor(STD_RGB).view(1, 3, 1, 1) * 255.0)
        self.stem = nn.Sequential(
            nn.Conv2d(3, widths[0], 5, 2, 2, bias=False),
            nn.BatchNorm2d(widths[0]),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(3, 2, 1),
        )
        layers: list[nn.Module] = []
        c_in = widths[0]
        for i, (width, count) in enumerate(zip(widths, blocks, strict=True)):
            for j in range(count):
                layers.append(_Block(c_in, width, 2 if (i > 0 and j == 0) else 1))
                c_in = width
        self.stages = nn.Sequential(*layers)
        self.head = nn.Sequential(
            nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(dropout), nn.Linear(c_in, num_classes)
        )
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = (x - self.mean) / self.std
        return self.head(self.stages(self.stem(x)))


def export_onnx(
    model: ProductNet,
    path: Path,
    *,
    skus: tuple[str, ...],
    input_size: int,
    recipe: dict[str, object],
) -> None:
    """Write ``model`` to ``path`` as ONNX (dynamic batch) with SKUs and recipe as metadata."""
    import onnx  # only needed to write models, not to run them

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    model = model.eval()
    dummy = torch.zeros(1, 3, input_size, input_size)
    # The TorchScript exporter (dynamo=False) needs only the onnx package; the newer exporter
    # would add onnxscript. It warns that it is deprecated, which is known and not actionable.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(
            model,
            (dummy,),
            str(path),
            dynamo=False,
            input_names=["image"],
            output_names=["logits"],
            dynamic_axes={"image": {0: "batch"}, "logits": {0: "batch"}},
            opset_version=17,
        )
    proto = onnx.load(str(path))
    meta = {"skus": json.dumps(list(skus)), "input_size": str(input_size)}
    meta["recipe"] = json.dumps(recipe, sort_keys=True)
    for key, value in meta.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.save(proto, str(path))
