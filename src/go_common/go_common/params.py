"""Declare a node's parameters from its defaults file and load them into a frozen config.

Each node keeps its defaults in ``<pkg>/config/<file>.yaml`` (a ROS parameter file, so the same
file works as ``--params-file`` and in launch files), with a comment line above each parameter
that becomes its description::

    demo_talker:
      ros__parameters:
        # publishing rate [Hz] (> 0)
        rate_hz: 10.0

``declare_config(node, DemoTalkerConfig, CONFIG_FILE, "demo_talker")`` declares every field of
the dataclass with that default and description, reads the values (overrides from the command
line or launch file win) and builds the dataclass, whose ``__post_init__`` validates them.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, TypeVar

import yaml
from rcl_interfaces.msg import ParameterDescriptor
from rclpy.node import Node

ConfigT = TypeVar("ConfigT")


def read_defaults(config_file: Path, node_key: str) -> tuple[dict[str, Any], dict[str, str]]:
    """``(defaults, descriptions)`` of ``node_key`` in a ROS parameter file.

    Raises:
        ValueError: a missing file or a file without ``<node_key>.ros__parameters``.
    """
    if not config_file.is_file():
        raise ValueError(f"{config_file}: parameter defaults file not found")
    data = yaml.safe_load(config_file.read_text()) or {}
    try:
        defaults = dict(data[node_key]["ros__parameters"])
    except (KeyError, TypeError):
        raise ValueError(f"{config_file}: no '{node_key}: ros__parameters:' section") from None
    descriptions: dict[str, str] = {}
    comment: list[str] = []
    for line in config_file.read_text().splitlines():
        text = line.strip()
        if text.startswith("#"):
            comment.append(text.lstrip("#").strip())
        elif ":" in text and comment:
            descriptions[text.split(":", 1)[0]] = " ".join(comment)
            comment = []
        else:
            comment = []
    return defaults, descriptions


def declare_config(
    node: Node, config_cls: type[ConfigT], config_file: Path, node_key: str
) -> ConfigT:
    """Declare each field of ``config_cls`` on ``node`` and return the filled, validated config.

    Raises:
        ValueError: a field without a default in ``config_file``, or a value the config rejects
            (the message names the parameter).
    """
    defaults, descriptions = read_defaults(config_file, node_key)
    values: dict[str, Any] = {}
    for f in dataclasses.fields(config_cls):  # type: ignore[arg-type]
        if f.name not in defaults:
            raise ValueError(f"{config_file}: {node_key} has no default for '{f.name}'")
        default = defaults[f.name]
        # Dynamic typing, then checked here: an override of 5 for a float parameter is 5.0
        # (launch files and `-p` give YAML-typed values), anything else of the wrong type is a
        # clear error instead of rclpy's exception.
        descriptor = ParameterDescriptor(
            description=descriptions.get(f.name, ""), dynamic_typing=True
        )
        node.declare_parameter(f.name, default, descriptor)
        values[f.name] = _coerce(node.get_parameter(f.name).value, default, f.name)
    return config_cls(**values)


def _coerce(value: Any, default: Any, name: str) -> Any:
    if isinstance(default, float) and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if default is not None and type(value) is not type(default):
        raise ValueError(
            f"parameter '{name}' must be {type(default).__name__}, got {value!r} "
            f"({type(value).__name__})"
        )
    return value
