"""Edge downloads under the synthesized policies, enforced by moto's IAM: the key maker makes the key as its
own role, and the registry reads it as its role and signs blob URLs that the key maker's public key verifies.
A key maker without PutSecretValue fails (the harness can fail)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid

import httpx
import pytest

from dockyard.resources import BOOTSTRAP_KEY_ID, Env
from infra.constructs.edge import KEY_MAKER_HANDLER
from tests.support import stack_template
from tests.support.deployment import Deployment
from tests.support.auth import basic
from tests.support.edge import CloudFormationStandIn, verify_signed_url
from tests.support.oci import sha256
from tests.support.stack_template import REGION, ROOT


@pytest.fixture(scope="module")
def deployment(iam_moto):
    return Deployment(iam_moto, stack_template.template({"dockyard:edgeDownloads": "true"}))


def make_key(deployment, keys: tuple[str, str]) -> dict:
    """Run the key maker's handler as `keys` on a Create event; returns CloudFormation's answer."""
    cloudformation = CloudFormationStandIn()
    event = {"RequestType": "Create", "ResponseURL": cloudformation.url,
             "StackId": "s", "RequestId": str(uuid.uuid4()), "LogicalResourceId": "EdgeKey",
             "ResourceProperties": {"SecretId": deployment.edge_secret}}
    env = {**os.environ, **deployment.environment(KEY_MAKER_HANDLER), Env.ENDPOINT_URL: deployment.moto.endpoint,
           "AWS_ACCESS_KEY_ID": keys[0], "AWS_SECRET_ACCESS_KEY": keys[1], "AWS_DEFAULT_REGION": REGION,
           "PYTHONPATH": str(ROOT / "lambda_src")}
    try:
        subprocess.run([sys.executable, "-c", "import json, sys; from dockyard.edge_keys import handler; "
                        "handler(json.loads(sys.argv[1]), None)", json.dumps(event)],
                       env=env, check=True, timeout=120, capture_output=True)
    finally:
        cloudformation.stop()
    [(_, answer)] = cloudformation.answers
    return answer


def test_a_key_maker_without_put_secret_value_cannot_make_the_key(deployment):
    answer = make_key(deployment, deployment.user_for(KEY_MAKER_HANDLER, without="secretsmanager:PutSecretValue"))
    assert answer["Status"] == "FAILED" and "ClientError" in answer["Reason"], answer
    stored = deployment.secrets.get_secret_value(SecretId=deployment.edge_secret)["SecretString"]
    assert stored == "a placeholder"


def test_the_key_maker_makes_the_key_and_the_registry_signs_with_it(deployment):
    answer = make_key(deployment, deployment.user_for(KEY_MAKER_HANDLER))
    assert answer["Status"] == "SUCCESS", answer
    registry = deployment.serve(deployment.user_for())
    try:
        with httpx.Client(base_url=registry.url, timeout=60) as http:
            admin = basic(BOOTSTRAP_KEY_ID, deployment.admin_secret)
            blob = os.urandom(2000)
            digest = sha256(blob)
            pushed = http.post("/v2/team/edge/blobs/uploads/", params={"digest": digest}, content=blob, headers=admin)
            assert pushed.status_code == 201, pushed.text
            redirect = http.get(f"/v2/team/edge/blobs/{digest}", headers=admin)
        assert redirect.status_code == 307, redirect.text
        location = redirect.headers["location"]
        assert location.startswith("https://d111111abcdef8.cloudfront.net/sha256/")
        assert verify_signed_url(location, answer["Data"]["PublicKey"], deployment.edge_key_id).startswith("/sha256/")
    finally:
        registry.stop()
