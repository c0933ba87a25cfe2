"""Run the Braze canary now and print one line per environment; exit 1 when any failed."""

from django.core.management.base import BaseCommand, CommandError

from mappings.canary import run as canary
from mappings.models import CanaryRun, Environment


class Command(BaseCommand):
    help = (
        "Send the Braze canary now: one marked test write (the user CANARY_EXTERNAL_ID, custom "
        "attribute bridge_canary_at) to each environment, checked for status, answer shape and "
        "key permission, and recorded like the scheduled runs (admin: Canary runs; dashboard). "
        "Without options: every environment; --env: only those named; --all-due: only those "
        "whose last run is older than CANARY_INTERVAL_SECONDS, as the schedule does. "
        "Environments named like production are skipped unless CANARY_INCLUDE_PRODUCTION is "
        "set. Each run costs one Braze data point. Exits 1 when any canary failed."
    )

    def add_arguments(self, parser) -> None:
        chosen = parser.add_mutually_exclusive_group()
        chosen.add_argument(
            "--env", action="append", metavar="NAME", help="An environment's name (repeatable)"
        )
        chosen.add_argument(
            "--all-due", action="store_true", help="Only environments whose canary is due"
        )

    def handle(self, *args, env: list[str] | None = None, all_due: bool = False, **options):
        runs = canary.run_due_canaries() if all_due else self._run_now(_named(env))
        if all_due and not runs:
            self.stdout.write("No canary is due.")
        for run in runs:
            self.stdout.write(_line(run))
        failed = [run.environment.name for run in runs if not run.ok]
        if failed:
            raise CommandError(f"Canary failed for {', '.join(failed)}", returncode=1)

    def _run_now(self, environments: list[Environment]) -> list[CanaryRun]:
        runs = []
        for environment in environments:
            if canary.eligible(environment):
                runs.append(canary.run_canary(environment))
            else:
                self.stdout.write(
                    f"{environment.name}: skipped, looks like production "
                    "(set CANARY_INCLUDE_PRODUCTION)"
                )
        return runs


def _named(names: list[str] | None) -> list[Environment]:
    environments = Environment.objects.order_by("name")
    if not names:
        return list(environments)
    found = {e.name: e for e in environments.filter(name__in=names)}
    unknown = [name for name in names if name not in found]
    if unknown:
        known = ", ".join(environments.values_list("name", flat=True)) or "none yet"
        raise CommandError(f"No environment {', '.join(unknown)} (known: {known})")
    return [found[name] for name in dict.fromkeys(names)]


def _line(run: CanaryRun) -> str:
    if run.duration_ms is None:
        answered = "not sent"
    else:
        answered = f"{run.response_status or 'no answer'} in {run.duration_ms} ms"
    if run.ok and run.kind == "ok":
        return f"{run.environment.name}: ok, {answered}"
    if run.ok:
        return f"{run.environment.name}: ok ({run.kind}), {answered}: {run.summary}"
    return f"{run.environment.name}: FAILED {run.kind}: {run.summary} ({answered})"
