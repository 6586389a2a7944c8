"""`dockyard push` as scripts use it: the digest (or --json) on stdout, and refusals that say why."""

import json
import os
import subprocess
import sys

import pytest

from dockyard.resources import Env
from tests.support.oci import Layout, random_layer
from tests.support.processes import Server

pytestmark = pytest.mark.e2e
ADMIN = ("push-admin", "dys_" + "q" * 43)


@pytest.fixture
def secured(backend_args):
    server = Server(*backend_args, "--auth", "--signing-secret", backend_args[-1] + "-signing",
                    env={Env.ADMIN_KEY_ID: ADMIN[0], Env.ADMIN_SECRET: ADMIN[1]})
    yield server
    server.stop()


def push(tmp_path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKYARD_")}
    env["DOCKER_CONFIG"] = str(tmp_path / "docker")  # no docker login here
    return subprocess.run([sys.executable, "-m", "dockyard.cli", "push", *args], capture_output=True, text=True,
                          env=env, timeout=300)


def test_push_prints_the_digest_or_json_and_explains_a_refusal(secured, tmp_path):
    layout = Layout(tmp_path / "img")
    desc, _ = layout.image([random_layer(200_000), random_layer(1000)])
    layout.tag(desc, "v1")
    source, target = f"oci:{tmp_path / 'img'}:v1", f"{secured.host}/team/app:v1"

    anonymous = push(tmp_path, source, target)
    assert anonymous.returncode != 0 and anonymous.stdout == ""
    assert "401" in anonymous.stderr and "no credentials found" in anonymous.stderr
    assert f"--creds KEY_ID:SECRET, with {Env.KEY_ID} and {Env.SECRET}, or with `docker login" in anonymous.stderr

    wrong = push(tmp_path, source, target, "--creds", f"{ADMIN[0]}:dys_{'w' * 43}")
    assert wrong.returncode != 0
    assert f"the registry refused key {ADMIN[0]} (from --creds)" in wrong.stderr
    assert "wrong secret" in wrong.stderr  # the registry's own reason, not just "401 "

    pushed = push(tmp_path, source, target, "--creds", ":".join(ADMIN))
    assert pushed.returncode == 0, pushed.stderr
    assert pushed.stdout == desc["digest"] + "\n"
    assert pushed.stderr.rstrip().splitlines()[-1].startswith(f"pushed {target} ({desc['digest']})")

    again = push(tmp_path, source, target, "--creds", ":".join(ADMIN), "--json")
    summary = json.loads(again.stdout)
    assert summary["digest"] == desc["digest"] and summary["destination"] == target
    assert summary["blobs"] == {"pushed": 0, "existed": 3, "mounted": 0} and summary["bytesSent"] == 0
