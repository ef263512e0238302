"""`tonecue-export` on a run folder the trainer wrote: files, the verification report, and clear refusals."""

from __future__ import annotations

import json
import shutil

import pytest

from helpers.runs import SEED_MODELS
from tonecue.edge.model import EmotionModel
from tonecue.export.cli import main

FILES = [f"{n}.fp32.onnx" for n in SEED_MODELS] + [f"{n}.int8.onnx" for n in ("cnn1d", "cnn2d", "crnn")]


@pytest.fixture(scope="module")
def exported(synthetic, tmp_path_factory):
    out = tmp_path_factory.mktemp("export")
    code = main([str(synthetic.run), "--out", str(out), "--data", str(synthetic.corpus), "--workers", "1",
                 "--cache", "none", "--latency-clips", "2", "--calibration-windows", "32", "-q"])
    return {"out": out, "code": code, "report": json.loads((out / "verification.json").read_text())}


def test_export_writes_every_file_and_the_report(exported, synthetic):
    out, report = exported["out"], exported["report"]
    assert report["run_created"] == json.loads((synthetic.run / "run.json").read_text())["created"]
    assert sorted(p.name for p in out.glob("*.onnx")) == sorted(FILES)  # no detector: the run used the level gate
    assert (out / "verification.md").read_text().startswith("# Export verification: synthetic-run")
    assert [(f["name"], f["kind"]) for f in report["files"] if f["precision"] == "fp32"] == [(n, n) for n in SEED_MODELS]
    for name in FILES:
        model = EmotionModel(out / name)
        assert model.contract.precision == name.split(".")[1]
        assert model.contract.model_name == model.contract.training["kind"] == name.split(".")[0]
    assert exported["code"] == (0 if report["ok"] else 1)


def test_the_report_checks_what_it_promises(exported):
    report = exported["report"]
    assert report["data"]["clips"] == 24 and report["data"]["windows"] == 48
    for name, parity in report["parity"].items():
        assert parity["met"], name
        assert parity["same_label"] == 1.0 and parity["max_abs_diff"] <= 1e-4
    assert "routed_differently" in report["parity"]["dt"] and "routed_differently" not in report["parity"]["svm"]
    for label, device in report["device"].items():
        assert device["loads"] and device["clips"] == 24, label
        assert device["same_clip_label_as_file_on_training_features"] == 1.0, label
        assert device["latency"]["windows"] > 0 and device["latency"]["median_ms"] > 0
        if label.endswith("fp32"):
            assert device["same_clip_label"] == 1.0 and device["met"], label
    for name in ("rf", "svm", "dt"):
        assert "stays fp32" in report["quantization"][name]["skipped"]
    for name in ("cnn1d", "cnn2d", "crnn"):
        q = report["quantization"][name]
        assert q["int8"]["bytes"] > 0 and "size_target_met" in q and "accuracy_change_points" in q
    assert "DynamicQuantizeLSTM" in report["quantization"]["crnn"]["method"]
    ranking = report["ranking"]
    assert len(ranking) == len(FILES)
    uars = [r["speaker_uar"] for r in ranking]
    assert uars == sorted(uars, reverse=True)


def test_only_some_models_by_name_or_alias(synthetic, tmp_path):
    code = main([str(synthetic.run), "--out", str(tmp_path), "--models", "tree", "--data", str(synthetic.corpus),
                 "--workers", "1", "--cache", "none", "--latency-clips", "1", "-q"])
    assert code == 0
    assert sorted(p.name for p in tmp_path.glob("*.onnx")) == ["dt.fp32.onnx"]


def test_without_data_only_fp32_and_a_synthetic_check(synthetic, tmp_path):
    run_dir = tmp_path / "run"
    shutil.copytree(synthetic.run, run_dir)
    for file in ("run.json", "results.json"):  # the corpus recorded in the run is not here
        data = json.loads((run_dir / file).read_text())
        data["config"]["data"] = str(tmp_path / "gone")
        (run_dir / file).write_text(json.dumps(data))
    out = tmp_path / "out"
    code = main([str(run_dir), "--out", str(out), "--models", "cnn2d", "dt", "-q"])
    assert code == 0
    assert sorted(p.name for p in out.glob("*.onnx")) == ["cnn2d.fp32.onnx", "dt.fp32.onnx"]
    report = json.loads((out / "verification.json").read_text())
    assert report["parity"]["cnn2d"]["windows"] == 64 and report["parity"]["cnn2d"]["met"]
    assert "give --data" in report["quantization"]["cnn2d"]["skipped"]


def test_a_broken_run_folder_is_a_clear_error_with_its_exit_status(synthetic, tmp_path, capsys):
    run_dir = tmp_path / "run"
    shutil.copytree(synthetic.run, run_dir)
    (run_dir / "run.json").unlink()
    assert main([str(run_dir), "--out", str(tmp_path / "out")]) == 2
    assert "run.json is missing" in capsys.readouterr().err
    assert main([str(synthetic.run), "--out", str(tmp_path / "out"), "--models", "mlp"]) == 2
    assert "no model ['mlp']" in capsys.readouterr().err
    assert main([str(tmp_path / "nothing"), "--out", str(tmp_path / "out")]) == 2
    assert "not a folder" in capsys.readouterr().err
    assert main([str(synthetic.run), "--out", str(tmp_path / "out"), "--data", str(tmp_path / "no-corpus")]) == 2
    assert "does not exist" in capsys.readouterr().err
