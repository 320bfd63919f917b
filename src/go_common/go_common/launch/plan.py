"""Read a ROS 2 YAML launch file into a resolved plan of node processes (pure; no rclpy).

The accepted syntax is the official YAML frontend of ``ros2 launch`` (launch_yaml + launch_ros),
so the same files run under ``ros2 launch`` on a full ROS 2 install::

    launch:
    - arg: {name: store, default: small, description: "store model"}
    - let: {name: config, value: "$(find-pkg-share go_fusion)/config/fusion.yaml"}
    - include:
        file: "$(dirname)/sim.launch.yaml"
        arg: [{name: store, value: "$(var store)"}]
    - group:
        scoped: true                       # the default; launch configurations stay inside
        children:
        - push-ros-namespace: {namespace: store_1}
        - node:
            pkg: go_fusion
            exec: fusion_node
            name: fusion
            namespace: fusion               # relative to the pushed namespace
            param:
            - {from: "$(var config)"}       # a parameter file (must exist)
            - {name: slop_s, value: 0.02}
            - {name: cameras, value: [cam_0, cam_1]}
            remap: [{from: people_in, to: /cameras/cam_0/people}]
            output: screen                  # screen | log (default) | both
            respawn: "false"
            on_exit: shutdown               # required node: see below
    (a group may also be a bare list of children)

Entities: ``arg`` (name, default, description, choices), ``let`` (name, value), ``include``
(file, arg), ``group`` (scoped, forwarding, children), ``push-ros-namespace`` /
``push_ros_namespace`` (namespace), ``set_env`` / ``unset_env`` (name, value), ``node`` (pkg,
exec, name, namespace, param, remap, args, ros_args, env, output, respawn, respawn_delay,
respawn_max_retries, on_exit, sigterm_timeout, sigkill_timeout, exec_name). Every action takes
``if`` / ``unless``. Substitutions: see ``go_common.launch.substitutions``.

Required nodes: ``on_exit: shutdown`` (official) stops the whole launch when the node exits, and
the runner then exits with that node's status (non-zero when it died). ``required: true`` is a
go extension with the same effect, accepted with a warning: ``ros2 launch`` rejects unknown keys,
so files meant to be portable use ``on_exit: shutdown``.

Differences from ``ros2 launch`` (stricter, so mistakes surface before anything starts): a
missing parameter file, an unknown package or executable, an unknown key and an undeclared
command-line argument are errors; included files see the including scope but cannot change it
(as a scoped group); only YAML files can be included.
"""

from __future__ import annotations

import os
import re
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from go_common.launch.substitutions import (
    SubstitutionContext,
    SubstitutionError,
    ament_prefixes,
    find_package_prefix,
    substitute,
)


class LaunchError(ValueError):
    """A launch file that cannot be run; the message names the file and the entry."""


@dataclass(frozen=True)
class ParamEntry:
    """One ``param`` item of a node: ``name := value`` or a parameter file.

    Attributes:
        name: dotted parameter name (nested ``param`` items are joined with '.'); "" for files.
        value: the typed value (bool, int, float, str or a list of one of them), or the path of
            a parameter file.
        is_file: whether ``value`` is a parameter file path.
    """

    name: str
    value: Any
    is_file: bool = False


