"""The function's synthesized IAM policy, enforced: moto with access control on, a deployment per module."""

import httpx
import pytest

from dockyard.resources import BOOTSTRAP_KEY_ID
from tests.support import stack_template
from tests.support.auth import basic
from tests.support.deployment import Deployment
from tests.support.iam_moto import IamMoto


@pytest.fixture(scope="session")
def iam_moto():
    moto = IamMoto()
    yield moto
    moto.stop()


@pytest.fixture(scope="session")
def template():
    return stack_template.template()


@pytest.fixture(scope="module")
def deployment(iam_moto, template):
    return Deployment(iam_moto, template)


@pytest.fixture(scope="module")
def registry(deployment):
    """The registry function's code, as the registry function's role."""
    process = deployment.serve(deployment.user_for())
    yield process
    process.stop()


@pytest.fixture(scope="module")
def admin(deployment) -> dict:
    return basic(BOOTSTRAP_KEY_ID, deployment.admin_secret)


@pytest.fixture(scope="module")
def http(registry):
    with httpx.Client(base_url=registry.url, timeout=60) as client:
        yield client


@pytest.fixture(scope="module")
def pusher(http, admin) -> tuple[str, str]:
    """A key created through the admin API with the bootstrap admin key (read from Secrets Manager)."""
    response = http.post("/dockyard/v1/keys", json={"name": "ci", "allow": ["*=pull,push,delete"]}, headers=admin)
    assert response.status_code == 201, response.text
    return response.json()["id"], response.json()["secret"]


@pytest.fixture(scope="module")
def auth(pusher) -> dict:
    return basic(*pusher)
