"""The README results block is regenerated from committed figures, leaving the rest alone."""

from __future__ import annotations

import json
from pathlib import Path

from go_eval.core.readme_table import END, START, update_readme


def test_results_block_is_replaced(tmp_path: Path) -> None:
    (tmp_path / "baseline.json").write_text(
        json.dumps(
            {
                "machine": {"cpu": "X", "cores": "2"},
                "figures": {"products.test.top1": {"value": 0.975}},
            }
        )
    )
    (tmp_path / "eval_smoke.json").write_text(
        json.dumps({"overall": {"receipt_accuracy": 1.0, "idf1": 0.98}})
    )
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{START}\nold\n{END}\noutro\n")
    assert update_readme(readme, tmp_path)
    text = readme.read_text()
    assert text.startswith("intro\n") and text.endswith("outro\n")
    assert "old" not in text
    assert "| products top-1, grocery test split (with TTA) | 0.975 | >= 0.97 |" in text
    assert "| receipt accuracy | 1 |" in text


def test_missing_markers_leave_the_file_alone(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text("no markers\n")
    assert not update_readme(readme, tmp_path)
    assert readme.read_text() == "no markers\n"
