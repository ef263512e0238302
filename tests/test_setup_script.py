"""scripts/setup.sh asks apt for what a fresh Debian or Ubuntu lacks, python3-venv included.

apt itself cannot run here (it would change this machine), so dpkg-query, apt-get and id are
stand-ins on PATH that report nothing installed and record what apt was asked for; the script,
bash and the Python it probes are the real ones.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "setup.sh"
BASE_PACKAGES = ["libportaudio2", "libsndfile1", "alsa-utils", "systemd"]


def _tool(folder: Path, name: str, body: str) -> None:
    path = folder / name
    path.write_text("#!/usr/bin/env bash\n" + body + "\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


def _apt_install_args(tmp_path: Path, python: str) -> list[str]:
    """What `setup.sh system` asks apt-get to install, with `python` as $PYTHON."""
    tools = tmp_path / "bin"
    tools.mkdir(exist_ok=True)
    log = tmp_path / "apt.log"
    _tool(tools, "dpkg-query", "exit 1")  # nothing is installed
    _tool(tools, "id", "echo 0")  # root: no sudo
    _tool(tools, "apt-get", f'echo "$@" >> {log}')
    env = dict(os.environ, PATH=f"{tools}:{os.environ['PATH']}", PYTHON=python)
    out = subprocess.run(["bash", str(SCRIPT), "system"], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    (install,) = [line.split() for line in log.read_text().splitlines() if line.startswith("install")]
    return [word for word in install if not word.startswith("-") and word != "install"]


def test_a_python_with_venv_needs_only_the_base_packages(tmp_path):
    assert _apt_install_args(tmp_path, sys.executable) == BASE_PACKAGES


def test_a_python_without_ensurepip_gets_its_venv_package(tmp_path):
    # Debian's python3 without python3-venv: the interpreter runs, ensurepip is not there.
    stripped = tmp_path / "python3"
    stripped.write_text(
        "#!/usr/bin/env bash\n"
        f'case "$*" in *ensurepip*) echo "No module named ensurepip" >&2; exit 1;; esac\n'
        f'exec {sys.executable} "$@"\n'
    )
    stripped.chmod(0o755)
    version = f"{sys.version_info[0]}.{sys.version_info[1]}"
    assert _apt_install_args(tmp_path, str(stripped)) == [*BASE_PACKAGES, f"python{version}-venv"]
