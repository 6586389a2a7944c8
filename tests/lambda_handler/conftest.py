"""The real Lambda handler, configured like the deployed function over this test's bucket and table."""

import pytest

from dockyard.handler import make_handler
from dockyard.resources import LAMBDA_MAX_BODY, Env


@pytest.fixture
def handler(settings, monkeypatch):
    for name, value in {**settings.to_env(), Env.MAX_BODY: str(LAMBDA_MAX_BODY)}.items():
        monkeypatch.setenv(name, value)
    return make_handler()
