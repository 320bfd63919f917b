"""``./gostore make-bag``: write a simulated session as a rosbag2 (MCAP) sample bag.

The bag holds exactly what the sensors publish (the topics and types of the real drivers):
/clock, /tf_static, cameras/<cam>/camera_info and image_raw/compressed (JPEG), shelves/load_cells,
gates/events, store/layout and store/catalogue. Ground truth stays out of the bag: it is written
beside it as ground_truth.jsonl and expected_receipts.json, for scoring only. Bag time is the
simulated time, so a replay with /clock reproduces the session's stamps.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from rclpy.serialization import serialize_message
from rosgraph_msgs.msg import Clock
from std_msgs.msg import Header
from tf2_msgs.msg import TFMessage
from tqdm import tqdm

from go_common import topics
from go_common.bags.storage import BagWriter, TopicQos
from go_common.conversions import camera_info_msg, matrix_to_transform_msg, seconds_to_stamp
from go_common.core.store import load_store
from go_common.core.tf_tree import calibration_from_store
from go_common.image import numpy_to_compressed
from go_sensors.conversions import catalogue_msg, gate_event_msg, load_cell_msgs, store_layout_msg
from go_sensors.core.render import Renderer
from go_sensors.core.simulator import Simulator, meta_record, step_records

SENSOR = TopicQos(reliable=False, depth=5)
EVENTS = TopicQos(reliable=True, depth=50)
LATCHED = TopicQos(reliable=True, transient_local=True, depth=1)


def _abs(topic: str) -> str:
    return topic if topic.startswith("/") else "/" + topic


def make_bag(
    store_name: str,
    scenario: str,
    out: Path,
    seed: int = 0,
    camera_hz: float = 5.0,
    jpeg_quality: int = 60,
) -> dict:
    """Simulate ``scenario`` and write the bag directory ``out`` (must not exist)."""
    store = load_store(store_name)
    sim = Simulator(store, scenario, seed)
    renderer = Renderer(store)
    calibrations = calibration_from_store(store)
    writer = BagWriter(out)
    cams = sorted(store.cameras)
    writer.add_topic(topics.CLOCK, "rosgraph_msgs/msg/Clock", SENSOR)
    writer.add_topic(topics.TF_STATIC, "tf2_msgs/msg/TFMessage", LATCHED)
    writer.add_topic(_abs(topics.STORE_LAYOUT), "go_msgs/msg/StoreLayout", LATCHED)
    writer.add_topic(_abs(topics.STORE_CATALOGUE), "go_msgs/msg/Catalogue", LATCHED)
    writer.add_topic(_abs(topics.SHELVES_LOAD_CELLS), "go_msgs/msg/LoadCellBoard", EVENTS)
    writer.add_topic(_abs(topics.GATES_EVENTS), "go_msgs/msg/GateEvent", EVENTS)
    for cam in cams:
        writer.add_topic(_abs(topics.camera_info(cam)), "sensor_msgs/msg/CameraInfo", SENSOR)
        writer.add_topic(
            _abs(topics.camera_image_compressed(cam)), "sensor_msgs/msg/CompressedImage", SENSOR
        )
    transforms = [
        matrix_to_transform_msg(cal.parent_frame, cal.optical_frame, cal.T_parent_optical, 0)
        for cal in calibrations.values()
    ]
    writer.write(topics.TF_STATIC, 0, serialize_message(TFMessage(transforms=transforms)))
    writer.write(_abs(topics.STORE_LAYOUT), 0, serialize_message(store_layout_msg(store)))
    writer.write(_abs(topics.STORE_CATALOGUE), 0, serialize_message(catalogue_msg(store)))
    truth = [meta_record(sim)]
    expected = []
    for step in tqdm(sim.run(step_s=1.0 / camera_hz), desc=scenario, unit="step", leave=False):
        t_ns = round(step.t * 1e9)
        writer.write(topics.CLOCK, t_ns, serialize_message(Clock(clock=seconds_to_stamp(step.t))))
        for batch in step.boards:
            for msg in load_cell_msgs(batch, 4):
                stamp = msg.header.stamp
                writer.write(
                    _abs(topics.SHELVES_LOAD_CELLS),
                    stamp.sec * 1_000_000_000 + stamp.nanosec,
                    serialize_message(msg),
                )
        for crossing in step.gate_events:
            writer.write(
                _abs(topics.GATES_EVENTS),
                round(crossing.t * 1e9),
                serialize_message(gate_event_msg(crossing)),
            )
        for cam in cams:
            if cam in step.cameras_down:
                continue
            info = camera_info_msg(calibrations[cam], t_ns)
            writer.write(_abs(topics.camera_info(cam)), t_ns, serialize_message(info))
            header = Header(
                stamp=seconds_to_stamp(step.t), frame_id=calibrations[cam].optical_frame
            )
            image = numpy_to_compressed(
                renderer.render(cam, step.world), "bgr8", jpeg_quality, header
            )
            writer.write(_abs(topics.camera_image_compressed(cam)), t_ns, serialize_message(image))
        records = step_records(step, with_tracks=True)
        truth += records
        expected += [r for r in records if r["type"] == "receipt"]
    writer.close()
    with (out / "ground_truth.jsonl").open("w") as stream:
        for record in truth:
            stream.write(json.dumps(record, separators=(",", ":")) + "\n")
    (out / "expected_receipts.json").write_text(json.dumps(expected, indent=2) + "\n")
    return {"duration_s": sim.duration, "receipts": expected, "cameras": cams}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="gostore make-bag", description=__doc__.split("\n\n")[0])
    parser.add_argument("--store", default="small", help="store name or YAML")
    parser.add_argument("--scenario", required=True, help="scenario name")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, required=True, help="bag directory to create")
    parser.add_argument("--camera-hz", type=float, default=5.0, help="camera frame rate [Hz]")
    parser.add_argument("--jpeg-quality", type=int, default=60, help="JPEG quality 1..100")
    args = parser.parse_args(argv)
    if args.out.exists():
        print(f"gostore make-bag: {args.out} exists; remove it first", file=sys.stderr)
        return 1
    info = make_bag(
        args.store, args.scenario, args.out, args.seed, args.camera_hz, args.jpeg_quality
    )
    print(f"wrote {args.out}: {info['duration_s']:.0f} s, {len(info['receipts'])} receipts")
    return 0
