"""Test helpers shared by the packages' tests: ROS messages filled with distinct values.

``filled_message(cls, seed)`` sets every field of a generated ROS message (nested messages,
arrays and sequences included) to a non-default value derived from ``seed``, so serialisation
round trips and publish/subscribe tests can compare whole messages and notice any dropped or
swapped field. No rclpy.init needed.
"""

from __future__ import annotations

import importlib
from typing import Any

from rosidl_parser import definition as idl

_SEQUENCE_LENGTH = 2


def _value(t: idl.AbstractType, seed: int) -> Any:
    if isinstance(t, idl.BasicType):
        name = t.typename
        if name == "boolean":
            return seed % 2 == 0
        if name in ("float", "double", "long double"):
            return 0.25 + seed  # exactly representable in float32
        if name == "octet":
            return bytes([seed % 256])
        if name in ("char",):
            return chr(ord("a") + seed % 26)
        if name.startswith("int") or name in ("short", "long", "long long"):
            return seed % 100 + 1
        return seed % 200 + 1  # unsigned integers and uint8/byte
    if isinstance(t, idl.AbstractString | idl.AbstractWString):
        limit = getattr(t, "maximum_size", None)
        text = f"s{seed}"
        return text[:limit] if limit else text
    if isinstance(t, idl.NamespacedType):
        module = importlib.import_module(".".join(t.namespaces))
        return filled_message(getattr(module, t.name), seed + 1)
    if isinstance(t, idl.Array):
        return [_value(t.value_type, seed + i) for i in range(t.size)]
    if isinstance(t, idl.AbstractSequence):
        n = _SEQUENCE_LENGTH
        if isinstance(t, idl.BoundedSequence):
            n = min(n, t.maximum_size)
        return [_value(t.value_type, seed + i) for i in range(n)]
    raise TypeError(f"no filler for IDL type {type(t).__name__}")


def filled_message(cls: type, seed: int = 1) -> Any:
    """An instance of the message class ``cls`` with every field set from ``seed``."""
    msg = cls()
    for (name, _), slot in zip(
        cls.get_fields_and_field_types().items(), cls.SLOT_TYPES, strict=True
    ):
        setattr(msg, name, _value(slot, seed))
        seed += 3
    return msg
