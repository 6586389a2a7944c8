"""Governance with real clients against `dockyard serve --auth`: rules set with the CLI, refusals as skopeo
prints them."""

from __future__ import annotations

import json
import os

import pytest

from dockyard.resources import Env
from tests.support.docker import docker, dockerd
from tests.support.oci import Layout, random_layer
from tests.support.processes import Server, dockyard_cli, skopeo
from tests.support.processes import skopeo_refused as refused

pytestmark = pytest.mark.e2e
ADMIN_ID, ADMIN_SECRET = "gov-admin", "dys_" + "g" * 43
CREDS = f"{ADMIN_ID}:{ADMIN_SECRET}"


@pytest.fixture(scope="module")
def secured(moto_endpoint):
    name = f"gov-{os.urandom(4).hex()}"
    server = Server("--endpoint-url", moto_endpoint, "--bucket", name, "--table", name, "--auth",
                    "--signing-secret", f"{name}-signing",
                    env={Env.ADMIN_KEY_ID: ADMIN_ID, Env.ADMIN_SECRET: ADMIN_SECRET})
    yield server
    server.stop()


def cli(server, *args: str) -> str:
    return dockyard_cli(server.url, (ADMIN_ID, ADMIN_SECRET), *args)


def image(root, size: int, tag: str = "v1") -> tuple[str, str]:
    """An OCI layout with one image of one random layer; returns (skopeo source, manifest digest)."""
    layout = Layout(root)
    desc, _ = layout.image([random_layer(size)])
    layout.tag(desc, tag)
    return f"oci:{root}:{tag}", desc["digest"]


def test_an_immutable_tag_refuses_skopeo_with_the_rule_in_its_message(secured, tmp_path):
    listed = cli(secured, "immutability", "set", "prod/*", "--mutable-tags", "latest", "--mutable-tags", "dev-*")
    assert "prod/*" in listed and "latest, dev-*" in listed
    first, first_digest = image(tmp_path / "one", 2000)
    second, _ = image(tmp_path / "two", 2000)
    target = f"docker://{secured.host}/prod/app"
    copy = ("copy", "--dest-tls-verify=false", "--dest-creds", CREDS)
    skopeo(*copy, first, f"{target}:1.0")
    skopeo(*copy, first, f"{target}:1.0")  # the same digest again: fine
    message = refused(*copy, second, f"{target}:1.0")
    print(message)
    assert (f"denied: tag 1.0 of prod/app is immutable (rule prod/*): it points to {first_digest} and cannot be "
            "moved") in message
    skopeo(*copy, second, f"{target}:latest")
    skopeo(*copy, first, f"{target}:latest")  # a mutable tag moves
    message = refused("delete", "--tls-verify=false", "--creds", CREDS, f"{target}:1.0")
    print(message)
    assert "is immutable (rule prod/*)" in message and "cannot be deleted" in message
    inspected = json.loads(skopeo("inspect", "--tls-verify=false", "--creds", CREDS, f"{target}:1.0"))
    assert inspected["Digest"] == first_digest
    assert json.loads(cli(secured, "immutability", "list", "--json"))[0]["pattern"] == "prod/*"
    assert "removed prod/*" in cli(secured, "immutability", "delete", "prod/*")
    skopeo(*copy, second, f"{target}:1.0")


@pytest.fixture(scope="module")
def docker_env(secured, tmp_path_factory):
    """A dockerd of this module's own, logged in to the registry as the admin."""
    with dockerd(tmp_path_factory.mktemp("dockerd")) as env:
        docker(env, "login", secured.host, "-u", ADMIN_ID, "--password-stdin", stdin=ADMIN_SECRET)
        yield env


def test_docker_push_of_a_moved_immutable_tag_reads_sensibly(secured, docker_env, tmp_path):
    cli(secured, "immutability", "set", "release/*")
    repo = f"{secured.host}/release/web"
    copy = ("copy", "--dest-tls-verify=false", "--dest-creds", CREDS)
    skopeo(*copy, image(tmp_path / "one", 3000)[0], f"docker://{repo}:1.0")
    skopeo(*copy, image(tmp_path / "two", 3000)[0], f"docker://{repo}:candidate")
    docker(docker_env, "pull", f"{repo}:candidate")
    docker(docker_env, "tag", f"{repo}:candidate", f"{repo}:1.0")
    pushed = docker(docker_env, "push", f"{repo}:1.0", check=False)
    print(pushed.stdout, pushed.stderr)
    assert pushed.returncode != 0
    assert "denied: tag 1.0 of release/web is immutable (rule release/*)" in pushed.stderr
    assert "cannot be moved" in pushed.stderr
