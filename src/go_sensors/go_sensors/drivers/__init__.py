"""Pure cores of the hardware drivers (no rclpy): serial line protocols, load-cell calibration,
gate payloads, camera capture with reconnection. The nodes in ``go_sensors.nodes`` wrap them."""
