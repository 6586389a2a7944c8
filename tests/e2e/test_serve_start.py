"""`dockyard serve` refuses, at start and with the reason, settings that would start "fine" and then fail."""

import os
import subprocess
import sys

import pytest

from dockyard.resources import Env

pytestmark = pytest.mark.e2e
GOOD_SECRET = "dys_" + "g" * 43


@pytest.mark.parametrize("key_id,secret,message", [
    ("dockyard-admin", GOOD_SECRET, f"{Env.ADMIN_KEY_ID}: 'dockyard-admin' is reserved"),
    ("ab", GOOD_SECRET, f"{Env.ADMIN_KEY_ID}: 'ab' is not a key id"),
    ("adm:colon", GOOD_SECRET, "no ':'"),
    ("ops-admin", "short-secret", f"{Env.ADMIN_SECRET}: the secret has 12 characters; at least 32"),
    ("ops-admin", "s" * 31 + " ", "no spaces"),
    ("", GOOD_SECRET, f"{Env.ADMIN_SECRET} is set but {Env.ADMIN_KEY_ID} is not"),
])
def test_a_bad_admin_key_is_refused_at_start(key_id, secret, message):
    env = {**os.environ, Env.ADMIN_KEY_ID: key_id, Env.ADMIN_SECRET: secret}
    result = subprocess.run([sys.executable, "-m", "dockyard.cli", "serve", "--auth", "--port", "0"], env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert message in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
