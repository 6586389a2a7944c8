"""Governance with real clients against `dockyard serve --auth`: rules set with the CLI, refusals as skopeo
prints them."""

from __future__ import annotations

import json
import os

import httpx

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
def backend(moto_endpoint):
    """The module's bucket and table, and clients that read them independently of the registry."""
    import boto3

    name = f"gov-{os.urandom(4).hex()}"
    clients = {service: boto3.client(service, endpoint_url=moto_endpoint, region_name="us-east-1")
               for service in ("s3", "dynamodb")}
    return name, clients


@pytest.fixture(scope="module")
def secured(moto_endpoint, backend):
    name = backend[0]
    server = Server("--endpoint-url", moto_endpoint, "--bucket", name, "--table", name, "--auth",
                    "--signing-secret", f"{name}-signing",
                    env={Env.ADMIN_KEY_ID: ADMIN_ID, Env.ADMIN_SECRET: ADMIN_SECRET, Env.METER_INTERVAL: "0",
                         Env.QUOTA_CACHE_TTL: "1"})
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


def refused_docker_push(docker_env, source: str, target: str):
    """docker pulls `source`, tags it `target` and pushes that, which must fail; its output is printed."""
    docker(docker_env, "pull", source)
    docker(docker_env, "tag", source, target)
    pushed = docker(docker_env, "push", target, check=False)
    print(pushed.stdout, pushed.stderr)
    assert pushed.returncode != 0
    return pushed


def test_docker_push_of_a_moved_immutable_tag_reads_sensibly(secured, docker_env, tmp_path):
    cli(secured, "immutability", "set", "release/*")
    repo = f"{secured.host}/release/web"
    copy = ("copy", "--dest-tls-verify=false", "--dest-creds", CREDS)
    skopeo(*copy, image(tmp_path / "one", 3000)[0], f"docker://{repo}:1.0")
    skopeo(*copy, image(tmp_path / "two", 3000)[0], f"docker://{repo}:candidate")
    pushed = refused_docker_push(docker_env, f"{repo}:candidate", f"{repo}:1.0")
    assert "denied: tag 1.0 of release/web is immutable (rule release/*)" in pushed.stderr
    assert "cannot be moved" in pushed.stderr


MIB = 1024 * 1024


def test_a_quota_takes_the_small_image_and_refuses_the_large_one_leaving_nothing_visible(secured, tmp_path):
    assert "team/*  0 B of 50.0 MiB used (active)" in cli(secured, "quota", "set", "team/*", "--bytes", "50MiB")
    copy = ("copy", "--dest-tls-verify=false", "--dest-creds", CREDS)
    small, small_digest = image(tmp_path / "small", 5 * MIB)
    skopeo(*copy, small, f"docker://{secured.host}/team/small:1")
    large, large_digest = image(tmp_path / "large", 100 * MIB)
    message = refused(*copy, large, f"docker://{secured.host}/team/large:1")
    print(message)
    assert "denied: quota exceeded in namespace team/*: 5.0 MiB of 50.0 MiB used, and blob sha256:" in message
    assert "of team/large needs 100.0 MiB more" in message
    [quota] = json.loads(cli(secured, "quota", "list", "--json"))
    assert quota["pattern"] == "team/*" and 5 * MIB < quota["used"] < 6 * MIB
    inspect = ("inspect", "--tls-verify=false", "--creds", CREDS)
    assert "manifest unknown" in refused(*inspect, f"docker://{secured.host}/team/large:1")
    layout = json.loads((tmp_path / "large" / "blobs" / "sha256" / large_digest.split(":")[1]).read_text())
    for blob in [layout["config"], *layout["layers"]]:
        response = httpx.head(f"{secured.url}/v2/team/large/blobs/{blob['digest']}", auth=(ADMIN_ID, ADMIN_SECRET))
        assert response.status_code == 404, blob


