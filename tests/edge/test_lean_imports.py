"""The device side must run on numpy and onnxruntime alone: DESIGN.md's split, checked two ways."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

EDGE = Path(__file__).resolve().parents[2] / "edge"
FORBIDDEN = ("torch", "librosa", "scipy", "sklearn", "numba", "featurewiz", "tensorflow", "pandas")


def _imported_roots(path: Path) -> set[str]:
    roots = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots


@pytest.mark.parametrize("module", sorted(EDGE.glob("*.py")), ids=lambda p: p.name)
def test_edge_source_never_imports_the_training_stack(module):
    bad = _imported_roots(module) & set(FORBIDDEN)
    assert not bad, f"{module.name} imports {sorted(bad)}"


def test_running_the_frontend_loads_no_training_module():
    # A fresh process, even where torch and librosa are installed: nothing may pull them in.
    script = f"""
import sys, numpy as np
import tonecue.edge, tonecue.edge.cli, tonecue.edge.audio, tonecue.edge.resample
from tonecue.edge.frontend import featurize_clip
from tonecue.edge.spec import FrontendSpec
featurize_clip(np.random.default_rng(0).standard_normal(40000).astype(np.float32), FrontendSpec(), "stats", 22)
loaded = sorted(m for m in {FORBIDDEN!r} if m in sys.modules)
print(",".join(loaded))
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"loaded: {out.stdout.strip()}"
