"""The edge key custom resource, driven with CloudFormation's events over moto's Secrets Manager: it answers
CloudFormation's response URL (a loopback stand-in here) with the public key, and keeps the private key in
the secret only."""

from __future__ import annotations

import json
import logging
import uuid

import pytest

from dockyard.edge_keys import handler
from dockyard.resources import Env
from dockyard.storage.edge import load_key, public_pem
from tests.support.edge import CloudFormationStandIn


@pytest.fixture
def cloudformation():
    stand_in = CloudFormationStandIn()
    yield stand_in.url, stand_in.answers
    stand_in.stop()


@pytest.fixture
def secret(settings, monkeypatch):
    from dockyard.storage.aws import secrets_client

    monkeypatch.setenv(Env.ENDPOINT_URL, settings.endpoint_url)
    monkeypatch.setenv(Env.REGION, settings.region)
    client = secrets_client(settings)
    arn = client.create_secret(Name=f"edge-{uuid.uuid4().hex[:8]}", SecretString="a placeholder the stack made")["ARN"]
    return client, arn


def event(kind: str, url: str, secret_id: str, physical: str | None = None) -> dict:
    return {"RequestType": kind, "ResponseURL": url, "StackId": "arn:aws:cloudformation:us-east-1:1:stack/D/1",
            "RequestId": str(uuid.uuid4()), "LogicalResourceId": "EdgeKey", "ResourceType": "Custom::DockyardEdgeKey",
            "ResourceProperties": {"ServiceToken": "arn:aws:lambda:us-east-1:1:function:k", "SecretId": secret_id},
            **({"PhysicalResourceId": physical} if physical else {})}


def test_create_makes_a_key_and_answers_only_its_public_half(cloudformation, secret, caplog):
    url, answers = cloudformation
    client, arn = secret
    caplog.set_level(logging.INFO)  # what the function logs at (the app INFO; botocore only debugs bodies)
    handler(event("Create", url, arn), None)
    [(content_type, answer)] = answers
    assert content_type == "" and answer["Status"] == "SUCCESS", answer
    assert answer["PhysicalResourceId"] == arn and answer["LogicalResourceId"] == "EdgeKey"
    stored = client.get_secret_value(SecretId=arn)["SecretString"]
    assert answer["Data"] == {"PublicKey": public_pem(load_key(stored))}
    assert answer["Data"]["PublicKey"].startswith("-----BEGIN PUBLIC KEY-----")
    assert "PRIVATE" not in json.dumps(answer) and stored.splitlines()[1] not in caplog.text
    assert "PRIVATE" not in caplog.text


def test_update_and_repeats_keep_the_key_and_delete_leaves_it(cloudformation, secret):
    url, answers = cloudformation
    client, arn = secret
    handler(event("Create", url, arn), None)
    stored = client.get_secret_value(SecretId=arn)["SecretString"]
    handler(event("Create", url, arn), None)  # CloudFormation retried
    handler(event("Update", url, arn, physical=arn), None)
    handler(event("Delete", url, arn, physical=arn), None)
    assert [a["Status"] for _, a in answers] == ["SUCCESS"] * 4
    assert len({a["Data"]["PublicKey"] for _, a in answers[:3]}) == 1 and answers[3][1]["Data"] == {}
    assert client.get_secret_value(SecretId=arn)["SecretString"] == stored


def test_a_failure_is_answered_so_that_cloudformation_does_not_wait(cloudformation, secret, caplog):
    url, answers = cloudformation
    handler(event("Create", url, secret[1] + "-missing"), None)
    [(_, answer)] = answers
    assert answer["Status"] == "FAILED" and "ResourceNotFoundException" in answer["Reason"]
    assert answer["Data"] == {} and "Traceback" not in caplog.text
