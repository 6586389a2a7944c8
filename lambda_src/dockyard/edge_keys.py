"""The custom resource that makes the signing key of edge downloads, at deploy time, in a function of its own.

CloudFormation calls `handler` on Create, Update and Delete of `Custom::DockyardEdgeKey`. On Create and
Update it makes sure the secret `SecretId` holds an RSA 2048 private key (a new one the first time; the one
it holds after that, so that a repeated or updated call never changes the key under running hosts), and
answers the public key (`PublicKey`), which the stack gives to CloudFront's key group. The private key goes
from this function to Secrets Manager and nowhere else: not into the answer, the template or a log line.
Delete does nothing: the secret goes (or stays) with the stack, by its own removal policy.
"""

from __future__ import annotations

import json
import logging
import urllib.request

log = logging.getLogger("dockyard")
RESPONSE_TIMEOUT = 30  # seconds, for the answer to CloudFormation's presigned S3 URL


def ensure_key(client, secret_id: str) -> str:
    """The public key PEM of the key in `secret_id`, made and stored first if the secret holds none."""
    from dockyard.storage.edge import generate_key, load_key, public_pem, read_key

    try:
        return public_pem(load_key(read_key(client, secret_id)))
    except ValueError:  # the stack's placeholder value (or anything else that is not a key): make one
        private, public = generate_key()
        client.put_secret_value(SecretId=secret_id, SecretString=private)
        log.info("edge signing key: a new RSA key stored in its secret")
        return public


def handler(event, context) -> None:
    status, data, reason = "SUCCESS", {}, ""
    try:
        if event["RequestType"] in ("Create", "Update"):
            from dockyard.config import Settings
            from dockyard.storage.aws import secrets_client

            data = {"PublicKey": ensure_key(secrets_client(Settings.from_env()),
                                            event["ResourceProperties"]["SecretId"])}
    except Exception as exc:  # the answer must go back, or CloudFormation waits for an hour
        code = getattr(exc, "response", {}).get("Error", {}).get("Code")  # AWS's error code, if it is one
        what = f"{type(exc).__name__}{f' ({code})' if code else ''}"
        status, reason = "FAILED", f"{what}: the edge signing key could not be made"
        log.error("edge signing key failed: %s", what)
    respond(event, status, data, reason, getattr(context, "log_stream_name", ""))


def respond(event: dict, status: str, data: dict, reason: str = "", log_stream: str = "") -> None:
    """PUT the answer to CloudFormation's presigned URL. The physical id is the secret's: stable, so that an
    update never replaces the resource."""
    body = json.dumps({
        "Status": status, "Reason": reason or f"log stream {log_stream}",
        "PhysicalResourceId": event.get("PhysicalResourceId") or event["ResourceProperties"]["SecretId"],
        "StackId": event["StackId"], "RequestId": event["RequestId"],
        "LogicalResourceId": event["LogicalResourceId"], "Data": data,
    }).encode()
    request = urllib.request.Request(event["ResponseURL"], data=body, method="PUT",
                                     headers={"Content-Type": "", "Content-Length": str(len(body))})
    with urllib.request.urlopen(request, timeout=RESPONSE_TIMEOUT) as answer:
        answer.read()
