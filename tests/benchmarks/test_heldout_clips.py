"""The held-out clip benchmark: its UAR arithmetic, and both shipped models through it."""

from __future__ import annotations

import math

import pytest

from tonecue.benchmarks.heldout_clips import SHIPPED, clips, evaluate, uar


def test_uar_averages_the_recall_of_each_label_a_miss_included():
    truth = ["angry", "angry", "happy", "sad", "neutral", "neutral"]
    said = ["angry", "none", "happy", "happy", "neutral", "neutral"]
    value, recall = uar(truth, said)
    assert recall == {"angry": 0.5, "happy": 1.0, "sad": 0.0, "neutral": 1.0}
    assert value == pytest.approx(0.625)
    assert math.isnan(uar(["angry"], ["angry"])[1]["sad"])  # a label never said is left out


@pytest.mark.data
def test_both_shipped_models_hear_the_held_out_clips():
    items = clips()
    assert {c for c, _, _ in items} == {"crema", "ravdess", "savee"} and len(items) == 563
    sample = items[::40]
    for path in SHIPPED:
        result = evaluate(path, sample)
        assert result["clips"] == len(sample) and 0.0 <= result["uar"] <= 1.0
        assert set(result["corpora"]) == {c for c, _, _ in sample}
