"""The production compose file validates offline and commits no secrets."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

DOCKER = Path(__file__).resolve().parents[2] / "docker"


@pytest.mark.skipif(
    shutil.which("docker-compose") is None,
    reason="needs docker-compose 1.29 (Debian: apt-get install docker-compose)",
)
def test_compose_file_validates(tmp_path: Path) -> None:
    # docker-compose runs on the system Python; keep this interpreter's
    # variables away from it, and run it outside the checkout, whose docker/
    # folder would shadow the docker package if the folder were on its path.
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    result = subprocess.run(
        [
            "docker-compose",
            "-f",
            str(DOCKER / "docker-compose.yml"),
            "--env-file",
            str(DOCKER / ".env.example"),
            "config",
            "-q",
        ],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
        env=env,
    )
    assert result.returncode == 0, result.stderr


def test_compose_env_example_has_placeholders_only() -> None:
    for line in (DOCKER / ".env.example").read_text().splitlines():
        if "PASSWORD=" in line and not line.startswith("#"):
            assert line.split("=", 1)[1].startswith("CHANGE_ME"), line


def test_compose_publishes_loopback_only() -> None:
    text = (DOCKER / "docker-compose.yml").read_text()
    published = [
        line.strip() for line in text.splitlines() if line.strip().startswith('- "')
    ]
    assert published, "no published ports found"
    for line in published:
        assert line.startswith('- "127.0.0.1:'), line
