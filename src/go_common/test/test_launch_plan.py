"""Launch-file parsing into a plan (pure): syntax, substitutions, scoping and bad input."""

from __future__ import annotations

import os
import stat
import textwrap
from pathlib import Path

import pytest
import yaml

from go_common.launch.plan import LaunchError, LaunchPlan, load_plan
from go_common.launch.substitutions import SubstitutionContext, SubstitutionError, substitute


@pytest.fixture
def prefix(tmp_path: Path) -> Path:
    """A fake install prefix with package 'fake_pkg' (executables 'talker', 'listener')."""
    root = tmp_path / "install"
    (root / "share/ament_index/resource_index/packages").mkdir(parents=True)
    (root / "share/ament_index/resource_index/packages/fake_pkg").write_text("")
    (root / "share/fake_pkg/config").mkdir(parents=True)
    (root / "share/fake_pkg/config/params.yaml").write_text("/**:\n  ros__parameters: {a: 1}\n")
    lib = root / "lib/fake_pkg"
    lib.mkdir(parents=True)
    for name in ("talker", "listener"):
        exe = lib / name
        exe.write_text("#!/bin/sh\nexit 0\n")
        exe.chmod(exe.stat().st_mode | stat.S_IXUSR)
    return root


@pytest.fixture
def environ(prefix: Path) -> dict[str, str]:
    return {"AMENT_PREFIX_PATH": str(prefix), "GO_TEST_VAR": "from_env"}


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


def plan_of(path: Path, environ: dict[str, str], **cli: str) -> LaunchPlan:
    return load_plan(path, cli, environ)


def test_full_example_resolves_nodes_params_remaps_and_namespaces(
    tmp_path: Path, environ: dict[str, str], prefix: Path
) -> None:
    write(
        tmp_path / "child.launch.yaml",
        """\
        launch:
        - arg: {name: who, default: nobody}
        - node: {pkg: fake_pkg, exec: listener, name: "$(var who)", namespace: inner}
        """,
    )
    main = write(
        tmp_path / "main.launch.yaml",
        """\
        launch:
        - arg: {name: rate, default: "10", description: "rate [Hz]"}
        - arg: {name: ns, default: robot}
        - let: {name: cfg, value: "$(find-pkg-share fake_pkg)/config/params.yaml"}
        - node:
            pkg: fake_pkg
            exec: talker
            name: talker
            namespace: "/$(var ns)"
            args: "--flag 'two words'"
            ros_args: "--log-level debug"
            param:
            - {from: "$(var cfg)"}
            - {name: rate, value: "$(var rate)"}
            - {name: label, value: "'007'"}
            - {name: ratio, value: 0.5}
            - {name: names, value: [a, "$(env GO_TEST_VAR)"]}
            - name: nested
              param:
              - {name: deep, value: true}
            remap:
            - {from: chatter, to: /global_chatter}
            env:
            - {name: EXTRA, value: "1"}
            output: screen
            respawn: "true"
            respawn_delay: 2
            on_exit: shutdown
        - group:
            - push-ros-namespace: {namespace: store}
            - include:
                file: "$(dirname)/child.launch.yaml"
                arg: [{name: who, value: inc}]
        """,
    )
    plan = plan_of(main, environ, rate="20")
    assert [a.name for a in plan.arguments] == ["rate", "ns", "who"]
    assert plan.arguments[0].value == "20"
    talker, listener = plan.nodes
    assert talker.path == prefix / "lib/fake_pkg/talker"
    assert (talker.name, talker.namespace, talker.output) == ("talker", "/robot", "screen")
    assert talker.required and talker.respawn and talker.respawn_delay == 2.0
    assert talker.env == (("EXTRA", "1"),)
    assert talker.command() == [
        str(prefix / "lib/fake_pkg/talker"),
        "--flag",
        "two words",
        "--ros-args",
        "-r",
        "__node:=talker",
        "-r",
        "__ns:=/robot",
        "--params-file",
        str(prefix / "share/fake_pkg/config/params.yaml"),
        "-p",
        "rate:=20",
        "-p",
        "label:='007'",
        "-p",
        "ratio:=0.5",
        "-p",
        "names:=[a, from_env]",
        "-p",
        "nested.deep:=true",
        "-r",
        "chatter:=/global_chatter",
        "--log-level",
        "debug",
    ]
    # Typed values survive: '20' became the integer 20, the quoted '007' stays a string.
    values = {p.name: p.value for p in talker.params if not p.is_file}
    assert values["rate"] == 20 and values["label"] == "007" and values["nested.deep"] is True
    assert (listener.name, listener.namespace) == ("inc", "/store/inner")
    assert not listener.required and listener.output == "log"
    assert "talker" in plan.describe() and "required" in plan.describe()


