"""The client examples work against a running server."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.django_db(transaction=True)


def _run_example(live_server, token: str, slug: str, sample: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "BRIDGE_URL": live_server.url, "BRIDGE_TOKEN": token, "BRIDGE_SLUG": slug}
    return subprocess.run(
        [sys.executable, "examples/pypestream_action_node.py", str(sample)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def test_the_pypestream_action_node_delivers_the_sample(live_server, braze, api_token, tmp_path):
    sample = tmp_path / "conversation.json"
    sample.write_text(
        '{"user": {"id": "u-9", "profile": {"email": "kai@example.com", "first_name": "Kai"}}}'
    )

    result = _run_example(live_server, api_token, "support-bot", sample)

    assert result.returncode == 0, result.stdout + result.stderr
    assert '"success": true' in result.stdout
    assert braze.received[0].body["attributes"][0]["external_id"] == "u-9"


def test_the_pypestream_action_node_reports_failure_with_a_bad_token(live_server, braze, tmp_path):
    sample = tmp_path / "conversation.json"
    sample.write_text('{"user": {"id": "u-9"}}')

    result = _run_example(live_server, "bzb_wrong", "support-bot", sample)

    assert result.returncode == 1
    assert '"invalid_token"' in result.stdout
    assert braze.received == []
