"""Substitutions of the ROS 2 launch frontends: ``$(name arg ...)`` inside strings (pure).

Supported, with the meaning they have in ``ros2 launch``:

- ``$(var NAME)``: a launch configuration (``arg`` / ``let`` / ``NAME:=value`` on the command line).
- ``$(env VAR)``, ``$(env VAR DEFAULT)``: an environment variable (an unset one without a default
  is an error); ``$(optenv VAR [DEFAULT])`` gives DEFAULT or an empty string instead.
- ``$(find-pkg-share PKG)``, ``$(find-pkg-prefix PKG)``: an installed package's share folder or
  install prefix, found on ``AMENT_PREFIX_PATH`` through the ament resource index.
- ``$(dirname)``, ``$(filename)``: the folder and the path of the launch file being read.

Arguments are separated by spaces and may be quoted ('...' or "..."); substitutions nest
(``$(var $(var which))``). Anything else, ``$(eval ...)`` and ``$(command ...)`` included, is
rejected: launch files stay declarative (no code, no side effects).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path


class SubstitutionError(ValueError):
    """A substitution that cannot be parsed or evaluated; the message says which and why."""


def ament_prefixes(env: Mapping[str, str] | None = None) -> list[Path]:
    """The install prefixes on ``AMENT_PREFIX_PATH``, in search order."""
    value = (os.environ if env is None else env).get("AMENT_PREFIX_PATH", "")
    return [Path(p) for p in value.split(os.pathsep) if p]


def find_package_prefix(package: str, env: Mapping[str, str] | None = None) -> Path | None:
    """The prefix that installs ``package`` (ament resource index marker), or None."""
    for prefix in ament_prefixes(env):
        if (prefix / "share/ament_index/resource_index/packages" / package).is_file():
            return prefix
    return None


def known_packages(env: Mapping[str, str] | None = None) -> list[str]:
    """Every package name registered on ``AMENT_PREFIX_PATH``, sorted."""
    names: set[str] = set()
    for prefix in ament_prefixes(env):
        index = prefix / "share/ament_index/resource_index/packages"
        if index.is_dir():
            names.update(p.name for p in index.iterdir())
    return sorted(names)


@dataclass(frozen=True)
class SubstitutionContext:
    """What substitutions may read.

    Attributes:
        variables: launch configurations (name -> value).
        file: the launch file being read.
        environ: the environment (``$(env)``, ``AMENT_PREFIX_PATH``).
    """

    variables: Mapping[str, str]
    file: Path
    environ: Mapping[str, str]


def _split_arguments(body: str, where: str) -> tuple[str, list[str]]:
    """``name arg1 'arg 2' $(x y)`` -> (name, raw args), keeping nested ``$(...)`` whole."""
    tokens: list[str] = []
    current: list[str] = []
    i, quote, depth = 0, "", 0
    while i < len(body):
        ch = body[i]
        if quote:
            if ch == quote:
                quote = ""
            else:
                current.append(ch)
        elif body.startswith("$(", i):
            depth += 1
            current.append("$(")
            i += 2
            continue
        elif ch == ")" and depth:
            depth -= 1
            current.append(ch)
        elif ch in "'\"" and not depth:
            quote = ch
        elif ch.isspace() and not depth:
            if current:
                tokens.append("".join(current))
                current = []
        else:
            current.append(ch)
        i += 1
    if quote:
        raise SubstitutionError(f"{where}: unterminated quote in '$({body})'")
    if current:
        tokens.append("".join(current))
    if not tokens:
        raise SubstitutionError(f"{where}: empty substitution '$()'")
    return tokens[0], tokens[1:]


def _find_closing(text: str, start: int, where: str) -> int:
    """Index of the ``)`` that closes the ``$(`` whose body starts at ``start``."""
    depth, quote, i = 1, "", start
    while i < len(text):
        ch = text[i]
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
        elif text.startswith("$(", i):
            depth += 1
            i += 1
        elif ch == ")":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    raise SubstitutionError(f"{where}: unclosed substitution in '{text}'")


def _var(ctx: SubstitutionContext, args: list[str], where: str) -> str:
    if len(args) != 1:
        raise SubstitutionError(f"{where}: $(var NAME) takes one argument, got {args}")
    if args[0] not in ctx.variables:
        known = ", ".join(sorted(ctx.variables)) or "none"
        raise SubstitutionError(
            f"{where}: launch configuration '{args[0]}' is not set (set: {known})"
        )
    return ctx.variables[args[0]]


def _env(ctx: SubstitutionContext, args: list[str], where: str, optional: bool) -> str:
    if len(args) not in (1, 2):
        raise SubstitutionError(f"{where}: $(env VAR [DEFAULT]) takes 1 or 2 arguments")
    if args[0] in ctx.environ:
        return ctx.environ[args[0]]
    if len(args) == 2:
        return args[1]
    if optional:
        return ""
    raise SubstitutionError(f"{where}: environment variable '{args[0]}' is not set")


def _package(ctx: SubstitutionContext, args: list[str], where: str, share: bool) -> str:
    kind = "find-pkg-share" if share else "find-pkg-prefix"
    if len(args) != 1:
        raise SubstitutionError(f"{where}: $({kind} PKG) takes one argument")
    prefix = find_package_prefix(args[0], ctx.environ)
    if prefix is None:
        raise SubstitutionError(
            f"{where}: unknown package '{args[0]}' in $({kind}) (not on AMENT_PREFIX_PATH; "
            "is the workspace built and sourced?)"
        )
    return str(prefix / "share" / args[0]) if share else str(prefix)


_HANDLERS: dict[str, Callable[[SubstitutionContext, list[str], str], str]] = {
    "var": _var,
    "env": lambda c, a, w: _env(c, a, w, optional=False),
    "optenv": lambda c, a, w: _env(c, a, w, optional=True),
    "find-pkg-share": lambda c, a, w: _package(c, a, w, share=True),
    "find-pkg-prefix": lambda c, a, w: _package(c, a, w, share=False),
}


def substitute(text: str, ctx: SubstitutionContext, where: str) -> str:
    """Evaluate every ``$(...)`` in ``text``.

    Args:
        text: a launch-file string.
        ctx: launch configurations, file and environment.
        where: where ``text`` comes from, for error messages (``file: launch[2].node.name``).

    Raises:
        SubstitutionError: unknown substitution, bad arguments, unset variable or package.
    """
    out: list[str] = []
    i = 0
    while True:
        j = text.find("$(", i)
        if j < 0:
            out.append(text[i:])
            return "".join(out)
        out.append(text[i:j])
        end = _find_closing(text, j + 2, where)
        name, raw_args = _split_arguments(text[j + 2 : end], where)
        args = [substitute(a, ctx, where) for a in raw_args]
        if name in ("dirname", "filename"):
            if args:
                raise SubstitutionError(f"{where}: $({name}) takes no arguments")
            path = ctx.file.resolve()
            out.append(str(path.parent if name == "dirname" else path))
        elif name in _HANDLERS:
            out.append(_HANDLERS[name](ctx, args, where))
        else:
            supported = ", ".join(sorted([*_HANDLERS, "dirname", "filename"]))
            raise SubstitutionError(
                f"{where}: unsupported substitution '$({name} ...)' (supported: {supported})"
            )
        i = end + 1
