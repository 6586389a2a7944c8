"""moto in server mode with IAM access control enforced, in a process of its own (moto's switch is global to
a process, and the rest of the suite runs without it).

    python -m tests.support.iam_moto      prints `READY <endpoint> <admin key id> <admin secret>`

From the first request on, every call must be signed by a known IAM user and be allowed by that user's
policies. An `admin` user (everything allowed) sets up each test's bucket, table, secrets and users.

What moto 5.2.5 enforces (read in moto's source, and checked by `tests/iam/test_moto_enforcement.py`):
- S3: the action and the resource ARN (`arn:aws:s3:::bucket` or `.../key`), and the SigV4 signature.
  Conditions other than StringEquals are ignored (so `s3:prefix` conditions are never evaluated), a missing
  key is 404 whatever ListBucket says, DeleteObjectTagging is authorized as s3:DeleteObject, and a PUT
  with `x-amz-tagging` needs no s3:PutObjectTagging.
- DynamoDB, Secrets Manager and IAM: the action only, against resource `*`: a statement naming a table or a
  secret never matches. The harness therefore grants those statements on `*` for moto, after checking
  itself that each of their resources resolves to this test's own table or secret.
- Presigned URLs: moto answers 500 to a query-signed request when access control is on. This server
  authorizes them as the user who signed them: `PresignedAsSigner` checks that the key exists and the URL has
  not expired, then re-signs the request in the header form with that user's secret, so that moto applies
  that user's policy to the action (GetObject, PutObject, UploadPart). The query signature itself is not
  recomputed (moto never checks it either; see PITFALLS).
"""

from __future__ import annotations

import datetime
import json
import os
import subprocess
import sys
import threading
from pathlib import Path
from urllib.parse import parse_qsl, urlencode

ACCOUNT = "123456789012"
ADMIN_POLICY = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
_QUERY_AUTH = {"x-amz-algorithm", "x-amz-credential", "x-amz-date", "x-amz-expires", "x-amz-signedheaders",
               "x-amz-signature", "x-amz-security-token"}
ROOT = Path(__file__).resolve().parents[2]


