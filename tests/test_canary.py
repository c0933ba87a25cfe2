"""The Braze canary: a marked test write per environment over real HTTP, judged and recorded.

Against the fake Braze (its keys and faults), and a tiny local server where an answer Braze
would not give is needed. Through ``run_canary``/``run_due_canaries``, the periodic job, the
``run_canary`` command and the dashboard page as an admin sees it.
"""

import json
import logging
import re
import threading
from contextlib import contextmanager
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core.management import CommandError, call_command
from django.db import IntegrityError, connection
from django.utils import timezone

from mappings import periodic_jobs
from mappings.canary import run as canary
from mappings.fake_braze import FakeBraze, Fault
from mappings.log_pages import environment_health
from mappings.models import (
    CanaryRun,
    Delivery,
    DeliveryAttempt,
    DeliveryGate,
    Environment,
    LookupField,
)
from tests.concurrency import at_once
from tests.conftest import BRAZE_KEY, NO_TRACK_KEY

pytestmark = pytest.mark.django_db

WRONG_KEY = "braze-wrong-key-canary-5Rv1"
TRACK_ONLY_KEY = "braze-track-only-key-canary-9Kp4"


def environment_with(endpoint: str, key: str = BRAZE_KEY, name: str = "sandbox") -> Environment:
    environment = Environment.objects.create(name=name, rest_endpoint=endpoint)
    environment.store_api_key(key)
    return environment


