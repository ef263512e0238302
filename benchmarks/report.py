"""How every benchmark writes its --out: PATH.md for people and PATH.json for machines."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def write_report(out: Path | None, markdown: str, data: Any, indent: int = 1) -> None:
    """Write `markdown` to out.md and `data` to out.json (nothing when `out` is None)."""
    if out is None:
        return
    Path(out).with_suffix(".md").write_text(markdown)
    Path(out).with_suffix(".json").write_text(json.dumps(data, indent=indent) + "\n")
