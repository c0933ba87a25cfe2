"""What the mapping editor offers: each transform with its options, each target with its format.

Plain data for the admin's row editor (rendered once as JSON in the page), built from the
engine's own tables (``transforms.KINDS``, ``targets.STANDARD_ATTRIBUTES``), so a new transform
or option shows in the editor without a second list to keep in step. Only how an option is
*entered* (a select, a text box, key/value rows) is said here, by option name.
"""

from typing import Any

import phonenumbers

from mappings.engine import targets, transforms
from mappings.engine.datetimes import ORDERS

ORDER_EXAMPLES = {"DMY": "31/12/1990", "MDY": "12/31/1990", "YMD": "1990-12-31"}

# How each option is entered; "choices" are (value, label) pairs.
_OPTION_INPUTS: dict[str, dict[str, Any]] = {
    "order": {
        "input": "select", "label": "date order",
        "choices": [(order, f"{order}, like {ORDER_EXAMPLES[order]}") for order in ORDERS],
    },
    "timezone": {"input": "text", "label": "time zone", "placeholder": "UTC or Europe/Lisbon"},
    "region": {
        "input": "select", "label": "region",
        "choices": [(code, code) for code in sorted(phonenumbers.SUPPORTED_REGIONS)],
    },
    "region_from": {
        "input": "path", "label": "or region from field",
        "placeholder": "user.country",
    },
    "table": {"input": "table", "label": "table"},
    "ignore_case": {"input": "checkbox", "label": "ignore case"},
    "otherwise": {
        "input": "select", "label": "when not in the table",
        "choices": [("error", "report a problem"), ("keep", "keep the value"),
                    ("skip", "send nothing")],
    },
    "value": {"input": "value", "label": "default value", "placeholder": "text, 0, true"},
    "separator": {"input": "text", "label": "separator", "placeholder": ","},
    "type": {
        "input": "select", "label": "type (blank: the target's)",
        "choices": [(kind, kind) for kind in transforms.COERCE_TYPES],
    },
    "empty_words": {"input": "words", "label": "words meaning empty", "placeholder": "n/a, none"},
}  # fmt: skip

# Braze's format for each standard attribute, as the editor shows it beside the choice
# (docs/braze.md has the rules with their sources; targets.py checks them).
STANDARD_FORMATS: dict[str, str] = {
    "first_name": "text, at most 255 characters",
    "last_name": "text, at most 255 characters",
    "home_city": "text, at most 255 characters",
    "image_url": "a URL, at most 255 characters",
    "email": "an email address (name@example.com)",
    "phone": "text; E.164 (+5511987654321) works best: add the phone transform",
    "dob": "a date YYYY-MM-DD: add the dob transform",
    "country": "ISO-3166-1 alpha-2 code (BR): add the country transform",
    "language": "ISO-639-1 code (pt): add the language transform",
    "gender": "M, F, O, N or P: add the gender transform",
    "time_zone": "an IANA time zone name (America/Sao_Paulo)",
    "email_subscribe": "opted_in, subscribed or unsubscribed",
    "push_subscribe": "opted_in, subscribed or unsubscribed",
    "email_open_tracking_disabled": "true or false",
    "email_click_tracking_disabled": "true or false",
    "current_location": 'an object {"latitude": ..., "longitude": ...}',
    "date_of_first_session": "a date and time, ISO 8601",
    "date_of_last_session": "a date and time, ISO 8601",
    "marked_email_as_spam_at": "a date and time, ISO 8601",
    "subscription_groups": "a list of {subscription_group_id, subscription_state}",
    "facebook": "an object (Facebook data)",
    "twitter": "an object (Twitter data)",
    "push_tokens": "a list of push tokens",
}


def transform_catalogue() -> list[dict[str, Any]]:
    """Every transform kind: its name, what it does, and its options as the editor enters them."""
    return [
        {
            "name": name,
            "help": kind.help,
            "options": [
                {"name": option, "required": option in kind.required, **_OPTION_INPUTS[option]}
                for option in kind.options
            ],
        }
        for name, kind in transforms.KINDS.items()
    ]


def target_catalogue() -> dict[str, Any]:
    """Braze's standard attributes (with formats) and the fields of events and purchases."""
    return {
        "standard": [
            {"name": name, "format": STANDARD_FORMATS[name]} for name in targets.STANDARD_ATTRIBUTES
        ],
        "event_fields": list(targets.EVENT_FIELDS),
        "purchase_fields": list(targets.PURCHASE_FIELDS),
    }
