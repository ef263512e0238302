"""Speaker normalization: the prior, the running estimate, the reset, and the contract."""

from __future__ import annotations

import numpy as np
import pytest

from tonecue.edge.model import ModelContract, ModelError
from tonecue.edge.normalize import (
    ChannelEstimate,
    NormalizationError,
    NormalizationSettings,
    SpeakerNormalizer,
    normalize_per_speaker,
    speaker_statistics,
)
from tonecue.edge.spec import FrontendSpec
from tonecue.edge.vad import GateSettings

HOP = 0.5


def settings(n=3, **changes):
    return NormalizationSettings(kind="speaker", mean=(0.0,) * n, std=(1.0,) * n, **changes)


def test_cold_windows_use_the_prior_and_a_voice_is_learnt():
    norm = SpeakerNormalizer(settings(prior_seconds=5.0, time_constant_s=30.0), HOP)
    rng = np.random.default_rng(0)
    voice = rng.normal([10.0, -4.0, 2.0], [2.0, 0.5, 1.0], size=(400, 3))
    first = norm(voice[0], 0.0)
    np.testing.assert_allclose(first, voice[0], rtol=1e-5)  # the prior is N(0, 1)
    z = np.array([norm(x, HOP * (i + 1)) for i, x in enumerate(voice[1:])])
    tail = z[-200:]
    np.testing.assert_allclose(tail.mean(axis=0), 0.0, atol=0.35)
    np.testing.assert_allclose(tail.std(axis=0), 1.0, atol=0.3)
    assert norm.seconds_heard == pytest.approx(400 * HOP)


def test_a_long_silence_returns_to_the_prior():
    norm = SpeakerNormalizer(settings(reset_after_s=10.0, channel_time_constant_s=None), HOP)
    for i in range(100):
        norm(np.full(3, 8.0), i * HOP)
    assert norm.mean[0] > 6
    norm(np.full(3, 8.0), 100 * HOP + 11.0)  # after 11 s without a voice
    assert norm.voiced_windows == 1 and norm.mean[0] < 1.5


def test_training_statistics_match_what_the_prior_stores():
    rng = np.random.default_rng(1)
    a, b = rng.normal(0, 1, (200, 2)), rng.normal(10, 3, (200, 2))
    features, speakers = np.vstack([a, b]), np.array(["a"] * 200 + ["b"] * 200)
    mean, std = speaker_statistics(features, speakers)
    np.testing.assert_allclose(mean, features.mean(axis=0))
    np.testing.assert_allclose(std, np.sqrt((a.std(0) ** 2 + b.std(0) ** 2) / 2))
    z = normalize_per_speaker(features, speakers)
    np.testing.assert_allclose(z[:200].mean(0), 0, atol=1e-5)
    np.testing.assert_allclose(z[200:].std(0), 1, atol=1e-5)


def test_a_new_voice_starts_from_what_the_device_has_learnt_of_its_channel():
    # Every voice through this device's microphone sits +6 on the first feature; the prior says 0.
    rng = np.random.default_rng(4)
    channel = ChannelEstimate(settings(channel_time_constant_s=60.0), HOP)
    first = SpeakerNormalizer(settings(channel_time_constant_s=60.0), HOP, channel)
    for i in range(200):
        first(rng.normal([6.0, 0.0, 0.0], 1.0), i * HOP)
    assert channel.mean[0] == pytest.approx(6.0, abs=0.5) and channel.windows == 200
    first.reset()  # the voice is gone: the next one starts from the channel, not from the prior
    assert first.mean[0] == pytest.approx(channel.mean[0])
    second = SpeakerNormalizer(settings(channel_time_constant_s=60.0), HOP, channel)  # e.g. the next file
    assert abs(second(np.array([6.0, 0.0, 0.0]), 0.0)[0]) < 0.5
    without = SpeakerNormalizer(settings(channel_time_constant_s=None), HOP)
    assert without.channel is None and without(np.array([6.0, 0.0, 0.0]), 0.0)[0] == pytest.approx(6.0)


def test_the_channel_learns_from_every_voice_and_forgets_slowly():
    channel = ChannelEstimate(settings(prior_seconds=5.0, channel_time_constant_s=100.0), HOP)
    for _ in range(10):  # the prior weighs 5 s = 10 windows: after 10 windows at 4, halfway
        channel.learn(np.full(3, 4.0))
    assert channel.mean[0] == pytest.approx(2.0)
    for _ in range(2000):  # then an exponential average over about 100 s of voice
        channel.learn(np.full(3, -1.0))
    assert channel.mean[0] == pytest.approx(-1.0, abs=1e-3)
    with pytest.raises(NormalizationError, match="a channel estimate needs channel_time_constant_s"):
        ChannelEstimate(settings(channel_time_constant_s=None), HOP)


