"""The words of an alert: an email's subject and body, a chat webhook's mrkdwn text.

Slack-compatible: the webhook body is ``{"text": ...}`` in Slack's mrkdwn, with the log link
as ``<url|label>``; Mattermost, Rocket.Chat and Teams' Slack-style connectors read the same.
"""

from dataclasses import dataclass

from mappings.models import AlertRule
from mappings.models.alerts import AlertTransition


@dataclass(frozen=True)
class Message:
    rule: AlertRule
    transition: str  # AlertTransition
    subject_label: str
    summary: str  # the condition in words, when it fired
    link: str

    @property
    def started(self) -> bool:
        return self.transition == AlertTransition.STARTED

    @property
    def headline(self) -> str:
        if self.started:
            return self.summary
        return f"{self.subject_label}: back to normal (it was: {self.summary})"

    @property
    def email_subject(self) -> str:
        word = "STARTED" if self.started else "CLEARED"
        return f"[bridge] {word}: {self.rule.name}: {self.subject_label}"

    @property
    def email_body(self) -> str:
        return "\n".join(
            [
                self.headline,
                "",
                f"Rule: {self.rule.name} ({self.rule.get_kind_display()})",
                f"Log page: {self.link}",
                "",
                "One message is sent when the condition starts and one when it clears; none "
                f"repeats within the rule's cool-down ({self.rule.cooldown_minutes} min).",
            ]
        )

    @property
    def chat_text(self) -> str:
        word = ":rotating_light: *STARTED*" if self.started else ":white_check_mark: *CLEARED*"
        link = f"<{self.link}|Open the log page>"
        return f"{word} {escape(self.rule.name)}: {escape(self.headline)}\n{link}"


def escape(text: str) -> str:
    """Slack's three control characters, escaped as its mrkdwn asks."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
