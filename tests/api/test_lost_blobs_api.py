"""No lost blobs: a process that dies at any point of an upload's commit never leaves a linked blob whose
object still carries the `unverified` tag (which a lifecycle rule expires two days later).

The crash is a fault injected into one boto3 operation: the process "dies" there, and no AWS call leaves it
afterwards, as when Lambda times out or the host is killed.
"""

from __future__ import annotations

import dataclasses
import os
import time

import httpx
import pytest
from fastapi.testclient import TestClient

from dockyard.app import create_app
from dockyard.domain.digest import Digest
from dockyard.factory import build_registry
from dockyard.resources import UNVERIFIED_TAG
from dockyard.storage.aws import new_clients
from tests.support.oci import sha256

NAME = "team/app"
BLOB = os.urandom(6 * 1024 * 1024)  # a part and a bit: assembled in S3, so tagged until verified


class Crash(Exception):
    """The process dies here. The registry may try to clean up after it, but none of its calls goes out."""


class DiesAt:
    """Kills the process at `event` (a botocore event, e.g. after a call returned), then refuses every call."""

    def __init__(self, registry, event: str):
        self.dead = False
        self.clients = [registry.storage.objects.client, registry.storage.blobs.table.client]
        for client in self.clients:
            client.meta.events.register_first("before-call.*.*", self._refuse)
            client.meta.events.register(event, self._die)

    def _die(self, **_):
        self.dead = True
        raise Crash("died")

    def _refuse(self, **_):
        if self.dead:
            raise Crash("already dead")


def upload_chunked(client) -> None:
    location = client.post(f"/v2/{NAME}/blobs/uploads/").headers["Location"]
    location = client.patch(location, content=BLOB).headers["Location"]
    client.put(location, params={"digest": sha256(BLOB)})


def upload_direct(client) -> None:
    """As `dockyard push` does: a retry resumes the same session, and waits out a dead writer's lease."""
    plan = client.post(f"/dockyard/v1/direct/{NAME}/blobs", json={"digest": sha256(BLOB), "size": len(BLOB),
                                                                   "multipart": True}).json()
    for part in plan["parts"]:
        assert httpx.put(part["url"], content=BLOB[part["offset"]:part["offset"] + part["size"]]).status_code == 200
    for _ in range(5):
        done = client.post(f"/dockyard/v1/direct/{NAME}/blobs/{plan['upload']}/complete")
        if done.status_code != 409:
            return
        time.sleep(int(done.headers["Retry-After"]))


def tags(s3, bucket: str, key: str) -> set[tuple[str, str]]:
    return {(t["Key"], t["Value"]) for t in s3.get_object_tagging(Bucket=bucket, Key=key)["TagSet"]}


@pytest.mark.parametrize("upload", [upload_chunked, upload_direct], ids=["chunked", "direct"])
@pytest.mark.parametrize("event", ["after-call.dynamodb.TransactWriteItems", "before-call.dynamodb.TransactWriteItems",
                                   "after-call.s3.DeleteObjectTagging"])
def test_a_crash_anywhere_in_the_commit_never_leaves_a_linked_blob_to_expire(settings, upload, event):
    settings = dataclasses.replace(settings, upload_lease=2)  # so that a retry need not wait long for the dead
    doomed = build_registry(settings, *new_clients(settings.region, settings.endpoint_url))
    DiesAt(doomed, event)
    with TestClient(create_app(settings, doomed), raise_server_exceptions=False) as client:
        upload(client)  # answered 500, if at all
    after = build_registry(settings, *new_clients(settings.region, settings.endpoint_url))  # the next process
    digest = Digest.parse(sha256(BLOB))
    if after.storage.blobs.get_link(NAME, digest) is None:  # the push failed as a whole: the client retries
        with TestClient(create_app(settings, after)) as client:
            upload(client)
            assert client.head(f"/v2/{NAME}/blobs/{sha256(BLOB)}").status_code == 200
    link = after.storage.blobs.get_link(NAME, digest)
    assert UNVERIFIED_TAG not in tags(after.storage.objects.client, settings.bucket, link.location)
