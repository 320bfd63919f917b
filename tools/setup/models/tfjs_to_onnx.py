"""Run ``tf2onnx.convert`` on numpy 2, which removed the ``np.product`` that tf2onnx 1.17 uses.

usage: python tfjs_to_onnx.py --tfjs model.json --output model.onnx --opset 17 [tf2onnx options]
"""

import runpy
import sys

import numpy as np

if not hasattr(np, "product"):
    np.product = np.prod

sys.argv = ["tf2onnx.convert", *sys.argv[1:]]
runpy.run_module("tf2onnx.convert", run_name="__main__")
