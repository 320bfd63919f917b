"""go_sensors core types <-> ROS messages: load-cell batches, gate events, the store, truth.

Stamps are float seconds in the core and ``builtin_interfaces/Time`` here (go_common converts).
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
from geometry_msgs.msg import Point, Pose, Vector3
from std_msgs.msg import String

from go_common import topics
from go_common.conversions import seconds_to_stamp
from go_common.core.store import StoreModel
from go_msgs.msg import Bin, Catalogue, Gate, GateEvent, LoadCellBoard, Product, StoreLayout
from go_sensors.core.loadcells import LoadCellBatch
from go_sensors.core.truth import GateCrossing


def load_cell_msgs(batch: LoadCellBatch, max_samples: int = 4) -> list[LoadCellBoard]:
    """Split a batch into LoadCellBoard messages of at most ``max_samples`` samples each.

    Each message's stamp is the time of its first sample; grams are row-major N x C.
    """
    if max_samples < 1:
        raise ValueError(f"max_samples must be >= 1, got {max_samples}")
    out = []
    n = batch.grams.shape[0]
    for k in range(0, n, max_samples):
        rows = batch.grams[k : k + max_samples]
        msg = LoadCellBoard()
        msg.header.stamp = seconds_to_stamp(batch.t0 + k * batch.sample_period)
        msg.header.frame_id = topics.STORE_FRAME
        msg.board_id = batch.board_id
        msg.channel_ids = list(batch.channel_ids)
        msg.sample_period = float(batch.sample_period)
        msg.num_samples = int(rows.shape[0])
        msg.grams = [float(v) for v in np.asarray(rows, dtype=np.float32).ravel()]
        msg.channel_status = [int(s) for s in batch.status]
        out.append(msg)
    return out


def gate_event_msg(crossing: GateCrossing) -> GateEvent:
    """A simulated gate crossing -> go_msgs/GateEvent (exit tokens are empty, as a real gate)."""
    msg = GateEvent()
    msg.header.stamp = seconds_to_stamp(crossing.t)
    msg.header.frame_id = topics.STORE_FRAME
    msg.kind = GateEvent.KIND_ENTRY if crossing.kind == "entry" else GateEvent.KIND_EXIT
    msg.gate_id = crossing.gate_id
    msg.session_token = crossing.session_token
    msg.group_size = int(crossing.group_size)
    msg.position = Point(x=crossing.position[0], y=crossing.position[1], z=crossing.position[2])
    return msg


def store_layout_msg(store: StoreModel, t: float = 0.0) -> StoreLayout:
    """The store's bins, gates and cameras -> go_msgs/StoreLayout (published latched)."""
    msg = StoreLayout()
    msg.header.stamp = seconds_to_stamp(t)
    msg.header.frame_id = store.frame_id
    msg.store_id = store.store_id
    msg.floor_size = Vector3(x=store.floor_size[0], y=store.floor_size[1], z=store.ceiling_height)
    for bin_id, b in sorted(store.bins.items()):
        pose = Pose()
        pose.position = Point(x=float(b.center[0]), y=float(b.center[1]), z=float(b.center[2]))
        pose.orientation.w = 1.0  # bins are axis-aligned in the store frame
        entries = store.planogram.get(bin_id, ())
        msg.bins.append(
            Bin(
                bin_id=bin_id,
                shelf_id=b.shelf_id,
                gondola_id=b.gondola_id,
                pose=pose,
                size=Vector3(x=float(b.size[0]), y=float(b.size[1]), z=float(b.size[2])),
                skus=[e.sku for e in entries],
                counts=[int(e.count) for e in entries],
                board_id=b.board_id,
                channel=int(b.channel),
            )
        )
    for gate_id, g in sorted(store.gates.items()):
        msg.gates.append(
            Gate(
                gate_id=gate_id,
                kind=Gate.KIND_ENTRY if g.kind == "entry" else Gate.KIND_EXIT,
                min_corner=Point(x=g.min_xy[0], y=g.min_xy[1], z=0.0),
                max_corner=Point(x=g.max_xy[0], y=g.max_xy[1], z=store.ceiling_height),
            )
        )
    msg.camera_ids = sorted(store.cameras)
    return msg


def catalogue_msg(store: StoreModel, t: float = 0.0) -> Catalogue:
    """The catalogue (catalogue weights, never the simulator's true ones) -> go_msgs/Catalogue."""
    msg = Catalogue()
    msg.header.stamp = seconds_to_stamp(t)
    msg.header.frame_id = store.frame_id
    msg.currency = store.currency
    for sku, p in sorted(store.products.items()):
        msg.products.append(
            Product(
                sku=sku,
                name=p.name,
                price=float(p.price),
                unit_weight_g=float(p.unit_weight_g),
                unit_weight_sd_g=float(p.unit_weight_sd_g),
                dimensions=Vector3(
                    x=float(p.dims_m[0]), y=float(p.dims_m[1]), z=float(p.dims_m[2])
                ),
                barcode=p.barcode,
            )
        )
    return msg


def json_msg(record: dict[str, Any]) -> String:
    """A ground-truth record -> std_msgs/String holding one JSON object."""
    return String(data=json.dumps(record, separators=(",", ":")))
