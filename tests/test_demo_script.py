"""The README's run command (scripts/demo) works: it starts everything and the curl succeeds."""

import os
import socket
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_the_demo_command_serves_the_sample_conversation_end_to_end(tmp_path):
    env = {
        **os.environ,
        "PORT": str(_free_port()),
        "FAKE_BRAZE_PORT": str(_free_port()),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'demo.sqlite3'}",
    }
    env.pop("DJANGO_SETTINGS_MODULE", None)

    result = subprocess.run(
        ["scripts/demo", "--check"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert '"success":true' in result.stdout.replace(" ", "")
    assert "Login:" in result.stdout
    assert "/admin/" in result.stdout
