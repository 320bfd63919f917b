"""Run a ``LaunchPlan``: one subprocess per node, supervised until shutdown.

- Each node runs in its own process group (so a terminal's Ctrl-C reaches the runner only and
  the stop sequence is ours) and gets SIGTERM if the runner itself dies (Linux parent-death
  signal), so no node outlives its launch.
- Output: ``screen`` copies stdout and stderr to the console with a ``[label]`` prefix; ``log``
  writes stdout to ``<log_dir>/<label>.log`` and copies stderr to the console and the log;
  ``both`` does both for both streams.
- A node that exits is reported; with ``respawn`` it restarts after ``respawn_delay``; when it is
  required (``on_exit: shutdown``) the whole launch stops.
- Stopping (Ctrl-C / SIGINT, SIGTERM, or a required node's exit): SIGINT to every node, then
  SIGTERM after its ``sigterm_timeout`` [s], then SIGKILL after its ``sigkill_timeout`` [s]
  (defaults 5 s each, as ros2 launch). A second Ctrl-C skips the waiting.

Exit status of ``run``: a required node's exit status when it ended the launch (128 + N when a
signal N killed it); otherwise 0 after a requested stop or when every node ended cleanly, and 1
when a node had to be killed with SIGKILL or some node failed.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TextIO

from go_common.launch.plan import LaunchPlan, NodeSpec

_LOG = logging.getLogger("go.launch")
_PR_SET_PDEATHSIG = 1
# Resolved once here: between fork and exec the child must not load libraries or take locks.
try:
    _PRCTL = ctypes.CDLL(None, use_errno=True).prctl
except (OSError, AttributeError):  # not Linux
    _PRCTL = None


def _die_with_parent() -> None:
    """In the child before exec: get SIGTERM when the runner dies (Linux only)."""
    if _PRCTL is not None:
        _PRCTL(_PR_SET_PDEATHSIG, signal.SIGTERM)


def default_log_dir() -> Path:
    """``$ROS_LOG_DIR`` or ``$ROS_HOME/log`` or ``~/.ros/log``, plus a per-launch folder."""
    base = os.environ.get("ROS_LOG_DIR") or str(
        Path(os.environ.get("ROS_HOME", Path.home() / ".ros")) / "log"
    )
    stamp = time.strftime("%Y-%m-%d-%H-%M-%S")
    return Path(base) / f"go_launch_{stamp}_{os.getpid()}"


@dataclass
class _Process:
    spec: NodeSpec
    popen: subprocess.Popen[bytes] | None = None
    returncode: int | None = None
    restarts: int = 0
    restart_at: float | None = None
    threads: list[threading.Thread] = field(default_factory=list)
    log: IO[bytes] | None = None

    @property
    def running(self) -> bool:
        return self.popen is not None and self.returncode is None


class LaunchRunner:
    """Start, watch and stop the nodes of a plan.

    Args:
        plan: the resolved launch plan.
        log_dir: folder of ``log``-output files (created when first needed).
        console: where ``screen`` output goes (default: this process's stdout).
        poll_s: how often [s] exits are checked.
    """

    def __init__(
        self,
        plan: LaunchPlan,
        *,
        log_dir: Path | None = None,
        console: TextIO | None = None,
        poll_s: float = 0.05,
    ) -> None:
        self.plan = plan
        self.log_dir = log_dir or default_log_dir()
        self.console = console or sys.stdout
        self.poll_s = poll_s
        self._procs = [_Process(spec) for spec in plan.nodes]
        self._console_lock = threading.Lock()
        self._stop_reason: str | None = None
        self._hurry = False
        self._exit_code: int | None = None

    # --- public ---------------------------------------------------------------------------------
    def request_stop(self, reason: str) -> None:
        """Ask the main loop to stop every node (safe from signal handlers and other threads)."""
        if self._stop_reason is not None:
            self._hurry = True
        else:
            self._stop_reason = reason

    def run(self) -> int:
        """Start every node and supervise them until the launch ends; return the exit status."""
        restore = self._install_signal_handlers()
        try:
            for proc in self._procs:
                if self._stop_reason is None:
                    self._start(proc)
            while self._stop_reason is None:
                now = time.monotonic()
                for proc in self._procs:
                    if proc.running and proc.popen is not None and proc.popen.poll() is not None:
                        self._on_exit(proc, proc.popen.returncode, now)
                    elif proc.restart_at is not None and now >= proc.restart_at:
                        proc.restart_at = None
                        proc.restarts += 1
                        self._start(proc)
                if not any(p.running or p.restart_at is not None for p in self._procs):
                    self._stop_reason = "every node has ended"
                    break
                time.sleep(self.poll_s)
            _LOG.info("stopping: %s", self._stop_reason)
            killed = self._stop_all()
        finally:
            restore()
            self._close_all()
        if self._exit_code is not None:
            return self._exit_code
        failed = [p for p in self._procs if p.returncode not in (0, None, -signal.SIGINT)]
        if killed:
            return 1
        if self._stop_reason == "every node has ended" and failed:
            return 1
        return 0

    # --- processes ------------------------------------------------------------------------------
    def _start(self, proc: _Process) -> None:
        spec = proc.spec
        env = dict(os.environ)
        env.update(spec.env)
        for key in spec.unset_env:
            env.pop(key, None)
        stdout: int | IO[bytes] = subprocess.PIPE
        stderr: int | IO[bytes] = subprocess.STDOUT
        if spec.output in ("log", "both") and proc.log is None:
            self.log_dir.mkdir(parents=True, exist_ok=True)
            proc.log = (self.log_dir / f"{spec.label}.log").open("ab")
        if spec.output == "log":
            assert proc.log is not None
            stdout, stderr = proc.log, subprocess.PIPE
        try:
            proc.popen = subprocess.Popen(
                spec.command(),
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=stdout,
                stderr=stderr,
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )
        except OSError as error:
            _LOG.error("[%s] could not start %s: %s", spec.label, spec.path, error)
            proc.popen = None
            self._on_exit(proc, 127, time.monotonic())
            return
        proc.returncode = None
        _LOG.info("[%s] process started with pid [%d]", spec.label, proc.popen.pid)
        stream = proc.popen.stderr if spec.output == "log" else proc.popen.stdout
        if stream is not None:
            # Every mode shows what reaches this pipe: all output (screen, both) or stderr (log).
            thread = threading.Thread(
                target=self._pump, args=(spec.label, stream, proc.log), daemon=True
            )
            thread.start()
            proc.threads.append(thread)

    def _pump(self, label: str, stream: IO[bytes], log: IO[bytes] | None) -> None:
        """Copy a child's output line by line to the console (prefixed) and its log file."""
        for raw in iter(stream.readline, b""):
            if log is not None:
                with contextlib.suppress(ValueError):
                    log.write(raw)
                    log.flush()
            line = raw.decode(errors="replace").rstrip("\n")
            with self._console_lock:
                self.console.write(f"[{label}] {line}\n")
                self.console.flush()
        stream.close()

    def _on_exit(self, proc: _Process, returncode: int, now: float) -> None:
        proc.returncode = returncode
        spec = proc.spec
        if returncode == 0:
            _LOG.info("[%s] process has finished cleanly [pid %s]", spec.label, _pid(proc))
        else:
            _LOG.error(
                "[%s] process has died [pid %s, exit code %d, cmd '%s']",
                spec.label,
                _pid(proc),
                returncode,
                " ".join(spec.command()),
            )
        if spec.required:
            self._exit_code = 128 - returncode if returncode < 0 else returncode
            self.request_stop(f"required node '{spec.label}' exited with {returncode}")
        elif spec.respawn and (
            spec.respawn_max_retries < 0 or proc.restarts < spec.respawn_max_retries
        ):
            _LOG.info("[%s] respawning in %.1f s", spec.label, spec.respawn_delay)
            proc.restart_at = now + spec.respawn_delay

    def _signal_all(self, procs: list[_Process], sig: signal.Signals) -> None:
        for proc in procs:
            if proc.running and proc.popen is not None:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(proc.popen.pid, sig)

    def _wait(self, procs: list[_Process], timeout_of: Callable[[NodeSpec], float]) -> None:
        start = time.monotonic()
        while not self._hurry:
            pending = [p for p in procs if p.running and p.popen and p.popen.poll() is None]
            if not pending:
                break
            if all(time.monotonic() - start >= timeout_of(p.spec) for p in pending):
                break
            time.sleep(self.poll_s)
        for p in procs:
            if p.running and p.popen is not None and p.popen.poll() is not None:
                self._record_stop(p)

    def _record_stop(self, proc: _Process) -> None:
        assert proc.popen is not None
        proc.returncode = proc.popen.returncode
        _LOG.info("[%s] process has finished [exit code %d]", proc.spec.label, proc.returncode)

    def _stop_all(self) -> bool:
        """SIGINT, then SIGTERM, then SIGKILL; True when some node needed SIGKILL."""
        for proc in self._procs:
            proc.restart_at = None
        steps: list[tuple[signal.Signals, Callable[[NodeSpec], float]]] = [
            (signal.SIGINT, lambda s: s.sigterm_timeout),
            (signal.SIGTERM, lambda s: s.sigkill_timeout),
        ]
        for sig, timeout_of in steps:
            running = [p for p in self._procs if p.running]
            if not running:
                return False
            if sig != signal.SIGINT:
                names = ", ".join(p.spec.label for p in running)
                _LOG.warning("sending %s to [%s]", sig.name, names)
            self._signal_all(running, sig)
            self._wait(running, timeout_of)
        running = [p for p in self._procs if p.running]
        if not running:
            return False
        _LOG.error("sending SIGKILL to [%s]", ", ".join(p.spec.label for p in running))
        self._signal_all(running, signal.SIGKILL)
        for p in running:
            if p.popen is not None:
                p.popen.wait()
                self._record_stop(p)
        return True

    def _close_all(self) -> None:
        for proc in self._procs:
            if proc.running and proc.popen is not None:  # only after an exception
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(proc.popen.pid, signal.SIGKILL)
                proc.popen.wait()
            for thread in proc.threads:
                thread.join(timeout=2.0)
            if proc.log is not None:
                proc.log.close()

    def _install_signal_handlers(self) -> Callable[[], None]:
        if threading.current_thread() is not threading.main_thread():
            return lambda: None
        previous = {
            sig: signal.signal(sig, lambda num, _frame: self.request_stop(_signal_name(num)))
            for sig in (signal.SIGINT, signal.SIGTERM)
        }

        def restore() -> None:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

        return restore


def _pid(proc: _Process) -> str:
    return str(proc.popen.pid) if proc.popen is not None else "-"


def _signal_name(number: int) -> str:
    return f"received {signal.Signals(number).name}"
