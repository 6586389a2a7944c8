"""The hand-written GetItem (`dockyard.storage.dynamo.getitem`) sends botocore's request, signed as botocore
signs it, returns what botocore's parser returns, raises and retries as botocore does, and keeps the client's
events working (a Stubber, the event-loop guard); against moto it reads what botocore reads."""

from __future__ import annotations

import asyncio
import base64
import datetime
import json
import threading
import zlib

import boto3
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest, AWSResponse
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import EndpointConnectionError
from botocore.stub import Stubber

from dockyard.blocking import without_blocking
from dockyard.storage.aws import new_clients
from dockyard.storage.dynamo import getitem

ITEM = {"pk": {"S": "repo#team/app"}, "sk": {"S": "tag#v1"}, "n": {"N": "-12.5e3"}, "b": {"B": b"\x00\xffbytes"},
        "ss": {"SS": ["a", "ü"]}, "ns": {"NS": ["1", "2"]}, "bs": {"BS": [b"x", b"\x01\x02"]}, "null": {"NULL": True},
        "bool": {"BOOL": False}, "l": {"L": [{"S": "s"}, {"B": b"in a list"}, {"M": {"deep": {"BS": [b"z"]}}}]},
        "m": {"M": {"inner": {"B": b"in a map"}, "n": {"N": "1"}, "e": {"M": {}}}}, "empty": {"L": []}}
PARAMS = [
    {"TableName": "t", "Key": {"pk": {"S": "repo#team/app"}, "sk": {"S": "tag#v1"}}},
    {"TableName": "dy-table", "Key": {"pk": {"S": "ü/ключ"}, "sk": {"S": "a \"quoted\" \\ key"}}, "ConsistentRead": True},
    {"TableName": "t", "Key": {"pk": {"S": "p"}, "sk": {"B": b"\x00binary"}}, "ConsistentRead": False,
     "ProjectionExpression": "#a, #b", "ExpressionAttributeNames": {"#a": "a", "#b": "blob_refs"}},
]


def _wire(item: dict) -> dict:
    """An item as DynamoDB writes it in JSON: binary values in base64."""
    def value(v):
        kind, x = next(iter(v.items()))
        if kind == "B":
            return {"B": base64.b64encode(x).decode()}
        if kind == "BS":
            return {"BS": [base64.b64encode(i).decode() for i in x]}
        if kind == "M":
            return {"M": {k: value(i) for k, i in x.items()}}
        if kind == "L":
            return {"L": [value(i) for i in x]}
        return v
    return {k: value(v) for k, v in item.items()}


class _Body:
    def __init__(self, data: bytes):
        self.data = data

    def stream(self, **_):
        yield self.data


def _answer(status: int, body: dict | bytes, crc: int | None = None) -> AWSResponse:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {"content-type": "application/x-amz-json-1.0", "x-amzn-requestid": "REQ1",
               "x-amz-crc32": str(zlib.crc32(data) if crc is None else crc)}
    return AWSResponse("http://127.0.0.1:9/", status, headers, _Body(data))


class Answers:
    """Answers each attempt's request from a list (the last one repeats) and records what was sent."""

    def __init__(self, client, *answers):
        self.answers, self.sent = list(answers), []
        client.meta.events.register_first("before-send.dynamodb.GetItem", self)

    def __call__(self, request, **_):
        self.sent.append(request)
        return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]


def _text(value):
    """A header as text; a user agent without its `m/` token (botocore's per-call feature metrics)."""
    value = value.decode() if isinstance(value, bytes) else value
    return " ".join(part for part in value.split() if not part.startswith("m/")) if value else value


def _client(token=None, region="us-east-1", endpoint="http://127.0.0.1:9", attempts=3):
    session = boto3.session.Session(region_name=region, aws_access_key_id="AKIDEXAMPLE",
                                    aws_secret_access_key="wJalr/K7+MDENG", aws_session_token=token)
    return session.client("dynamodb", endpoint_url=endpoint,
                          config=Config(retries={"mode": "standard", "total_max_attempts": attempts}))


