"""End-to-end fixtures: `dockyard serve` processes over the session's moto server."""

import uuid

import pytest

from tests.support.processes import Server


@pytest.fixture
def backend_args(moto_endpoint):
    """Arguments that point a server at the shared moto endpoint, with a bucket and table of its own."""
    name = f"e2e-{uuid.uuid4().hex[:10]}"
    return ["--endpoint-url", moto_endpoint, "--bucket", name, "--table", name]


@pytest.fixture
def server(backend_args):
    server = Server(*backend_args)
    yield server
    server.stop()