class PresignedAsSigner:
    """WSGI middleware: a query-signed S3 request is re-signed in the header form as the key that signed it."""

    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        params = parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True)
        auth = {k.lower(): v for k, v in params if k.lower() in _QUERY_AUTH}
        if "x-amz-signature" in auth and "HTTP_AUTHORIZATION" not in environ:
            refusal = self._resign(environ, auth, [(k, v) for k, v in params if k.lower() not in _QUERY_AUTH])
            if refusal:
                body = f"<Error><Code>AccessDenied</Code><Message>{refusal}</Message></Error>".encode()
                start_response("403 Forbidden", [("Content-Type", "application/xml"),
                                                 ("Content-Length", str(len(body)))])
                return [body]
        return self.app(environ, start_response)

    @staticmethod
    def _resign(environ, auth: dict, rest: list) -> str | None:
        from botocore.auth import S3SigV4Auth
        from botocore.awsrequest import AWSRequest
        from botocore.credentials import Credentials
        from moto.iam.models import iam_backends

        key_id, _, region, service, _ = auth["x-amz-credential"].split("/")
        signed_at = datetime.datetime.strptime(auth["x-amz-date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=datetime.UTC)
        now = datetime.datetime.now(datetime.UTC)
        if now > signed_at + datetime.timedelta(seconds=int(auth.get("x-amz-expires", "0"))):
            return "Request has expired"
        secret = next((k.secret_access_key for u in iam_backends[ACCOUNT]["aws"].users.values()
                       for k in u.access_keys if k.access_key_id == key_id), None)
        if secret is None:
            return "The AWS Access Key Id you provided does not exist in our records."
        query = urlencode(rest)
        environ["QUERY_STRING"] = query
        timestamp = now.strftime("%Y%m%dT%H%M%SZ")
        headers = {"Host": environ["HTTP_HOST"], "X-Amz-Date": timestamp, "X-Amz-Content-SHA256": "UNSIGNED-PAYLOAD"}
        request = AWSRequest(method=environ["REQUEST_METHOD"], url=environ["PATH_INFO"] + (f"?{query}" if query else ""),
                             headers=headers)
        request.context["timestamp"] = timestamp
        signer = S3SigV4Auth(Credentials(key_id, secret), service, region)
        signature = signer.signature(signer.string_to_sign(request, signer.canonical_request(request)), request)
        environ["HTTP_X_AMZ_DATE"], environ["HTTP_X_AMZ_CONTENT_SHA256"] = timestamp, "UNSIGNED-PAYLOAD"
        environ["HTTP_AUTHORIZATION"] = (f"AWS4-HMAC-SHA256 Credential={key_id}/{timestamp[:8]}/{region}/{service}/"
                                         f"aws4_request, SignedHeaders=host;x-amz-content-sha256;x-amz-date, "
                                         f"Signature={signature}")
        return None


def serve() -> None:
    import logging

    import boto3
    from moto import settings
    from moto.core.authorization import ActionAuthenticatorMixin
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
    from werkzeug.serving import make_server

    from dockyard.local import queries, transactions
    from dockyard.local.motoserver import SerializedDynamoDB

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    transactions.install()  # as the embedded server: DynamoDB at the cost of the items a request touches
    queries.install()
    app = PresignedAsSigner(SerializedDynamoDB(DomainDispatcherApplication(create_backend_app)))
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=MotoRequestHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    endpoint = f"http://127.0.0.1:{server.server_address[1]}"
    iam = boto3.client("iam", endpoint_url=endpoint, region_name="us-east-1")
    iam.create_user(UserName="admin")
    iam.put_user_policy(UserName="admin", PolicyName="admin", PolicyDocument=json.dumps(ADMIN_POLICY))
    key = iam.create_access_key(UserName="admin")["AccessKey"]
    settings.INITIAL_NO_AUTH_ACTION_COUNT = 0  # from now on, every request is authenticated and authorized
    ActionAuthenticatorMixin.request_count = 0
    print(f"READY {endpoint} {key['AccessKeyId']} {key['SecretAccessKey']}", flush=True)
    try:
        sys.stdin.read()
    except KeyboardInterrupt:
        pass
    server.shutdown()


class IamMoto:
    """The enforcing moto process, seen from a test: admin clients, and IAM users with given statements."""

    def __init__(self):
        env = {**os.environ, "AWS_ACCESS_KEY_ID": "setup", "AWS_SECRET_ACCESS_KEY": "setup",
               "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "lambda_src")])}
        env.pop("AWS_CA_BUNDLE", None)
        self.process = subprocess.Popen([sys.executable, "-m", "tests.support.iam_moto"], cwd=ROOT, env=env,
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        line = self.process.stdout.readline().split()
        if not line or line[0] != "READY":
            self.stop()
            raise RuntimeError(f"the IAM-enforcing moto did not start: {line}")
        self.endpoint, self.admin = line[1], (line[2], line[3])

    def client(self, service: str, keys: tuple[str, str], region: str = "us-east-1"):
        import boto3
        from botocore.config import Config

        return boto3.session.Session(aws_access_key_id=keys[0], aws_secret_access_key=keys[1],
                                     region_name=region).client(
            service, endpoint_url=self.endpoint,
            config=Config(signature_version="s3v4", s3={"addressing_style": "path"}, retries={"max_attempts": 1}))

    def create_user(self, name: str, statements: list[dict]) -> tuple[str, str]:
        iam = self.client("iam", self.admin)
        iam.create_user(UserName=name)
        iam.put_user_policy(UserName=name, PolicyName="under-test", PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": statements}))
        key = iam.create_access_key(UserName=name)["AccessKey"]
        return key["AccessKeyId"], key["SecretAccessKey"]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.stdin.close()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()


if __name__ == "__main__":
    serve()
