"""Make a TF.js graph model loadable by tf2onnx: fill in the op attributes TF.js leaves out.

TF.js drops attributes that equal their default and the ``TArgs`` list of fused ops; TensorFlow's
graph importer (used by tf2onnx) needs them. The defaults come from TensorFlow's own op registry.

usage: python patch_tfjs.py SRC/model.json DST/model.json   (weight shards are copied alongside)
"""

from __future__ import annotations

import json
import shutil
import sys
from collections import Counter
from pathlib import Path

from google.protobuf import json_format
from tensorflow.python.framework import op_def_registry


def patch_nodes(nodes: list[dict]) -> Counter:
    """Add missing attributes to each graph node in place; return how many of each were added."""
    added: Counter = Counter()
    for node in nodes:
        attrs = node.setdefault("attr", {})
        if "num_args" in attrs and "TArgs" not in attrs:
            count = int(attrs["num_args"].get("i", 0))
            dtype = attrs.get("T", {}).get("type", "DT_FLOAT")
            attrs["TArgs"] = {"list": {"type": [dtype] * count}}
            added["TArgs"] += 1
        op_def = op_def_registry.get(node["op"])
        if op_def is None:
            continue
        for attr in op_def.attr:
            if attr.name not in attrs and attr.HasField("default_value"):
                attrs[attr.name] = json.loads(json_format.MessageToJson(attr.default_value))
                added[f"{node['op']}.{attr.name}"] += 1
    return added


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    src, dst = Path(argv[0]), Path(argv[1])
    model = json.loads(src.read_text())
    added = patch_nodes(model["modelTopology"]["node"])
    dst.parent.mkdir(parents=True, exist_ok=True)
    dst.write_text(json.dumps(model))
    for group in model["weightsManifest"]:
        for shard in group["paths"]:
            shutil.copyfile(src.parent / shard, dst.parent / shard)
    print(f"{src.name}: added {sum(added.values())} attributes ({dict(added)})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
