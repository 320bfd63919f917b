"""Several product networks as one ONNX model: the mean of their class probabilities.

Networks trained from different seeds make different mistakes; the mean of their softmax
outputs is more often right than any one of them. ``make_ensemble`` joins product models of
the same SKU list and input size into one graph with the same interface (``image`` in,
``logits`` out, where the logits are the log of the mean probability, so a softmax of them gives
that mean back), so ``ProductClassifier`` and every node use it unchanged. The members' recipes
are kept in the metadata (``recipe.members``, with the members' file names and SHA-256 in
``recipe.member_files``, and ``recipe.data_hash`` when every member was trained on the same data).

    python -m go_perception.core.products.ensemble A.onnx B.onnx --out ENSEMBLE.onnx
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import onnx


def make_ensemble(members: Sequence[Path], out: Path, *, command: str = "") -> None:
    """Write the ensemble of product models ``members`` (at least two) to ``out``.

    Raises:
        FileNotFoundError: a member does not exist (named).
        ValueError: fewer than two members, or members with other SKUs or input sizes.
    """
    import onnx
    from onnx import compose, helper

    if len(members) < 2:
        raise ValueError("an ensemble needs at least two models")
    protos, metas = [], []
    for path in members:
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"product model {path} not found")
        proto = onnx.load(str(path))
        meta = {p.key: p.value for p in proto.metadata_props}
        if "skus" not in meta or "input_size" not in meta:
            raise ValueError(f"{path} is not a product model: no 'skus'/'input_size' metadata")
        protos.append(proto)
        metas.append(meta)
    for path, meta in zip(members[1:], metas[1:], strict=True):
        if meta["skus"] != metas[0]["skus"] or meta["input_size"] != metas[0]["input_size"]:
            raise ValueError(f"{path} has other SKUs or another input size than {members[0]}")
    opsets = {_opset(p) for p in protos}
    if len(opsets) != 1:
        raise ValueError(f"the members use different ONNX opsets {sorted(opsets)}")
    opset = opsets.pop()
    graphs = [compose.add_prefix(p, prefix=f"m{k}_").graph for k, p in enumerate(protos)]
    nodes, inits = [], []
    for k, graph in enumerate(graphs):
        # Every member reads the one shared input.
        for node in graph.node:
            node.input[:] = ["image" if x == f"m{k}_image" else x for x in node.input]
            nodes.append(node)
        inits.extend(graph.initializer)
        nodes.append(helper.make_node("Softmax", [f"m{k}_logits"], [f"m{k}_prob"], axis=1))
    summed = "m0_prob"
    for k in range(1, len(graphs)):
        nodes.append(helper.make_node("Add", [summed, f"m{k}_prob"], [f"sum{k}"]))
        summed = f"sum{k}"
    scale = helper.make_tensor("inv_members", onnx.TensorProto.FLOAT, [], [1.0 / len(graphs)])
    inits.append(scale)
    nodes.append(helper.make_node("Mul", [summed, "inv_members"], ["mean_prob"]))
    nodes.append(helper.make_node("Log", ["mean_prob"], ["logits"]))
    size = int(metas[0]["input_size"])
    n_skus = len(json.loads(metas[0]["skus"]))
    image = helper.make_tensor_value_info("image", onnx.TensorProto.FLOAT, ["batch", 3, size, size])
    logits = helper.make_tensor_value_info("logits", onnx.TensorProto.FLOAT, ["batch", n_skus])
    graph = helper.make_graph(nodes, "product_ensemble", [image], [logits], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = protos[0].ir_version
    member_recipes = [json.loads(m.get("recipe", "{}")) for m in metas]
    recipe: dict[str, object] = {
        "ensemble": "mean of the members' softmax probabilities",
        "command": command,
        "members": member_recipes,
        "member_files": [
            {"name": Path(m).name, "sha256": hashlib.sha256(Path(m).read_bytes()).hexdigest()}
            for m in members
        ],
    }
    hashes = {r.get("data_hash") for r in member_recipes}
    if len(hashes) == 1 and None not in hashes:
        recipe["data_hash"] = hashes.pop()  # every member was trained on the same data
    for key, value in (
        ("skus", metas[0]["skus"]),
        ("input_size", metas[0]["input_size"]),
        ("recipe", json.dumps(recipe, sort_keys=True)),
    ):
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.checker.check_model(model)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(out))


def _opset(proto: onnx.ModelProto) -> int:
    return max((o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")), default=17)


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns a process exit status."""
    p = argparse.ArgumentParser(
        prog="python -m go_perception.core.products.ensemble",
        description="Join product models into one ONNX model (mean of their probabilities).",
    )
    p.add_argument("members", type=Path, nargs="+", help="product models (same SKUs and size)")
    p.add_argument("--out", type=Path, required=True, help="ensemble model to write")
    args = p.parse_args(argv)
    command = "python -m go_perception.core.products.ensemble " + " ".join(
        sys.argv[1:] if argv is None else argv
    )
    try:
        make_ensemble(args.members, args.out, command=command)
    except (FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
