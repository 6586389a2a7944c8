"""DynamoDB GetItem without botocore's per-call machinery: the one read a manifest GET, a cold blob GET and
a token make.

botocore spends about 0.3 ms of CPU on a GetItem (parameter validation, endpoint rules, a user agent
built anew, SigV4 over email-style headers, a generic parser): half of a manifest GET's handler time.
This path takes 0.05 ms (benchmarks/handler_profile.py). `GetItem`
sends the same request through the same client, with its credentials, endpoint, connection pool and
timeouts, and signs it with a signing key kept for the day. It fires the client's own events, so that
whatever is hooked on the client sees the call as it sees botocore's:
- `provide-client-params`, `before-parameter-build` (the event-loop guard of `dockyard.blocking`; faults);
- `before-call` (call counters; a response a handler returns is the answer, as botocore's Stubber does);
- `before-send` (a response a handler returns is used instead of sending);
- `needs-retry` (botocore's own retry handler decides whether to try again, and when);
- `after-call`, or `after-call-error` when no answer came.
An error answer is parsed by botocore's parser and raised as the client's own exception. What it sends and
what it returns are proven equal to botocore's in `tests/unit/test_getitem.py`.

An endpoint with a path or a query (none of ours) is left to botocore.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
from urllib.parse import urlsplit

from dockyard.storage.sigv4 import ALGORITHM, Signer, timestamp

OPERATION = "GetItem"
TARGET = "DynamoDB_20120810.GetItem"
CONTENT_TYPE = "application/x-amz-json-1.0"


def getter(client):
    """A GetItem callable for `client` (made once per client), or the client's own `get_item` where this
    module does not apply."""
    made = getattr(client, "_dockyard_get_item", None)
    if made is None:
        parts = urlsplit(client.meta.endpoint_url)
        plain = parts.path in ("", "/") and not parts.query and client.meta.service_model.service_name == "dynamodb"
        made = GetItem(client) if plain and client._request_signer._credentials is not None else client.get_item
        client._dockyard_get_item = made
    return made


class GetItem:
    def __init__(self, client):
        from botocore.auth import _host_from_url
        from botocore.parsers import create_parser

        meta = client.meta
        self.client, self.events = client, meta.events
        self.model = meta.service_model.operation_model(OPERATION)
        self.name = f"{meta.service_model.service_id.hyphenize()}.{OPERATION}"
        self.endpoint, self.signer = client._endpoint, client._request_signer
        self.region = self.signer._region_name
        self.sigv4 = Signer(self.region, self.signer._signing_name)
        self.url = meta.endpoint_url.rstrip("/") + "/"
        self.host = _host_from_url(self.url)
        self.agent = client._user_agent_creator.to_string()
        self.parser = create_parser(meta.service_model.metadata["protocol"])
        self.config = meta.config

    def __call__(self, **params) -> dict:
        context = {"client_region": self.region, "client_config": self.config, "has_streaming_input": False,
                   "auth_type": "v4"}
        given = self.events.emit(f"provide-client-params.{self.name}", params=params, model=self.model,
                                 context=context)
        params = next((r for _, r in given if r is not None), params)
        self.events.emit(f"before-parameter-build.{self.name}", params=params, model=self.model, context=context)
        body = json.dumps(_encoded(params)).encode()
        request = {"url_path": "/", "query_string": "", "method": "POST", "url": self.url, "body": body,
                   "headers": {"X-Amz-Target": TARGET, "Content-Type": CONTENT_TYPE, "User-Agent": self.agent},
                   "context": context}
        _, answer = self.events.emit_until_response(f"before-call.{self.name}", model=self.model, params=request,
                                                    request_signer=self.signer, context=context)
        if answer is None:
            try:
                answer = self._send(request)
            except Exception as exc:
                self.events.emit(f"after-call-error.{self.name}", exception=exc, context=context)
                raise
        http, parsed = answer
        self.events.emit(f"after-call.{self.name}", http_response=http, parsed=parsed, model=self.model,
                         context=context)
        if http.status_code >= 300:
            code = context.get("error_code_override") or parsed.get("Error", {}).get("Code")
            raise self.client.exceptions.from_code(code)(parsed, OPERATION)
        return parsed

    # --- sending, as botocore's endpoint does --------------------------------------------------------------

    def _send(self, request: dict):
        attempts = 1
        while True:
            request["context"].setdefault("retries", {})["attempt"] = attempts
            answer, exception = self._attempt(self._signed(request))
            delays = self.events.emit(f"needs-retry.{self.name}", response=answer, endpoint=self.endpoint,
                                      operation=self.model, attempts=attempts, caught_exception=exception,
                                      request_dict=request)
            delay = next((r for _, r in delays if r is not None), None)
            if delay is None or delay is False:
                break
            time.sleep(delay)
            attempts += 1
        if exception is not None:
            raise exception
        answer[1]["ResponseMetadata"]["RetryAttempts"] = attempts - 1
        return answer

    def _attempt(self, prepared):
        try:
            http = next((r for _, r in self.events.emit(f"before-send.{self.name}", request=prepared)
                         if r is not None), None)
            if http is None:
                http = self.endpoint.http_session.send(prepared)
        except Exception as exc:  # as botocore: a failed send is for the retry handler to judge
            return None, exc
        return (http, self._parsed(http)), None

    def _parsed(self, http) -> dict:
        headers = http.headers
        if http.status_code >= 300:
            return self.parser.parse({"headers": headers, "status_code": http.status_code, "body": http.content,
                                      "context": {"operation_name": OPERATION}}, self.model.output_shape)
        data = json.loads(http.content) if http.content else {}
        parsed = {}
        if "Item" in data:
            parsed["Item"] = {name: _decoded(v) for name, v in data["Item"].items()}
        if "ConsumedCapacity" in data:
            parsed["ConsumedCapacity"] = data["ConsumedCapacity"]
        metadata = {"RequestId": headers["x-amzn-requestid"]} if "x-amzn-requestid" in headers else {}
        parsed["ResponseMetadata"] = {**metadata, "HTTPStatusCode": http.status_code, "HTTPHeaders": headers,
                                      "RetryAttempts": 0}
        return parsed

    # --- SigV4 ---------------------------------------------------------------------------------------------

    def _signed(self, request: dict, now: float | None = None):
        from botocore.awsrequest import AWSPreparedRequest

        credentials = self.signer._credentials.get_frozen_credentials()
        stamp = timestamp(now)
        body = request["body"]
        headers = {**request["headers"], "X-Amz-Date": stamp}
        signed = [("content-type", CONTENT_TYPE), ("host", self.host), ("x-amz-date", stamp)]
        if credentials.token:
            headers["X-Amz-Security-Token"] = credentials.token
            signed.append(("x-amz-security-token", credentials.token))
        signed.append(("x-amz-target", TARGET))
        names = ";".join(name for name, _ in signed)
        canonical = "\n".join(["POST", "/", "", *(f"{n}:{v}" for n, v in signed), "", names,
                               hashlib.sha256(body).hexdigest()])
        signature = self.sigv4.signature(credentials.secret_key, stamp, canonical)
        headers["Authorization"] = (f"{ALGORITHM} Credential={credentials.access_key}/{self.sigv4.scope(stamp)}, "
                                    f"SignedHeaders={names}, Signature={signature}")
        headers["Content-Length"] = str(len(body))
        return AWSPreparedRequest("POST", self.url, headers, body, stream_output=False)


def _encoded(value):
    """API parameters as botocore's JSON serializer writes them: bytes in base64, the rest as given."""
    if isinstance(value, dict):
        return {k: _encoded(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_encoded(v) for v in value]
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(value).decode()
    return value


def _decoded(value: dict) -> dict:
    """An attribute value as botocore's parser returns it: binary ones as bytes."""
    if "B" in value:
        return {"B": base64.b64decode(value["B"])}
    if "BS" in value:
        return {"BS": [base64.b64decode(v) for v in value["BS"]]}
    if "M" in value:
        return {"M": {k: _decoded(v) for k, v in value["M"].items()}}
    if "L" in value:
        return {"L": [_decoded(v) for v in value["L"]]}
    return value
