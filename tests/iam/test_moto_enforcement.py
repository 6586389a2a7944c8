"""The harness can fail: what moto enforces, probed directly, and a policy missing one action breaking the
one path that needs it (while the full policy passes every path in `test_function_policy.py`)."""

from __future__ import annotations

import json
import os

import httpx
import pytest
from botocore.exceptions import ClientError

from dockyard.resources import BOOTSTRAP_KEY_ID
from tests.support.auth import basic
from tests.support.oci import OCI_MANIFEST, sha256


def _denied(call) -> str:
    with pytest.raises(ClientError) as raised:
        call()
    return raised.value.response["Error"]["Code"]


def test_moto_enforces_s3_resources_and_the_actions_of_the_other_services(deployment, iam_moto):
    keys = deployment.user_for()
    s3 = iam_moto.client("s3", keys)
    s3.put_object(Bucket=deployment.name, Key="blobs/probe", Body=b"x")
    assert _denied(lambda: s3.put_object(Bucket=deployment.name, Key="elsewhere/probe", Body=b"x")) == "AccessDenied"
    assert _denied(lambda: s3.delete_bucket(Bucket=deployment.name)) == "AccessDenied"
    dynamodb = iam_moto.client("dynamodb", keys)
    dynamodb.get_item(TableName=deployment.name, Key={"pk": {"S": "probe"}, "sk": {"S": "probe"}})
    assert "dynamodb:Scan" not in json.dumps(deployment.statements())
    assert _denied(lambda: dynamodb.scan(TableName=deployment.name))
    assert _denied(lambda: dynamodb.delete_table(TableName=deployment.name))
    secrets = iam_moto.client("secretsmanager", keys)
    assert _denied(lambda: secrets.list_secrets())
    assert _denied(lambda: iam_moto.client("s3", (keys[0], "not-the-secret")).get_object(
        Bucket=deployment.name, Key="blobs/probe")) == "SignatureDoesNotMatch"


def test_a_presigned_url_is_only_as_good_as_its_signer(deployment, iam_moto):
    s3 = iam_moto.client("s3", deployment.user_for())
    s3.put_object(Bucket=deployment.name, Key="blobs/signed", Body=b"signed")
    url = s3.generate_presigned_url("get_object", Params={"Bucket": deployment.name, "Key": "blobs/signed"})
    assert httpx.get(url).content == b"signed"
    outside = s3.generate_presigned_url("get_object", Params={"Bucket": deployment.name, "Key": "other/x"})
    assert httpx.get(outside).status_code == 403
    assert httpx.get(url.replace("X-Amz-Credential=", "X-Amz-Credential=AKIAUNKNOWN")).status_code == 403


@pytest.fixture(scope="module")
def pushed(registry, deployment):
    """A blob and a tag, pushed with the full policy."""
    admin = basic(BOOTSTRAP_KEY_ID, deployment.admin_secret)
    with httpx.Client(base_url=registry.url, timeout=60) as http:
        data = os.urandom(1000)
        response = http.post("/v2/team/can-fail/blobs/uploads/", params={"digest": sha256(data)}, content=data,
                             headers=admin)
        assert response.status_code == 201, response.text
        return sha256(data)


def _monolithic(http, admin, _):
    data = os.urandom(100)
    return http.post("/v2/team/can-fail/blobs/uploads/", params={"digest": sha256(data)}, content=data, headers=admin)


def _tags(http, admin, _):
    return http.get("/v2/team/can-fail/tags/list", headers=admin)


def _token(http, admin, _):
    return http.get("/token", params={"service": "dockyard", "scope": "repository:team/can-fail:pull"}, headers=admin)


def _direct_multipart(http, admin, _):
    return http.post("/dockyard/v1/direct/team/can-fail/blobs", headers=admin, json={
        "digest": sha256(b"m" * 100), "size": 12 * 1024 * 1024, "multipart": True})


def _manifest_put(http, admin, digest):
    manifest = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": {
        "mediaType": "application/vnd.oci.image.config.v1+json", "digest": digest, "size": 1000}, "layers": []})
    return http.put("/v2/team/can-fail/manifests/v1", content=manifest, headers={**admin,
                                                                                 "Content-Type": OCI_MANIFEST})


def _blob_download(http, admin, digest):
    redirect = http.get(f"/v2/team/can-fail/blobs/{digest}", headers=admin)
    assert redirect.status_code == 307, redirect.text
    return httpx.get(redirect.headers["location"])


@pytest.mark.parametrize("action,path,status", [
    ("s3:PutObject", _monolithic, 500),
    ("dynamodb:Query", _tags, 500),
    ("secretsmanager:GetSecretValue", _token, 500),
    ("s3:ListMultipartUploadParts", _direct_multipart, 500),
    ("dynamodb:ConditionCheckItem", _manifest_put, 500),
    ("s3:GetObject", _blob_download, 403),
], ids=["put-object", "query", "get-secret", "list-parts", "transaction", "presigned-get"])
def test_a_policy_missing_one_action_breaks_the_path_that_needs_it(deployment, pushed, action, path, status):
    process = deployment.serve(deployment.user_for(without=action))
    try:
        with httpx.Client(base_url=process.url, timeout=60) as http:
            response = path(http, basic(BOOTSTRAP_KEY_ID, deployment.admin_secret), pushed)
        assert response.status_code == status, response.text
        if status == 500:
            assert f"not authorized to perform: {action}" in process.log_text() or \
                "AccessDenied" in process.log_text(), process.log_text()[-2000:]
    finally:
        process.stop()
