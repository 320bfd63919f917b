"""Give a converted fully-convolutional ONNX model a free input height and width.

TF.js stores NanoDet with a fixed 1x3x416x416 input, but every layer works at any multiple of
32; declaring the size free lets the runtime letterbox a 640 x 480 frame to 416 x 320 instead of
416 x 416 (a quarter less work, same resolution). Output dimension 1 (cells) becomes free too.

usage: python dynamic_input.py MODEL.onnx   (rewritten in place)
"""

from __future__ import annotations

import sys

import onnx


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    model = onnx.load(argv[0])
    dims = model.graph.input[0].type.tensor_type.shape.dim
    dims[2].dim_param, dims[3].dim_param = "height", "width"
    for output in model.graph.output:
        output.type.tensor_type.shape.dim[1].dim_param = "cells"
    # Shapes inferred for the fixed size would contradict the free one.
    del model.graph.value_info[:]
    onnx.checker.check_model(model)
    onnx.save(model, argv[0])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
