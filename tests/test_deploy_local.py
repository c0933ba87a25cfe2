"""The runbook works as written: scripts/deploy-local (docs/deploy.md step by step) deploys
PostgreSQL + Redis + gunicorn + Celery worker + beat in production mode, an async ingest reaches
a fake Braze, whitenoise serves static files, and everything stops again."""

import os
import subprocess

import psycopg
import pytest
from django.db import connection

from tests.processes import ROOT, free_port, server_url

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/4")


@pytest.fixture
def deploy_database(db):
    if connection.vendor != "postgresql":
        pytest.skip("deploys on PostgreSQL: runs once, in the suite's PostgreSQL pass")
    server = server_url()
    name = f"{connection.settings_dict['NAME']}_deploy"
    yield server, name
    with psycopg.connect(f"{server}/postgres", autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_the_deploy_script_follows_the_runbook_to_a_working_production_deployment(
    deploy_database, tmp_path
):
    server, name = deploy_database
    env = {
        **os.environ,
        "DEPLOY_DIR": str(tmp_path / "deploy"),
        "DEPLOY_POSTGRES_URL": server,
        "DEPLOY_DATABASE": name,
        "DEPLOY_REDIS_URL": REDIS_URL,
        "PORT": str(free_port()),
        "FAKE_BRAZE_PORT": str(free_port()),
    }
    env.pop("DATABASE_URL", None)

    result = subprocess.run(
        ["scripts/deploy-local", "--check"], cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=180,
    )  # fmt: skip

    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "System check identified no issues" in output  # check --deploy is clean
    assert ": delivered; requests Braze accepted: 1" in output
    assert "static file served by whitenoise: HTTP 200" in output
    assert not list((tmp_path / "deploy").glob("*.pid"))  # everything stopped
    env_file = (tmp_path / "deploy" / "bridge.env").read_text()
    assert "APP_MODE=production" in env_file
    assert oct((tmp_path / "deploy" / "bridge.env").stat().st_mode & 0o777) == "0o600"