@dataclass(frozen=True)
class NodeSpec:
    """One node process, fully resolved.

    Attributes:
        label: unique display name (``<exec_name or exec>-<n>``), as ``ros2 launch`` prints it.
        package, executable: what to run; ``path`` is ``<prefix>/lib/<package>/<executable>``.
        name: node name (``__node``), or None to keep the executable's own.
        namespace: absolute namespace (``__ns``), or None for the root.
        params: parameters in file order (later entries override earlier ones).
        remaps: ``from:=to`` remappings in file order.
        args: arguments before ``--ros-args``; ros_args: extra ROS arguments after it.
        env: environment variables added to the process environment; unset_env: removed.
        output: ``screen`` (stdout and stderr on the console), ``log`` (stdout to a log file,
            stderr on the console) or ``both``.
        respawn: restart after ``respawn_delay`` [s] when it exits, at most
            ``respawn_max_retries`` times (negative: no limit).
        required: stop the whole launch when this node exits.
        sigterm_timeout, sigkill_timeout: [s] waited after SIGINT before SIGTERM, and after
            SIGTERM before SIGKILL, when stopping.
        source: ``file: launch[2].group[0].node`` for messages.
    """

    label: str
    package: str
    executable: str
    path: Path
    name: str | None
    namespace: str | None
    params: tuple[ParamEntry, ...]
    remaps: tuple[tuple[str, str], ...]
    args: tuple[str, ...]
    ros_args: tuple[str, ...]
    env: tuple[tuple[str, str], ...]
    unset_env: tuple[str, ...]
    output: str
    respawn: bool
    respawn_delay: float
    respawn_max_retries: int
    required: bool
    sigterm_timeout: float
    sigkill_timeout: float
    source: str

    def command(self) -> list[str]:
        """The process's argv: ``path args... --ros-args -r __node:=.. -r __ns:=.. -p/..``."""
        ros: list[str] = []
        if self.name is not None:
            ros += ["-r", f"__node:={self.name}"]
        if self.namespace is not None:
            ros += ["-r", f"__ns:={self.namespace}"]
        for p in self.params:
            ros += ["--params-file", str(p.value)] if p.is_file else ["-p", _param_arg(p)]
        for src, dst in self.remaps:
            ros += ["-r", f"{src}:={dst}"]
        ros += list(self.ros_args)
        return [str(self.path), *self.args, *(["--ros-args", *ros] if ros else [])]


@dataclass(frozen=True)
class LaunchArgument:
    """A declared launch argument and the value it resolved to."""

    name: str
    value: str
    default: str | None
    description: str
    source: str


@dataclass(frozen=True)
class LaunchPlan:
    """Everything a launch file asks for, resolved: nodes to start, arguments, warnings."""

    file: Path
    nodes: tuple[NodeSpec, ...]
    arguments: tuple[LaunchArgument, ...]
    warnings: tuple[str, ...] = ()

    def describe(self) -> str:
        """Human-readable plan (``./gostore launch FILE --show``)."""
        lines = [f"launch file: {self.file}"]
        if self.arguments:
            lines.append("arguments:")
            for a in self.arguments:
                desc = f"  # {a.description}" if a.description else ""
                lines.append(f"  {a.name} := {a.value}{desc}")
        lines.append(f"nodes ({len(self.nodes)}):")
        for n in self.nodes:
            flags = [f"output={n.output}"]
            if n.required:
                flags.append("required")
            if n.respawn:
                flags.append(f"respawn(delay={n.respawn_delay}s)")
            lines.append(f"  [{n.label}] {n.package}/{n.executable} ({', '.join(flags)})")
            lines.append(f"    {shlex.join(n.command())}")
            for key, value in n.env:
                lines.append(f"    env {key}={value}")
        lines += [f"warning: {w}" for w in self.warnings]
        return "\n".join(lines)


def _param_arg(p: ParamEntry) -> str:
    """``name:=value`` with the value in YAML flow style, so its type survives rcl's parsing."""
    text = yaml.safe_dump(p.value, default_flow_style=True, width=1 << 30).strip()
    text = text.removesuffix("...").strip()
    return f"{p.name}:={text}"


_NAME_TOKEN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_TRUE, _FALSE = {"true", "1", "yes", "on"}, {"false", "0", "no", "off"}
_CONDITION_KEYS = {"if", "unless"}
_NODE_KEYS = {
    "pkg",
    "exec",
    "name",
    "namespace",
    "param",
    "remap",
    "args",
    "ros_args",
    "env",
    "output",
    "respawn",
    "respawn_delay",
    "respawn_max_retries",
    "on_exit",
    "sigterm_timeout",
    "sigkill_timeout",
    "exec_name",
    "required",
} | _CONDITION_KEYS
_KEYS = {
    "arg": {"name", "default", "description", "choices"} | _CONDITION_KEYS,
    "let": {"name", "value"} | _CONDITION_KEYS,
    "include": {"file", "arg"} | _CONDITION_KEYS,
    "push-ros-namespace": {"namespace"} | _CONDITION_KEYS,
    "push_ros_namespace": {"namespace"} | _CONDITION_KEYS,
    "set_env": {"name", "value"} | _CONDITION_KEYS,
    "unset_env": {"name"} | _CONDITION_KEYS,
    "node": _NODE_KEYS,
}
_GROUP_KEYS = {"scoped", "forwarding", "children"} | _CONDITION_KEYS


