"""Django project package. The Celery app is loaded here so shared tasks bind to it."""

from integration_admin.celery import app as celery_app

__all__ = ["celery_app"]
