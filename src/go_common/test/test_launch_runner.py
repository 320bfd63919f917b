"""The launch runner: process supervision with fake nodes, and the real demo graph end to end."""

from __future__ import annotations

import io
import os
import re
import signal
import stat
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from pathlib import Path

import pytest
import rclpy
from rclpy.context import Context
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node

from go_common import qos
from go_common.launch.cli import main as launch_main
from go_common.launch.plan import LaunchPlan, load_plan
from go_common.launch.runner import LaunchRunner
from go_msgs.msg import GateEvent

REPO = Path(__file__).resolve().parents[3]
SCRIPTS = {
    "hello": "echo hello; echo oops >&2; exit 0",
    "crash": "sleep 0.3; exit 3",
    "sleeper": "while true; do sleep 0.05; done",
    # Ignores SIGINT; SIGTERM still ends it.
    "stubborn": "trap '' INT; while true; do sleep 0.05; done",
    # Ignores SIGINT and SIGTERM: only SIGKILL ends it.
    "immortal": "trap '' INT TERM; while true; do sleep 0.05; done",
    # Counts its starts in $COUNT_FILE and fails.
    "counter": 'echo x >> "$COUNT_FILE"; exit 1',
}


@pytest.fixture
def fake_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """AMENT_PREFIX_PATH with package 'fake_pkg' holding the shell scripts above."""
    root = tmp_path / "install"
    index = root / "share/ament_index/resource_index/packages"
    index.mkdir(parents=True)
    (index / "fake_pkg").write_text("")
    lib = root / "lib/fake_pkg"
    lib.mkdir(parents=True)
    for name, body in SCRIPTS.items():
        exe = lib / name
        exe.write_text(f"#!/bin/bash\n{body}\n")
        exe.chmod(exe.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("AMENT_PREFIX_PATH", str(root))
    monkeypatch.setenv("COUNT_FILE", str(tmp_path / "count.txt"))
    return tmp_path


def plan(tmp_path: Path, nodes: str) -> LaunchPlan:
    path = tmp_path / "t.launch.yaml"
    path.write_text("launch:\n" + textwrap.dedent(nodes))
    return load_plan(path)


def run(p: LaunchPlan, tmp_path: Path, stop_after_s: float | None = None) -> tuple[int, str]:
    console = io.StringIO()
    runner = LaunchRunner(p, log_dir=tmp_path / "logs", console=console, poll_s=0.02)
    timer = None
    if stop_after_s is not None:
        timer = threading.Timer(stop_after_s, runner.request_stop, args=("test stop",))
        timer.start()
    try:
        return runner.run(), console.getvalue()
    finally:
        if timer is not None:
            timer.cancel()


def test_output_modes_and_clean_end(fake_env: Path) -> None:
    p = plan(
        fake_env,
        """\
        - node: {pkg: fake_pkg, exec: hello, name: on_screen, output: screen}
        - node: {pkg: fake_pkg, exec: hello, name: to_log}
        """,
    )
    code, console = run(p, fake_env)
    assert code == 0
    assert "[hello-1] hello" in console and "[hello-1] oops" in console
    # output: log -> stdout only in the file, stderr on the console and in the file.
    assert "[hello-2] oops" in console and "[hello-2] hello" not in console
    log = (fake_env / "logs/hello-2.log").read_text()
    assert "hello" in log and "oops" in log


def test_required_node_exit_stops_everything_with_its_status(fake_env: Path) -> None:
    p = plan(
        fake_env,
        """\
        - node: {pkg: fake_pkg, exec: sleeper, name: bystander}
        - node: {pkg: fake_pkg, exec: crash, name: vital, on_exit: shutdown}
        """,
    )
    start = time.monotonic()
    code, _ = run(p, fake_env)
    assert code == 3
    assert time.monotonic() - start < 5.0  # the bystander got SIGINT, not a timeout


def test_non_required_crash_does_not_stop_the_launch(fake_env: Path) -> None:
    p = plan(
        fake_env,
        """\
        - node: {pkg: fake_pkg, exec: crash, name: flaky}
        - node: {pkg: fake_pkg, exec: sleeper, name: steady}
        """,
    )
    code, _ = run(p, fake_env, stop_after_s=1.0)
    assert code == 0  # a requested stop; the crash was only reported


def test_escalation_to_sigterm_and_sigkill(
    fake_env: Path, caplog: pytest.LogCaptureFixture
) -> None:
    p = plan(
        fake_env,
        """\
        - node: {pkg: fake_pkg, exec: stubborn, sigterm_timeout: "0.3"}
        """,
    )
    code, _ = run(p, fake_env, stop_after_s=0.3)
    assert code == 0
    assert "sending SIGTERM" in caplog.text and "SIGKILL" not in caplog.text
    caplog.clear()
    p = plan(
        fake_env,
        """\
        - node: {pkg: fake_pkg, exec: immortal, sigterm_timeout: "0.2", sigkill_timeout: "0.2"}
        """,
    )
    code, _ = run(p, fake_env, stop_after_s=0.3)
    assert code == 1
    assert "sending SIGKILL" in caplog.text


def test_respawn_honours_max_retries(fake_env: Path) -> None:
    p = plan(
        fake_env,
        """\
        - node:
            pkg: fake_pkg
            exec: counter
            respawn: "true"
            respawn_delay: 0.05
            respawn_max_retries: 2
        """,
    )
    code, _ = run(p, fake_env)
    assert code == 1  # it never succeeded
    assert (fake_env / "count.txt").read_text().count("x") == 3


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["/no/such/file.launch.yaml"], "launch file '/no/such/file.launch.yaml' not found"),
        (["launch/test_talker_listener.yaml", "rate_hz"], "'rate_hz' is not name:=value"),
        (["launch/test_talker_listener.yaml", "bogus:=1"], "unknown launch argument(s) bogus"),
    ],
)
def test_cli_rejects_bad_input(
    argv: list[str],
    message: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(REPO)
    assert launch_main(argv) == 2
    assert message in capsys.readouterr().err


def test_cli_show_prints_the_plan(capsys: pytest.CaptureFixture[str]) -> None:
    assert launch_main([str(REPO / "launch/test_talker_listener.yaml"), "ns:=x", "--show"]) == 0
    out = capsys.readouterr().out
    assert "-r __ns:=/x" in out and "--params-file" in out and "required" in out


# --- the real demo nodes, end to end ----------------------------------------------------------


def start_launch(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "go_common.launch.cli", "launch/test_talker_listener.yaml", *args],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def pids_started(stderr: str) -> list[int]:
    return [int(p) for p in re.findall(r"process started with pid \[(\d+)\]", stderr)]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie (not yet reaped by a dead parent) counts as gone.
    stat_file = Path(f"/proc/{pid}/stat")
    return stat_file.exists() and stat_file.read_text().split()[2] != "Z"


@pytest.mark.ros
def test_launch_runs_the_graph_and_stops_cleanly_on_sigint() -> None:
    ns = f"t{uuid.uuid4().hex[:8]}"
    proc = start_launch(f"ns:={ns}", "rate_hz:=20")
    context = Context()
    rclpy.init(context=context)
    executor = SingleThreadedExecutor(context=context)
    node = Node("launch_probe", context=context)
    executor.add_node(node)
    heard: list[GateEvent] = []
    node.create_subscription(GateEvent, f"/{ns}/gate_chatter", heard.append, qos.EVENTS)
    try:
        expected_nodes = {("talker", f"/{ns}"), ("listener", f"/{ns}")}

        def graph_ready() -> bool:
            return expected_nodes <= set(node.get_node_names_and_namespaces())

        deadline = time.monotonic() + 20.0
        while (len(heard) < 3 or not graph_ready()) and time.monotonic() < deadline:
            if proc.poll() is not None:
                break
            executor.spin_once(timeout_sec=0.1)
        assert len(heard) >= 3, "no messages on the remapped, namespaced topic"
        # The parameter file and the remap reached the talker.
        assert heard[0].gate_id == "gate_from_param_file"
        assert graph_ready(), node.get_node_names_and_namespaces()
    finally:
        node.destroy_node()
        executor.shutdown()
        rclpy.shutdown(context=context)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    pids = pids_started(err)
    assert len(pids) == 2
    assert not any(alive(pid) for pid in pids)
    assert "stopping: received SIGINT" in err


@pytest.mark.ros
def test_required_listener_decides_the_exit_status() -> None:
    ns = f"t{uuid.uuid4().hex[:8]}"
    ok = start_launch(f"ns:={ns}", "rate_hz:=50", "expected_count:=5", "timeout_s:=20.0")
    out, err = ok.communicate(timeout=30)
    assert ok.returncode == 0, err
    # Screen output of the node, prefixed with its label; the parameter file reached the talker.
    assert "[demo_listener_node-2] " in out and "heard gate 'gate_from_param_file'" in out
    assert "required node 'demo_listener_node-2' exited with 0" in err
    ns = f"t{uuid.uuid4().hex[:8]}"
    late = start_launch(f"ns:={ns}", "rate_hz:=1", "expected_count:=1000", "timeout_s:=1.0")
    _, err = late.communicate(timeout=30)
    assert late.returncode == 1, err
    assert "required node 'demo_listener_node-2' exited with 1" in err
    assert not any(alive(pid) for pid in pids_started(err))


def test_nodes_do_not_outlive_a_killed_runner(fake_env: Path) -> None:
    path = fake_env / "orphans.launch.yaml"
    path.write_text("launch:\n- node: {pkg: fake_pkg, exec: sleeper}\n")
    runner = subprocess.Popen(
        [sys.executable, "-m", "go_common.launch.cli", str(path)],
        stderr=subprocess.PIPE,
        text=True,
    )
    assert runner.stderr is not None
    line = ""
    deadline = time.monotonic() + 10.0
    while "process started" not in line and time.monotonic() < deadline:
        line = runner.stderr.readline()
    (pid,) = pids_started(line)
    runner.kill()  # SIGKILL: no chance to stop its nodes itself
    runner.wait(timeout=10)
    runner.stderr.close()
    deadline = time.monotonic() + 5.0
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(pid)
