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
def test_clips_heard_together_share_the_channel_learnt_from_all_of_them():
    from tonecue.edge.model import EmotionModel

    model = EmotionModel(SHIPPED[0])
    items = [item for item in clips() if item[0] == "savee"][::12]
    together = hear(model, items, "together per corpus")
    assert together == hear(model, items[::-1], "together per corpus")[::-1]  # in whichever order
    assert together == hear(model, items, "together for all")  # one corpus: the same set
    assert len(together) == len(hear(model, items, "alone")) == len(items)
    with pytest.raises(ValueError, match="hearing must be one of"):
        hear(model, items, "telepathy")
    assert HEARINGS[0] == "alone"
