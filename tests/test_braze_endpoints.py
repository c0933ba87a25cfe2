"""Which Braze endpoints an admin may save (the SSRF guard)."""

import pytest
from django.core.exceptions import ValidationError

from mappings.braze_endpoints import KNOWN_REST_ENDPOINTS, validate_rest_endpoint


@pytest.mark.parametrize(
    "url",
    [*KNOWN_REST_ENDPOINTS, "https://rest.iad-01.braze.com/", "https://rest.fra-02.braze.eu"],
)
def test_it_accepts_brazes_rest_hosts(url):
    validate_rest_endpoint(url)


@pytest.mark.parametrize(
    "url",
    [
        "http://rest.iad-01.braze.com",  # not https
        "https://sdk.iad-01.braze.com",  # SDK host, not REST
        "https://rest.iad-01.braze.com.evil.example",
        "https://evil.example/rest.iad-01.braze.com",
        "https://rest.iad-01.braze.com:8443",
        "https://rest.iad-01.braze.com/users/track",
        "https://user:pass@rest.iad-01.braze.com",
        "https://rest.iad-01.braze.com?x=1",
        "http://169.254.169.254",
        "http://10.0.0.5",
        "https://example.com",
        "ftp://127.0.0.1",
    ],
)
def test_it_rejects_anything_else(url):
    with pytest.raises(ValidationError):
        validate_rest_endpoint(url)


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:9011", "http://localhost:9011", "http://[::1]:80"]
)
def test_it_allows_loopback_for_the_local_fake_when_the_setting_is_on(url, settings):
    settings.BRAZE_ALLOW_LOOPBACK_ENDPOINTS = True
    validate_rest_endpoint(url)

    settings.BRAZE_ALLOW_LOOPBACK_ENDPOINTS = False
    with pytest.raises(ValidationError):
        validate_rest_endpoint(url)
