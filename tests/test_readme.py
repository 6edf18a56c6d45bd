"""The README's Python examples run: every ```python block, in order, in one namespace, from the
repository root (the examples name ``scenarios/...`` files) with ``out/`` in a temporary folder."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BLOCKS = re.findall(r"^```python\n(.*?)^```", (ROOT / "README.md").read_text(), flags=re.S | re.M)


def test_the_readme_has_python_examples():
    assert BLOCKS


def test_the_readme_python_blocks_run(tmp_path, monkeypatch):
    # The examples read ./scenarios and write ./out: run them in a copy so the checkout is untouched.
    shutil.copytree(ROOT / "scenarios", tmp_path / "scenarios")
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    for i, block in enumerate(BLOCKS):
        exec(compile(block, f"README.md python block {i + 1}", "exec"), namespace)  # noqa: S102
    assert os.listdir(tmp_path / "out")