def test_scoped_group_keeps_configurations_and_namespace_inside(
    tmp_path: Path, environ: dict[str, str]
) -> None:
    main = write(
        tmp_path / "scoped.yaml",
        """\
        launch:
        - let: {name: who, value: outer}
        - group:
            children:
            - let: {name: who, value: inner}
            - push_ros_namespace: {namespace: ns1}
            - node: {pkg: fake_pkg, exec: talker, name: "$(var who)"}
        - group:
            scoped: "false"
            children:
            - push_ros_namespace: {namespace: leaked}
        - node: {pkg: fake_pkg, exec: talker, name: "$(var who)"}
        - node: {pkg: fake_pkg, exec: talker, name: x, if: "false"}
        - node: {pkg: fake_pkg, exec: talker, name: y, unless: "$(var who_else)"}
        """.replace("$(var who_else)", "true"),
    )
    nodes = plan_of(main, environ).nodes
    assert [(n.name, n.namespace) for n in nodes] == [("inner", "/ns1"), ("outer", "/leaked")]


def test_required_go_extension_is_accepted_with_a_warning(
    tmp_path: Path, environ: dict[str, str]
) -> None:
    main = write(
        tmp_path / "req.yaml",
        "launch:\n- node: {pkg: fake_pkg, exec: talker, required: true}\n",
    )
    plan = plan_of(main, environ)
    assert plan.nodes[0].required
    assert any("on_exit: shutdown" in w for w in plan.warnings)


BAD_CASES = [
    ("launch: [", "not valid YAML"),
    ("nodes: []\n", "single top-level key 'launch'"),
    ("launch: {node: {}}\n", "'launch' must be a list"),
    ("launch:\n- rocket: {}\n", r"launch\[0\].rocket: unknown entity 'rocket'"),
    (
        "launch:\n- node: {pkg: fake_pkg, exec: talker, colour: red}\n",
        r"launch\[0\].node: unknown key\(s\) 'colour'",
    ),
    (
        "launch:\n- node: {pkg: nope_pkg, exec: talker}\n",
        r"launch\[0\].node \(nope_pkg/talker\): unknown package 'nope_pkg'",
    ),
    (
        "launch:\n- node: {pkg: fake_pkg, exec: nope}\n",
        r"package 'fake_pkg' has no executable 'nope' \(available: listener, talker\)",
    ),
    (
        "launch:\n- node: {pkg: fake_pkg, exec: talker, param: [{from: /no/such/params.yaml}]}\n",
        r"launch\[0\].node \(fake_pkg/talker\).param\[0\].from: parameter file "
        r"'/no/such/params.yaml' not found",
    ),
    (
        "launch:\n- node: {pkg: fake_pkg, exec: talker, param: [{name: a}]}\n",
        r"param\[0\]: parameter 'a' needs 'value'",
    ),
    ("launch:\n- node: {pkg: fake_pkg}\n", "needs 'pkg' and 'exec'"),
    ("launch:\n- arg: {name: must}\n", r"argument 'must' has no default; give it as must:=VALUE"),
    ("launch:\n- node: {pkg: fake_pkg, exec: talker, name: $(var x)}\n", "'x' is not set"),
    ("launch:\n- node: {pkg: fake_pkg, exec: talker, name: $(eval 1)}\n", "unsupported"),
    ("launch:\n- node: {pkg: fake_pkg, exec: talker, name: 'bad name'}\n", "not a valid node"),
    ("launch:\n- node: {pkg: fake_pkg, exec: talker, namespace: '1x'}\n", "invalid namespace"),
    ("launch:\n- node: {pkg: fake_pkg, exec: talker, output: tv}\n", "screen, log or both"),
    ("launch:\n- node: {pkg: fake_pkg, exec: talker, on_exit: restart}\n", "only 'shutdown'"),
    ("launch:\n- node: {pkg: fake_pkg, exec: talker, respawn: maybe}\n", "true or false"),
    ("launch:\n- include: {file: missing.launch.yaml}\n", "included file .* not found"),
    ("launch:\n- include: {file: x.launch.py}\n", "not a YAML launch file"),
    ("launch:\n- group: {scoped: true}\n", "missing 'children'"),
    ("launch:\n- [1, 2]\n", "mapping with one key"),
    ("launch:\n- arg: {name: a, default: x, choices: [y, z]}\n", "not one of"),
]


