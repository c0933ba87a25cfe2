"""The periodic-job runner: intervals, the off switch, and a failing job not stopping others."""

import pytest

from mappings import periodic_jobs


@pytest.fixture
def isolated_jobs(monkeypatch):
    monkeypatch.setattr(periodic_jobs, "_jobs", {})


def test_a_job_runs_once_per_interval_and_never_when_its_interval_is_zero(isolated_jobs, settings):
    settings.EVERY_HOUR, settings.NEVER = 3600.0, 0.0
    runs = []
    periodic_jobs.register("hourly", lambda: runs.append("hourly"), "EVERY_HOUR")
    periodic_jobs.register("off", lambda: runs.append("off"), "NEVER")

    assert periodic_jobs.run_due() == ["hourly"]
    assert periodic_jobs.run_due() == []
    assert runs == ["hourly"]


def test_a_failing_job_is_logged_and_the_next_one_still_runs(isolated_jobs, settings, caplog):
    settings.OFTEN = 0.001
    runs = []

    def broken():
        raise RuntimeError("boom")

    periodic_jobs.register("broken", broken, "OFTEN")
    periodic_jobs.register("fine", lambda: runs.append("fine"), "OFTEN")

    assert periodic_jobs.run_due() == ["broken", "fine"]
    assert runs == ["fine"]
    assert "Periodic job broken failed" in caplog.text
