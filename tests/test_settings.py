"""Settings: production mode refuses to start without real secrets and passes check --deploy."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PRODUCTION_ENV = {
    "APP_MODE": "production",
    "SECRET_KEY": "x" * 20 + "-production-secret-key-for-tests-only-" + "y" * 20,
    "BRAZE_KEY_ENCRYPTION_KEYS": "Mj6s0x5pQ5a3r4dVdJ5mR2Y3cTn6v9Qy8wZ1b4e7h0k=",
    "ALLOWED_HOSTS": "bridge.example.com",
    "DATABASE_URL": "sqlite:////tmp/bridge-settings-test.sqlite3",
    "CACHE_URL": "redis://127.0.0.1:6379/6",
}


def _environment_without_test_settings() -> dict[str, str]:
    ignored = {*PRODUCTION_ENV, "DJANGO_ALLOW_ASYNC_UNSAFE"}
    return {k: v for k, v in os.environ.items() if k not in ignored}


def _manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    clean = _environment_without_test_settings()
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT, env={**clean, **env}, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def test_production_mode_refuses_to_start_without_secrets():
    required = ["SECRET_KEY", "BRAZE_KEY_ENCRYPTION_KEYS", "ALLOWED_HOSTS", "DATABASE_URL"]
    for missing in [*required, "CACHE_URL"]:
        env = {k: v for k, v in PRODUCTION_ENV.items() if k != missing}
        result = _manage("check", env=env)
        assert result.returncode != 0, missing
        assert missing in result.stderr


def test_production_mode_refuses_a_short_secret_key():
    result = _manage("check", env={**PRODUCTION_ENV, "SECRET_KEY": "too-short"})

    assert result.returncode != 0
    assert "at least 50 characters" in result.stderr


def test_production_settings_pass_check_deploy_with_no_warnings():
    result = _manage("check", "--deploy", "--fail-level", "WARNING", env=PRODUCTION_ENV)

    assert result.returncode == 0, result.stderr + result.stdout


def test_production_mode_refuses_loopback_braze_endpoints_by_default():
    code = (
        "import django; django.setup();"
        "from django.conf import settings; print(settings.BRAZE_ALLOW_LOOPBACK_ENDPOINTS)"
    )
    env = {
        **_environment_without_test_settings(),
        **PRODUCTION_ENV,
        "DJANGO_SETTINGS_MODULE": "integration_admin.settings",
    }
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )

    assert result.stdout.strip() == "False", result.stderr
