"""Fixtures of the web page's in-process tests: clients over https (the session cookie is `Secure`)."""

import re

import pytest

from tests.conftest import ADMIN_ID, ADMIN_SECRET


@pytest.fixture
def ui(settings, registry):
    """The app with access control off, over https."""
    from fastapi.testclient import TestClient

    from dockyard.app import create_app

    with TestClient(create_app(settings, registry), base_url="https://registry.test") as client:
        yield client


@pytest.fixture
def secured(auth_settings, auth_registry):
    """The app with access control on, over https (nobody signed in)."""
    from fastapi.testclient import TestClient

    from dockyard.app import create_app

    with TestClient(create_app(auth_settings, auth_registry), base_url="https://registry.test") as client:
        yield client


def csrf_of(client, path: str = "/ui/signin") -> str:
    """The CSRF value a page puts in its forms."""
    page = client.get(path)
    match = re.search(r'name="csrf" value="([^"]+)"', page.text)
    if match is None:  # a page without a form: the value is the cookie's
        assert client.cookies.get("dockyard_csrf"), page.text[:2000]
        return client.cookies.get("dockyard_csrf")
    return match[1]


def sign_in(client, key_id: str = ADMIN_ID, secret: str = ADMIN_SECRET):
    response = client.post("/ui/signin", data={"key_id": key_id, "secret": secret, "csrf": csrf_of(client),
                                               "next": "/ui/"}, follow_redirects=False)
    assert response.status_code == 303, response.text
    return response


@pytest.fixture
def admin_ui(secured):
    sign_in(secured)
    return secured
