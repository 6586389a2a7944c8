"""End-to-end fixtures: `dockyard serve` processes over the session's moto server, and the pull-through
cache's loopback upstreams (one of each per test module)."""

import json

import pytest

from dockyard.resources import Env
from tests.support.processes import Server
from tests.support.pullthrough import HUB_ADMIN, backend, dockyard, make_images, seed
from tests.support.upstreams import Distribution


@pytest.fixture
def backend_args(moto_endpoint):
    """Arguments that point a server at the shared moto endpoint, with a bucket and table of its own."""
    return backend(moto_endpoint)


@pytest.fixture
def server(backend_args):
    server = Server(*backend_args)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    """An image of three layers (`v1`), a two-platform index (`multi`), and another image (`v2`)."""
    return make_images(tmp_path_factory.mktemp("images"))


@pytest.fixture(scope="module")
def dist(images, tmp_path_factory):
    """An open CNCF distribution holding `team/app:v1` and `:multi`."""
    upstream = Distribution(tmp_path_factory.mktemp("dist"))
    seed(images, upstream.host, "team/app")
    yield upstream
    upstream.stop()


@pytest.fixture(scope="module")
def hub(images, moto_endpoint):
    """A Docker-Hub-like upstream: `dockyard serve --auth` (token flow), holding `library/app`; `hub.puller`
    is a pull key for it."""
    env = {Env.ADMIN_KEY_ID: HUB_ADMIN[0], Env.ADMIN_SECRET: HUB_ADMIN[1]}
    upstream = Server(*backend(moto_endpoint), "--auth", "--log-level", "info", env=env)
    seed(images, upstream.host, "library/app", "--dest-creds", ":".join(HUB_ADMIN))
    key = json.loads(dockyard("keys", "create", "mirror", "--allow", "*=pull", "--json", "--registry", upstream.url,
                              "--creds", ":".join(HUB_ADMIN)))
    upstream.puller = (key["id"], key["secret"])
    yield upstream
    upstream.stop()