@dataclass
class _Scope:
    """Mutable parsing state; a scoped group or an include works on a copy."""

    variables: dict[str, str]
    namespace: str = ""
    env: dict[str, str | None] = field(default_factory=dict)

    def copy(self) -> _Scope:
        return _Scope(dict(self.variables), self.namespace, dict(self.env))


class _Parser:
    def __init__(self, cli_args: Mapping[str, str], environ: Mapping[str, str]) -> None:
        self.cli_args = dict(cli_args)
        self.environ = environ
        self.nodes: list[NodeSpec] = []
        self.arguments: dict[str, LaunchArgument] = {}
        self.declared: set[str] = set()
        self.warnings: list[str] = []
        self.include_stack: list[Path] = []

    # --- helpers -----------------------------------------------------------------------------
    def sub(self, value: Any, scope: _Scope, file: Path, where: str) -> str:
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, int | float):
            return str(value)
        if not isinstance(value, str):
            raise LaunchError(f"{where}: expected a string, got {type(value).__name__} {value!r}")
        ctx = SubstitutionContext(scope.variables, file, self._environ(scope))
        try:
            return substitute(value, ctx, where)
        except SubstitutionError as error:
            raise LaunchError(str(error)) from None

    def _environ(self, scope: _Scope) -> dict[str, str]:
        env = dict(self.environ)
        for key, value in scope.env.items():
            if value is None:
                env.pop(key, None)
            else:
                env[key] = value
        return env

    def boolean(self, value: Any, scope: _Scope, file: Path, where: str) -> bool:
        text = self.sub(value, scope, file, where).strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise LaunchError(f"{where}: expected true or false, got '{text}'")

    def number(self, value: Any, scope: _Scope, file: Path, where: str) -> float:
        text = self.sub(value, scope, file, where)
        try:
            number = float(text)
        except ValueError:
            raise LaunchError(f"{where}: expected a number, got '{text}'") from None
        if not number >= 0.0:
            raise LaunchError(f"{where}: expected a non-negative number, got {text}")
        return number

    def required_key(self, body: Mapping[str, Any], key: str, where: str) -> Any:
        if key not in body:
            raise LaunchError(f"{where}: missing '{key}'")
        return body[key]

    def check_keys(self, body: Any, allowed: set[str], where: str) -> Mapping[str, Any]:
        if not isinstance(body, Mapping):
            raise LaunchError(f"{where}: expected a mapping, got {type(body).__name__}")
        unknown = sorted(set(body) - allowed)
        if unknown:
            raise LaunchError(
                f"{where}: unknown key(s) {', '.join(map(repr, unknown))} "
                f"(allowed: {', '.join(sorted(allowed))})"
            )
        return body

    def active(self, body: Mapping[str, Any], scope: _Scope, file: Path, where: str) -> bool:
        if "if" in body and not self.boolean(body["if"], scope, file, f"{where}.if"):
            return False
        return not ("unless" in body and self.boolean(body["unless"], scope, file, where))

    # --- files and entities -------------------------------------------------------------------
    def parse_file(self, path: Path, scope: _Scope, where: str) -> None:
        if path.suffix not in (".yaml", ".yml"):
            raise LaunchError(
                f"{where}: '{path}' is not a YAML launch file (the go runner reads YAML only)"
            )
        if not path.is_file():
            raise LaunchError(f"{where}: launch file '{path}' not found")
        resolved = path.resolve()
        if resolved in self.include_stack:
            raise LaunchError(f"{where}: '{path}' includes itself (include loop)")
        try:
            data = yaml.safe_load(path.read_text())
        except yaml.YAMLError as error:
            raise LaunchError(f"{path}: not valid YAML: {error}") from None
        if not isinstance(data, Mapping) or set(data) != {"launch"}:
            raise LaunchError(f"{path}: expected a single top-level key 'launch'")
        if not isinstance(data["launch"], list):
            raise LaunchError(f"{path}: 'launch' must be a list of entities")
        self.include_stack.append(resolved)
        try:
            self.parse_entities(data["launch"], scope, path, f"{path.name}: launch")
        finally:
            self.include_stack.pop()

    def parse_entities(self, items: Sequence[Any], scope: _Scope, file: Path, where: str) -> None:
        for index, item in enumerate(items):
            here = f"{where}[{index}]"
            if not isinstance(item, Mapping) or len(item) != 1:
                raise LaunchError(f"{here}: each entity is a mapping with one key (its type)")
            kind, body = next(iter(item.items()))
            here = f"{here}.{kind}"
            if kind == "group":
                self.parse_group(body, scope, file, here)
                continue
            if kind not in _KEYS:
                known = ", ".join(sorted([*_KEYS, "group"]))
                raise LaunchError(f"{here}: unknown entity '{kind}' (known: {known})")
            body = self.check_keys(body, _KEYS[kind], here)
            if not self.active(body, scope, file, here):
                continue
            getattr(self, "entity_" + kind.replace("-", "_"))(body, scope, file, here)

    def parse_group(self, body: Any, scope: _Scope, file: Path, where: str) -> None:
        if isinstance(body, list):
            body = {"children": body}
        body = self.check_keys(body, _GROUP_KEYS, where)
        children = self.required_key(body, "children", where)
        if not isinstance(children, list):
            raise LaunchError(f"{where}.children: expected a list of entities")
        if not self.active(body, scope, file, where):
            return
        scoped = self.boolean(body.get("scoped", True), scope, file, f"{where}.scoped")
        forwarding = self.boolean(body.get("forwarding", True), scope, file, where)
        inner = scope.copy() if scoped else scope
        if not forwarding:
            inner.variables = {}
        self.parse_entities(children, inner, file, f"{where}.children")

    def entity_arg(self, body: Mapping[str, Any], scope: _Scope, file: Path, where: str) -> None:
        name = self.sub(self.required_key(body, "name", where), scope, file, f"{where}.name")
        self.declared.add(name)
        description = str(body.get("description", ""))
        default = None
        if "default" in body:
            default = self.sub(body["default"], scope, file, f"{where}.default")
        # Command-line arguments start as launch configurations (see load_plan); an include's
        # ``arg`` items override them inside the included file, as in ros2 launch.
        if name in scope.variables:
            value = scope.variables[name]
        elif default is not None:
            value = default
        else:
            raise LaunchError(
                f"{where}: argument '{name}' has no default; give it as {name}:=VALUE"
            )
        if "choices" in body:
            choices = body["choices"]
            if not isinstance(choices, list):
                raise LaunchError(f"{where}.choices: expected a list")
            allowed = [self.sub(c, scope, file, f"{where}.choices") for c in choices]
            if value not in allowed:
                raise LaunchError(f"{where}: argument '{name}' is '{value}', not one of {allowed}")
        scope.variables[name] = value
        self.arguments.setdefault(name, LaunchArgument(name, value, default, description, where))

    def entity_let(self, body: Mapping[str, Any], scope: _Scope, file: Path, where: str) -> None:
        name = self.sub(self.required_key(body, "name", where), scope, file, f"{where}.name")
        value = self.sub(self.required_key(body, "value", where), scope, file, f"{where}.value")
        scope.variables[name] = value

    def entity_set_env(
        self, body: Mapping[str, Any], scope: _Scope, file: Path, where: str
    ) -> None:
        name = self.sub(self.required_key(body, "name", where), scope, file, f"{where}.name")
        scope.env[name] = self.sub(self.required_key(body, "value", where), scope, file, where)

    def entity_unset_env(
        self, body: Mapping[str, Any], scope: _Scope, file: Path, where: str
    ) -> None:
        scope.env[self.sub(self.required_key(body, "name", where), scope, file, where)] = None

    def entity_push_ros_namespace(
        self, body: Mapping[str, Any], scope: _Scope, file: Path, where: str
    ) -> None:
        ns = self.sub(self.required_key(body, "namespace", where), scope, file, where)
        scope.namespace = _join_namespace(scope.namespace, ns, where)

    def entity_include(
        self, body: Mapping[str, Any], scope: _Scope, file: Path, where: str
    ) -> None:
        target = Path(self.sub(self.required_key(body, "file", where), scope, file, f"{where}"))
        inner = scope.copy()
        for i, item in enumerate(body.get("arg") or []):
            here = f"{where}.arg[{i}]"
            item = self.check_keys(item, {"name", "value"}, here)
            name = self.sub(self.required_key(item, "name", here), scope, file, here)
            inner.variables[name] = self.sub(
                self.required_key(item, "value", here), scope, file, here
            )
        if not target.is_absolute():
            target = Path.cwd() / target
        if target.suffix not in (".yaml", ".yml"):
            raise LaunchError(
                f"{where}: '{target}' is not a YAML launch file (the go runner reads YAML only)"
            )
        if not target.is_file():
            raise LaunchError(
                f"{where}: included file '{target}' not found "
                "(paths are relative to the working directory; use $(dirname)/... or "
                "$(find-pkg-share PKG)/...)"
            )
        self.parse_file(target, inner, where)

    def entity_node(self, body: Mapping[str, Any], scope: _Scope, file: Path, where: str) -> None:
        def text(key: str, default: str | None = None) -> str | None:
            if key not in body:
                return default
            return self.sub(body[key], scope, file, f"{where}.{key}")

        package = text("pkg")
        executable = text("exec")
        if not package or not executable:
            raise LaunchError(f"{where}: a node needs 'pkg' and 'exec'")
        here = f"{where} ({package}/{executable})"
        path = _find_executable(package, executable, self._environ(scope), here)
        name = text("name")
        if name is not None and not _NAME_TOKEN.match(name):
            raise LaunchError(f"{here}.name: '{name}' is not a valid node name")
        namespace = _join_namespace(scope.namespace, text("namespace") or "", here) or None
        required = False
        if "on_exit" in body:
            on_exit = text("on_exit")
            if on_exit != "shutdown":
                raise LaunchError(f"{here}.on_exit: only 'shutdown' is supported, got '{on_exit}'")
            required = True
        if "required" in body:
            required = self.boolean(body["required"], scope, file, f"{here}.required") or required
            self.warnings.append(
                f"{here}: 'required' is a go extension that ros2 launch rejects; "
                "write 'on_exit: shutdown' instead"
            )
        output = text("output", "log")
        if output not in ("screen", "log", "both"):
            raise LaunchError(f"{here}.output: expected screen, log or both, got '{output}'")
        retries = text("respawn_max_retries", "-1")
        try:
            max_retries = int(retries or "-1")
        except ValueError:
            raise LaunchError(f"{here}.respawn_max_retries: expected an integer") from None
        env: dict[str, str] = {k: v for k, v in scope.env.items() if v is not None}
        for i, item in enumerate(body.get("env") or []):
            h = f"{here}.env[{i}]"
            item = self.check_keys(item, {"name", "value"}, h)
            env[self.sub(self.required_key(item, "name", h), scope, file, h)] = self.sub(
                self.required_key(item, "value", h), scope, file, h
            )
        remaps = []
        for i, item in enumerate(body.get("remap") or []):
            h = f"{here}.remap[{i}]"
            item = self.check_keys(item, {"from", "to"}, h)
            remaps.append(
                (
                    self.sub(self.required_key(item, "from", h), scope, file, h),
                    self.sub(self.required_key(item, "to", h), scope, file, h),
                )
            )
        # Labels as ros2 launch prints them: the executable (or exec_name) and a counter.
        label = f"{text('exec_name') or executable}-{len(self.nodes) + 1}"
        spec = NodeSpec(
            label=label,
            package=package,
            executable=executable,
            path=path,
            name=name,
            namespace=namespace,
            params=tuple(self.params(body.get("param") or [], scope, file, f"{here}.param")),
            remaps=tuple(remaps),
            args=tuple(shlex.split(text("args", "") or "")),
            ros_args=tuple(shlex.split(text("ros_args", "") or "")),
            env=tuple(sorted(env.items())),
            unset_env=tuple(sorted(k for k, v in scope.env.items() if v is None and k not in env)),
            output=output,
            respawn=self.boolean(body.get("respawn", False), scope, file, f"{here}.respawn"),
            respawn_delay=self.number(body.get("respawn_delay", 0.0), scope, file, here),
            respawn_max_retries=max_retries,
            required=required,
            sigterm_timeout=self.number(body.get("sigterm_timeout", 5.0), scope, file, here),
            sigkill_timeout=self.number(body.get("sigkill_timeout", 5.0), scope, file, here),
            source=here,
        )
        full = f"{namespace or ''}/{name}" if name else None
        if full and any(f"{n.namespace or ''}/{n.name}" == full for n in self.nodes):
            self.warnings.append(f"{here}: a second node named '{full}'")
        self.nodes.append(spec)

    def params(
        self, items: Any, scope: _Scope, file: Path, where: str, prefix: str = ""
    ) -> list[ParamEntry]:
        if not isinstance(items, list):
            raise LaunchError(f"{where}: expected a list of parameters")
        out: list[ParamEntry] = []
        for i, item in enumerate(items):
            h = f"{where}[{i}]"
            item = self.check_keys(item, {"name", "value", "from", "param"}, h)
            if "from" in item:
                if set(item) != {"from"}:
                    raise LaunchError(f"{h}: 'from' excludes 'name', 'value' and 'param'")
                path = Path(self.sub(item["from"], scope, file, f"{h}.from"))
                if not path.is_file():
                    raise LaunchError(f"{h}.from: parameter file '{path}' not found")
                try:
                    yaml.safe_load(path.read_text())
                except yaml.YAMLError as error:
                    raise LaunchError(f"{h}.from: '{path}' is not valid YAML: {error}") from None
                out.append(ParamEntry("", str(path.resolve()), is_file=True))
                continue
            name = self.sub(self.required_key(item, "name", h), scope, file, f"{h}.name")
            full = f"{prefix}{name}"
            if "param" in item:
                out += self.params(item["param"], scope, file, f"{h}.param", prefix=f"{full}.")
            elif "value" in item:
                out.append(ParamEntry(full, self.param_value(item["value"], scope, file, h)))
            else:
                raise LaunchError(f"{h}: parameter '{full}' needs 'value' or nested 'param'")
        return out

    def param_value(self, value: Any, scope: _Scope, file: Path, where: str) -> Any:
        """A typed value: YAML scalars keep their type, strings are substituted and then typed
        as YAML (as launch_ros does: '5' -> 5, 'true' -> True), lists element by element."""
        if isinstance(value, list):
            return [self.param_value(v, scope, file, where) for v in value]
        if isinstance(value, bool | int | float):
            return value
        text = self.sub(value, scope, file, f"{where}.value")
        try:
            typed = yaml.safe_load(text) if text.strip() else text
        except yaml.YAMLError:
            return text
        return typed if isinstance(typed, bool | int | float | str | list) else text


