"""scale_node: a serial load-cell board -> go_msgs/LoadCellBoard on ``shelves/load_cells``.

The board's line protocol, tare and calibration are described in
``go_sensors.drivers.load_cell``. Each message holds ``samples_per_message`` samples of every
channel of the board; its stamp is the host time at which the first of them was read. Garbage
lines, unknown channels and out-of-range counts are counted and skipped (``/diagnostics``); a
missing or unplugged port is reported and reopened with backoff, forever.

A lifecycle node (see ``driver_common``): configure builds the decoder and the publishers,
activate opens the port and starts polling it, deactivate stops, cleanup closes the port.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from diagnostic_msgs.msg import DiagnosticArray
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn
from rclpy.time import Time

from go_common import qos, topics
from go_msgs.msg import LoadCellBoard as LoadCellBoardMsg
from go_sensors.drivers.backoff import Backoff
from go_sensors.drivers.line_source import LineSource
from go_sensors.drivers.load_cell import BoardBatch, LoadCellBoard
from go_sensors.nodes.driver_common import (
    ERROR,
    OK,
    WARN,
    diagnostic_array,
    load_config,
    log_level_change,
    run_lifecycle,
)

CONFIG_FILE = Path(__file__).resolve().parents[2] / "config" / "scale.yaml"


@dataclass(frozen=True)
class ScaleConfig:
    """Parameters of scale_node (meaning and defaults: config/scale.yaml)."""

    board_id: str
    input_kind: str
    port: str
    baud: int
    store: str
    channel_ids: list[str]
    scale_g_per_count: list[float]
    tare_counts: list[float]
    tare_samples: int
    sample_rate_hz: float
    samples_per_message: int
    raw_min: int
    raw_max: int
    poll_period_s: float
    frame_id: str
    retry_initial_s: float
    retry_max_s: float
    diagnostics_period_s: float
    autostart: bool

    def __post_init__(self) -> None:
        if self.input_kind not in ("serial", "file"):
            raise ValueError(f"input_kind must be 'serial' or 'file', got {self.input_kind!r}")
        if not self.port or self.baud <= 0:
            raise ValueError("port must be set and baud > 0")
        if self.sample_rate_hz <= 0 or self.poll_period_s <= 0 or self.diagnostics_period_s <= 0:
            raise ValueError("sample_rate_hz, poll_period_s, diagnostics_period_s must be > 0")
        if not (0 < self.retry_initial_s <= self.retry_max_s):
            raise ValueError("retry delays need 0 < retry_initial_s <= retry_max_s")
        if self.tare_samples < 1:
            raise ValueError(f"tare_samples must be >= 1, got {self.tare_samples}")


def build_board(cfg: ScaleConfig) -> LoadCellBoard:
    """The decoder of ``cfg``; ValueError naming the parameter that does not fit."""
    channels = list(cfg.channel_ids)
    rate = cfg.sample_rate_hz
    if not channels:
        if not cfg.store:
            raise ValueError("channel_ids is empty and no store is given to read them from")
        from go_common.core.store import load_store

        store = load_store(cfg.store)
        if cfg.board_id not in store.boards:
            raise ValueError(
                f"board '{cfg.board_id}' is not in store '{store.store_id}' "
                f"(boards: {sorted(store.boards)})"
            )
        channels = list(store.boards[cfg.board_id].channels)
        rate = store.boards[cfg.board_id].rate_hz
    scales = [float(v) for v in cfg.scale_g_per_count]
    if len(scales) == 1:
        scales *= len(channels)
    if len(scales) != len(channels):
        raise ValueError(f"scale_g_per_count has {len(scales)} values for {len(channels)} channels")
    tares = tuple(float(v) for v in cfg.tare_counts) or None
    if tares is not None and len(tares) != len(channels):
        raise ValueError(f"tare_counts has {len(tares)} values for {len(channels)} channels")
    return LoadCellBoard(
        board_id=cfg.board_id,
        channel_ids=tuple(channels),
        scales=tuple(scales),
        tares=tares,
        samples_per_message=cfg.samples_per_message,
        sample_period=1.0 / rate,
        raw_min=cfg.raw_min,
        raw_max=cfg.raw_max,
        tare_samples=cfg.tare_samples,
    )


def batch_to_msg(batch: BoardBatch, frame_id: str) -> LoadCellBoardMsg:
    """go_msgs/LoadCellBoard of a decoded batch (``first_time`` in ROS-clock seconds)."""
    msg = LoadCellBoardMsg(board_id=batch.board_id, channel_ids=list(batch.channel_ids))
    msg.header.stamp = Time(nanoseconds=round(batch.first_time * 1e9)).to_msg()
    msg.header.frame_id = frame_id
    msg.sample_period = float(batch.sample_period)
    msg.num_samples = int(batch.grams.shape[0])
    msg.grams = batch.grams.astype("float32").ravel()
    msg.channel_status = [int(s) for s in batch.status]
    return msg


class ScaleNode(LifecycleNode):
    """Serial load-cell board driver."""

    def __init__(self, **node_kwargs: object) -> None:
        super().__init__("scale_node", **node_kwargs)
        self.config, self._config_error = load_config(self, ScaleConfig, CONFIG_FILE, "scale_node")
        self.board: LoadCellBoard | None = None
        self.source: LineSource | None = None
        self.published = 0
        self._pub = None
        self._diag_pub = None
        self._poll_timer = None
        self._diag_timer = None
        self._last_level: list[bytes] = []

    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Build the decoder from the parameters (and the store), create the publishers."""
        if self.config is None:
            self.get_logger().error(f"bad parameters: {self._config_error}")
            return TransitionCallbackReturn.FAILURE
        cfg = self.config
        try:
            self.board = build_board(cfg)
            self.source = LineSource(
                cfg.input_kind,
                cfg.port,
                baud=cfg.baud,
                backoff=Backoff(cfg.retry_initial_s, 2.0, cfg.retry_max_s),
            )
        except ValueError as error:
            self.get_logger().error(f"board {cfg.board_id}: {error}")
            return TransitionCallbackReturn.FAILURE
        self._pub = self.create_lifecycle_publisher(
            LoadCellBoardMsg, topics.SHELVES_LOAD_CELLS, qos.EVENTS
        )
        self._diag_pub = self.create_publisher(DiagnosticArray, topics.DIAGNOSTICS, qos.EVENTS)
        self._diag_timer = self.create_timer(cfg.diagnostics_period_s, self._publish_diagnostics)
        self.get_logger().info(
            f"board {cfg.board_id}: {len(self.board.channel_ids)} channels on {cfg.port}"
        )
        return TransitionCallbackReturn.SUCCESS

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Start polling the port (it is opened, and reopened, by the poll)."""
        self._poll_timer = self.create_timer(self.config.poll_period_s, self.poll)
        return super().on_activate(state)

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Stop polling; the port stays open."""
        if self._poll_timer is not None:
            self.destroy_timer(self._poll_timer)
            self._poll_timer = None
        return super().on_deactivate(state)

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Close the port, drop publishers."""
        self._teardown()
        return TransitionCallbackReturn.SUCCESS

    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Stop and close everything."""
        self._teardown()
        return TransitionCallbackReturn.SUCCESS

    def poll(self) -> None:
        """Read what the board sent, publish the completed batches."""
        now_ros = self.get_clock().now().nanoseconds * 1e-9
        for line in self.source.poll(time.monotonic()):
            for batch in self.board.feed(line, now_ros):
                self._pub.publish(batch_to_msg(batch, self.config.frame_id))
                self.published += 1

    def _publish_diagnostics(self) -> None:
        if self.board is None or self.source is None or self._diag_pub is None:
            return
        st, src = self.board.stats, self.source.status
        skipped = st.garbage + st.unknown_channel + st.out_of_range
        if not src.connected:
            level, message = ERROR, src.last_error or "port not open"
        elif not self.board.tared:
            level, message = WARN, f"measuring tares ({st.samples}/{self.board.tare_samples})"
        elif skipped or st.saturated:
            level, message = WARN, st.last_error or f"{skipped} bad lines, {st.saturated} saturated"
        else:
            level, message = OK, f"{self.published} messages"
        values = {
            "port": self.config.port,
            "connected": src.connected,
            "lines": st.lines,
            "samples": st.samples,
            "messages": self.published,
            "garbage_lines": st.garbage,
            "unknown_channel": st.unknown_channel,
            "out_of_range": st.out_of_range,
            "saturated": st.saturated,
            "incomplete_samples": st.incomplete_samples,
            "tared": self.board.tared,
            "opens": src.opens,
            "open_failures": src.failures,
            "last_error": src.last_error or st.last_error,
        }
        name = f"{self.get_name()}: load-cell board {self.config.board_id}"
        log_level_change(self, name, level, message, self._last_level)
        self._diag_pub.publish(
            diagnostic_array(self.get_clock().now(), name, self.config.port, level, message, values)
        )

    def _teardown(self) -> None:
        for timer in (self._poll_timer, self._diag_timer):
            if timer is not None:
                self.destroy_timer(timer)
        self._poll_timer = self._diag_timer = None
        if self.source is not None:
            self.source.close()
        for pub in (self._pub, self._diag_pub):
            if pub is not None:
                self.destroy_publisher(pub)
        self._pub = self._diag_pub = None


def main(argv: list[str] | None = None) -> int:
    """Console script ``scale_node``."""
    return run_lifecycle(ScaleNode, argv)


if __name__ == "__main__":
    raise SystemExit(main())
