"""The token realm names the registry's own URL, never one a client wrote: the configured public URL, the
Function URL's own domain on Lambda, forwarded headers only where trusted, else the listening address."""

from __future__ import annotations

import dataclasses
import re

import pytest
from fastapi.testclient import TestClient

from dockyard.app import create_app
from dockyard.factory import build_registry
from dockyard.handler import make_handler
from tests.support import function_url

HOSTILE = 'evil.example",service="x'
PARAMETER = re.compile(r'(\w+)="([^"]*)"')


def challenge(header: str) -> dict:
    """The parameters of a Bearer challenge, checking that nothing else is in it."""
    assert header.startswith("Bearer ")
    params = PARAMETER.findall(header[len("Bearer "):])
    assert ",".join(f'{k}="{v}"' for k, v in params) == header[len("Bearer "):], header
    assert len({k for k, _ in params}) == len(params), header  # no parameter given twice
    return dict(params)


def realm(client, headers=None) -> str:
    params = challenge(client.get("/v2/", headers=headers or {}).headers["WWW-Authenticate"])
    assert params["service"] == "dockyard"
    return params["realm"]


@pytest.fixture
def app(auth_settings, auth_registry):
    def make(**changes):
        settings = dataclasses.replace(auth_settings, **changes)
        return TestClient(create_app(settings, build_registry(settings) if changes else auth_registry),
                          base_url="http://registry.test")
    return make


def test_client_headers_never_reach_the_realm(app):
    with app() as client:
        for headers in ({"Host": HOSTILE}, {"Host": "evil.example"}, {"X-Forwarded-Proto": "https"},
                        {"X-Forwarded-Host": "evil.example", "X-Forwarded-Proto": 'https",x="y'}):
            assert realm(client, headers) == "http://registry.test/token"


def test_the_configured_public_url_wins(app):
    with app(public_url="https://registry.example.com") as client:
        assert realm(client, {"Host": HOSTILE, "X-Forwarded-Host": "evil.example"}) == \
            "https://registry.example.com/token"


def test_forwarded_headers_count_only_where_trusted_and_only_if_well_formed(app):
    with app(trust_forwarded=True) as client:
        assert realm(client, {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "registry.example.com"}) == \
            "https://registry.example.com/token"
        assert realm(client, {"X-Forwarded-Proto": "https", "Host": "registry.example.com:8443"}) == \
            "https://registry.example.com:8443/token"
        for headers in ({"X-Forwarded-Host": HOSTILE}, {"Host": HOSTILE}, {"X-Forwarded-Proto": 'ftp'}):
            assert realm(client, headers) == "http://registry.test/token"


def test_on_lambda_the_function_url_domain_is_the_realm(auth_settings, auth_registry, monkeypatch):
    for name, value in auth_settings.to_env().items():
        monkeypatch.setenv(name, value)
    handler = make_handler()
    for host in (HOSTILE, "evil.example", function_url.DOMAIN):
        response = function_url.invoke(handler, "GET", "/v2/", headers={"Host": host,
                                                                        "X-Forwarded-Host": "evil.example"})
        assert challenge(response.headers["www-authenticate"])["realm"] == f"https://{function_url.DOMAIN}/token"


def test_dockyard_serve_takes_the_public_url_and_trust_from_its_flags():
    import argparse

    from dockyard.cli import _serve_parser, _settings

    parser = argparse.ArgumentParser()
    _serve_parser(parser.add_subparsers(dest="command"))
    given = _settings(parser.parse_args(["serve", "--public-url", "https://r.example", "--trust-forwarded"]))
    assert (given.public_url, given.trust_forwarded) == ("https://r.example", True)
    plain = _settings(parser.parse_args(["serve"]))
    assert (plain.public_url, plain.trust_forwarded) == (None, False)
