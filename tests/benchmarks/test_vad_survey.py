"""The speech-detector survey: its window arithmetic, its speech-window definition, its rule choice,
its Silero runner on real audio, and its refusal to run without data."""

import math

import numpy as np
import pytest

from tonecue.benchmarks import vad_survey as survey
from tonecue.edge.errors import TonecueError
from tonecue.edge.spec import FrontendSpec
from tonecue.edge.vad import GateSettings

SR = 22050
GEOMETRY = survey.Geometry(FrontendSpec(), 22, GateSettings(), "test")


def test_without_data_it_says_which_folder_is_missing(tmp_path):
    with pytest.raises(survey.SurveyError, match="noise") as caught:
        survey.survey(tmp_path)
    assert isinstance(caught.value, TonecueError) and isinstance(caught.value, RuntimeError)
    assert str(tmp_path) in str(caught.value)


def test_detector_frames_lie_wholly_inside_each_window():
    rng = np.random.default_rng(0)
    starts = np.concatenate([[0, 11264], rng.integers(0, 10**7, 500)])
    width = 25088
    for frame in (160, 256, 480, 512):
        bounds = survey.frames_in_windows(starts, width, SR, frame, n_frames=10**9)
        a, b = starts * 16000 / SR, (starts + width) * 16000 / SR
        first, stop = bounds[:, 0], bounds[:, 1]
        assert np.all(first * frame >= a - 1e-6) and np.all((first - 1) * frame < a)
        assert np.all(stop * frame <= b + 1e-6) and np.all((stop + 1) * frame > b)
    assert survey.frames_in_windows(np.array([0, 11264]), width, SR, 512, 10**9).tolist() == [[0, 35], [16, 51]]
    # a stream that ends early: no frame index past its end
    assert survey.frames_in_windows(np.array([11264]), width, SR, 512, 40).tolist() == [[16, 40]]


def test_aggregate_gives_mean_and_share_per_window():
    p = np.array([0.0, 1.0, 0.6, 0.4, 0.5, 0.2])
    mean, share = survey.aggregate(p, np.array([[0, 2], [2, 6], [3, 3]]))
    assert mean.tolist() == pytest.approx([0.5, 0.425, 0.0])
    assert share.tolist() == pytest.approx([0.5, 0.5, 0.0])  # 0.5 counts as speech; an empty window is not


def test_poisson_upper_bound_matches_the_tables():
    assert survey.poisson_upper(0) == pytest.approx(-math.log(0.05), rel=1e-6)  # the rule of three
    assert survey.poisson_upper(1) == pytest.approx(4.744, abs=1e-3)
    assert survey.poisson_upper(10) == pytest.approx(16.962, abs=1e-3)


def _burst(seconds, level=0.1):
    t = np.arange(int(seconds * SR)) / SR
    return level * np.sin(2 * np.pi * 200 * t)


def test_speech_windows_bridge_short_pauses_but_not_long_silences():
    quiet = np.zeros(int(1.5 * SR))
    clip = np.concatenate([quiet, _burst(1.0), np.zeros(int(0.15 * SR)), _burst(1.0), quiet]).astype(np.float32)
    clip += 1e-5 * np.random.default_rng(1).standard_normal(len(clip)).astype(np.float32)
    starts, levels = survey.window_levels(clip, GEOMETRY)
    speech, level_defined, active = survey.speech_windows(clip, starts, levels, GEOMETRY)
    frame = GEOMETRY.spec.hop_length
    seconds = (np.arange(len(active)) + 0.5) * frame / SR
    assert active[(seconds > 1.55) & (seconds < 3.6)].all()  # the 150 ms pause is inside the utterance
    assert not active[(seconds < 1.45) | (seconds > 3.7)].any()
    middle = (starts / SR > 1.5) & ((starts + GEOMETRY.spec.window_samples) / SR < 3.65)
    assert speech[middle].all() and not speech[starts + GEOMETRY.spec.window_samples < 1.4 * SR].any()
    assert level_defined.sum() >= speech.sum()  # the level-based definition also counts utterance edges


def _record(split, kind, mean, speech=None, condition=""):
    stream = survey.Stream(split, kind, "synthetic", "x", "x", np.zeros(1, np.float32), condition, speech)
    mean = np.asarray(mean, dtype=float)
    return {"stream": stream, "seconds": 3600.0, "levels": np.zeros(len(mean)), "gate": np.ones(len(mean), bool),
            "mean": {"d": mean}, "share": {"d": mean}}


def test_rule_choice_false_first_and_recall_first():
    truth = np.ones(20, bool)
    clean = np.array([0.9] * 17 + [0.3] * 3)  # recall 0.85 at t > 0.3, 1.0 at t <= 0.3
    records = [
        _record("tune", "negative", [0.25, 0.45, 0.0, 0.0]),  # two false windows up to t 0.25, one up to 0.45
        _record("tune", "speech", clean, truth, "clean"),
        _record("tune", "speech", clean, truth, "noisy"),
    ]
    choice = survey.choose_rule(records, "d")
    assert choice["false_first"]["rule"] == ("mean", 0.5)  # no false window, recall still at the 0.85 floor
    assert choice["recall_first"]["rule"] == ("mean", 0.3)  # the highest threshold with recall >= 0.95
    assert choice["recall_first"]["false_per_hour"] == pytest.approx(1.0)


@pytest.mark.data
def test_silero_passes_speech_and_not_noise(dev_corpus):
    pytest.importorskip("onnxruntime")
    try:
        data = survey.silero_data_dir()
    except survey.SurveyError as exc:
        pytest.skip(str(exc))
    from tonecue.edge.audio import load_audio

    clip = load_audio(next(iter(sorted(dev_corpus.glob("Ravdess/*/Actor_13/03-01-01-*.flac")))), 16000)
    noise = np.random.default_rng(2).standard_normal(len(clip)).astype(np.float32) * 0.03
    silero = survey.SileroOnnx(data / "silero_vad.onnx")
    speech_p, noise_p = silero.run(clip), silero.run(noise)
    assert speech_p.max() > 0.9 and noise_p.max() < 0.1
    sequence = survey.SileroSequence(data / "silero_vad_16k_sequence.onnx")
    assert np.allclose(sequence.run(clip), speech_p, atol=1e-5)  # the same network, one call per block


@pytest.mark.data
def test_silero_runner_matches_the_packages_own_wrapper(dev_corpus):
    """SileroOnnx feeds the graph as silero-vad's OnnxWrapper does (context, state, sr), without torch."""
    torch = pytest.importorskip("torch")
    utils = pytest.importorskip("silero_vad.utils_vad")
    from tonecue.edge.audio import load_audio

    path = survey.silero_data_dir() / "silero_vad.onnx"
    clip = load_audio(next(iter(sorted(dev_corpus.glob("Savee/JK_a0*.flac")))), 16000)
    wrapper = utils.OnnxWrapper(str(path), force_onnx_cpu=True)
    theirs = [float(wrapper(torch.from_numpy(clip[i : i + 512].copy()), 16000)) for i in range(0, len(clip) - 511, 512)]
    ours = survey.SileroOnnx(path).run(clip)
    assert len(ours) == len(theirs) and np.allclose(ours, theirs, atol=1e-6)