def test_docker_push_over_a_quota_reads_sensibly(secured, docker_env, tmp_path):
    cli(secured, "quota", "set", "dock/*", "--bytes", "8MiB")
    copy = ("copy", "--dest-tls-verify=false", "--dest-creds", CREDS)
    skopeo(*copy, image(tmp_path / "big", 12 * MIB)[0], f"docker://{secured.host}/source/big:1")
    pushed = refused_docker_push(docker_env, f"{secured.host}/source/big:1", f"{secured.host}/dock/big:1")
    assert "denied: quota exceeded in namespace dock/*: 0 B of 8.0 MiB used" in pushed.stderr
    assert json.loads(cli(secured, "quota", "list", "--json"))[-1]["used"] < 8 * MIB


def independent_counts(backend, repos: set[str]) -> dict[str, dict]:
    """Per repository, from a scan of the table and S3's own object sizes: blob bytes, how many of them are
    shared with another repository, manifests and tags."""
    name, clients = backend
    items = clients["dynamodb"].scan(TableName=name, ConsistentRead=True)["Items"]
    links: dict[str, dict[str, str]] = {}
    for item in items:
        pk, sk = item["pk"]["S"], item["sk"]["S"]
        if pk.startswith("repo#") and sk.startswith("blob#"):
            links.setdefault(pk[5:], {})[sk[5:]] = item["location"]["S"]
    holders: dict[str, int] = {}
    for held in links.values():
        for digest in held:
            holders[digest] = holders.get(digest, 0) + 1
    counts = {}
    for repo in repos:
        sizes = {d: clients["s3"].head_object(Bucket=name, Key=loc)["ContentLength"]
                 for d, loc in links.get(repo, {}).items()}
        kinds = [item["sk"]["S"].split("#")[0] for item in items if item["pk"]["S"] == f"repo#{repo}"]
        counts[repo] = {"blob_bytes": sum(sizes.values()),
                        "shared_bytes": sum(size for d, size in sizes.items() if holders[d] > 1),
                        "manifests": kinds.count("manifest"), "tags": kinds.count("tag")}
    return counts


def test_usage_json_matches_s3_and_dynamodb_counted_independently(secured, backend, tmp_path):
    copy = ("copy", "--dest-tls-verify=false", "--dest-creds", CREDS)
    source, digest = image(tmp_path / "app", 300_000)
    for repo in ("usage/a", "usage/b"):
        skopeo(*copy, source, f"docker://{secured.host}/{repo}:1")
    skopeo(*copy, image(tmp_path / "own", 200_000)[0], f"docker://{secured.host}/usage/a:2")
    skopeo("copy", "--src-tls-verify=false", "--src-creds", CREDS, f"docker://{secured.host}/usage/a:1",
           f"oci:{tmp_path / 'pulled'}:1")
    report = json.loads(cli(secured, "usage", "--json", "--since", "7d", "usage/*"))
    found = {r["repository"]: r for r in report["repositories"]}
    expected = independent_counts(backend, {"usage/a", "usage/b"})
    for repo, counted in expected.items():
        stored = found[repo]["stored"]
        assert {k: stored[k] for k in counted} == counted, repo
        assert stored["unique_bytes"] + stored["shared_bytes"] == counted["blob_bytes"]
    a = found["usage/a"]
    assert a["activity"]["pushes"] == 2 and a["activity"]["pulls"] >= 1
    # the pull fetched image 1's blobs: its layer redirected to S3, its config maybe served from memory
    assert a["activity"]["download_bytes"] == expected["usage/b"]["blob_bytes"]
    assert a["activity"]["redirect_bytes"] + a["activity"]["served_bytes"] == a["activity"]["download_bytes"]
    assert a["last_pull"] and a["last_push"] and report["days"] == 7
    assert a["monthly_cost_usd"]["total"] > 0 and report["model"]["source"]
    table = cli(secured, "usage", "usage/*")
    assert "usage/a" in table and "usage/b" in table
