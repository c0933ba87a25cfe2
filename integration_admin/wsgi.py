"""WSGI entry point (gunicorn integration_admin.wsgi).

Also starts the embedded delivery worker (a thread per web process) when no broker is set.
"""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "integration_admin.settings")

application = get_wsgi_application()

from mappings.delivery.worker import start_embedded_worker  # noqa: E402 - needs Django set up

start_embedded_worker()
