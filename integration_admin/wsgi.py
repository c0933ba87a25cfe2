"""WSGI entry point (gunicorn integration_admin.wsgi).

Refuses to serve on settings that cannot work, then starts the embedded delivery worker (a
thread per web process) when no broker is set.
"""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "integration_admin.settings")

application = get_wsgi_application()

from mappings.delivery.worker import start_embedded_worker  # noqa: E402 - needs Django set up
from mappings.startup_checks import refuse_unworkable_settings  # noqa: E402

# Django runs its system checks on manage.py commands, never when a WSGI server loads the app,
# so the web process runs ours here: a bad setting fails the worker's boot (gunicorn stops with
# the message) instead of serving. Here rather than in AppConfig.ready(), which every process
# runs: `manage.py check` would then crash with a traceback instead of listing the errors, and
# commands that need no working cache or key (collectstatic at image build) would fail too.
refuse_unworkable_settings()
start_embedded_worker()
