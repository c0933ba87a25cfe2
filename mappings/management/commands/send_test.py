"""Send sample conversations through a mapping set to Braze and print what Braze answered."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from mappings.management import send_test

BAR_WIDTH = 30


class Command(BaseCommand):
    help = (
        "Map sample conversations with a mapping set and send them to its Braze environment "
        "now, logged like any delivery: from --file (JSON: one conversation or a list; else "
        "JSON Lines, one per line), or the set's last received conversation. Prints Braze's "
        "answer and the log page per sample. Refuses an environment named like production "
        "(prod, production, prod-...) without --yes-prod."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("mapping_set", help="The mapping set's slug")
        parser.add_argument("--file", type=Path, help="conversations.json or conversations.jsonl")
        parser.add_argument(
            "--env", help="The environment meant (a check: it must be the set's own environment)"
        )
        parser.add_argument(
            "--yes-prod", action="store_true", help="Confirm sending to a production environment"
        )

    def handle(self, *args, mapping_set: str, file=None, env=None, yes_prod=False, **options):
        try:
            found = send_test.mapping_set_named(mapping_set)
            environment = send_test.check_environment(found, env, yes_prod)
            samples = (
                send_test.samples_from_file(file) if file else [send_test.last_received(found)]
            )
        except send_test.SendTestError as error:
            raise CommandError(str(error)) from error
        self.stdout.write(
            f"Sending {len(samples)} sample(s) with {found.slug!r} to {environment!r}"
        )
        outcomes: dict[str, int] = {}
        for done, sample in enumerate(samples, start=1):
            result = send_test.send(found, sample)
            outcomes[result.outcome] = outcomes.get(result.outcome, 0) + 1
            if len(samples) > 1 and done > 1:
                self._clear_progress()
            self._report(result)
            if len(samples) > 1:
                self._progress(done, len(samples))
        if len(samples) > 1:
            self.stderr.write("")  # end the progress line
        summary = ", ".join(f"{n} {outcome}" for outcome, n in sorted(outcomes.items()))
        self.stdout.write(f"Done: {summary}")

    def _report(self, result: send_test.SampleResult) -> None:
        status = result.braze_status if result.braze_status is not None else "-"
        self.stdout.write(
            f"{result.sample.label}: {result.outcome}; Braze {status}: {result.braze_answer}\n"
            f"  log: {send_test.log_url(result.delivery)}"
        )

    def _clear_progress(self) -> None:
        """Wipe the bar before a report line, so on a terminal the bar stays the last line."""
        self.stderr.write("\r" + " " * (BAR_WIDTH + 24) + "\r", ending="")

    def _progress(self, done: int, total: int) -> None:
        filled = BAR_WIDTH * done // total
        bar = "#" * filled + "." * (BAR_WIDTH - filled)
        self.stderr.write(f"\r[{bar}] {done}/{total}", ending="")
        self.stderr.flush()
