"""Credentials for auth tests: Basic headers, tokens through the real token endpoint."""

from __future__ import annotations

import base64


def basic(key_id: str, secret: str) -> dict:
    return {"Authorization": "Basic " + base64.b64encode(f"{key_id}:{secret}".encode()).decode()}


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def token_for(client, key_id: str | None, secret: str | None, *scopes: str, **params) -> dict:
    """Ask the token endpoint, as docker does; returns its JSON answer."""
    headers = basic(key_id, secret) if key_id else {}
    response = client.get("/token", params={"service": "dockyard", "scope": list(scopes), **params},
                          headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def create_key(client, admin_headers: dict, name: str, *allow: str, **extra) -> tuple[str, str]:
    response = client.post("/dockyard/v1/keys", json={"name": name, "allow": list(allow), **extra},
                           headers=admin_headers)
    assert response.status_code == 201, response.text
    return response.json()["id"], response.json()["secret"]


def follow_challenge(client, response, key_id: str | None = None, secret: str | None = None) -> dict:
    """What a token client (the conformance suite's, containerd) does with a 401: ask the realm for a token
    with the challenge's service and scope, and return the header to retry with."""
    import re

    params = dict(re.findall(r'(\w+)="([^"]*)"', response.headers["WWW-Authenticate"]))
    query = {"service": params["service"], **({"scope": params["scope"]} if "scope" in params else {})}
    answer = client.get(params["realm"], params=query, headers=basic(key_id, secret) if key_id else {})
    assert answer.status_code == 200, answer.text
    return bearer(answer.json()["token"])