@pytest.fixture(autouse=True)
def no_backoff(monkeypatch):
    monkeypatch.setattr("botocore.endpoint.time.sleep", lambda _: None)
    monkeypatch.setattr("dockyard.storage.dynamo.getitem.time.sleep", lambda _: None)


@pytest.mark.parametrize("params", PARAMS, ids=["plain", "unicode", "binary-projection"])
@pytest.mark.parametrize("config", [{}, {"token": "IQoJb3JpZ2lu/EHwaCXVz+MEUCIQ=="},
                                    {"region": "eu-west-1", "endpoint": "http://localhost:4566"},
                                    {"endpoint": None}], ids=["moto", "session-token", "other-region", "aws"])
def test_the_request_is_botocores_and_signed_as_botocore_signs_it(monkeypatch, params, config):
    client = _client(**config)
    answers = Answers(client, _answer(200, {"Item": _wire(ITEM)}))
    client.get_item(**params)
    getitem.getter(client)(**params)
    theirs, ours = answers.sent
    assert (ours.method, ours.url, ours.body) == (theirs.method, theirs.url, theirs.body)
    for name in ("X-Amz-Target", "Content-Type", "User-Agent", "X-Amz-Security-Token"):
        assert _text(ours.headers.get(name)) == _text(theirs.headers.get(name)), name
    # botocore also signs its own amz-sdk-* headers: sign ours with botocore, at our time, and compare
    stamp = ours.headers["X-Amz-Date"]
    monkeypatch.setattr("botocore.auth.get_current_datetime",
                        lambda *a, **k: datetime.datetime.strptime(stamp, "%Y%m%dT%H%M%SZ"))
    unsigned = {k: v for k, v in ours.headers.items()
                if k not in ("Authorization", "X-Amz-Date", "X-Amz-Security-Token", "Content-Length")}
    request = AWSRequest(method="POST", url=ours.url, headers=unsigned, data=ours.body)
    credentials = client._request_signer._credentials
    SigV4Auth(Credentials(credentials.access_key, credentials.secret_key, credentials.token), "dynamodb",
              client.meta.region_name).add_auth(request)
    assert ours.headers["Authorization"] == request.headers["Authorization"]
    assert ours.headers["Content-Length"] == str(len(ours.body))


def test_the_answer_is_botocores():
    client = _client()
    body = {"Item": _wire(ITEM), "ConsumedCapacity": {"TableName": "t", "CapacityUnits": 0.5}}
    Answers(client, _answer(200, body))
    theirs = client.get_item(**PARAMS[0])
    ours = getitem.getter(client)(**PARAMS[0])
    assert ours == theirs and ours["Item"] == ITEM
    Answers(client, _answer(200, {}))
    assert getitem.getter(client)(**PARAMS[0]) == client.get_item(**PARAMS[0])  # no such item: no "Item"


@pytest.mark.parametrize("error", [
    (400, {"__type": "com.amazonaws.dynamodb.v20120810#ResourceNotFoundException", "message": "no table"}),
    (400, {"__type": "com.amazon.coral.validate#ValidationException", "Message": "bad key"}),
    (400, {"__type": "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException", "message": "slow"}),
    (500, {"__type": "com.amazonaws.dynamodb.v20120810#InternalServerError", "message": "oops"}),
    (503, b"<html>unavailable</html>"),
], ids=["not-found", "validation", "throttled", "internal", "not-json"])
def test_errors_are_botocores_after_as_many_attempts(error):
    results = []
    for call in ("botocore", "ours"):
        client = _client()
        answers = Answers(client, _answer(*error))
        with pytest.raises(Exception) as raised:
            (client.get_item if call == "botocore" else getitem.getter(client))(**PARAMS[0])
        results.append((type(raised.value).__name__, raised.value.response["Error"], len(answers.sent),
                        raised.value.response["ResponseMetadata"]["HTTPStatusCode"]))
    assert results[0] == results[1]
    assert results[0][2] == (1 if error[0] == 400 and "Throughput" not in str(error[1]) else 3)


