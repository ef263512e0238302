"""Fixtures of the export tests: a tiny synthetic corpus, its windows and a tiny run folder.

`tinyrun.py` beside this file (made importable here, whatever pytest's import mode) builds them.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from tinyrun import N_SELECTED, SPEC, fit_tiny_models, make_corpus, write_run  # noqa: E402


@pytest.fixture(scope="session")
def tiny_corpus(tmp_path_factory) -> Path:
    return make_corpus(tmp_path_factory.mktemp("corpus"))


@pytest.fixture(scope="session")
def tiny_windows(tiny_corpus):
    from tonecue.train.corpus import build_index
    from tonecue.train.windows import extract_windows

    return extract_windows(build_index(tiny_corpus), SPEC, cache_dir=False, workers=1, progress=False)


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory, tiny_corpus, tiny_windows) -> Path:
    selected = SPEC.stats_feature_names()[:: (SPEC.stats_size // N_SELECTED)][:N_SELECTED]
    models = fit_tiny_models(tiny_windows, selected)
    return write_run(tmp_path_factory.mktemp("run") / "tiny-run", models, selected, tiny_corpus)