@pytest.mark.parametrize(("text", "match"), BAD_CASES)
def test_bad_launch_files_name_the_file_and_entry(
    tmp_path: Path, environ: dict[str, str], text: str, match: str
) -> None:
    path = write(tmp_path / "bad.launch.yaml", text)
    cwd = os.getcwd()
    os.chdir(tmp_path)  # include paths are relative to the working directory
    try:
        with pytest.raises(LaunchError, match=match) as info:
            plan_of(path, environ)
    finally:
        os.chdir(cwd)
    assert "bad.launch.yaml" in str(info.value)


def test_unknown_command_line_argument_is_rejected(tmp_path: Path, environ: dict) -> None:
    path = write(tmp_path / "args.yaml", "launch:\n- arg: {name: rate, default: '1'}\n")
    with pytest.raises(LaunchError, match=r"unknown launch argument\(s\) rtae \(declared: rate\)"):
        plan_of(path, environ, rtae="2")


def test_include_loop_is_detected(tmp_path: Path, environ: dict[str, str]) -> None:
    path = write(tmp_path / "loop.yaml", "launch:\n- include: {file: '$(filename)'}\n")
    with pytest.raises(LaunchError, match="includes itself"):
        plan_of(path, environ)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("plain", "plain"),
        ("$(var a)-$(var b)", "1-two words"),
        ("$(env GO_TEST_VAR)", "from_env"),
        ("$(env UNSET_VAR 'fallback value')", "fallback value"),
        ("[$(optenv UNSET_VAR)]", "[]"),
        ("$(var $(var which))", "1"),
        ("$(dirname)/x", "/launch/dir/x"),
    ],
)
def test_substitutions(text: str, expected: str) -> None:
    ctx = SubstitutionContext(
        variables={"a": "1", "b": "two words", "which": "a"},
        file=Path("/launch/dir/file.yaml"),
        environ={"GO_TEST_VAR": "from_env"},
    )
    assert substitute(text, ctx, "f.yaml: x") == expected


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("$(env UNSET_VAR)", "environment variable 'UNSET_VAR' is not set"),
        ("$(var)", "takes one argument"),
        ("$(var a", "unclosed"),
        ("$(var 'a)", "unclosed|unterminated"),
        ("$(find-pkg-share nope)", "unknown package 'nope'"),
        ("$(command ls)", "unsupported substitution"),
    ],
)
def test_bad_substitutions(text: str, match: str) -> None:
    ctx = SubstitutionContext({"a": "1"}, Path("/x/f.yaml"), {})
    with pytest.raises(SubstitutionError, match=match):
        substitute(text, ctx, "f.yaml: x")


def test_repository_launch_files_parse() -> None:
    """Every launch/*.yaml of the repository reads into a plan on the built workspace."""
    root = Path(__file__).resolve().parents[3] / "launch"
    files = sorted(root.glob("*.yaml"))
    assert files, "no launch files found"
    for path in files:
        data = yaml.safe_load(path.read_text())
        if not isinstance(data, dict) or "launch" not in data:
            continue
        # Arguments without a default must be given, as on the command line.
        required = {
            a["arg"]["name"]: "placeholder"
            for a in data["launch"]
            if isinstance(a, dict) and "arg" in a and "default" not in a["arg"]
        }
        plan = load_plan(path, required)
        assert plan.nodes, f"{path.name} starts no node"
