"""Fixtures of the export tests: run folders `tonecue-train` wrote (helpers.runs, once per session,
shared with the train tests) and the synthetic corpus's windows."""

from __future__ import annotations

import pytest

from helpers.runs import SPEC, real, synthetic  # noqa: F401  (fixtures)


@pytest.fixture(scope="session")
def synthetic_windows(synthetic):  # noqa: F811
    from tonecue.train.corpus import build_index
    from tonecue.train.windows import extract_windows

    return extract_windows(build_index(synthetic.corpus), SPEC, cache_dir=False, workers=1, progress=False)
