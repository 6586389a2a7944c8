"""Shared fixtures: one moto server on loopback for the session, a fresh bucket and table per test."""

from __future__ import annotations

import os
import uuid
from collections import Counter

import pytest

# Fake credentials before any client exists; never a real AWS account, never the internet.
os.environ.update({"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                   "AWS_DEFAULT_REGION": "us-east-1"})
for _name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_CA_BUNDLE"):
    os.environ.pop(_name, None)


@pytest.fixture(scope="session")
def moto_endpoint():
    """A moto server (S3 + DynamoDB) on 127.0.0.1, in server mode so presigned URLs can be followed; the
    same server `dockyard serve` embeds (DynamoDB requests serialized, see dockyard.local.motoserver)."""
    import threading

    from dockyard.local.motoserver import make_server

    server = make_server()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    host, port = server.server_address[:2]
    yield f"http://{host}:{port}"
    server.shutdown()


@pytest.fixture
def settings(moto_endpoint):
    """Settings naming a bucket and a table of this test's own, created from the stack's definitions."""
    from dockyard.config import Settings
    from dockyard.storage.aws import ensure_bucket, ensure_table, make_clients

    name = f"dy-{uuid.uuid4().hex[:12]}"
    settings = Settings(bucket=name, table=name, endpoint_url=moto_endpoint, part_size=5 * 1024 * 1024)
    s3, dynamodb = make_clients(settings)
    ensure_bucket(s3, settings)
    ensure_table(dynamodb, settings)
    return settings


class CallCounter(Counter):
    """Counts AWS API calls per (service, operation), through botocore's event hooks."""

    def attach(self, client) -> None:
        for each in client.every_client() if hasattr(client, "every_client") else [client]:
            service = each.meta.service_model.service_name
            each.meta.events.register("before-call.*.*", lambda model, s=service, **_: self.update([(s, model.name)]))

    def service(self, name: str) -> int:
        return sum(n for (service, _), n in self.items() if service == name)


@pytest.fixture
def calls():
    return CallCounter()


@pytest.fixture
def registry(settings, calls):
    from dockyard.factory import build_registry
    from dockyard.storage.aws import new_clients

    s3, dynamodb = new_clients(settings.region, settings.endpoint_url)  # instrumented: not shared
    calls.attach(s3)
    calls.attach(dynamodb)
    return build_registry(settings, s3, dynamodb)


@pytest.fixture
def client(settings, registry):
    """An in-process HTTP client on the app (API tests). End-to-end tests use real processes instead."""
    from fastapi.testclient import TestClient

    from dockyard.app import create_app

    with TestClient(create_app(settings, registry), base_url="http://registry.test") as test_client:
        yield test_client


ADMIN_ID, ADMIN_SECRET = "test-admin", "dys_" + "t" * 43


@pytest.fixture
def auth_settings(settings):
    """The test's settings with access control on: a signing keyring in (moto) Secrets Manager."""
    import dataclasses

    from dockyard.auth.secrets_store import ensure_keyring
    from dockyard.storage.aws import secrets_client

    secured = dataclasses.replace(settings, auth=True, signing_secret=f"{settings.bucket}-signing")
    ensure_keyring(secrets_client(secured), secured.signing_secret)
    return secured


@pytest.fixture
def auth_registry(auth_settings, calls):
    from dockyard.factory import build_registry
    from dockyard.storage.aws import new_clients

    s3, dynamodb = new_clients(auth_settings.region, auth_settings.endpoint_url)
    calls.attach(s3)
    calls.attach(dynamodb)
    registry = build_registry(auth_settings, s3, dynamodb)
    registry.access.create_key("admin", ["*=admin"], key_id=ADMIN_ID, secret=ADMIN_SECRET)
    return registry


@pytest.fixture
def auth_client(auth_settings, auth_registry):
    from fastapi.testclient import TestClient

    from dockyard.app import create_app

    with TestClient(create_app(auth_settings, auth_registry), base_url="http://registry.test") as test_client:
        yield test_client
