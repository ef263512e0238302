"""The `tonecue` command line, run as a user runs it, on the shipped model and demo clip."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tonecue.edge.cli import DEMO_CLIP, main
from tonecue.edge.errors import exit_status
from tonecue.edge.model import DEFAULT_MODEL, EmotionModel


def test_demo_clip_and_default_model_ship_with_the_package():
    assert DEMO_CLIP.is_file() and DEMO_CLIP.stat().st_size > 100_000
    assert (DEMO_CLIP.parent / "ATTRIBUTION.md").is_file()
    assert DEFAULT_MODEL.is_file() and (DEFAULT_MODEL.parent / "MODEL_CARD.md").is_file()
    model = EmotionModel(DEFAULT_MODEL)
    assert model.labels == ("angry", "happy", "sad", "neutral")


def test_demo_runs_the_live_loop_and_shows_cues():
    # The README's main job, as a newcomer runs it (replayed fast here; real time by default).
    out = subprocess.run(
        [sys.executable, "-m", "tonecue.edge.cli", "demo", "--fast"], capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].startswith("tonecue demo: demo.wav")
    shown = " ".join(lines[1:])
    assert sum(label in shown for label in ("angry", "happy", "sad", "neutral")) >= 2, out.stdout


def test_classify_the_demo_clip_with_the_shipped_model(capsys):
    assert main(["classify", str(DEMO_CLIP)]) == 0
    (result,) = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert result["label"] in ("angry", "happy", "sad", "neutral")
    # 17 s of audio, 2 s windows every 0.51 s.
    assert 0 < result["voiced_windows"] < result["windows"] == 30


def test_console_script_help():
    out = subprocess.run([sys.executable, "-m", "tonecue.edge.cli", "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and all(word in out.stdout for word in ("run", "demo", "classify"))


@pytest.mark.parametrize("argv", [[], ["nonsense"], ["classify"]])
def test_bad_usage_exits_with_usage_error(argv):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2


def test_version():
    from importlib.metadata import version

    out = subprocess.run([sys.executable, "-m", "tonecue.edge.cli", "--version"], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.strip() == f"tonecue {version('tonecue')}"


def _with_closed_reader(argv: list[str]) -> subprocess.CompletedProcess:
    """Run `tonecue argv` with stdout a pipe whose reader is already gone, as `| head` leaves it
    once it has read its lines (so the first write fails, every time)."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        return subprocess.run(
            [sys.executable, "-m", "tonecue.edge.cli", *argv],
            stdout=write_end, stderr=subprocess.PIPE, text=True, timeout=120,
        )
    finally:
        os.close(write_end)


@pytest.mark.parametrize(
    "argv",
    [
        ["classify", str(DEMO_CLIP), str(DEMO_CLIP)],  # JSON lines
        ["demo", "--fast"],  # the banner
        ["run", "--input", str(DEMO_CLIP), "--fast", "--config", os.devnull],  # the terminal view, in the loop
    ],
    ids=["classify", "demo", "run"],
)
def test_output_into_a_closed_pipe_ends_quietly(argv):
    out = _with_closed_reader(argv)
    assert "Traceback" not in out.stderr and "BrokenPipeError" not in out.stderr, out.stderr
    assert out.returncode == exit_status(BrokenPipeError()) == 1
