"""The run folder's schema: what tonecue-train writes, and every way a folder is refused on reading."""

from __future__ import annotations

import json
import shutil

import pytest

from helpers.runs import LABELS, SEED_MODELS, SPEC
from tonecue.edge.speech import LEVEL_ONLY
from tonecue.edge.vad import GateSettings
from tonecue.train.runfolder import CONFIG_KEYS, FORMAT_VERSION, RunFolderError, load_run, write_run


def test_what_the_trainer_writes(synthetic):
    manifest = json.loads((synthetic.run / "run.json").read_text())
    results = json.loads((synthetic.run / "results.json").read_text())
    assert manifest["format_version"] == FORMAT_VERSION == 3
    config = manifest["config"]
    assert tuple(config) == CONFIG_KEYS and config == results["config"]
    assert config["models"] == list(SEED_MODELS) and list(manifest["models"]) == list(SEED_MODELS)
    assert (config["seed"], config["folds"], config["test_size"], config["val_fraction"], config["quick"]) == (0, 3, 0.2, 0.15, True)
    assert config["label_map"] == {"classes": list(LABELS), "mapping": {c: c for c in ("neutral", "happy", "sad", "angry")}}
    assert config["frontend"] == SPEC.to_dict() and config["gate"] == GateSettings().to_dict() and config["hop_frames"] == 22
    assert config["detector"] == LEVEL_ONLY.to_dict()  # --no-detector: synthetic tones are no speech
    assert config["exclude_speakers"] == [] and config["normalization"]["kind"] == "none"
    assert config["bandwidth_hz"] == 11025
    assert config["augmentation"] is None and config["conditions"] == {}
    assert config["budget"]["featurewiz_rows"] == 400 and config["featurewiz_corr_limit"] == 0.7
    assert config["budget"]["epochs"] == {"cnn1d": 2, "cnn2d": 2, "crnn": 1, "attn-cnn": 1}  # the quick budget of every net kind
    hyper = config["hyperparameters"]
    assert hyper["rf"]["classifier"]["n_estimators"] == 200 and hyper["rf"]["scale"] is False
    assert hyper["svm"]["classifier"]["kernel"] == "rbf" and hyper["svm"]["scale"] is True
    assert hyper["dt"]["classifier"]["random_state"] == 0
    assert hyper["cnn1d"]["architecture"] == {"channels": 64, "kernel_size": 5, "dropout": 0.5}
    assert hyper["cnn2d"]["recipe"] == {"epochs": 20, "lr": 1e-3, "schedule": "onecycle", "loss": "nll",
                                        "patience": None, "batch_size": 64}
    assert hyper["crnn"]["architecture"]["hidden"] == 128
    assert manifest["selected_features"] == results["final"]["featurewiz"]["features"]
    for name, file in manifest["models"].items():
        assert (synthetic.run / file).is_file() and file.startswith("models/" + name)


def _copy(synthetic, tmp_path):
    target = tmp_path / "run"
    shutil.copytree(synthetic.run, target)
    return target


def _edit(run_dir, change, file="run.json"):
    data = json.loads((run_dir / file).read_text())
    change(data)
    (run_dir / file).write_text(json.dumps(data))


def _rename_dt(data):
    data["models"] = {"mlp" if name == "dt" else name: file for name, file in data["models"].items()}
    data["config"]["models"] = list(data["models"])


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda d: (d / "run.json").unlink(), "run.json is missing"),
        (lambda d: (d / "results.json").unlink(), "results.json is missing"),
        (lambda d: (d / "run.json").write_text("{not json"), "run.json: cannot read it"),
        (lambda d: _edit(d, lambda m: m.update(format_version=1)), "run folder format 1, but this tonecue reads format 3"),
        (lambda d: _edit(d, lambda m: m.pop("format_version")), "run folder format None"),
        (lambda d: _edit(d, lambda m: m.update(labels=list(LABELS))), "run.json has unknown labels"),
        (lambda d: _edit(d, lambda m: m["config"].pop("hop_frames")), "config lacks hop_frames"),  # no 22 fallback
        (lambda d: _edit(d, lambda m: m["config"].pop("label_map")), "config lacks label_map"),  # no guessing
        (lambda d: _edit(d, lambda m: m["config"].update(hop_frames=0)), "hop_frames must be a positive integer"),
        (lambda d: _edit(d, lambda m: m["config"]["frontend"].update(n_fft=-3)), "config cannot be read"),
        (lambda d: _edit(d, lambda m: m["config"]["label_map"].update(mapping={"furious": "angry"})), "config cannot be read"),
        (lambda d: _edit(d, lambda m: m["config"]["detector"].update(kind="webrtc")), "config cannot be read"),
        (lambda d: _edit(d, lambda m: m["selected_features"].append("loudness")), "names no statistic"),
        (lambda d: _edit(d, lambda m: m["models"].pop("crnn")), "are not the config's"),
        (lambda d: _edit(d, _rename_dt), "model kind 'mlp' is not registered"),
        (lambda d: (d / "models" / "cnn2d.pt").unlink(), "the file of cnn2d, models/cnn2d.pt, is missing"),
        (lambda d: _edit(d, lambda r: r["config"].update(seed=1), "results.json"), "its config is not run.json's"),
    ],
)
def test_a_damaged_run_folder_is_refused_clearly(synthetic, tmp_path, damage, message):
    run_dir = _copy(synthetic, tmp_path)
    damage(run_dir)
    with pytest.raises(RunFolderError, match=message):
        load_run(run_dir)


def test_models_that_do_not_fit_the_run_are_refused(synthetic, tmp_path):
    run_dir = _copy(synthetic, tmp_path)
    (run_dir / "models" / "cnn2d.pt").write_bytes(b"not a checkpoint")
    _edit(run_dir, lambda m: m["models"].update(dt="models/rf.joblib"))
    run = load_run(run_dir)
    with pytest.raises(RunFolderError, match="cnn2d.pt: cannot load it"):
        run.load("cnn2d")
    with pytest.raises(RunFolderError, match="dt: its file holds a 'rf' model"):
        run.load("dt")
    with pytest.raises(RunFolderError, match="no model 'mlp'"):
        run.load("mlp")
    _edit(run_dir, lambda m: m.update(selected_features=m["selected_features"][:-1]))
    run = load_run(run_dir)
    with pytest.raises(RunFolderError, match="cnn1d reads"):
        run.load("cnn1d")
    with pytest.raises(RunFolderError, match="rf reads other statistics"):
        run.load("rf")
    with pytest.raises(RunFolderError, match="not a folder"):
        load_run(tmp_path / "nowhere")


def test_write_run_takes_a_whole_config_and_its_models(synthetic, tmp_path):
    config = load_run(synthetic.run).config
    with pytest.raises(RunFolderError, match=r"missing \['hyperparameters'\]"):
        write_run(tmp_path, created="now", config={k: v for k, v in config.items() if k != "hyperparameters"},
                  selected=None, models={})
    with pytest.raises(RunFolderError, match="are not the config's"):
        write_run(tmp_path, created="now", config=config, selected=None, models={})
    assert not (tmp_path / "run.json").exists()
