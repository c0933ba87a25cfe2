"""Settings that cannot work stop the process: `manage.py check` (and `check --deploy`, `migrate`)
and the WSGI app refuse them, naming the setting and never echoing a key.

Each test runs a real process with its own environment, as an operator would start one.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parent.parent
BAD_KEY = "not-a-fernet-key-canary-5Vw8"
GOOD_KEY = Fernet.generate_key().decode()
DELIVERY_ENV = {"DELIVERY_SYNC_BUDGET_SECONDS": "5", "DELIVERY_LEASE_SECONDS": "60"}
PRODUCTION_ENV = {
    "APP_MODE": "production",
    "SECRET_KEY": "p" * 20 + "-startup-checks-secret-key-for-tests-only-" + "q" * 20,
    "BRAZE_KEY_ENCRYPTION_KEYS": GOOD_KEY,
    "ALLOWED_HOSTS": "bridge.example.com",
    "DATABASE_URL": "sqlite:////tmp/bridge-startup-checks-test.sqlite3",
    "CACHE_URL": "redis://127.0.0.1:6379/6",
    **DELIVERY_ENV,
}
LOCAL_ENV = {"APP_MODE": "local", "CACHE_URL": "locmemcache://", **DELIVERY_ENV}


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    """A process with only `env` on top of this one's environment, minus what the tests set."""
    ignored = {*PRODUCTION_ENV, "DJANGO_ALLOW_ASYNC_UNSAFE", "DELIVERY_EMBEDDED_WORKER"}
    clean = {k: v for k, v in os.environ.items() if k not in ignored}
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env={**clean, **env}, capture_output=True, text=True,
        timeout=60,
    )  # fmt: skip


def _manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return _run(["manage.py", *args], env)


BAD_PRODUCTION_SETTINGS = [
    (
        {"BRAZE_KEY_ENCRYPTION_KEYS": f"{GOOD_KEY},{BAD_KEY}"},
        "bridge.E001",
        "BRAZE_KEY_ENCRYPTION_KEYS: entry 2 of 2",
    ),
    ({"BRAZE_KEY_ENCRYPTION_KEYS": ","}, "bridge.E001", "BRAZE_KEY_ENCRYPTION_KEYS holds no key"),
    ({"CACHE_URL": "locmemcache://"}, "bridge.E002", "CACHE_URL: the LocMemCache backend"),
    ({"CACHE_URL": "dummycache://"}, "bridge.E002", "CACHE_URL: the DummyCache backend"),
    (
        {"DELIVERY_SYNC_BUDGET_SECONDS": "60", "DELIVERY_LEASE_SECONDS": "60"},
        "bridge.E003",
        "DELIVERY_SYNC_BUDGET_SECONDS (60) must be below DELIVERY_LEASE_SECONDS (60)",
    ),
    (
        {"BRAZE_REQUEST_DEADLINE_SECONDS": "31", "DELIVERY_LEASE_SECONDS": "60"},
        "bridge.E004",
        "BRAZE_REQUEST_DEADLINE_SECONDS (31) must be at most half of DELIVERY_LEASE_SECONDS (60)",
    ),
]


def test_good_production_settings_pass_check_deploy():
    result = _manage("check", "--deploy", "--fail-level", "WARNING", env=PRODUCTION_ENV)

    assert result.returncode == 0, result.stderr + result.stdout


@pytest.mark.parametrize(("bad", "check_id", "message"), BAD_PRODUCTION_SETTINGS)
def test_check_deploy_refuses_production_settings_that_cannot_work(bad, check_id, message):
    result = _manage("check", "--deploy", env={**PRODUCTION_ENV, **bad})

    assert result.returncode != 0
    assert f"({check_id}) {message}" in result.stderr
    assert BAD_KEY not in result.stdout + result.stderr


def test_a_bad_encryption_key_is_named_by_position_with_how_to_make_one_never_by_value():
    keys = f"{BAD_KEY},{GOOD_KEY},{BAD_KEY[::-1]}"
    result = _manage("check", env={**PRODUCTION_ENV, "BRAZE_KEY_ENCRYPTION_KEYS": keys})

    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "entry 1 of 3" in output and "entry 3 of 3" in output
    assert "entry 2 of 3" not in output
    assert "manage.py generate_encryption_key" in output
    assert BAD_KEY not in output and BAD_KEY[::-1] not in output and GOOD_KEY not in output


