"""Shared glue of the hardware driver nodes: diagnostics messages and the lifecycle main().

The drivers are lifecycle nodes (rclpy.lifecycle is available in this rclpy): configure loads
the configuration and creates the publishers, activate opens the device and starts publishing,
deactivate stops, cleanup releases the device. The node never triggers its own transitions;
``run_lifecycle`` below is the process-level manager: with the ``autostart`` parameter true (the
default, as no lifecycle manager runs in a plain launch) it configures and activates the node
once, otherwise it waits for an external manager to call the ``change_state`` service.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TypeVar

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rclpy.lifecycle import LifecycleNode
from rclpy.time import Time

from go_common.lifecycle import run_lifecycle_node
from go_common.params import declare_config

ConfigT = TypeVar("ConfigT")

# DiagnosticStatus levels (bytes constants in rclpy).
OK = DiagnosticStatus.OK
WARN = DiagnosticStatus.WARN
ERROR = DiagnosticStatus.ERROR


def diagnostic_array(
    stamp: Time,
    name: str,
    hardware_id: str,
    level: bytes,
    message: str,
    values: Mapping[str, object],
) -> DiagnosticArray:
    """A DiagnosticArray with one status; values are shown as strings (floats with 3 digits)."""
    status = DiagnosticStatus(
        level=level,
        name=name,
        message=message,
        hardware_id=hardware_id,
    )
    status.values = [
        KeyValue(key=k, value=f"{v:.3f}" if isinstance(v, float) else str(v))
        for k, v in values.items()
    ]
    msg = DiagnosticArray()
    msg.header.stamp = stamp.to_msg()
    msg.status = [status]
    return msg


def log_level_change(
    node: LifecycleNode, name: str, level: bytes, message: str, last: list[bytes]
) -> None:
    """Log ``message`` on the node's logger when the diagnostic level of ``name`` changes.

    ``last`` is a one-element list the caller keeps (the previous level). Diagnostics go out
    every period; the log only says when something went wrong or recovered.
    """
    if last and last[0] == level:
        return
    if level == ERROR:
        node.get_logger().error(f"{name}: {message}")
    elif level == WARN:
        node.get_logger().warning(f"{name}: {message}")
    elif last:
        node.get_logger().info(f"{name}: ok ({message})")
    last[:] = [level]


def load_config(
    node: LifecycleNode, config_cls: type[ConfigT], config_file: Path, node_key: str
) -> tuple[ConfigT | None, str]:
    """Declare and read the node's parameters: ``(config, "")`` or ``(None, error)``.

    A bad value does not raise: the node then exists and reports it when configured (a bad
    parameter must not take the launch down). ``autostart`` is always declared.
    """
    try:
        return declare_config(node, config_cls, config_file, node_key), ""
    except ValueError as error:
        if not node.has_parameter("autostart"):
            node.declare_parameter("autostart", True)
        return None, str(error)


def run_lifecycle(factory: Callable[[], LifecycleNode], argv: list[str] | None = None) -> int:
    """Create the node, configure and activate it when its ``autostart`` parameter says so,
    and spin until shutdown; a failed configure leaves it waiting for a manager to retry."""
    return run_lifecycle_node(factory, argv, exit_on_configure_failure=False)
