"""Hostile input over the API: manifests that readers could disagree on, and secret guessing."""

import json

from dockyard.auth import throttle
from dockyard.domain import mediatypes as mt
from tests.conftest import ADMIN_ID, ADMIN_SECRET
from tests.support.auth import basic, create_key
from tests.support.oci import OCI_CONFIG, OCI_LAYER, descriptor, sha256
from tests.support.registry import error_code, push_blob


def test_a_manifest_with_a_second_layers_key_is_refused_and_not_stored(client):
    config, layer = b'{"os": "linux"}', b"layer bytes"
    for blob in (config, layer):
        push_blob(client, "team/app", blob)
    missing = descriptor(OCI_LAYER, b"never pushed")
    # Python (and many readers) keep the last "layers"; others the first, which names a missing blob.
    body = (b'{"schemaVersion": 2, "mediaType": "' + mt.OCI_MANIFEST.encode() + b'", "config": '
            + json.dumps(descriptor(OCI_CONFIG, config)).encode() + b', "layers": ' + json.dumps([missing]).encode()
            + b', "layers": ' + json.dumps([descriptor(OCI_LAYER, layer)]).encode() + b"}")
    response = client.put("/v2/team/app/manifests/v1", content=body, headers={"Content-Type": mt.OCI_MANIFEST})
    assert (response.status_code, error_code(response)) == (400, "MANIFEST_INVALID")
    assert "duplicate key 'layers'" in response.json()["errors"][0]["detail"]
    assert client.get("/v2/team/app/manifests/v1").status_code == 404
    assert client.get(f"/v2/team/app/manifests/{sha256(body)}").status_code == 404


def test_nan_and_float_schema_version_are_refused(client):
    for body in (b'{"schemaVersion": 2.0, "mediaType": "' + mt.OCI_INDEX.encode() + b'", "manifests": []}',
                 b'{"schemaVersion": 2, "mediaType": "' + mt.OCI_INDEX.encode() + b'", "manifests": [], '
                 b'"annotations": {"a": NaN}}'):
        response = client.put("/v2/team/app/manifests/v1", content=body, headers={"Content-Type": mt.OCI_INDEX})
        assert (response.status_code, error_code(response)) == (400, "MANIFEST_INVALID")


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_wrong_secrets_close_the_key_id_for_a_while_without_a_write_per_failure(auth_client, auth_registry, calls):
    clock = auth_registry.auth.throttle.clock = Clock()
    key_id, secret = create_key(auth_client, basic(ADMIN_ID, ADMIN_SECRET), "ci", "team/*=pull")
    calls.clear()
    params = {"service": "dockyard", "scope": "repository:team/app:pull"}
    statuses = [auth_client.get("/token", params=params, headers=basic(key_id, f"dys_wrong{i:040d}")).status_code
                for i in range(50)]
    assert statuses[:throttle.FREE_FAILURES + 1] == [401] * (throttle.FREE_FAILURES + 1)
    assert set(statuses[throttle.FREE_FAILURES + 1:]) == {429}
    assert calls[("dynamodb", "GetItem")] == throttle.FREE_FAILURES + 1  # closed: not even a read
    assert calls.service("dynamodb") == calls[("dynamodb", "GetItem")]  # and never a write

    # While closed, the right secret waits too (else a guess that succeeds would stand out), on every path.
    refused = auth_client.get("/token", params=params, headers=basic(key_id, secret))
    assert (refused.status_code, error_code(refused)) == (429, "TOOMANYREQUESTS")
    assert refused.headers["Retry-After"] == "1"
    assert auth_client.get("/v2/team/app/tags/list", headers=basic(key_id, secret)).status_code == 429

    clock.now += 1.5
    assert auth_client.get("/token", params=params, headers=basic(key_id, secret)).status_code == 200
    # A success opens the id again: the next failures are free again.
    assert auth_client.get("/token", params=params, headers=basic(key_id, "dys_" + "x" * 43)).status_code == 401


def test_the_brake_doubles_up_to_a_limit_and_is_per_key_id():
    clock = Clock()
    brake = throttle.Throttle(clock)
    delays = []
    for _ in range(throttle.FREE_FAILURES + 10):
        brake.failed("a")
        closed_for = brake._failures["a"][1] - clock.now
        delays.append(closed_for)
        clock.now += closed_for  # the attacker waits exactly as long as told
    assert delays[:throttle.FREE_FAILURES] == [0] * throttle.FREE_FAILURES
    assert delays[throttle.FREE_FAILURES:throttle.FREE_FAILURES + 4] == [1, 2, 4, 8]
    assert max(delays) == throttle.MAX_DELAY
    brake.check("b")  # another id is not affected
    clock.now += throttle.MAX_DELAY + throttle.WINDOW + 1
    brake.failed("a")
    assert brake._failures["a"][0] == 1  # a quiet window forgets the count
