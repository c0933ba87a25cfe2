"""Sending an alert message: by email (Django's mail settings) and to a chat webhook.

Each message on each channel is an ``AlertNotification`` row written before the send and
completed after (a crash mid-send still leaves a trace). A failing channel is recorded and
does not keep the other from sending. The webhook URL holds a token: it is never logged or
recorded, and the error kept says what failed in words of our own (``requests``' own messages
quote the URL).
"""

import logging

import requests
from django.conf import settings
from django.core.mail import send_mail

from mappings.alerts.messages import Message
from mappings.encryption import SecretDecryptionError
from mappings.models import AlertNotification
from mappings.models.alerts import AlertChannel

logger = logging.getLogger(__name__)

WEBHOOK_TIMEOUT_SECONDS = 5


def send(message: Message) -> list[AlertNotification]:
    """Send ``message`` on each channel its rule has; returns the audit rows."""
    sent = []
    if message.rule.recipients():
        sent.append(_recorded(message, AlertChannel.EMAIL, _send_email))
    if message.rule.webhook_url_ciphertext:
        sent.append(_recorded(message, AlertChannel.WEBHOOK, _send_webhook))
    return sent


def _recorded(message: Message, channel: str, sender) -> AlertNotification:
    row = AlertNotification.objects.create(
        rule=message.rule,
        subject_label=message.subject_label,
        transition=message.transition,
        channel=channel,
        summary=message.headline,
    )
    error = sender(message)
    row.ok, row.error = not error, error
    row.save(update_fields=["ok", "error"])
    if error:
        logger.warning(
            "Alert %s (rule %s, %s) not sent by %s: %s",
            message.transition, message.rule.pk, message.subject_label, channel, error,
        )  # fmt: skip
    else:
        logger.info(
            "Alert %s (rule %s, %s) sent by %s",
            message.transition, message.rule.pk, message.subject_label, channel,
        )  # fmt: skip
    return row


def _send_email(message: Message) -> str:
    """Returns the error in words, or "" when sent."""
    try:
        send_mail(
            message.email_subject,
            message.email_body,
            settings.DEFAULT_FROM_EMAIL,
            message.rule.recipients(),
        )
    except Exception as error:  # SMTP, socket and TLS errors alike: recorded, never raised
        return f"{type(error).__name__}: {error}"
    return ""


def _send_webhook(message: Message) -> str:
    """Returns the error in words (never the URL), or "" when sent."""
    try:
        url = message.rule.webhook_url()
        response = requests.post(
            url, json={"text": message.chat_text}, timeout=WEBHOOK_TIMEOUT_SECONDS
        )
    except SecretDecryptionError:
        return "the stored webhook URL cannot be decrypted with BRAZE_KEY_ENCRYPTION_KEYS"
    except requests.Timeout:
        return f"the webhook did not answer within {WEBHOOK_TIMEOUT_SECONDS} s"
    except requests.ConnectionError:
        return "the webhook could not be reached (connection refused, DNS or TLS error)"
    except requests.RequestException as error:
        return f"the webhook request failed ({type(error).__name__})"
    if not response.ok:
        return f"the webhook answered HTTP {response.status_code}"
    return ""
