"""tonecue-train end to end: a --quick run on a tiny real corpus, and bad input."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tonecue.train.cli import main
from tonecue.train.run import RunError, parse_models

RAVDESS = "Ravdess/audio_speech_actors_01-24"
# RAVDESS emotion codes and SAVEE letters of the four classes
RAVDESS_CODES = {"angry": "05", "happy": "03", "sad": "04", "neutral": "01"}
SAVEE_CODES = {"angry": "a", "happy": "h", "sad": "sa", "neutral": "n"}
PER_CLASS = 4  # clips per class per speaker


def make_tiny_corpus(dev: Path, root: Path) -> Path:
    """A Kaggle-like corpus of real clips: 3 RAVDESS actors and 3 SAVEE speakers, 4 clips per
    class each (96 clips), copied from the dev corpus."""
    for actor in ("01", "02", "03"):
        folder = dev / RAVDESS / f"Actor_{actor}"
        for code in RAVDESS_CODES.values():
            clips = sorted(folder.glob(f"03-01-{code}-*.flac"))[:PER_CLASS]
            assert len(clips) == PER_CLASS, (actor, code)
            for clip in clips:
                target = root / RAVDESS / f"Actor_{actor}" / clip.name
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(clip, target)
    (root / "Savee").mkdir(parents=True)
    for speaker in ("DC", "JE", "JK"):
        for code in SAVEE_CODES.values():
            for i in range(1, PER_CLASS + 1):
                shutil.copyfile(dev / "Savee" / f"{speaker}_{code}{i:02d}.flac", root / "Savee" / f"{speaker}_{code}{i:02d}.flac")
    return root


@pytest.mark.data
def test_quick_run_writes_a_complete_run_folder(dev_corpus, tmp_path, capsys):
    corpus = make_tiny_corpus(dev_corpus, tmp_path / "corpus")
    (corpus / "Savee" / "JK_sa05.wav").write_bytes(b"RIFF\x24\x00\x00\x00WAVEnot audio")  # corrupt: skipped
    out = tmp_path / "run"
    code = main(["--data", str(corpus), "--out", str(out), "--folds", "3", "--quick",
                 "--cache", str(tmp_path / "cache"), "--workers", "1"])
    assert code == 0
    captured = capsys.readouterr()
    assert str(out / "results.md") in captured.out
    assert "speaker fold 3/3" in captured.err and "final" in captured.err

    for name in ("rf.joblib", "svm.joblib", "dt.joblib", "cnn1d.pt", "cnn2d.pt", "crnn.pt"):
        assert (out / "models" / name).is_file(), name
    for name in ("spec.json", "gate.json", "labels.json", "selected_features.json", "corpus.json",
                 "windows.json", "results.json", "results.md"):
        assert (out / name).is_file(), name
    for model in ("rf", "svm", "dt", "cnn1d", "cnn2d", "crnn"):
        for protocol in ("speaker", "random"):
            assert (out / "confusion" / f"{model}_{protocol}_clip.png").is_file()

    assert json.loads((out / "labels.json").read_text()) == ["angry", "happy", "sad", "neutral"]
    from tonecue.edge.spec import FrontendSpec
    from tonecue.edge.vad import GateSettings

    assert FrontendSpec.from_json((out / "spec.json").read_text()) == FrontendSpec()
    assert GateSettings.from_json((out / "gate.json").read_text()) == GateSettings()
    selected = json.loads((out / "selected_features.json").read_text())
    assert selected["selected"] and set(selected["per_split"]) == {"random", "speaker-1", "speaker-2", "speaker-3"}
    windows = json.loads((out / "windows.json").read_text())
    assert [s["path"] for s in windows["clips_skipped"]] == ["Savee/JK_sa05.wav"]

    results = json.loads((out / "results.json").read_text())
    assert results["data"]["clips"] == 96 and results["data"]["speakers"] == 6
    assert set(results["protocols"]) == {"speaker", "random"}
    for split in results["protocols"]["speaker"]["splits"]:  # no speaker leaks, validation included
        test = set(split["test"]["speaker_ids"])
        assert not test & set(split["val"]["speaker_ids"])
    for model in ("rf", "svm", "dt", "cnn1d", "cnn2d", "crnn"):
        for protocol in ("speaker", "random"):
            block = results["protocols"][protocol]["models"][model]
            assert set(block) >= {"window", "clip"}
            assert set(block["clip"]["per_corpus"]) == {"ravdess", "savee"}
            assert 0.0 <= block["clip"]["overall"]["uar"] <= 1.0
        # pooled out of fold: every readable clip predicted once
        assert results["protocols"]["speaker"]["models"][model]["clip"]["overall"]["n"] == 96
    assert results["timing"]["total_seconds"] > 0 and results["hardware"]["torch_device"] in ("cpu", "cuda")

    md = (out / "results.md").read_text()
    assert "speaker-grouped" in md.lower() and "random" in md.lower()
    assert "## Speaker-grouped (pooled out of fold), clip level" in md
    assert "## Random 80/20 clip split, clip level" in md
    assert "Wall time" in md and "--quick smoke run" in md

    from tonecue.train.classic import load_classic
    from tonecue.train.nets import load_net

    rf = load_classic(out / "models" / "rf.joblib")
    assert rf.selected == selected["selected"]
    net = load_net(out / "models" / "cnn1d.pt")
    assert net.input_shape == (len(selected["selected"]),)


def test_empty_folder_exits_2_with_the_message(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert main(["--data", str(tmp_path / "empty"), "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert "tonecue-train: error:" in err and "no .wav or .flac files" in err
    assert not (tmp_path / "run").exists()


def test_unrecognised_folder_exits_2(tmp_path, capsys):
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "hello.wav").write_bytes(b"")
    assert main(["--data", str(tmp_path / "c"), "--out", str(tmp_path / "run")]) == 2
    assert "has a recognised corpus name" in capsys.readouterr().err


def test_label_map_leaving_a_class_empty_exits_2(tmp_path, capsys):
    (tmp_path / "c" / "Savee").mkdir(parents=True)
    for name in ("DC_a01", "DC_h01", "DC_sa01"):  # no neutral clip
        (tmp_path / "c" / "Savee" / f"{name}.wav").write_bytes(b"")
    assert main(["--data", str(tmp_path / "c")]) == 2
    assert "'neutral'" in capsys.readouterr().err


def test_bad_models_and_folds_exit_2(tmp_path, capsys):
    assert main(["--data", str(tmp_path), "--models", "rf,knn"]) == 2
    assert "unknown model 'knn'" in capsys.readouterr().err
    assert parse_models("crnn, dt,rf") == ("rf", "dt", "crnn")
    assert parse_models("tree,all") == ("rf", "svm", "dt", "cnn1d", "cnn2d", "crnn")
    with pytest.raises(RunError):
        parse_models(",")


@pytest.mark.data
def test_too_few_speakers_for_the_folds_exits_2(dev_corpus, tmp_path, capsys):
    root = tmp_path / "c" / "Savee"
    root.mkdir(parents=True)
    for speaker in ("DC", "JE"):
        for code in SAVEE_CODES.values():
            shutil.copyfile(dev_corpus / "Savee" / f"{speaker}_{code}01.flac", root / f"{speaker}_{code}01.flac")
    code = main(["--data", str(tmp_path / "c"), "--out", str(tmp_path / "run"), "--folds", "3",
                 "--cache", "none", "--workers", "1"])
    assert code == 2
    assert "need at least 3 speakers" in capsys.readouterr().err


def test_non_empty_run_folder_exits_2_before_any_work(tmp_path, capsys):
    (tmp_path / "c" / "Savee").mkdir(parents=True)
    for name in ("DC_a01", "DC_h01", "DC_sa01", "DC_n01"):
        (tmp_path / "c" / "Savee" / f"{name}.wav").write_bytes(b"")  # named right; never read here
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "results.md").write_text("an earlier run")
    assert main(["--data", str(tmp_path / "c"), "--out", str(tmp_path / "run")]) == 2
    assert "already exists and is not empty" in capsys.readouterr().err
    assert (tmp_path / "run" / "results.md").read_text() == "an earlier run"
