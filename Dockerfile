# One image for every process: web (gunicorn), Celery worker, Celery beat, migrations.
# See docs/deploy.md (the runbook; compose.yaml runs these same steps).
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    APP_MODE=production STATIC_ROOT=/app/staticfiles WEB_BIND=0.0.0.0:8000
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
# Static files are collected into the image (whitenoise serves them). The values below exist only
# for this build step; the real secrets come from the environment at run time.
RUN SECRET_KEY=build-only-build-only-build-only-build-only-build-only \
    BRAZE_KEY_ENCRYPTION_KEYS=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA= \
    ALLOWED_HOSTS=build DATABASE_URL=sqlite:////tmp/build.sqlite3 CACHE_URL=locmemcache:// \
    python manage.py collectstatic --noinput \
 && useradd --system --home /app bridge && mkdir -p /app/var && chown bridge /app/var
USER bridge
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2)"
CMD ["gunicorn", "integration_admin.wsgi"]
