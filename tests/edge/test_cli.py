"""The `tonecue` command line, run as a user runs it."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tonecue.edge.cli import DEMO_CLIP, main


def test_demo_clip_ships_with_the_package():
    assert DEMO_CLIP.is_file() and DEMO_CLIP.stat().st_size > 100_000
    assert (DEMO_CLIP.parent / "ATTRIBUTION.md").is_file()


def test_demo_prints_every_window(capsys):
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    # 17 s of audio (375,222 samples), 1.14 s windows every 22 frames (0.51 s) -> 32 windows.
    assert "32 windows" in out
    lines = [line for line in out.splitlines() if line.strip().endswith("#") or "dBFS" in line]
    assert len(lines) >= 32
    # The pauses between utterances are quieter than the speech.
    levels = [float(line.split()[1]) for line in out.splitlines() if "dBFS" in line and "s " in line]
    assert max(levels) - min(levels) > 20


def test_features_reports_good_files_and_an_error_line_for_a_bad_one(tmp_path, capsys):
    bad = tmp_path / "broken.wav"
    bad.write_bytes(b"RIFF\x10\x00\x00\x00WAVEfmt ")
    assert main(["features", str(DEMO_CLIP), str(bad)]) == 1
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert lines[0]["file"] == str(DEMO_CLIP)
    assert lines[0]["stats"]["shape"] == [32, 114]
    assert lines[0]["image"]["shape"] == [32, 2, 20, 50]
    assert lines[0]["sequence"]["shape"] == [32, 50, 40]
    assert lines[1]["file"] == str(bad) and "broken.wav" in lines[1]["error"]


def test_console_script_is_installed():
    out = subprocess.run([sys.executable, "-m", "tonecue.edge.cli", "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and "demo" in out.stdout


@pytest.mark.parametrize("argv", [[], ["nonsense"], ["features"]])
def test_bad_usage_exits_with_usage_error(argv):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
