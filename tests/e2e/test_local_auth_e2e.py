"""`dockyard serve --auth` with its embedded backend: a key holder learns moto's port from a blob's
`Location`, and tries to go around the registry. Everything but the registry's own presigned URLs fails."""

from __future__ import annotations

import hashlib
import re
import time
from urllib.parse import urlsplit

import boto3
import httpx
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from dockyard.resources import Env
from tests.support.processes import Server

pytestmark = pytest.mark.e2e
ADMIN = ("local-admin", "dys_" + "l" * 43)
TTL = 4  # seconds a presigned URL lives here


@pytest.fixture
def secured():
    server = Server("--auth", "--presign-ttl", str(TTL), env={Env.ADMIN_KEY_ID: ADMIN[0], Env.ADMIN_SECRET: ADMIN[1]})
    yield server
    server.stop()


def clients(endpoint: str, key: str, secret: str):
    config = Config(retries={"total_max_attempts": 1}, signature_version="s3v4", s3={"addressing_style": "path"})
    return [boto3.client(service, endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id=key,
                         aws_secret_access_key=secret, config=config)
            for service in ("s3", "dynamodb", "secretsmanager")]


def attempts(s3, dynamodb, secrets):
    """What an attacker would do with the backend: read keys, add an admin key, read or plant blobs."""
    yield "scan the table", lambda: dynamodb.scan(TableName="dockyard-local")
    yield "add an admin key", lambda: dynamodb.put_item(TableName="dockyard-local", Item={
        "pk": {"S": "auth"}, "sk": {"S": "key#dyk_evil"}})
    yield "list the tables", lambda: dynamodb.list_tables()
    yield "list the blobs", lambda: s3.list_objects_v2(Bucket="dockyard-local")
    yield "plant a blob", lambda: s3.put_object(Bucket="dockyard-local", Key="blobs/evil", Body=b"x")
    yield "read the signing keys", lambda: secrets.get_secret_value(SecretId="dockyard-local-signing")


def test_the_embedded_backend_takes_only_the_registrys_own_requests(secured):
    base = secured.url
    layer = b"a private layer" * 1000
    digest = "sha256:" + hashlib.sha256(layer).hexdigest()
    assert httpx.post(f"{base}/v2/team/app/blobs/uploads/", params={"digest": digest}, content=layer,
                      auth=ADMIN).status_code == 201
    key = httpx.post(f"{base}/dockyard/v1/keys", json={"name": "reader", "allow": ["team/*=pull"]}, auth=ADMIN).json()
    reader = (key["id"], key["secret"])

    location = httpx.get(f"{base}/v2/team/app/blobs/{digest}", auth=reader).headers["Location"]
    endpoint = "{0.scheme}://{0.netloc}".format(urlsplit(location))
    url_key = re.search(r"X-Amz-Credential=([A-Z0-9]+)", location).group(1)
    assert endpoint != base and httpx.get(location).content == layer  # the presigned URL itself works

    for who, credentials in {"made-up credentials": ("AKIAIOSFODNN7EXAMPLE", "x" * 40),
                             "the URL's key id, a guessed secret": (url_key, "y" * 40),
                             "the old fixed local credentials": ("dockyard-local", "dockyard-local")}.items():
        for what, attempt in attempts(*clients(endpoint, *credentials)):
            with pytest.raises(ClientError) as refused:
                attempt()
            assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403, (who, what)

    # moto's own API (a dump of everything, turning authentication off) is closed ...
    assert httpx.get(f"{endpoint}/moto-api/data.json").status_code == 403
    assert httpx.post(f"{endpoint}/moto-api/reset-auth", content=b"inf").status_code == 403
    assert httpx.put(f"{endpoint}/dockyard-local/blobs/evil", content=b"x").status_code == 403  # unsigned
    # ... and a presigned URL is good for its own request only, and only until it expires.
    other_key = location.split("?")[0].rsplit("/", 1)[0] + "/" + "0" * 64
    assert httpx.get(other_key + "?" + location.split("?", 1)[1]).status_code == 403
    assert httpx.put(location, content=b"overwrite").status_code == 403
    assert httpx.get(location.replace("X-Amz-Expires=", "X-Amz-Expires=9")).status_code == 403
    time.sleep(TTL + 1)
    assert httpx.get(location).status_code == 403

    # Nothing changed: no key was added, the blob is intact.
    ids = [k["id"] for k in httpx.get(f"{base}/dockyard/v1/keys", auth=ADMIN).json()["keys"]]
    assert sorted(ids) == sorted([ADMIN[0], reader[0]])
    fresh = httpx.get(f"{base}/v2/team/app/blobs/{digest}", auth=reader, follow_redirects=True)
    assert fresh.content == layer
