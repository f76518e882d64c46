"""The README's commands: setup runs pip only when the requirements changed."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of scripts/setup.sh beside requirements, with a fake .venv python that logs."""
    (tmp_path / "scripts").mkdir()
    shutil.copy(REPO / "scripts" / "setup.sh", tmp_path / "scripts" / "setup.sh")
    (tmp_path / "requirements.txt").write_text("numpy\n")
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    bin_dir = tmp_path / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    fake = bin_dir / "python"
    fake.write_text(f"#!/bin/sh\necho \"$*\" >> {tmp_path / 'pip.log'}\n")
    fake.chmod(0o755)
    return tmp_path


def _setup(project: Path) -> None:
    subprocess.run(["bash", "scripts/setup.sh", "requirements.txt"], cwd=project, check=True,
                   capture_output=True, timeout=60)


def _installs(project: Path) -> int:
    log = project / "pip.log"
    return sum("pip install" in line for line in log.read_text().splitlines()) \
        if log.exists() else 0


def test_a_second_start_skips_pip(project: Path) -> None:
    _setup(project)
    _setup(project)
    assert _installs(project) == 1


def test_changed_requirements_install_again(project: Path) -> None:
    _setup(project)
    (project / "requirements.txt").write_text("numpy\nscipy\n")
    _setup(project)
    assert _installs(project) == 2
    (project / "pyproject.toml").write_text("[project]\nname = 'y'\n")
    _setup(project)
    assert _installs(project) == 3
