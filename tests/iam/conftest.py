"""The function's synthesized IAM policy, enforced: moto with access control on, a deployment per module."""

import pytest

from tests.support import stack_template
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