@pytest.mark.parametrize("first", [_answer(500, {"__type": "x#InternalServerError"}),
                                   _answer(400, {"__type": "x#ThrottlingException", "message": "slow"}),
                                   _answer(200, {"Item": _wire(ITEM)}, crc=1)], ids=["5xx", "throttled", "crc32"])
def test_a_failed_attempt_is_retried_as_botocore_retries_it(first):
    for call in ("botocore", "ours"):
        client = _client()
        answers = Answers(client, first, _answer(200, {"Item": _wire(ITEM)}))
        answer = (client.get_item if call == "botocore" else getitem.getter(client))(**PARAMS[0])
        assert answer["Item"] == ITEM and len(answers.sent) == 2
        assert answer["ResponseMetadata"]["RetryAttempts"] == 1


def test_an_unreachable_endpoint_fails_as_botocore_does_after_as_many_attempts():
    sent = []
    for call in ("botocore", "ours"):
        client = _client(endpoint="http://127.0.0.1:9")  # nothing listens there
        client.meta.events.register("before-send.dynamodb.GetItem", lambda request, **_: sent.append(call))
        with pytest.raises(EndpointConnectionError):
            (client.get_item if call == "botocore" else getitem.getter(client))(**PARAMS[0])
    assert sent.count("botocore") == sent.count("ours") == 3


def test_a_stubber_and_call_counters_see_the_call():
    client = _client()
    counted = []
    client.meta.events.register("before-call.*.*", lambda model, **_: counted.append(model.name))
    stubber = Stubber(client)
    stubber.add_response("get_item", {"Item": {"pk": {"S": "x"}}}, PARAMS[0])
    with stubber:
        assert getitem.getter(client)(**PARAMS[0])["Item"] == {"pk": {"S": "x"}}
    stubber.assert_no_pending_responses()
    assert counted == ["GetItem"]


def test_on_the_event_loop_it_is_refused_before_anything_is_sent_then_runs_in_a_thread():
    _, client = new_clients("us-east-1", "http://127.0.0.1:9")
    answers = Answers(client, _answer(200, {"Item": _wire(ITEM)}))
    threads = []

    def work():
        threads.append(threading.current_thread())
        return getitem.getter(client)(**PARAMS[0])["Item"]

    assert asyncio.run(without_blocking(work)) == ITEM
    assert threads[0] is threading.main_thread() and threads[1] is not threading.main_thread()
    assert len(answers.sent) == 1  # the refused attempt sent nothing


def test_against_moto_it_reads_what_botocore_reads(settings):
    from dockyard.storage.aws import make_clients

    _, dynamodb = make_clients(settings)
    assert isinstance(getitem.getter(dynamodb), getitem.GetItem)
    dynamodb.put_item(TableName=settings.table, Item=ITEM)
    for params in ({"TableName": settings.table, "Key": {"pk": ITEM["pk"], "sk": ITEM["sk"]}, "ConsistentRead": True},
                   {**PARAMS[2], "TableName": settings.table, "Key": {"pk": ITEM["pk"], "sk": ITEM["sk"]}},
                   {"TableName": settings.table, "Key": {"pk": {"S": "absent"}, "sk": {"S": "absent"}}}):
        theirs, ours = dynamodb.get_item(**params), getitem.getter(dynamodb)(**params)
        assert ours.get("Item") == theirs.get("Item")
    assert getitem.getter(dynamodb)(TableName=settings.table, Key={"pk": ITEM["pk"], "sk": ITEM["sk"]})["Item"] == ITEM
    with pytest.raises(dynamodb.exceptions.ResourceNotFoundException):
        getitem.getter(dynamodb)(TableName="no-such-table", Key={"pk": ITEM["pk"], "sk": ITEM["sk"]})
