"""ament_python set-up for go_common.

Every ``nodes/<name>_node.py`` with a ``main()`` becomes the console script ``<name>_node``."""

from pathlib import Path

from setuptools import find_packages, setup

PACKAGE = "go_common"
HERE = Path(__file__).parent


def _data_files() -> list[tuple[str, list[str]]]:
    files = [
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml"]),
    ]
    for sub in ("config",):
        paths = (p for p in (HERE / sub).rglob("*") if p.is_file() and not p.name.startswith("."))
        found = sorted(str(p.relative_to(HERE)) for p in paths)
        for folder in sorted({str(Path(f).parent) for f in found}):
            files.append(
                (f"share/{PACKAGE}/{folder}", [f for f in found if str(Path(f).parent) == folder])
            )
    return files


def _console_scripts() -> list[str]:
    nodes = sorted((HERE / PACKAGE / "nodes").glob("*_node.py"))
    return [f"{p.stem} = {PACKAGE}.nodes.{p.stem}:main" for p in nodes]


setup(
    name=PACKAGE,
    version="0.1.0",
    packages=find_packages(exclude=["test"]),
    package_data={PACKAGE: ["**/*.yaml", "**/*.json", "**/*.csv", "**/*.png", "**/*.jpg"]},
    include_package_data=True,
    data_files=_data_files(),
    install_requires=["setuptools"],
    zip_safe=False,
    maintainer="go developers",
    maintainer_email="dev@go-store.invalid",
    description="Shared ROS utilities, store model and CLI of the go store",
    license="Apache-2.0",
    entry_points={"console_scripts": _console_scripts()},
)