@contextmanager
def braze_answering(status: int, body_for):
    """A local server answering every POST with ``status`` and ``body_for(authorization)``."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            data = json.dumps(body_for(self.headers.get("Authorization", ""))).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def track_only_braze():
    """A workspace whose key may write but not export."""
    with FakeBraze(api_keys={BRAZE_KEY}, key_permissions={TRACK_ONLY_KEY: ["users.track"]}) as fake:
        yield fake


@pytest.fixture
def serves_lookups(mapping_set):
    LookupField.objects.create(mapping_set=mapping_set, braze_field="first_name", bot_name="name")
    return mapping_set.environment


def test_an_ok_run_writes_one_attributes_object_for_the_canary_user(environment, braze):
    run = canary.run_canary(environment)

    assert (run.ok, run.kind, run.response_status) == (True, "ok", 201)
    [request] = braze.received
    assert request.path == "/users/track"
    [written] = request.body["attributes"]
    assert written["external_id"] == "braze-bridge-canary"
    assert (
        written["bridge_canary_at"] == run.started_at.isoformat(timespec="milliseconds")[:-6] + "Z"
    )
    assert set(written) == {"external_id", "bridge_canary_at"}
    run.refresh_from_db()
    assert run.request_body == request.body
    assert json.loads(run.response_body) == {"message": "success", "attributes_processed": 1}
    assert run.duration_ms is not None and run.url == environment.users_track_url


def test_each_run_writes_a_changed_value(environment, braze):
    canary.run_canary(environment)
    later = timezone.now() + timedelta(seconds=1)

    assert canary.canary_body(later) != braze.received[0].body


def test_the_external_id_comes_from_the_setting(environment, braze, settings):
    settings.CANARY_EXTERNAL_ID = "our-canary"

    canary.run_canary(environment)

    assert braze.received[0].body["attributes"][0]["external_id"] == "our-canary"


def test_an_unknown_key_is_a_wrong_key_and_the_key_is_kept_out(braze):
    run = canary.run_canary(environment_with(braze.url, WRONG_KEY))

    assert (run.ok, run.kind, run.response_status) == (False, "wrong_key", 401)
    assert "401" in run.summary and "another Braze instance" in run.summary
    stored = json.dumps([run.summary, run.response_body, run.request_body])
    assert WRONG_KEY not in stored


def test_a_key_without_users_track_is_a_refused_key(braze):
    run = canary.run_canary(environment_with(braze.url, NO_TRACK_KEY))

    assert (run.ok, run.kind, run.response_status) == (False, "refused_key", 403)
    assert "users.track" in run.summary and "IP allowlist" in run.summary


@pytest.mark.parametrize(
    ("status", "kind", "ok"),
    [(503, "outage", False), (429, "rate_limited", False), (202, "maintenance", True)],
)
def test_brazes_own_troubles_each_have_their_verdict(environment, braze, status, kind, ok):
    braze.add_fault(Fault(status=status))

    run = canary.run_canary(environment)

    assert (run.kind, run.ok, run.response_status) == (kind, ok, status)


def test_a_maintenance_queue_is_ok_but_says_so(environment, braze):
    braze.add_fault(Fault(status=202))

    run = canary.run_canary(environment)

    assert run.ok and "maintenance" in run.summary and "queued" in run.summary


def test_no_answer_in_time_is_unreachable(environment, braze, settings):
    settings.BRAZE_READ_TIMEOUT_SECONDS = 0.2
    braze.add_fault(Fault(delay_seconds=1.0))

    run = canary.run_canary(environment)

    assert (run.ok, run.kind, run.response_status) == (False, "unreachable", None)
    assert "timeout" in run.summary


@pytest.mark.parametrize(
    ("answer", "quoted"),
    [
        ({"message": "success"}, "no attributes_processed (1 expected)"),
        ({"message": "success", "attributes_processed": 1, "errors": [{"type": "x"}]}, "errors"),
        ({"message": "queued", "attributes_processed": 1}, 'message "queued", not "success"'),
        ({"message": "success", "attributes_processed": True}, "attributes_processed true, not 1"),
    ],
)
def test_an_answer_braze_would_not_give_is_a_bad_shape(db, answer, quoted):
    with braze_answering(201, lambda authorization: answer) as url:
        run = canary.run_canary(environment_with(url))

    assert (run.ok, run.kind, run.response_status) == (False, "bad_shape", 201)
    assert quoted in run.summary


def test_a_bad_shape_quotes_what_was_off_but_never_the_key(db):
    def echo(authorization):
        return {"message": "success", "attributes_processed": 1, "errors": [authorization]}

    with braze_answering(201, echo) as url:
        run = canary.run_canary(environment_with(url))

    assert run.kind == "bad_shape" and "Bearer [key]" in run.summary
    assert BRAZE_KEY not in run.summary and BRAZE_KEY not in run.response_body


def test_an_environment_serving_lookups_has_the_user_read_back(serves_lookups, braze):
    run = canary.run_canary(serves_lookups)

    assert run.ok and "may read profiles" in run.summary
    _, export = braze.received
    assert export.path == "/users/export/ids"
    assert export.body["external_ids"] == ["braze-bridge-canary"]


def test_a_key_that_may_not_read_fails_where_lookups_are_served(track_only_braze, mapping_set):
    environment = mapping_set.environment
    environment.rest_endpoint = track_only_braze.url
    environment.save()
    environment.store_api_key(TRACK_ONLY_KEY)
    LookupField.objects.create(mapping_set=mapping_set, braze_field="first_name", bot_name="name")

    run = canary.run_canary(environment)

    assert (run.ok, run.kind, run.response_status) == (False, "no_read_permission", 403)
    assert "users.export.ids" in run.summary
    assert run.url.endswith("/users/export/ids")


def test_without_lookups_the_read_permission_is_not_asked(track_only_braze, db):
    run = canary.run_canary(environment_with(track_only_braze.url, TRACK_ONLY_KEY))

    assert run.ok
    assert [r.path for r in track_only_braze.received[-1:]] == ["/users/track"]


def test_a_failing_canary_is_no_delivery_and_holds_nothing(braze):
    canary.run_canary(environment_with(braze.url, WRONG_KEY))

    assert not Delivery.objects.exists() and not DeliveryAttempt.objects.exists()
    assert not DeliveryGate.objects.exists()


def test_it_logs_one_line_per_run_without_the_key(braze, caplog):
    with caplog.at_level(logging.INFO, logger="mappings.canary.run"):
        canary.run_canary(environment_with(braze.url, WRONG_KEY))

    [record] = [r for r in caplog.records if r.name == "mappings.canary.run"]
    assert "sandbox" in record.getMessage() and "wrong_key" in record.getMessage()
    assert WRONG_KEY not in caplog.text and WRONG_KEY[-4:] not in caplog.text


def test_production_is_skipped_unless_included(environment, braze, settings):
    environment_with(braze.url, name="prod")

    assert [run.environment.name for run in canary.run_due_canaries()] == ["sandbox"]
    settings.CANARY_INCLUDE_PRODUCTION = True
    assert [run.environment.name for run in canary.run_due_canaries()] == ["prod"]


def test_a_recent_run_is_not_due_and_an_old_one_is(environment, braze, settings):
    settings.CANARY_INTERVAL_SECONDS = 900
    recent = canary.run_canary(environment)

    assert canary.run_due_canaries() == []
    CanaryRun.objects.filter(pk=recent.pk).update(started_at=timezone.now() - timedelta(hours=1))
    [due] = canary.run_due_canaries()
    assert due.follows == recent.pk
    assert len(braze.received) == 2


def test_an_interval_of_zero_turns_it_off(environment, braze, settings):
    settings.CANARY_INTERVAL_SECONDS = 0

    assert canary.run_due_canaries() == []
    assert braze.received == []


def test_two_runs_cannot_follow_the_same_run(environment):
    CanaryRun.objects.create(environment=environment, ok=True, kind="ok", summary="", follows=0)

    with pytest.raises(IntegrityError):
        CanaryRun.objects.create(environment=environment, ok=None, kind="x", summary="", follows=0)


def test_a_run_in_flight_is_not_due_for_another_process(environment, braze):
    running = canary.claim(environment)

    assert running.ok is None and running.kind == "running" and running.follows == 0
    assert canary.run_due_canaries() == []
    assert braze.received == []


@pytest.mark.django_db(transaction=True)
def test_processes_at_once_send_one_request(braze):
    if connection.vendor == "sqlite":
        pytest.skip("SQLite in-memory test database locks whole tables: no concurrency")
    environment_with(braze.url)
    braze.add_fault(Fault(delay_seconds=0.5))  # the winner's call is still in flight
    runs = at_once(canary.run_due_canaries, threads=4, timeout=10)

    assert len(braze.received) == 1
    assert len(runs) == 1 and CanaryRun.objects.count() == 1


def test_the_canary_is_a_periodic_job_on_its_interval_setting(environment, braze):
    [job] = [job for job in periodic_jobs.jobs() if job.name == "canary"]

    assert job.interval_setting == "CANARY_INTERVAL_SECONDS"
    periodic_jobs.run_job("canary")
    assert CanaryRun.objects.get().ok and len(braze.received) == 1


def test_the_command_prints_a_line_per_environment(environment, braze):
    environment_with(braze.url, name="prod")

    out = _command()

    assert re.search(r"^sandbox: ok, 201 in \d+ ms$", out, re.M), out
    assert "prod: skipped, looks like production (set CANARY_INCLUDE_PRODUCTION)" in out


def test_the_command_exits_1_when_a_canary_failed(environment, braze):
    environment_with(braze.url, WRONG_KEY, name="staging")

    with pytest.raises(CommandError, match="Canary failed for staging") as failed:
        _command("--env", "staging", "--env", "sandbox")

    assert failed.value.returncode == 1
    assert CanaryRun.objects.filter(kind="ok").count() == 1


def test_the_command_names_what_failed(braze):
    environment_with(braze.url, WRONG_KEY)
    out = []

    with pytest.raises(CommandError):
        _command(out=out)

    assert out[0].startswith("sandbox: FAILED wrong_key: Braze does not know this key (401)")


def test_the_command_refuses_an_unknown_environment(environment):
    with pytest.raises(CommandError, match=r"No environment nope \(known: sandbox\)"):
        _command("--env", "nope")


def test_the_commands_all_due_runs_only_what_is_due(environment, braze):
    canary.run_canary(environment)

    assert _command("--all-due") == "No canary is due.\n"
    assert len(braze.received) == 1


def _command(*args, out: list | None = None) -> str:
    from io import StringIO

    stdout = StringIO()
    try:
        call_command("run_canary", *args, stdout=stdout)
    finally:
        if out is not None:
            out.extend(stdout.getvalue().splitlines())
    return stdout.getvalue()


def canary_cell(page: str, environment: str) -> str:
    row = re.search(rf'id="environment-{environment}">(.*?)</tr>', page, re.S).group(1)
    cell = re.search(r'<td class="canary ([^"]*)">(.*?)</td>', row, re.S)
    return cell.group(1) + " | " + re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", cell.group(2)))


def test_the_dashboard_flags_a_failed_canary_with_its_summary(admin_client, braze):
    canary.run_canary(environment_with(braze.url, WRONG_KEY))

    page = admin_client.get("/admin/logs/").content.decode()

    shown = canary_cell(page, "sandbox")
    assert shown.startswith("canary-failed | Canary failed: wrong_key")
    assert "Braze does not know this key (401)" in shown
    assert 'class="status-failed canary-flag"' in page


def test_the_dashboard_shows_ok_after_a_good_run_and_never_before(admin_client, environment):
    assert canary_cell(admin_client.get("/admin/logs/").content.decode(), "sandbox") == (
        "canary-never | never run"
    )

    canary.run_canary(environment)

    shown = canary_cell(admin_client.get("/admin/logs/").content.decode(), "sandbox")
    assert shown.startswith("canary-ok | ok ") and "Braze wrote the canary user" in shown


def test_the_dashboard_judges_the_newest_finished_run(environment, braze):
    failed = canary.run_canary(environment_with(braze.url, WRONG_KEY, name="staging"))
    canary.claim(failed.environment, timezone.now() + timedelta(days=1))  # still running

    assert environment_health.newest_canaries()[failed.environment_id] == failed


def test_the_newest_runs_of_all_environments_are_one_query(braze, django_assert_num_queries):
    for name in ("sandbox", "staging", "qa"):
        environment = environment_with(braze.url, name=name)
        canary.run_canary(environment)
        canary.run_canary(environment)

    with django_assert_num_queries(1):
        newest = environment_health.newest_canaries()

    assert len(newest) == 3


def test_the_admin_lists_runs_read_only_with_filters(admin_client, environment):
    canary.run_canary(environment)

    page = admin_client.get("/admin/mappings/canaryrun/?ok__exact=1").content.decode()
    # The dashboard's link: one environment's runs.
    by_environment = f"/admin/mappings/canaryrun/?environment__id__exact={environment.pk}"
    filtered = admin_client.get(by_environment)

    assert "Braze wrote the canary user" in page and "sandbox" in page
    assert (
        filtered.status_code == 200 and "Braze wrote the canary user" in filtered.content.decode()
    )
    assert admin_client.get("/admin/mappings/canaryrun/add/").status_code == 403
