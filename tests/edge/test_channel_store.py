"""The channel estimate kept across restarts: what a device learnt of its microphone survives a
reboot, belongs to one model's prior, and a bad or foreign file never stops the device."""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest

from tonecue.edge.channel_store import CHANNEL_FILE_NAME, channel_file, load_channel, save_channel
from tonecue.edge.normalize import ChannelEstimate, NormalizationSettings

HOP = 0.5


def prior(n=4, offset=0.0):
    return NormalizationSettings(kind="speaker", mean=(offset,) * n, std=(1.0,) * n)


def learnt(settings, value=3.0, windows=50):
    channel = ChannelEstimate(settings, HOP)
    for _ in range(windows):
        channel.learn(np.full(len(settings.mean), value))
    return channel


def test_a_saved_channel_comes_back_as_it_was(tmp_path):
    path = tmp_path / "state" / CHANNEL_FILE_NAME
    channel = learnt(prior())
    save_channel(path, channel, prior())
    back = ChannelEstimate(prior(), HOP)
    assert load_channel(path, back, prior()) is True
    np.testing.assert_array_equal(back.mean, channel.mean)
    assert back.windows == channel.windows == 50
    assert not list(path.parent.glob("*.tmp"))  # written whole, then renamed


def test_another_models_channel_is_not_taken(tmp_path, caplog):
    path = tmp_path / CHANNEL_FILE_NAME
    save_channel(path, learnt(prior()), prior())
    fresh = ChannelEstimate(prior(offset=1.0), HOP)
    with caplog.at_level(logging.INFO, logger="tonecue"):
        assert load_channel(path, fresh, prior(offset=1.0)) is False
    np.testing.assert_array_equal(fresh.mean, 1.0)
    assert fresh.windows == 0
    assert "another model" in caplog.text


@pytest.mark.parametrize("content", ["{not json", json.dumps({"format": 1, "prior": "x", "mean": [1, 2]}), "[]",
                                     json.dumps({"format": 99})])
def test_a_broken_file_starts_from_the_prior_with_a_warning(tmp_path, caplog, content):
    path = tmp_path / CHANNEL_FILE_NAME
    path.write_text(content)
    fresh = ChannelEstimate(prior(), HOP)
    with caplog.at_level(logging.WARNING, logger="tonecue"):
        assert load_channel(path, fresh, prior()) is False
    assert fresh.windows == 0 and str(path) in caplog.text


def test_no_file_yet_is_a_first_start_and_an_unwritable_folder_only_warns(tmp_path, caplog):
    fresh = ChannelEstimate(prior(), HOP)
    assert load_channel(tmp_path / "none.json", fresh, prior()) is False and fresh.windows == 0
    blocked = tmp_path / "file"
    blocked.write_text("")
    with caplog.at_level(logging.WARNING, logger="tonecue"):
        assert save_channel(blocked / CHANNEL_FILE_NAME, learnt(prior()), prior()) is False
    assert "cannot keep the channel estimate" in caplog.text


def test_where_the_file_lives(tmp_path, monkeypatch):
    monkeypatch.delenv("STATE_DIRECTORY", raising=False)
    assert channel_file("auto") is None  # not under systemd: nowhere to keep it
    assert channel_file("") is None
    assert channel_file(str(tmp_path / "c.json")) == tmp_path / "c.json"
    monkeypatch.setenv("STATE_DIRECTORY", str(tmp_path / "lib"))  # StateDirectory=tonecue
    assert channel_file("auto") == tmp_path / "lib" / CHANNEL_FILE_NAME
