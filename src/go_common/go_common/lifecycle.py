"""The process-level lifecycle manager every go lifecycle node's ``main()`` uses.

A node never triggers its own transitions. With its ``autostart`` parameter true (the default, as
no lifecycle manager runs in a plain launch) this function configures and activates it once;
otherwise it spins and waits for an external manager to call ``change_state``.
"""

from __future__ import annotations

from collections.abc import Callable

import rclpy
from rcl_interfaces.msg import ParameterDescriptor
from rclpy.executors import ExternalShutdownException
from rclpy.lifecycle import LifecycleNode, TransitionCallbackReturn


def run_lifecycle_node(
    factory: Callable[[], LifecycleNode],
    argv: list[str] | None = None,
    *,
    exit_on_configure_failure: bool = True,
    construction_errors: tuple[type[Exception], ...] = (),
    logger_name: str = "lifecycle",
) -> int:
    """Create the node, configure and activate it when ``autostart`` says so, spin until shutdown.

    exit_on_configure_failure: a failed configure ends the process with status 1 (nodes that own a
    model); False keeps it unconfigured for a manager to retry (hardware drivers, whose device
    may come later). construction_errors: exceptions of ``factory`` that mean a bad parameter;
    they are logged (the message names it) and end the process with status 2.
    Returns the process exit status.
    """
    rclpy.init(args=argv)
    node = None
    try:
        try:
            node = factory()
        except construction_errors as error:
            rclpy.logging.get_logger(logger_name).error(str(error))
            return 2
        if not node.has_parameter("autostart"):
            node.declare_parameter(
                "autostart",
                True,
                ParameterDescriptor(description="configure and activate at start (no manager)"),
            )
        if node.get_parameter("autostart").value:
            if node.trigger_configure() == TransitionCallbackReturn.SUCCESS:
                node.trigger_activate()
            elif exit_on_configure_failure:
                node.get_logger().error("configure failed (see above); exiting")
                return 1
            else:
                node.get_logger().error(
                    "configure failed (see above); staying unconfigured, waiting for a "
                    "lifecycle manager to retry"
                )
        rclpy.spin(node)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()
    return 0
