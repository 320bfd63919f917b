"""Offline commands of go_fusion (``./gostore shelf-events``).

Each module exposes ``main(argv: list[str] | None = None) -> int``.
"""
