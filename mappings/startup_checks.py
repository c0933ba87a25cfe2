"""Settings that cannot work stop the process before it serves anything.

Django's system check framework runs these on ``manage.py check`` (and ``check --deploy``),
``runserver``, ``migrate`` and every other command that checks; ``mappings.apps`` registers them.
Django runs no checks when a WSGI server (gunicorn) loads the app, so ``integration_admin/wsgi.py``
calls :func:`refuse_unworkable_settings` before it serves.

- ``bridge.E001``: ``BRAZE_KEY_ENCRYPTION_KEYS`` is empty or an entry is not a Fernet key. Checked
  in every mode: such a key fails every encryption and decryption, wherever it runs.
- ``bridge.E002``: production with a cache that each process keeps to itself (locmem) or that
  keeps nothing (dummy): API rate limits and the replay guard of signed requests count in it, and
  only a cache shared by every web process makes them hold.
- ``bridge.E003``: ``DELIVERY_SYNC_BUDGET_SECONDS`` at or above ``DELIVERY_LEASE_SECONDS``, in
  every mode: a sync request could still be sending after its lease expired, when the sweep hands
  the delivery to a worker that sends it again.
- ``bridge.E004``: ``BRAZE_REQUEST_DEADLINE_SECONDS`` over half of ``DELIVERY_LEASE_SECONDS``, in
  every mode: a worker renews its lease once a third of it has passed, so a request must end
  (or be cut off) well before the lease can run out under it.

A warning, which ``check --deploy --fail-level WARNING`` (the production gate) also refuses:

- ``bridge.W001``: ``DELIVERY_PROBE_INTERVAL_MAX_SECONDS`` plus ``DELIVERY_SWEEP_INTERVAL_SECONDS``
  over 30 s. After an outage the last failed probe holds the environment for at most the first,
  and the next sweep (the embedded loop's timer, ``run_delivery_worker``'s idle pause unless
  ``--idle-seconds`` says otherwise, Celery beat's schedule) comes within the second:
  their sum is how long delivery may idle once Braze is back, which the README promises is at
  most 30 s. A warning, not an error: the service still works, only later than promised.

Messages name the setting and where it is wrong, never a key: secrets never reach logs.
"""

from collections.abc import Callable, Iterable

from cryptography.fernet import Fernet
from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured

TAG = "bridge"
# Braze back -> first delivery, at most (README, "What holds the whole environment").
RECOVERY_PROMISE_SECONDS = 30.0
_UNSHARED_CACHES = {
    "django.core.cache.backends.locmem.LocMemCache": "keeps a separate cache in each process",
    "django.core.cache.backends.dummy.DummyCache": "keeps nothing",
}


def _is_fernet_key(key: str) -> bool:
    try:
        Fernet(key)
    except ValueError:  # bad base64 (binascii.Error is a ValueError), wrong length, not ASCII
        return False
    return True


@checks.register(TAG, checks.Tags.security)
def check_encryption_keys(app_configs: Iterable | None = None, **kwargs) -> list[checks.Error]:
    keys = list(settings.BRAZE_KEY_ENCRYPTION_KEYS)
    how = "Make a key with `python manage.py generate_encryption_key`."
    if not keys:
        return [checks.Error("BRAZE_KEY_ENCRYPTION_KEYS holds no key.", hint=how, id="bridge.E001")]
    return [
        checks.Error(
            f"BRAZE_KEY_ENCRYPTION_KEYS: entry {position} of {len(keys)} (comma-separated, "
            "counting from 1) is not a Fernet key (32 url-safe base64-encoded bytes).",
            hint=f"{how} To replace a key that encrypted stored secrets, put the new key first, "
            "keep the old one after it and run `manage.py rotate_encryption_keys`.",
            id="bridge.E001",
        )
        for position, key in enumerate(keys, start=1)
        if not _is_fernet_key(key)
    ]