def test_migrate_refuses_to_run_on_a_cache_that_is_not_shared(tmp_path):
    env = {
        **PRODUCTION_ENV, "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "CACHE_URL": "locmemcache://",
    }  # fmt: skip
    result = _manage("migrate", "--noinput", env=env)

    assert result.returncode != 0
    assert "(bridge.E002) CACHE_URL" in result.stderr
    assert "Applying" not in result.stdout


def test_local_mode_passes_with_its_defaults_and_a_per_process_cache():
    result = _manage("check", env=LOCAL_ENV)

    assert result.returncode == 0, result.stderr + result.stdout


@pytest.mark.parametrize(
    ("bad", "check_id"),
    [
        ({"DELIVERY_SYNC_BUDGET_SECONDS": "61"}, "bridge.E003"),
        ({"BRAZE_REQUEST_DEADLINE_SECONDS": "31"}, "bridge.E004"),
        ({"BRAZE_KEY_ENCRYPTION_KEYS": BAD_KEY}, "bridge.E001"),
    ],
)
def test_local_mode_also_refuses_a_budget_past_the_lease_and_a_bad_key(bad, check_id):
    result = _manage("check", env={**LOCAL_ENV, **bad})

    assert result.returncode != 0
    assert f"({check_id})" in result.stderr
    assert BAD_KEY not in result.stdout + result.stderr


@pytest.mark.parametrize(("bad", "check_id", "message"), BAD_PRODUCTION_SETTINGS)
def test_the_wsgi_app_refuses_to_start_in_production_on_a_bad_setting(bad, check_id, message):
    env = {**PRODUCTION_ENV, **bad, "DELIVERY_EMBEDDED_WORKER": "false"}
    result = _run(["-c", "import integration_admin.wsgi"], env)

    assert result.returncode != 0
    assert "ImproperlyConfigured: Refusing to start" in result.stderr
    assert f"({check_id}) {message}" in result.stderr
    assert BAD_KEY not in result.stdout + result.stderr


def test_the_wsgi_app_starts_in_production_on_good_settings():
    env = {**PRODUCTION_ENV, "DELIVERY_EMBEDDED_WORKER": "false"}
    result = _run(["-c", "import integration_admin.wsgi; print('serving')"], env)

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "serving"


@pytest.mark.parametrize(
    ("probe_max", "sweep", "total"), [("25", "10", "35"), ("20", "10.5", "30.5"), ("5", "40", "45")]
)
def test_check_warns_when_the_probe_cap_and_the_sweep_add_up_past_the_30_s_recovery(
    probe_max, sweep, total
):
    slow = {
        "DELIVERY_PROBE_INTERVAL_MAX_SECONDS": probe_max,
        "DELIVERY_SWEEP_INTERVAL_SECONDS": sweep,
    }
    warned = _manage("check", env={**LOCAL_ENV, **slow})
    refused = _manage(
        "check", "--deploy", "--fail-level", "WARNING", env={**PRODUCTION_ENV, **slow}
    )

    assert warned.returncode == 0, warned.stderr  # a warning: the service still works, later
    message = (
        f"(bridge.W001) DELIVERY_PROBE_INTERVAL_MAX_SECONDS ({probe_max}) + "
        f"DELIVERY_SWEEP_INTERVAL_SECONDS ({sweep}) = {total} s, over the 30 s"
    )
    assert message in warned.stderr
    assert refused.returncode != 0  # the production gate refuses warnings too
    assert message in refused.stderr


def test_a_probe_cap_and_sweep_adding_up_to_exactly_30_s_pass_without_a_warning():
    at_the_promise = {
        "DELIVERY_PROBE_INTERVAL_MAX_SECONDS": "25", "DELIVERY_SWEEP_INTERVAL_SECONDS": "5",
    }  # fmt: skip
    result = _manage("check", "--fail-level", "WARNING", env={**LOCAL_ENV, **at_the_promise})

    assert result.returncode == 0, result.stderr
    assert "bridge.W001" not in result.stdout + result.stderr
