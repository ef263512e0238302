"""The speech detector (Silero VAD v6 through onnxruntime) and the voice rule training shares."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from tonecue.edge.audio import load_audio
from tonecue.edge.model import DEFAULT_MODEL, EmotionModel, ModelContract, ModelError
from tonecue.edge.speech import (
    LEVEL_ONLY,
    DetectorError,
    DetectorSettings,
    SEQUENCE_GRAPHS,
    SileroVAD,
    SpeechDetector,
    VoiceSelector,
    file_sha256,
    sequence_graph_of,
)
from tonecue.edge.spec import FrontendSpec
from tonecue.edge.vad import GateSettings

from helpers.onnx_models import write_model
from helpers.speech import at_dbfs, non_speech, silero_file

RATE = 22050
WINDOW, HOP = FrontendSpec().window_samples, 22 * 512
DEMO = DEFAULT_MODEL.with_name("demo.wav")


@pytest.fixture(scope="module")
def network():
    return SileroVAD.open(silero_file())


def scores(detector: SpeechDetector, signal: np.ndarray) -> list[float]:
    detector.reset()
    return [detector.score(s, signal[s : s + WINDOW]) for s in range(0, len(signal) - WINDOW + 1, HOP)]


def test_speech_scores_high_and_noise_tones_zero(network):
    detector = SpeechDetector(DetectorSettings(), network, RATE)
    speech = scores(detector, load_audio(DEMO, RATE))
    assert max(speech) > 0.9
    assert sum(detector.is_speech(s) for s in speech) >= len(speech) // 3
    for name, signal in non_speech().items():
        judged = scores(detector, signal)
        assert not any(detector.is_speech(s) for s in judged), (name, judged)


def test_scores_do_not_depend_on_how_the_stream_is_split(network):
    from tonecue.edge.stream import WindowStream

    signal = load_audio(DEMO, RATE)[: 8 * RATE]
    detector = SpeechDetector(DetectorSettings(), network, RATE)
    whole = scores(detector, signal)
    for block in (512, 4410, 11025):
        detector.reset()
        stream = WindowStream(FrontendSpec(), 22)
        got = []
        for i in range(0, len(signal), block):
            got += [detector.score(start, w) for start, w in stream.push(signal[i : i + block])]
        np.testing.assert_allclose(got, whole[: len(got)], atol=1e-6)
        assert len(got) == len(whole)


def test_digital_silence_costs_no_inference(network):
    chunks = []

    class Counting(SileroVAD):  # the real network, counted
        def probabilities(self, run):
            chunks.append(len(run))
            return super().probabilities(run)

    detector = SpeechDetector(DetectorSettings(), Counting.open(silero_file()), RATE)
    judged = scores(detector, np.zeros(5 * RATE, dtype=np.float32))
    assert judged and judged == [0.0] * len(judged)
    assert chunks == []


def per_chunk_only(network: SileroVAD) -> SileroVAD:
    return SileroVAD(network.session)  # the graph the contract pins, one call per chunk


def test_the_run_of_chunks_graph_gives_the_pinned_graphs_probabilities_to_the_bit(network):
    assert network.sequence_session is not None, "scripts/setup.sh places silero_vad_16k_sequence.onnx beside it"
    speech = load_audio(DEMO, RATE)
    quiet = np.zeros(RATE // 3, dtype=np.float32)  # digital silence: the network restarts after it
    signal = np.concatenate([speech[: 6 * RATE], quiet, speech[6 * RATE : 12 * RATE], quiet, quiet, speech[12 * RATE :]])
    fast = SpeechDetector(DetectorSettings(), network.fresh(), RATE)
    slow = SpeechDetector(DetectorSettings(), per_chunk_only(network), RATE)
    got, want = scores(fast, signal), scores(slow, signal)
    assert got == want and len(want) > 20  # exactly, not approximately
    assert any(s > 0.9 for s in want) and want.count(0.0) < len(want)
    # Within one run too: chunk by chunk or all at once, the same numbers.
    chunks = load_audio(DEMO, 16000)[: 40 * 512].reshape(40, 512)
    one_by_one = per_chunk_only(network)
    np.testing.assert_array_equal(network.fresh().probabilities(chunks), np.concatenate([one_by_one.probabilities(c[None]) for c in chunks]))


def test_the_run_of_chunks_graph_is_used_only_beside_its_pinned_twin(tmp_path):
    pinned = tmp_path / "silero_vad.onnx"
    shutil.copyfile(silero_file(), pinned)
    assert sequence_graph_of(pinned) is None and SileroVAD.open(pinned).sequence_session is None
    twin = silero_file().with_name(SEQUENCE_GRAPHS[file_sha256(pinned)][0])
    shutil.copyfile(twin, tmp_path / twin.name)
    assert sequence_graph_of(pinned) == tmp_path / twin.name and SileroVAD.open(pinned).sequence_session is not None
    (tmp_path / twin.name).write_bytes(twin.read_bytes()[:-1] + b"x")  # altered: not the same network any more
    assert sequence_graph_of(pinned) is None and SileroVAD.open(pinned).sequence_session is None
    other = tmp_path / "other.onnx"
    other.write_bytes(b"not the pinned file")
    assert sequence_graph_of(other) is None


def test_a_gap_in_the_stream_restarts_the_detector(network):
    detector = SpeechDetector(DetectorSettings(), network, RATE)
    signal = load_audio(DEMO, RATE)
    first = detector.score(0, signal[:WINDOW])
    far = 10 * HOP  # windows skipped: the audio between was never heard
    later = detector.score(far, signal[far : far + WINDOW])
    detector.reset(far)
    assert later == detector.score(far, signal[far : far + WINDOW])
    assert 0.0 <= first <= 1.0


def test_voice_selector_level_only_is_the_level_gate():
    selector = VoiceSelector(GateSettings(), None, 0.5)
    loud = np.full(WINDOW, 0.05, dtype=np.float32)
    assert selector.judge(0, np.zeros(WINDOW, dtype=np.float32))[2] is False
    level, speech, voiced = selector.judge(HOP, loud)
    assert voiced and speech == 1.0 and level == pytest.approx(-26.02, abs=0.01)


def test_voice_selector_keeps_the_absolute_minimum_in_front(network):
    detector = SpeechDetector(DetectorSettings(), network, RATE)
    selector = VoiceSelector(GateSettings(min_level_db=-30.0), detector, 0.5)
    speech = load_audio(DEMO, RATE)
    quiet = at_dbfs(speech[1 * RATE : 1 * RATE + WINDOW], -45)
    level, score, voiced = selector.judge(0, quiet)
    assert score > 0.45 and not voiced  # speech, but below the minimum


@pytest.mark.parametrize(
    "changes, words",
    [
        ({"kind": "webrtc"}, "kind must be one of"),
        ({"threshold": 1.5}, "threshold must be a number above 0 and at most 1"),
        ({"threshold": True}, "threshold must be a number above 0 and at most 1"),
        ({"rule": "max"}, "rule must be one of"),
        ({"sha256": 5}, "sha256 must be a string"),
    ],
)
def test_detector_settings_refuse_nonsense(changes, words):
    with pytest.raises(DetectorError, match=words):
        DetectorSettings(**changes)


def test_detector_settings_round_trip_and_old_contracts_mean_level_only():
    s = DetectorSettings(sha256="ab" * 32, threshold=0.6)
    assert DetectorSettings.from_dict(s.to_dict()) == s
    c = ModelContract(FrontendSpec(), GateSettings(), ("a", "b"), "image")
    metadata = c.to_metadata()
    del metadata["tonecue.detector"]
    assert ModelContract.from_metadata(metadata).detector == LEVEL_ONLY
    with pytest.raises(ModelError, match="detector"):
        ModelContract.from_metadata({**metadata, "tonecue.detector": '{"kind": "magic"}'})


def test_a_model_whose_detector_is_missing_or_altered_is_refused(tmp_path):
    file = silero_file()
    settings = DetectorSettings(sha256=file_sha256(file))
    c = ModelContract(FrontendSpec(), GateSettings(), ("angry", "happy", "sad", "neutral"), "image", detector=settings)
    path = write_model(tmp_path / "m.onnx", (2, 20, 50), 4, c.to_metadata())
    with pytest.raises(ModelError, match=r"silero_vad.onnx must sit beside it"):
        EmotionModel(path)
    (tmp_path / "silero_vad.onnx").write_bytes(file.read_bytes()[:-10] + b"0123456789")
    with pytest.raises(ModelError, match="not the speech detector the model was trained with"):
        EmotionModel(path)
    shutil.copyfile(file, tmp_path / "silero_vad.onnx")
    assert EmotionModel(path).speech_detector() is not None
