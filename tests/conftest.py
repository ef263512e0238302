"""Shared test fixtures: where the real speech lives, and how tests that need it are skipped.

The real corpora sit in ../shared/data beside the project (TONECUE_DATA overrides). A user's
clone does not have them, so tests marked `data` skip with a reason; CI sets
TONECUE_REQUIRE_DATA=1 so that a missing folder fails instead of quietly skipping.

Helpers shared between test modules live in the package `tests/helpers` (`from helpers.signals
import make_signal`): as the rootdir's conftest, this file puts `tests/` on sys.path (pytest's
default "prepend" import mode), so no test module inserts paths of its own.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = Path(os.environ.get("TONECUE_DATA", REPO_ROOT.parent / "shared" / "data"))
DEV_CORPUS = DATA_DIR / "ser-en-dev"
RAW_SAMPLES = DATA_DIR / "raw-samples"
NOISE_DIR = DATA_DIR / "noise" / "esc10"
CREMA_D = DATA_DIR / "crema-d"


def _data_missing_reason() -> str | None:
    if all(folder.is_dir() for folder in (DEV_CORPUS, RAW_SAMPLES, NOISE_DIR, CREMA_D)):
        return None
    return f"real speech not found at {DATA_DIR} (set TONECUE_DATA to the shared data folder)"


def pytest_collection_modifyitems(config, items):
    reason = _data_missing_reason()
    if reason is None:
        return
    if os.environ.get("TONECUE_REQUIRE_DATA") == "1":
        raise pytest.UsageError(f"TONECUE_REQUIRE_DATA=1 but {reason}")
    skip = pytest.mark.skip(reason=reason)
    for item in items:
        if "data" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def dev_corpus() -> Path:
    return DEV_CORPUS


@pytest.fixture(scope="session")
def raw_samples() -> Path:
    return RAW_SAMPLES


@pytest.fixture(scope="session")
def noise_dir() -> Path:
    """ESC-10 (folds 1-3 for augmentation, fold 5 held out for the test conditions)."""
    return NOISE_DIR


@pytest.fixture(scope="session")
def librosa():
    """The reference implementation; tests using it skip where the dev extra is absent."""
    return pytest.importorskip("librosa")
