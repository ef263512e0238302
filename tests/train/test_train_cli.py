"""tonecue-train end to end: a --quick run on a tiny real corpus, and bad input."""

from __future__ import annotations

import json
import shutil

import pytest

from helpers.runs import CORRUPT, SAVEE_CODES, SEED_MODELS
from tonecue.train.cli import main
from tonecue.train.run import RunError, parse_models


@pytest.mark.data
def test_quick_run_writes_a_complete_run_folder(real):
    """helpers.runs.real_run: `tonecue-train --quick --folds 3` on 96 real clips and a corrupt file."""
    out = real.run
    assert real.code == 0, real.err
    assert str(out / "results.md") in real.out
    assert "speaker fold 3/3" in real.err and "final" in real.err

    for name in ("rf.joblib", "svm.joblib", "dt.joblib", "cnn1d.pt", "cnn2d.pt", "crnn.pt"):
        assert (out / "models" / name).is_file(), name
    for name in ("run.json", "corpus.json", "windows.json", "results.json", "results.md"):
        assert (out / name).is_file(), name
    for model in SEED_MODELS:
        for protocol in ("speaker", "random"):
            assert (out / "confusion" / f"{model}_{protocol}_clip.png").is_file()

    manifest = json.loads((out / "run.json").read_text())
    assert manifest["config"]["label_map"]["classes"] == ["angry", "happy", "sad", "neutral"]
    windows = json.loads((out / "windows.json").read_text())
    assert [s["path"] for s in windows["clips_skipped"]] == [CORRUPT]

    results = json.loads((out / "results.json").read_text())
    assert results["config"] == manifest["config"]
    assert results["data"]["clips"] == 96 and results["data"]["speakers"] == 6
    assert set(results["protocols"]) == {"speaker", "random", "corpus"}  # several corpora: leave one out
    loco = results["protocols"]["corpus"]
    assert [s["name"] for s in loco["splits"]] == [f"corpus:{c}" for c in sorted(results["data"]["corpora"])]
    for split in loco["splits"]:  # the left-out corpus is all of the test side and none of the rest
        corpus = split["name"].split(":", 1)[1]
        assert all(sp.startswith(corpus + ":") for sp in split["test"]["speaker_ids"])
        assert not any(sp.startswith(corpus + ":") for sp in split["train"].get("speaker_ids", []))
    splits = results["protocols"]["speaker"]["splits"]
    assert [s["name"] for s in splits] == ["speaker-1", "speaker-2", "speaker-3"]
    for split in splits:  # no speaker leaks, validation included
        test = set(split["test"]["speaker_ids"])
        assert not test & set(split["val"]["speaker_ids"])
        assert split["featurewiz"]["features"]  # each split's own selection
    for model in SEED_MODELS:
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
    assert "| decision tree (`dt`) |" in md

    from tonecue.train.classic import load_classic
    from tonecue.train.nets import load_net

    rf = load_classic(out / "models" / "rf.joblib")
    assert rf.name == "rf" and rf.selected == manifest["selected_features"]
    assert load_classic(out / "models" / "dt.joblib").name == "dt"
    net = load_net(out / "models" / "cnn1d.pt")
    assert net.kind == "cnn1d" and net.input_shape == (len(manifest["selected_features"]),)


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


def test_bad_workers_exit_2_before_any_work(tmp_path, capsys):
    assert main(["--data", str(tmp_path / "nowhere"), "--workers", "0"]) == 2
    assert "--workers must be at least 1, got 0" in capsys.readouterr().err


def test_noise_settings_exit_2_before_any_work(tmp_path, capsys):
    data = ["--data", str(tmp_path / "nowhere")]
    assert main(data + ["--augment", "1"]) == 2
    assert "give its folder with --noise" in capsys.readouterr().err
    assert main(data + ["--snr", "10,loud", "--noise", str(tmp_path)]) == 2
    assert "--snr takes numbers of dB separated by commas" in capsys.readouterr().err
    assert main(data + ["--snr", "10", "--noise", str(tmp_path / "esc")]) == 2
    assert "esc" in capsys.readouterr().err
    assert main(data + ["--augment", "-1", "--noise", str(tmp_path)]) == 2
    assert "--augment must be a whole number of copies" in capsys.readouterr().err
