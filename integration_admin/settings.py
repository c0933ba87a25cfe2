"""Settings, read from the environment (django-environ).

Two modes, chosen by ``APP_MODE``:
- ``local`` (default): SQLite in the project, generated per-checkout secrets, loopback Braze
  endpoints allowed so the bundled fake Braze can be used.
- ``production``: every secret must come from the environment; the process refuses to start
  without them, and the security settings pass ``manage.py check --deploy``.
Settings that are present but cannot work (a bad Fernet key; in production a cache each process
keeps to itself; a sync budget not below the lease) are refused by the system checks in
``mappings/startup_checks.py``, which ``integration_admin/wsgi.py`` also runs at web start-up.
Every variable is listed in ``.env.example`` and the README.
"""

from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

from integration_admin import local_secrets

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

APP_MODE = env.str("APP_MODE", default="local")
if APP_MODE not in {"local", "production"}:
    raise ImproperlyConfigured(f"APP_MODE must be 'local' or 'production', not {APP_MODE!r}")
PRODUCTION = APP_MODE == "production"

if PRODUCTION:
    # No defaults: a missing secret must stop the process, never fall back silently.
    SECRET_KEY = env.str("SECRET_KEY")
    BRAZE_KEY_ENCRYPTION_KEYS = env.list("BRAZE_KEY_ENCRYPTION_KEYS")
    ALLOWED_HOSTS = env.list("ALLOWED_HOSTS")
    DATABASES = {"default": env.db("DATABASE_URL")}
    # Shared by every web process: rate limits and the replay guard of signed requests must be
    # (locmem and dummy are refused, bridge.E002).
    CACHES = {"default": env.cache_url("CACHE_URL")}
else:
    _local = local_secrets.load_or_create(BASE_DIR / "var" / "local-secrets.json")
    SECRET_KEY = env.str("SECRET_KEY", default=_local["SECRET_KEY"])
    BRAZE_KEY_ENCRYPTION_KEYS = env.list(
        "BRAZE_KEY_ENCRYPTION_KEYS", default=[_local["BRAZE_KEY_ENCRYPTION_KEYS"]]
    )
    ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
    DATABASES = {
        "default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'var' / 'db.sqlite3'}")
    }
    CACHES = {"default": env.cache_url("CACHE_URL", default="locmemcache://")}

if PRODUCTION and len(SECRET_KEY) < 50:
    raise ImproperlyConfigured("SECRET_KEY must be at least 50 characters in production")

DEBUG = env.bool("DEBUG", default=False)
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DATABASE_CONN_MAX_AGE", default=0))

INSTALLED_APPS = [
    # First, so its templates (admin/base_site.html with the log-page links) win over admin's.
    "mappings",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_filters",
    "simple_history",
]

