"""static_tf_node: publishes ``store -> <camera>_optical`` for every camera on ``/tf_static``.

The calibration comes from a store model (``calibration: small``, or a store YAML) or from a
plain calibration YAML of a real installation. The transforms are latched (transient local), so
nodes that start later still receive them; the node then only keeps the publisher alive. A
calibration that cannot be read stops the node with status 1 and the file and entry named.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import rclpy
from rclpy.executors import ExternalShutdownException
from rclpy.node import Node

from go_common.conversions import stamp_to_ns
from go_common.core.tf_tree import CalibrationError, load_calibration
from go_common.params import declare_config
from go_common.tf_tree import StaticTransformBroadcaster, calibration_transforms

CONFIG_FILE = Path(__file__).resolve().parents[2] / "config" / "static_tf.yaml"


@dataclass(frozen=True)
class StaticTfConfig:
    """Parameters of static_tf_node (meaning and defaults: config/static_tf.yaml)."""

    calibration: str

    def __post_init__(self) -> None:
        if not self.calibration:
            raise ValueError("calibration is empty: name a store or a calibration YAML")


class StaticTfNode(Node):
    """Loads the calibration once and broadcasts it on /tf_static."""

    def __init__(self, **node_kwargs: object) -> None:
        super().__init__("static_tf", **node_kwargs)
        self.config = declare_config(self, StaticTfConfig, CONFIG_FILE, "static_tf")
        calibrations = load_calibration(self.config.calibration)
        self.broadcaster = StaticTransformBroadcaster(self)
        stamp = stamp_to_ns(self.get_clock().now().to_msg())
        self.broadcaster.send_transform(calibration_transforms(calibrations, stamp))
        self.get_logger().info(
            f"published {len(calibrations)} camera frame(s) from '{self.config.calibration}' "
            f"on /tf_static: {', '.join(sorted(calibrations))}"
        )


def main(argv: list[str] | None = None) -> int:
    rclpy.init(args=argv)
    node = None
    try:
        node = StaticTfNode()
        rclpy.spin(node)
    except (CalibrationError, ValueError) as error:
        rclpy.logging.get_logger("static_tf").error(str(error))
        return 1
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
