"""People/pose figures on real media: ``python -m go_perception.benchmark [--json OUT]``.

Measures, with the set-up models (``./gostore setup``):

- person recall and precision on the hand-labelled vtest.avi frames (test/data/vtest_labels.json);
- wrists of both basketball players (opencv-doc basketball1/2.png) against hand-marked hands;
- milliseconds per 640 x 480 frame for detection + pose with 1 and 5 people, with 1 and 2
  onnxruntime threads, for the default (int8) models and the fp32 ones (the frame is vtest.avi
  scaled to 640 x 480; "N people" = the detector run plus the pose model on N of its person
  boxes), and for the whole estimator on that frame (5 people plus the body test of its weak
  candidates);
- with ``--node-seconds S``: perception_node (1 thread, this process pinned to one core) fed that
  5-person frame at 30 Hz for S seconds: frames out per second, drops, the model's own time, the
  node's overhead (whole processing of a frame vs the model alone) and the processing thread's
  CPU time per frame (1000 / it = frames per second on an idle core); ``--node-precision fp32``
  runs it with the fp32 models.

Results go to stdout as Markdown (docs/benchmarks/perception.md) and optionally to JSON.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from go_perception.core.backends import BackendConfig, PoseEstimator, make_estimator
from go_perception.core.evaluation import MatchCounts, match_boxes
from go_perception.core.keypoints import LEFT_WRIST, RIGHT_WRIST, Detection, Person, iou

MEDIA = Path("/usr/share/doc/opencv-doc/examples/data")
LABELS = Path(__file__).resolve().parents[1] / "test" / "data" / "vtest_labels.json"
# Hand-marked players of basketball1/2.png: body box and the region holding both hands
# (x1, y1, x2, y2 px). Both players hold their hands in front of the chest.
BASKETBALL_PLAYERS: dict[str, list[dict[str, list[float]]]] = {
    "basketball1.png": [
        {"body": [33, 80, 160, 477], "hands": [125, 140, 170, 170]},
        {"body": [433, 23, 640, 480], "hands": [430, 215, 485, 260]},
    ],
    "basketball2.png": [
        {"body": [33, 80, 160, 477], "hands": [120, 145, 165, 172]},
        {"body": [425, 20, 640, 480], "hands": [425, 190, 485, 245]},
    ],
}
SPEED_FRAME = 60  # vtest.avi frame in which the default backend finds 5 people at 640 x 480


def read_video_frames(path: Path, wanted: set[int]) -> dict[int, np.ndarray]:
    """The wanted 0-based frames of a video, BGR (H, W, 3) uint8.

    Raises:
        FileNotFoundError: the video cannot be opened (opencv-doc not installed).
    """
    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        raise FileNotFoundError(f"{path}: cannot open (apt-get install opencv-doc)")
    frames: dict[int, np.ndarray] = {}
    index = 0
    while len(frames) < len(wanted):
        ok, frame = capture.read()
        if not ok:
            break
        if index in wanted:
            frames[index] = frame
        index += 1
    capture.release()
    return frames


def vtest_counts(estimator: PoseEstimator, labels_path: Path = LABELS) -> MatchCounts:
    """Recall/precision counts of ``estimator`` over the labelled vtest.avi frames."""
    labels = json.loads(labels_path.read_text())
    frames = read_video_frames(Path(labels["video"]), {f["frame"] for f in labels["frames"]})
    total = MatchCounts()
    for entry in labels["frames"]:
        people = estimator(frames[entry["frame"]])
        boxes = np.array([p.bbox for p in people]).reshape(-1, 4)
        labelled = np.array([p["bbox"] for p in entry["people"]], dtype=float)
        difficult = np.array([p["difficult"] for p in entry["people"]])
        total = total + match_boxes(boxes, labelled, difficult)
    return total


@dataclass(frozen=True)
class WristResult:
    """Wrists found for one hand-marked player: which of left/right lie on the hands."""

    image: str
    player: int
    detected: bool
    left: bool
    right: bool


def _inside(keypoint: np.ndarray, box: np.ndarray, min_score: float) -> bool:
    """Is keypoint (x, y, score) confident and inside box (x1, y1, x2, y2)?"""
    x, y, score = keypoint
    return bool(score >= min_score and box[0] <= x <= box[2] and box[1] <= y <= box[3])


def wrist_results(estimator: PoseEstimator, min_score: float = 0.2) -> list[WristResult]:
    """For each basketball player: is a wrist (score >= min_score) on the player's hands?

    "On the hands" allows 0.1 x the player's box height around the marked hand region (the
    PCK@0.1 tolerance); the player is the detected person with IoU >= 0.5 with the body box.
    """
    results = []
    for name, players in BASKETBALL_PLAYERS.items():
        people = estimator(cv2.imread(str(MEDIA / name), cv2.IMREAD_COLOR))
        for index, player in enumerate(players):
            body = np.array(player["body"], dtype=float)
            overlaps = iou(body[None], np.array([p.bbox for p in people]).reshape(-1, 4))[0]
            if not people or overlaps.max() < 0.5:
                results.append(WristResult(name, index, False, False, False))
                continue
            # among the matching boxes, prefer one with a skeleton (a pose-NMS duplicate keeps
            # only its box), then the best overlap
            skeleton = np.array([(p.keypoints[:, 2] > 0).any() for p in people], dtype=float)
            overlaps = np.where(overlaps >= 0.5, overlaps + 2.0 * skeleton, -1.0)
            person = people[int(overlaps.argmax())]
            tol = 0.1 * (body[3] - body[1])
            hands = np.array(player["hands"], dtype=float) + np.array([-tol, -tol, tol, tol])
            left, right = (
                _inside(person.keypoints[k], hands, min_score) for k in (LEFT_WRIST, RIGHT_WRIST)
            )
            results.append(WristResult(name, index, True, left, right))
    return results


def frame_ms(
    config: BackendConfig, frame: np.ndarray, people: int, repeats: int
) -> tuple[float, float, float]:
    """(median, minimum, median CPU) ms of the detector plus pose on ``people`` boxes of ``frame``.

    On a shared machine the wall time includes waiting for a core; the CPU time of the calling
    thread (all of the work with 1 onnxruntime thread, which runs in the caller) does not, so it
    estimates the wall time on an idle core. With more threads only wall times mean anything.
    """
    estimator = make_estimator(config)
    boxes: list[Detection | Person] = [
        d for d in estimator.detect(frame) if d.score >= config.score_threshold
    ]
    if len(boxes) < people:
        raise RuntimeError(f"speed frame has {len(boxes)} people, {people} needed")
    assert estimator.pose is not None
    wall, cpu = [], []
    for _ in range(repeats + 2):
        start, start_cpu = time.perf_counter(), time.thread_time()
        estimator.detect(frame)
        for found in boxes[:people]:
            estimator.pose(frame, found.bbox)
        wall.append(time.perf_counter() - start)
        cpu.append(time.thread_time() - start_cpu)
    return (
        float(np.median(wall[2:]) * 1000.0),
        float(np.min(wall[2:]) * 1000.0),
        float(np.median(cpu[2:]) * 1000.0),
    )


def estimator_ms(
    config: BackendConfig, frame: np.ndarray, repeats: int
) -> tuple[float, float, int]:
    """(median wall, median CPU) ms of the whole estimator on ``frame`` and the people it finds.

    Unlike ``frame_ms`` this includes the body test of weak candidates: what a camera frame costs.
    """
    estimator = make_estimator(config)
    wall, cpu = [], []
    people = 0
    for _ in range(repeats + 2):
        start, start_cpu = time.perf_counter(), time.thread_time()
        people = len(estimator(frame))
        wall.append(time.perf_counter() - start)
        cpu.append(time.thread_time() - start_cpu)
    return float(np.median(wall[2:]) * 1000.0), float(np.median(cpu[2:]) * 1000.0), people


def node_figures(
    frame: np.ndarray, seconds: float, rate_hz: float = 30.0, precision: str = "int8"
) -> dict[str, float]:
    """Run perception_node on one core, fed ``frame`` at ``rate_hz``; its throughput figures.

    precision: ``int8`` or ``fp32``, the set-up NanoDet and MoveNet copies the node runs.
    """
    import os

    import rclpy
    from rclpy.context import Context
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.node import Node
    from rclpy.parameter import Parameter
    from sensor_msgs.msg import Image

    from go_common import qos, topics
    from go_common.image import numpy_to_image
    from go_msgs.msg import PersonDetectionArray
    from go_perception.nodes.perception_node import PerceptionNode

    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    context = Context()
    rclpy.init(context=context)
    outputs: list[int] = []
    try:
        node = PerceptionNode(
            context=context,
            parameter_overrides=[
                Parameter("camera_ids", value=["bench"]),
                Parameter("threads", value=1),
                Parameter("detector_precision", value=precision),
                Parameter("pose_precision", value=precision),
            ],
        )
        camera = Node("bench_camera", context=context)
        executor = SingleThreadedExecutor(context=context)
        executor.add_node(node)
        executor.add_node(camera)
        camera.create_subscription(
            PersonDetectionArray,
            topics.camera_people("bench"),
            lambda msg: outputs.append(len(msg.people)),
            qos.EVENTS,
        )
        publisher = camera.create_publisher(Image, topics.camera_image("bench"), qos.SENSOR)
        image = numpy_to_image(frame, "bgr8")

        def publish() -> None:
            image.header.stamp = camera.get_clock().now().to_msg()
            publisher.publish(image)

        node.trigger_configure()
        node.trigger_activate()
        camera.create_timer(1.0 / rate_hz, publish)
        start = time.perf_counter()
        while time.perf_counter() - start < seconds:
            executor.spin_once(timeout_sec=0.01)
        elapsed = time.perf_counter() - start
        stats = node.stats["bench"].summary()
        received = node.frames.received["bench"]
        dropped = node.frames.dropped["bench"]
        node.trigger_deactivate()
        executor.shutdown()
    finally:
        rclpy.shutdown(context=context)
    return {
        "fps_out": round(len(outputs) / elapsed, 1),
        # CPU time of the processing thread per frame: one idle core sustains 1000 / it fps.
        "cpu_ms": round(stats["cpu_ms"], 1),
        "fps_idle_core_estimate": round(1000.0 / stats["cpu_ms"], 1) if stats["cpu_ms"] else 0.0,
        "fps_in": round(received / elapsed, 1),
        "dropped": float(dropped),
        "people_per_frame": float(np.median(outputs)) if outputs else 0.0,
        "model_ms": round(stats["model_ms"], 1),
        "work_ms": round(stats["work_ms"], 1),
        "overhead_pct": round(stats["overhead_pct"], 1),
        "latency_ms": round(stats["latency_ms"], 1),
    }


def main(argv: list[str] | None = None) -> int:
    """Entry point; prints the Markdown figures, returns 0."""
    parser = argparse.ArgumentParser(prog="python -m go_perception.benchmark", description=__doc__)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--repeats", type=int, default=30, help="timed runs per figure")
    parser.add_argument("--node-seconds", type=float, default=0.0, help="also run the node test")
    parser.add_argument(
        "--node-precision",
        choices=("int8", "fp32"),
        default="int8",
        help="models the node test runs (default: int8, the default backend)",
    )
    args = parser.parse_args(argv)
    figures: dict[str, object] = {}
    counts = vtest_counts(make_estimator(BackendConfig(threads=2)))
    figures["vtest"] = {
        "true_positives": counts.true_positives,
        "false_positives": counts.false_positives,
        "misses": counts.misses,
        "recall": round(counts.recall, 3),
        "precision": round(counts.precision, 3),
    }
    print(
        f"vtest.avi ({counts.true_positives + counts.misses} labelled people): recall "
        f"{counts.recall:.3f}, precision {counts.precision:.3f} "
        f"(TP {counts.true_positives}, FP {counts.false_positives}, missed {counts.misses})"
    )
    wrists = wrist_results(make_estimator(BackendConfig(threads=2)))
    figures["wrists"] = [w.__dict__ for w in wrists]
    print("\n| image | player | detected | left wrist on hands | right wrist on hands |")
    print("|---|---|---|---|---|")
    for w in wrists:
        print(f"| {w.image} | {w.player} | {w.detected} | {w.left} | {w.right} |")
    frame = read_video_frames(MEDIA / "vtest.avi", {SPEED_FRAME})[SPEED_FRAME]
    frame = cv2.resize(frame, (640, 480), interpolation=cv2.INTER_AREA)
    fp32 = {"detector_precision": "fp32", "pose_precision": "fp32"}
    print(
        "\n| people | int8, 1 thread: wall median (min), CPU ms | int8, 2 threads: wall median"
        " (min) | fp32, 1 thread: wall median, CPU ms |"
    )
    print("|---|---|---|---|")
    speed: dict[str, dict[str, float]] = {}
    for people in (1, 5):
        one = frame_ms(BackendConfig(threads=1), frame, people, args.repeats)
        two = frame_ms(BackendConfig(threads=2), frame, people, args.repeats)
        ref = frame_ms(BackendConfig(threads=1, **fp32), frame, people, args.repeats)
        speed[str(people)] = {
            "threads_1_wall_median_ms": round(one[0], 1),
            "threads_1_wall_min_ms": round(one[1], 1),
            "threads_1_cpu_ms": round(one[2], 1),
            "threads_2_wall_median_ms": round(two[0], 1),
            "threads_2_wall_min_ms": round(two[1], 1),
            "fp32_threads_1_wall_median_ms": round(ref[0], 1),
            "fp32_threads_1_cpu_ms": round(ref[2], 1),
        }
        cells = (
            f"{one[0]:.1f} ({one[1]:.1f}), {one[2]:.1f} | {two[0]:.1f} ({two[1]:.1f})"
            f" | {ref[0]:.1f}, {ref[2]:.1f}"
        )
        print(f"| {people} | {cells} |")
    whole: dict[str, dict[str, float]] = {}
    print("\n| whole estimator, 1 thread | people | wall median ms | CPU ms | fps on one core |")
    print("|---|---|---|---|---|")
    for name, config in (
        ("int8", BackendConfig(threads=1)),
        ("fp32", BackendConfig(threads=1, **fp32)),
    ):
        wall, cpu, found = estimator_ms(config, frame, args.repeats)
        whole[name] = {"people": found, "wall_median_ms": round(wall, 1), "cpu_ms": round(cpu, 1)}
        print(f"| {name} | {found} | {wall:.1f} | {cpu:.1f} | {1000.0 / cpu:.1f} |")
    figures["ms_per_640x480_frame"] = speed
    figures["whole_frame_one_thread"] = whole
    if args.node_seconds > 0:
        node = node_figures(frame, args.node_seconds, precision=args.node_precision)
        figures["node_one_core"] = node
        print("\n| node, one core | value |\n|---|---|")
        for key, value in node.items():
            print(f"| {key} | {value} |")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
