"""Offline commands of go_sensors (``./gostore sim``, ``./gostore pose-dataset``)."""
