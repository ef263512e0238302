"""The held-out clip benchmark: its UAR arithmetic, and both shipped models through it."""

from __future__ import annotations

import math

import pytest

from tonecue.benchmarks.heldout_clips import HEARINGS, SHIPPED, clips, evaluate, hear, uar


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


@pytest.mark.data
def test_one_device_hears_clips_in_a_seeded_order_and_learns_its_channel_from_them():
    from tonecue.edge.model import EmotionModel

    model = EmotionModel(SHIPPED[0])
    items = [item for item in clips() if item[0] == "savee"][::12]
    alone = hear(model, items, "alone")
    device = hear(model, items, "one device per corpus")
    assert device == hear(model, items, "one device per corpus")  # seeded: the same order each time
    first = int(__import__("numpy").random.default_rng(0).permutation(len(items))[0])
    assert device[first] == alone[first]  # the first clip a device hears is judged from the prior
    assert len(device) == len(alone) == len(items)
    with pytest.raises(ValueError, match="hearing must be one of"):
        hear(model, items, "telepathy")
    assert HEARINGS[0] == "alone"