def test_recordings_heard_together_share_one_channel_whatever_their_order():
    # The channel of a set of recordings: the prior (10 windows) averaged with all their windows,
    # alike however many and in whichever order; frozen, it learns nothing from what it then judges.
    rng = np.random.default_rng(5)
    windows = rng.normal([3.0, -2.0, 0.5], 1.0, size=(3000, 3))  # far more than the 100 s time constant
    means = []
    for order in (windows, windows[::-1], rng.permutation(windows)):
        channel = ChannelEstimate(settings(prior_seconds=5.0, channel_time_constant_s=100.0), HOP, remember_all=True)
        for x in order:
            channel.learn(x)
        means.append(channel.mean)
    np.testing.assert_allclose(means[1], means[0], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(means[2], means[0], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(means[0], windows.sum(axis=0) / (10 + 3000), rtol=1e-9)
    frozen = channel.frozen()
    before = frozen.mean.copy()
    normalizer = SpeakerNormalizer(settings(prior_seconds=5.0, channel_time_constant_s=100.0), HOP, frozen)
    for i in range(50):
        normalizer(np.full(3, 40.0), i * HOP)
    np.testing.assert_array_equal(frozen.mean, before)
    assert frozen.windows == channel.windows == 3000
    normalizer.reset()  # the next recording starts from the same channel
    np.testing.assert_array_equal(normalizer.mean, before)


@pytest.mark.parametrize(
    "changes, words",
    [
        ({"kind": "global"}, "kind must be one of"),
        ({"kind": "speaker"}, "needs a prior mean and std of one length"),
        ({"kind": "speaker", "mean": (0.0, 1.0), "std": (1.0,)}, "of one length"),
        ({"time_constant_s": 0}, "time_constant_s must be a positive number"),
        ({"mean": ("a",)}, "mean must be a list of numbers"),
        ({"channel_time_constant_s": 0.0}, "channel_time_constant_s must be a positive number of seconds or None"),
    ],
)
def test_nonsense_settings_are_refused(changes, words):
    with pytest.raises(NormalizationError, match=words):
        NormalizationSettings(**changes)


def test_the_contract_carries_it_and_checks_its_size():
    spec = FrontendSpec()
    good = settings(spec.stats_size)
    c = ModelContract(spec, GateSettings(), ("a", "b"), "stats", normalization=good)
    assert ModelContract.from_metadata(c.to_metadata()).normalization == good
    small = ModelContract(spec, GateSettings(), ("a", "b"), "stats", normalization=settings(3))
    with pytest.raises(ModelError, match="prior has 3 values for a 114-value stats vector"):
        ModelContract.from_metadata(small.to_metadata())
    image = ModelContract(spec, GateSettings(), ("a", "b"), "image", normalization=good)
    with pytest.raises(ModelError, match=r"applies to the vector inputs \('stats', 'paraling', 'paraling-mfcc', 'paraling-mfcc-upper'\), not 'image'"):
        ModelContract.from_metadata(image.to_metadata())


def test_a_normalized_model_judges_a_lone_window_by_its_prior_and_the_loop_by_the_voice(tmp_path):
    from tonecue.edge.model import EmotionModel
    from tonecue.edge.normalize import cold_normalize
    from tonecue.edge.pipeline import Pipeline

    from helpers.onnx_models import write_model

    spec = FrontendSpec()
    rng = np.random.default_rng(0)
    prior = NormalizationSettings(kind="speaker", mean=tuple(rng.normal(0, 5, spec.stats_size)),
                                  std=tuple(rng.uniform(0.5, 3, spec.stats_size)))
    c = ModelContract(spec, GateSettings(), ("a", "b", "c", "d"), "stats", normalization=prior)
    model = EmotionModel(write_model(tmp_path / "n.onnx", spec.stats_size, 4, c.to_metadata()))
    raw = rng.normal(0, 5, (3, spec.stats_size)).astype(np.float32)
    np.testing.assert_allclose(model.predict_proba(raw), model.predict_proba(cold_normalize(raw, prior), normalized=True))
    assert not np.allclose(model.predict_proba(raw), model.predict_proba(raw, normalized=True))
    assert Pipeline(model).listener.normalizer is not None


def test_listeners_share_a_channel_and_a_new_stream_keeps_it(tmp_path):
    from tonecue.edge.listener import channel_for
    from tonecue.edge.model import EmotionModel
    from tonecue.edge.pipeline import Pipeline

    from helpers.onnx_models import write_model

    spec = FrontendSpec()
    c = ModelContract(spec, GateSettings(), ("a", "b"), "stats", normalization=settings(spec.stats_size))
    model = EmotionModel(write_model(tmp_path / "n.onnx", spec.stats_size, 2, c.to_metadata()))
    channel = channel_for(model)
    assert channel is not None and channel_for(model) is not channel  # a new one each time
    one, two = Pipeline(model, channel=channel), Pipeline(model, channel=channel)
    assert one.listener.channel is two.listener.channel is channel
    channel.learn(np.full(spec.stats_size, 50.0))
    one.reset()  # a new stream on the same device: the voice starts from the channel, which stays
    np.testing.assert_array_equal(one.listener.normalizer.mean, channel.mean)
    assert channel.windows == 1 and Pipeline(model).listener.channel is not channel
    plain = ModelContract(spec, GateSettings(), ("a", "b"), "stats",
                          normalization=settings(spec.stats_size, channel_time_constant_s=None))
    assert channel_for(EmotionModel(write_model(tmp_path / "p.onnx", spec.stats_size, 2, plain.to_metadata()))) is None