def _join_namespace(base: str, ns: str, where: str) -> str:
    """Absolute namespace of ``ns`` inside ``base`` ('' is the root)."""
    if ns.startswith("/"):
        joined = ns
    elif ns:
        joined = f"{base.rstrip('/')}/{ns}"
    else:
        joined = base
    joined = "/" + "/".join(p for p in joined.split("/") if p) if joined else ""
    for token in joined.split("/")[1:]:
        if not _NAME_TOKEN.match(token):
            raise LaunchError(f"{where}: invalid namespace '{joined}' (bad token '{token}')")
    return joined if joined != "/" else ""


def _find_executable(package: str, executable: str, environ: Mapping[str, str], where: str) -> Path:
    prefix = find_package_prefix(package, environ)
    if prefix is None:
        raise LaunchError(
            f"{where}: unknown package '{package}' (not on AMENT_PREFIX_PATH; "
            "is the workspace built and sourced?)"
        )
    for candidate_prefix in [prefix, *ament_prefixes(environ)]:
        path = candidate_prefix / "lib" / package / executable
        if path.is_file() and os.access(path, os.X_OK):
            return path
    lib = prefix / "lib" / package
    available = sorted(p.name for p in lib.iterdir()) if lib.is_dir() else []
    raise LaunchError(
        f"{where}: package '{package}' has no executable '{executable}' "
        f"(available: {', '.join(available) or 'none'})"
    )


