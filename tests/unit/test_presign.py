"""The hand-written SigV4 GET presigner makes exactly botocore's URL, and S3 (moto) serves it."""

from __future__ import annotations

import calendar
import datetime

import boto3
import httpx
import pytest
from botocore.config import Config

from dockyard.storage.presign import GetSigner, presigned_get

KEYS = ["blobs/sha256/ab/" + "ab" * 32, "a b+c~d", "ünïcode/ключ", "x=1&y=2?z#frag", "//double//slash/", "%41%"]
TIMES = ["2026-12-01T13:20:00", "2026-12-31T23:59:59", "2027-01-01T00:00:00", "2024-02-29T12:00:00"]


def _client(region="us-east-1", endpoint=None, style="auto", token=None, key="AKIDEXAMPLE", secret="wJalr/K7+MDENG"):
    session = boto3.session.Session(region_name=region, aws_access_key_id=key, aws_secret_access_key=secret,
                                    aws_session_token=token)
    return session.client("s3", endpoint_url=endpoint,
                          config=Config(signature_version="s3v4", s3={"addressing_style": style}))


def _botocore_url(client, monkeypatch, bucket, key, expires, when: str) -> str:
    fixed = datetime.datetime.fromisoformat(when)
    monkeypatch.setattr("botocore.auth.get_current_datetime", lambda *a, **k: fixed)
    return client.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=expires)


@pytest.mark.parametrize("config", [
    {"endpoint": "http://127.0.0.1:5000", "style": "path"},
    {"region": "eu-west-1", "endpoint": "http://localhost:4566", "style": "path"},
    {},
    {"region": "eu-west-1"},
    {"region": "ap-southeast-2", "style": "virtual"},
    {"token": "IQoJb3JpZ2luX2Vj/EHwaCXVzLWVhc3QtMSJH+MEUCIQ==", "region": "us-west-2"},
], ids=["moto-path", "other-endpoint", "aws-us-east-1", "aws-eu-west-1", "aws-virtual", "session-token"])
@pytest.mark.parametrize("bucket", ["dockyard-blobs", "dotted.bucket.name"])
def test_the_url_is_botocores(monkeypatch, config, bucket):
    client = _client(**config)
    signer = GetSigner(client, bucket)
    for when in TIMES:
        now = calendar.timegm(datetime.datetime.fromisoformat(when).timetuple())
        for key in KEYS:
            for expires in (1, 300, 604800):
                assert signer.url(key, expires, now=now) == _botocore_url(client, monkeypatch, bucket, key, expires,
                                                                         when)


def test_refreshed_credentials_are_used(monkeypatch):
    """Credentials are read per URL: after a change (a refreshed role session), URLs carry the new ones."""
    client = _client(token="first-token")
    signer = GetSigner(client, "b")
    now = calendar.timegm(datetime.datetime.fromisoformat(TIMES[0]).timetuple())
    first = signer.url("k", 60, now=now)
    credentials = client._request_signer._credentials
    credentials.access_key, credentials.secret_key, credentials.token = "AKIDSECOND", "other-secret", "second-token"
    second = signer.url("k", 60, now=now)
    assert "AKIDSECOND" in second and "second-token" in second and first != second
    assert second == _botocore_url(client, monkeypatch, "b", "k", 60, TIMES[0])


def test_s3_serves_the_url(settings):
    """Over moto in server mode, the URL fetches the object (moto does not check signatures: the test above
    is what proves them right)."""
    from dockyard.storage.aws import make_clients

    s3, _ = make_clients(settings)
    s3.put_object(Bucket=settings.bucket, Key="blobs/sha256/ab/some object", Body=b"the bytes")
    url = presigned_get(s3, settings.bucket, "blobs/sha256/ab/some object", 60)
    assert url.startswith(settings.endpoint_url + f"/{settings.bucket}/blobs/sha256/ab/some%20object?")
    response = httpx.get(url)
    assert response.status_code == 200 and response.content == b"the bytes"
    assert presigned_get(s3, settings.bucket, "blobs/missing", 60) != url
    assert httpx.get(presigned_get(s3, settings.bucket, "blobs/missing", 60)).status_code == 404
