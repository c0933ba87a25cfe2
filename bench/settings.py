"""Benchmark-only settings: the production URLconf plus a bare insert view (bench/bare_urls.py).

Never used by the service itself, so the bare view is not exposed in production.
"""

from integration_admin.settings import *  # noqa: F403 - the same stack, one URLconf changed

ROOT_URLCONF = "bench.bare_urls"