def load_plan(
    path: str | Path,
    cli_args: Mapping[str, str] | None = None,
    environ: Mapping[str, str] | None = None,
) -> LaunchPlan:
    """Read ``path`` and everything it includes into a ``LaunchPlan``.

    Args:
        path: a YAML launch file.
        cli_args: ``name -> value`` from ``name:=value`` on the command line.
        environ: environment for ``$(env)`` and package lookup (default: ``os.environ``).

    Raises:
        LaunchError: naming the file and the entry (e.g. ``demo.yaml: launch[3].node
            (go_fusion/fusion_node).param[0].from: parameter file 'x.yaml' not found``).
    """
    parser = _Parser(cli_args or {}, dict(os.environ if environ is None else environ))
    file = Path(path)
    parser.parse_file(file, _Scope(variables=dict(parser.cli_args)), str(file))
    unknown = sorted(set(parser.cli_args) - parser.declared)
    if unknown:
        declared = ", ".join(sorted(parser.declared)) or "none"
        raise LaunchError(
            f"{file}: unknown launch argument(s) {', '.join(unknown)} (declared: {declared})"
        )
    return LaunchPlan(
        file=file,
        nodes=tuple(parser.nodes),
        arguments=tuple(parser.arguments.values()),
        warnings=tuple(parser.warnings),
    )
