"""Repository-wide rules: pure cores stay free of ROS, and nothing downstream reads ground truth."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ["go_common", "go_sensors", "go_perception", "go_fusion", "go_eval"]


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def _core_modules() -> list[Path]:
    return sorted(p for pkg in PACKAGES for p in (ROOT / "src" / pkg / pkg / "core").rglob("*.py"))


@pytest.mark.parametrize("path", _core_modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_core_module_does_not_import_ros(path: Path) -> None:
    ros = {n for n in _imports(path) if n.split(".")[0] in {"rclpy", "rosidl_runtime_py"}}
    assert not ros, f"{path} imports {ros}: keep ROS glue in nodes/ and conversions.py"


@pytest.mark.parametrize("package", ["go_perception", "go_fusion"])
def test_downstream_never_reads_simulator_or_ground_truth(package: str) -> None:
    offenders = []
    for path in sorted((ROOT / "src" / package / package).rglob("*.py")):
        text = path.read_text()
        sim = {n for n in _imports(path) if n.startswith("go_sensors")}
        # sim_measured_weight_g / sim_shared_load are how the simulated shelves really behave:
        # truth, not configuration.
        if (
            sim
            or "ground_truth" in text
            or "sim_measured_weight_g" in text
            or "sim_shared_load" in text
        ):
            offenders.append(str(path.relative_to(ROOT)))
    assert not offenders, f"downstream modules touch the simulator or ground truth: {offenders}"


def test_every_package_has_manifest_and_marker() -> None:
    for pkg in PACKAGES:
        base = ROOT / "src" / pkg
        assert (base / "package.xml").is_file()
        assert (base / "setup.py").is_file()
        assert (base / "resource" / pkg).is_file()
        assert (base / pkg / "core" / "__init__.py").is_file()