MIDDLEWARE = [
    "mappings.api.middleware.ArrivalClockMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "mappings.api.middleware.ApiBodyLimitMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # Records the logged-in user on every configuration change (django-simple-history).
    "simple_history.middleware.HistoryRequestMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "integration_admin.urls"
WSGI_APPLICATION = "integration_admin.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

STATIC_URL = "static/"
# collectstatic target in production; local mode serves from the apps and needs none.
STATIC_ROOT = env.path("STATIC_ROOT", default=BASE_DIR / "staticfiles") if PRODUCTION else None
# Local mode serves static files straight from the apps, so no collectstatic step is needed.
WHITENOISE_USE_FINDERS = not PRODUCTION
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if PRODUCTION
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

# The public API: limits on what a client may send, and how often.
API_MAX_BODY_BYTES = env.int("API_MAX_BODY_BYTES", default=1_048_576)
API_MAX_JSON_DEPTH = env.int("API_MAX_JSON_DEPTH", default=32)
API_MAX_JSON_ITEMS = env.int("API_MAX_JSON_ITEMS", default=10_000)
# Default per-client rate (an API client's own rate_limit overrides it), like 600/min.
API_THROTTLE_RATE = env.str("API_THROTTLE_RATE", default="600/min")
# Each web process keeps the API client behind a token and the mapping set behind a slug this
# long: a configuration change reaches the other processes within it (0 = read every request).
API_CONFIG_CACHE_SECONDS = env.float("API_CONFIG_CACHE_SECONDS", default=3.0)
API_SIGNATURE_TOLERANCE_SECONDS = env.int("API_SIGNATURE_TOLERANCE_SECONDS", default=300)
# Django's own cap on request.body must not be below ours (signed requests read it).
DATA_UPLOAD_MAX_MEMORY_SIZE = max(2_621_440, API_MAX_BODY_BYTES)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["mappings.api.authentication.ApiClientTokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PARSER_CLASSES": ["mappings.api.parsers.BoundedJSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "mappings.api.negotiation.RememberingContentNegotiation",
    "DEFAULT_THROTTLE_CLASSES": ["mappings.api.throttling.ApiClientRateThrottle"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "mappings.api.errors.api_exception_handler",
    "UNAUTHENTICATED_USER": None,
}

# OpenAPI (drf-spectacular): /api/schema/ and the docs page /api/docs/, whose Swagger UI assets
# are served from this app (drf-spectacular-sidecar), never from a CDN.
SPECTACULAR_SETTINGS = {
    "TITLE": "Braze conversation bridge API",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "mappings.api.schema.postprocess_schema",
    ],
}

# Braze: how we talk to it.
BRAZE_CONNECT_TIMEOUT_SECONDS = env.float("BRAZE_CONNECT_TIMEOUT_SECONDS", default=3.05)
BRAZE_READ_TIMEOUT_SECONDS = env.float("BRAZE_READ_TIMEOUT_SECONDS", default=10.0)
# The whole request (connect, send, read) is cut off after this long, however the answer trickles
# in; at most half of DELIVERY_LEASE_SECONDS (bridge.E004), so a lease outlives its request.
BRAZE_REQUEST_DEADLINE_SECONDS = env.float("BRAZE_REQUEST_DEADLINE_SECONDS", default=15.0)
# Loopback endpoints exist only for the bundled fake Braze; in production they are an SSRF hole.
BRAZE_ALLOW_LOOPBACK_ENDPOINTS = env.bool("BRAZE_ALLOW_LOOPBACK_ENDPOINTS", default=not PRODUCTION)

# Lookups: a bot reads its user's profile back from Braze (/users/export/ids; README "Lookups").
# The generic route's answer is out within this long of the request's arrival (platform routes use
# their adapter's budget).
LOOKUP_BUDGET_SECONDS = env.float("LOOKUP_BUDGET_SECONDS", default=3.0)
# Lookups of different users made within this window share one export request (up to 50 users).
LOOKUP_BATCH_WINDOW_SECONDS = env.float("LOOKUP_BATCH_WINDOW_SECONDS", default=0.02)
# Export requests per minute per environment, shared by every process through the cache (Braze
# allows 250 a minute on workspaces onboarded since 2024-08-22): past it a lookup answers from
# cache, stale or not, or "unknown".
LOOKUP_EXPORT_RATE_PER_MINUTE = env.int("LOOKUP_EXPORT_RATE_PER_MINUTE", default=250)
# How long a profile stays in the cache past its mapping set's TTL, to answer when the export
# budget is spent (a write to the user through us deletes it at once).
LOOKUP_STALE_KEEP_SECONDS = env.int("LOOKUP_STALE_KEEP_SECONDS", default=3600)

# Delivery: the outbox, its workers, retries, batching and idempotency (see README "Delivery").
# Sync mode answers within this long of the request's arrival ("queued" when Braze could not take
# the record in time): 4 s answers a caller with a 5 s deadline (Dialogflow's) in under 4.5 s. It
# must stay below DELIVERY_LEASE_SECONDS (bridge.E003), or a worker could take back and resend a
# delivery in flight.
DELIVERY_SYNC_BUDGET_SECONDS = env.float("DELIVERY_SYNC_BUDGET_SECONDS", default=4.0)
# Objects per /users/track request: "total" across the three arrays (Braze's default) or
# "per_array" (older contracts).
DELIVERY_BATCH_MAX_OBJECTS = env.int("DELIVERY_BATCH_MAX_OBJECTS", default=75)
DELIVERY_BATCH_LIMIT_MODE = env.str("DELIVERY_BATCH_LIMIT_MODE", default="total")
# Deliveries one worker claims at a time (packed into several requests), and how long it holds them.
DELIVERY_CLAIM_SIZE = env.int("DELIVERY_CLAIM_SIZE", default=300)
DELIVERY_LEASE_SECONDS = env.float("DELIVERY_LEASE_SECONDS", default=60.0)
# How often the sweep re-enqueues pending rows and takes back expired leases.
DELIVERY_SWEEP_INTERVAL_SECONDS = env.float("DELIVERY_SWEEP_INTERVAL_SECONDS", default=10.0)
# With a broker: a web process publishes one drain task per environment at once, then at most
# one per this many seconds (a trailing one for hints in between); 0 = one per ingest. A publish
# (Celery builds and sends a message) costs the web process far more CPU than a coalesced hint,
# and a running drain task picks up new rows anyway, so the interval only delays a worker that
# had gone idle: 0.25 s keeps a busy process to 4 publishes per second per environment.
DELIVERY_HINT_INTERVAL_SECONDS = env.float("DELIVERY_HINT_INTERVAL_SECONDS", default=0.25)
# Exponential backoff with jitter for 5xx, timeouts and connection errors, then "dead".
DELIVERY_BACKOFF_BASE_SECONDS = env.float("DELIVERY_BACKOFF_BASE_SECONDS", default=10.0)
DELIVERY_BACKOFF_MAX_SECONDS = env.float("DELIVERY_BACKOFF_MAX_SECONDS", default=3600.0)
# After 5xx, timeouts and connection errors the whole environment is held, then probed with an
# empty /users/track (mappings/delivery/recovery.py): the hold starts at the base, doubles per
# failure in a row and never exceeds the max, so deliveries resume within the max plus
# DELIVERY_SWEEP_INTERVAL_SECONDS of Braze's recovery (30 s by default).
DELIVERY_PROBE_INTERVAL_BASE_SECONDS = env.float(
    "DELIVERY_PROBE_INTERVAL_BASE_SECONDS", default=2.0
)
DELIVERY_PROBE_INTERVAL_MAX_SECONDS = env.float("DELIVERY_PROBE_INTERVAL_MAX_SECONDS", default=20.0)
DELIVERY_MAX_ATTEMPTS = env.int("DELIVERY_MAX_ATTEMPTS", default=50)
DELIVERY_RETRY_WINDOW_SECONDS = env.float("DELIVERY_RETRY_WINDOW_SECONDS", default=27 * 3600.0)
# Client-side rate limit per environment, below Braze's 3,000 requests per 3 s.
DELIVERY_RATE_LIMIT_REQUESTS = env.int("DELIVERY_RATE_LIMIT_REQUESTS", default=2400)
DELIVERY_RATE_LIMIT_WINDOW_SECONDS = env.float("DELIVERY_RATE_LIMIT_WINDOW_SECONDS", default=3.0)
# How long an Idempotency-Key answer is kept and replayed.
DELIVERY_IDEMPOTENCY_TTL_SECONDS = env.int("DELIVERY_IDEMPOTENCY_TTL_SECONDS", default=86_400)
# Embedded engine (no broker): a delivery thread inside each web process.
DELIVERY_EMBEDDED_WORKER = env.bool("DELIVERY_EMBEDDED_WORKER", default=True)

# Celery on Redis for production delivery workers; empty = the embedded engine.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="")
CELERY_TASK_ACKS_LATE = True
# acks_late alone still acknowledges a task whose worker was killed; the sweep covers the rest.
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True

# The Braze canary (mappings/canary/, docs/deploy.md "Braze canary"): one marked test write per
# environment this often, checked for status, answer shape and key permission; 0 = off. Each run
# costs one data point per environment (one custom attribute written).
CANARY_INTERVAL_SECONDS = env.float("CANARY_INTERVAL_SECONDS", default=900.0)
# Environments named like production (prod, production, prod-eu...) get the canary only when true.
CANARY_INCLUDE_PRODUCTION = env.bool("CANARY_INCLUDE_PRODUCTION", default=False)
# The external_id of the marked test user the canary writes (bridge_canary_at = the run's time).
CANARY_EXTERNAL_ID = env.str("CANARY_EXTERNAL_ID", default="braze-bridge-canary")

# Audit log: how much of a Braze answer we keep per call.
AUDIT_RESPONSE_MAX_CHARS = env.int("AUDIT_RESPONSE_MAX_CHARS", default=10_000)

# Delivery log: how long `manage.py purge_logs --use-retention-setting` keeps finished rows.
DELIVERY_RETENTION_DAYS = env.int("DELIVERY_RETENTION_DAYS", default=90)
# Log pages: rows per page, most rows one CSV export streams, most deliveries one bulk replay sends.
LOG_PAGE_SIZE = env.int("LOG_PAGE_SIZE", default=50)
LOG_EXPORT_MAX_ROWS = env.int("LOG_EXPORT_MAX_ROWS", default=100_000)
LOG_BULK_REPLAY_MAX = env.int("LOG_BULK_REPLAY_MAX", default=500)
# Dashboard: its counted figures (deliveries per window, top reasons, data points) are counted
# again this often in the background for the windows viewed lately and read from the cache by
# the page (mappings/log_pages/dashboard_figures.py); 0 = counted on every view.
DASHBOARD_REFRESH_SECONDS = env.float("DASHBOARD_REFRESH_SECONDS", default=60.0)

# The service's public address (scheme and host, no path), for links printed outside a request
# (manage.py send_test's log links); empty = links are paths only.
SITE_URL = env.str("SITE_URL", default="" if PRODUCTION else "http://127.0.0.1:8000")

# Alerts (docs/deploy.md "Alerts"): how often the rules are evaluated, by the embedded loop of
# each web process or by Celery beat; 0 = never. Evaluating twice at once sends nothing twice.
ALERTS_EVALUATE_INTERVAL_SECONDS = env.float("ALERTS_EVALUATE_INTERVAL_SECONDS", default=60.0)
# Mail for alert emails, as one URL (django-environ): smtp+tls://user:password@host:587,
# smtp+ssl://...:465, consolemail:// (printed to the log). Locally the console; in production an
# SMTP server on this host unless set. Empty (as .env.example leaves it) means that default.
_email = env.email_url_config(
    env.str("EMAIL_URL", default="") or ("smtp://localhost:25" if PRODUCTION else "consolemail://")
)
EMAIL_BACKEND = _email["EMAIL_BACKEND"]
EMAIL_HOST = _email["EMAIL_HOST"] or "localhost"
EMAIL_PORT = _email["EMAIL_PORT"] or 25
EMAIL_HOST_USER = _email["EMAIL_HOST_USER"] or ""
EMAIL_HOST_PASSWORD = _email["EMAIL_HOST_PASSWORD"] or ""
EMAIL_USE_TLS = bool(_email.get("EMAIL_USE_TLS"))
EMAIL_USE_SSL = bool(_email.get("EMAIL_USE_SSL"))
EMAIL_TIMEOUT = 10  # seconds: an unreachable SMTP server must not stall the evaluation
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="bridge@localhost")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# Prometheus /metrics: on by default outside production (and with DEBUG), off in production
# unless set; when on, a Bearer token and/or an address allowlist (IPs or networks) guard it,
# and production refuses to serve it with neither.
METRICS_ENABLED = env.bool("METRICS_ENABLED", default=DEBUG or not PRODUCTION)
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
METRICS_ALLOWED_IPS = env.list("METRICS_ALLOWED_IPS", default=[])

# Configuration history: reverting from history could resurrect a retired mapping silently.
SIMPLE_HISTORY_REVERT_DISABLED = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    # urllib3's DEBUG lines quote each request's path, and an alert webhook's path is its token.
    "loggers": {"urllib3": {"level": "INFO"}},
}

if PRODUCTION:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    # Load balancers probe over plain HTTP inside the network.
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31_536_000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
