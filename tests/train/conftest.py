"""Fixtures of the train tests: run folders `tonecue-train` wrote (helpers.runs, once per session)."""

from helpers.runs import real, synthetic  # noqa: F401  (fixtures)
