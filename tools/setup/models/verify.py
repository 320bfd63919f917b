"""Check a converted ONNX model against tools/setup/models/models.json.

Checks input/output names, shapes and dtypes, the sha256 of the weights, and runs one forward pass
on a fixed input (outputs must be finite). Prints what differs and exits 1 on a mismatch.

The weights digest, not the file's sha256, is compared: tf2onnx writes the same weights and ops
in a different node order from run to run, so the file bytes are not reproducible.

usage: python verify.py SPEC.json NAME MODEL.onnx
       python verify.py --describe MODEL.onnx     (print the entry to put in SPEC.json)
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnx import numpy_helper

DTYPES = {"tensor(float)": np.float32, "tensor(int32)": np.int32}


def weights_sha256(path: Path) -> str:
    """sha256 over the sorted digests of every initializer's values (independent of node order)."""
    model = onnx.load(str(path))
    digests = sorted(
        hashlib.sha256(numpy_helper.to_array(t).tobytes()).hexdigest()
        for t in model.graph.initializer
    )
    return hashlib.sha256("".join(digests).encode()).hexdigest()


def describe(path: Path) -> dict:
    """Names, shapes and dtypes of a model's inputs and outputs, plus its weights digest."""
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])

    def io(args: list) -> list[dict]:
        return [{"name": a.name, "shape": list(a.shape), "type": a.type} for a in args]

    return {
        "inputs": io(session.get_inputs()),
        "outputs": io(session.get_outputs()),
        "weights_sha256": weights_sha256(path),
    }


def forward_pass(path: Path, spec: dict) -> list[str]:
    """Run the model once on a fixed mid-grey input; return the problems found."""
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    feeds = {}
    for entry in spec["inputs"]:
        # Symbolic dimensions (MoveNet MultiPose's height and width) get 256, the batch 1.
        dims = entry["shape"]
        shape = [d if isinstance(d, int) else 256 if i > 0 else 1 for i, d in enumerate(dims)]
        feeds[entry["name"]] = np.full(shape, 128, dtype=DTYPES[entry["type"]])
        if entry["type"] == "tensor(float)":
            feeds[entry["name"]] /= 255.0
    problems = []
    for meta, value in zip(session.get_outputs(), session.run(None, feeds), strict=True):
        if not np.all(np.isfinite(value)):
            problems.append(f"output {meta.name} has non-finite values")
    return problems


def main(argv: list[str]) -> int:
    if len(argv) == 2 and argv[0] == "--describe":
        print(json.dumps(describe(Path(argv[1])), indent=2))
        return 0
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    spec_path, name, model_path = Path(argv[0]), argv[1], Path(argv[2])
    spec = json.loads(spec_path.read_text()).get(name)
    if spec is None:
        print(f"{spec_path} has no entry '{name}'", file=sys.stderr)
        return 1
    got = describe(model_path)
    problems = [
        f"{key}: expected {spec[key]}, got {got[key]}"
        for key in ("inputs", "outputs", "weights_sha256")
        if got[key] != spec[key]
    ]
    if not problems:
        problems = forward_pass(model_path, spec)
    for problem in problems:
        print(f"{model_path}: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