@checks.register(TAG, checks.Tags.caches)
def check_shared_cache(app_configs: Iterable | None = None, **kwargs) -> list[checks.Error]:
    backend = settings.CACHES["default"]["BACKEND"]
    if not settings.PRODUCTION or backend not in _UNSHARED_CACHES:
        return []
    return [
        checks.Error(
            f"CACHE_URL: the {backend.rsplit('.', 1)[-1]} backend {_UNSHARED_CACHES[backend]}; "
            "production needs a cache shared by every web process for API rate limits and the "
            "replay guard of signed requests.",
            hint="Set CACHE_URL to Redis, e.g. redis://redis-host:6379/1.",
            id="bridge.E002",
        )
    ]


@checks.register(TAG)
def check_sync_budget_within_lease(
    app_configs: Iterable | None = None, **kwargs
) -> list[checks.Error]:
    budget, lease = settings.DELIVERY_SYNC_BUDGET_SECONDS, settings.DELIVERY_LEASE_SECONDS
    if budget < lease:
        return []
    return [
        checks.Error(
            f"DELIVERY_SYNC_BUDGET_SECONDS ({budget:g}) must be below DELIVERY_LEASE_SECONDS "
            f"({lease:g}): a sync request could outlive the lease on its delivery, and a worker "
            "would then send it a second time.",
            hint="Lower DELIVERY_SYNC_BUDGET_SECONDS or raise DELIVERY_LEASE_SECONDS.",
            id="bridge.E003",
        )
    ]


@checks.register(TAG)
def check_request_deadline_within_lease(
    app_configs: Iterable | None = None, **kwargs
) -> list[checks.Error]:
    deadline, lease = settings.BRAZE_REQUEST_DEADLINE_SECONDS, settings.DELIVERY_LEASE_SECONDS
    if deadline <= lease / 2:
        return []
    return [
        checks.Error(
            f"BRAZE_REQUEST_DEADLINE_SECONDS ({deadline:g}) must be at most half of "
            f"DELIVERY_LEASE_SECONDS ({lease:g}): a Braze request could outlive the lease on "
            "its deliveries, and the sweep would hand them to another worker mid-request.",
            hint="Lower BRAZE_REQUEST_DEADLINE_SECONDS or raise DELIVERY_LEASE_SECONDS.",
            id="bridge.E004",
        )
    ]


@checks.register(TAG)
def check_recovery_within_promise(
    app_configs: Iterable | None = None, **kwargs
) -> list[checks.Warning]:
    hold = settings.DELIVERY_PROBE_INTERVAL_MAX_SECONDS
    sweep = settings.DELIVERY_SWEEP_INTERVAL_SECONDS
    if hold + sweep <= RECOVERY_PROMISE_SECONDS:
        return []
    return [
        checks.Warning(
            f"DELIVERY_PROBE_INTERVAL_MAX_SECONDS ({hold:g}) + DELIVERY_SWEEP_INTERVAL_SECONDS "
            f"({sweep:g}) = {hold + sweep:g} s, over the {RECOVERY_PROMISE_SECONDS:g} s within "
            "which deliveries resume after Braze recovers: the last hold of an outage and the "
            "next sweep could leave them idle that long.",
            hint="Lower either setting so that their sum is at most "
            f"{RECOVERY_PROMISE_SECONDS:g} s (defaults: 20 + 10).",
            id="bridge.W001",
        )
    ]


# The errors that stop a WSGI start (warnings only show on `manage.py check`).
CHECKS: tuple[Callable[..., list[checks.Error]], ...] = (
    check_encryption_keys,
    check_shared_cache,
    check_sync_budget_within_lease,
    check_request_deadline_within_lease,
)


def refuse_unworkable_settings() -> None:
    """Raise ImproperlyConfigured listing every error of these checks (for a WSGI start)."""
    errors = [error for check in CHECKS for error in check()]
    if errors:
        raise ImproperlyConfigured("Refusing to start:\n" + "\n".join(map(str, errors)))
