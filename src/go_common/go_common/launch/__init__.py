"""A runner for ROS 2 YAML launch files that needs neither ``launch`` nor ``launch_ros``.

``plan`` reads a file (and its includes) into a resolved ``LaunchPlan`` (pure), ``runner``
starts and supervises the node processes, ``cli`` is ``./gostore launch FILE [arg:=value ...]``.
On a full ROS 2 install the same files run with ``ros2 launch``.
"""
