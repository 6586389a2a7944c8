"""Access control on every route, for every kind of caller; the token endpoint; keys; anonymous pull."""

from __future__ import annotations

import base64
import json
import time

import pytest

from dockyard.auth.scopes import Access
from tests.conftest import ADMIN_ID, ADMIN_SECRET
from tests.support.audit import audit_lines
from tests.support.auth import basic, bearer, create_key, token_for
from tests.support.oci import sha256
from tests.support.registry import error_code, image_manifest

ADMIN = basic(ADMIN_ID, ADMIN_SECRET)
NAME = "team/app"
DIRECT_ID = "00000000-0000-4000-8000-000000000000"
LAYER, CONFIG = b"layer bytes" * 10, b'{"os": "linux"}'


@pytest.fixture
def stored(auth_client):
    """An image in team/app, and an open upload session; returns (manifest digest, session location)."""
    for blob in (CONFIG, LAYER):
        response = auth_client.post(f"/v2/{NAME}/blobs/uploads/", params={"digest": sha256(blob)}, content=blob,
                                    headers=ADMIN)
        assert response.status_code == 201, response.text
    manifest = image_manifest(CONFIG, [LAYER])
    assert auth_client.put(f"/v2/{NAME}/manifests/v1", content=manifest, headers={
        **ADMIN, "Content-Type": "application/vnd.oci.image.manifest.v1+json"}).status_code == 201
    location = auth_client.post(f"/v2/{NAME}/blobs/uploads/", headers=ADMIN).headers["Location"]
    return sha256(manifest), location


def snapshot(registry) -> tuple:
    """Everything stored: every table item and every object."""
    table, objects = registry.storage.blobs.table, registry.storage.objects
    items = table.client.scan(TableName=table.name)["Items"]
    objects = objects.client.list_objects_v2(Bucket=objects.bucket).get("Contents", [])
    return (sorted(json.dumps(i, sort_keys=True, default=str) for i in items),
            sorted((o["Key"], o["ETag"]) for o in objects))


def repository_routes(location: str) -> list[tuple[str, str, dict, bytes, str]]:
    """(method, path, params, body, action) for every repository route."""
    manifest = image_manifest(CONFIG, [LAYER])
    return [
        ("GET", f"/v2/{NAME}/manifests/v1", {}, b"", "pull"),
        ("HEAD", f"/v2/{NAME}/manifests/v1", {}, b"", "pull"),
        ("PUT", f"/v2/{NAME}/manifests/v2", {}, manifest, "push"),
        ("GET", f"/v2/{NAME}/blobs/{sha256(LAYER)}", {}, b"", "pull"),
        ("HEAD", f"/v2/{NAME}/blobs/{sha256(LAYER)}", {}, b"", "pull"),
        ("POST", f"/v2/{NAME}/blobs/uploads/", {}, b"", "push"),
        ("POST", f"/v2/{NAME}/blobs/uploads/", {"digest": sha256(b"new")}, b"new", "push"),
        ("POST", "/v2/team/other/blobs/uploads/", {"mount": sha256(LAYER), "from": NAME}, b"", "push"),
        ("PATCH", location, {}, b"chunk", "push"),
        ("PUT", location, {"digest": sha256(b"")}, b"", "push"),
        ("GET", location, {}, b"", "push"),
        ("DELETE", location, {}, b"", "push"),
        ("GET", f"/v2/{NAME}/tags/list", {}, b"", "pull"),
        ("GET", f"/v2/{NAME}/referrers/{sha256(LAYER)}", {}, b"", "pull"),
        ("DELETE", f"/v2/{NAME}/manifests/v1", {}, b"", "delete"),
        ("DELETE", f"/v2/{NAME}/blobs/{sha256(LAYER)}", {}, b"", "delete"),
        ("POST", f"/dockyard/v1/direct/{NAME}/blobs", {},
         json.dumps({"digest": sha256(b"d"), "size": 1}).encode(), "push"),
        ("POST", f"/dockyard/v1/direct/{NAME}/blobs/{DIRECT_ID}/parts", {}, b'{"numbers": [1]}', "push"),
        ("POST", f"/dockyard/v1/direct/{NAME}/blobs/{DIRECT_ID}/complete", {}, b"", "push"),
        ("DELETE", f"/dockyard/v1/direct/{NAME}/blobs/{DIRECT_ID}", {}, b"", "push"),
    ]


ADMIN_ROUTES = [("GET", "/dockyard/v1/keys", None), ("POST", "/dockyard/v1/keys", {"name": "x", "allow": ["*=pull"]}),
                ("DELETE", f"/dockyard/v1/keys/{ADMIN_ID}", None), ("GET", "/dockyard/v1/anonymous", None),
                ("PUT", "/dockyard/v1/anonymous", {"pull": ["*"]})]


def callers(registry) -> dict[str, dict]:
    tokens = registry.auth.tokens
    everything = [Access("repository", NAME, frozenset({"pull", "push", "delete"})),
                  Access("repository", "team/other", frozenset({"pull", "push", "delete"}))]
    expired, _, _ = tokens.issue(ADMIN_ID, everything, now=1_000_000_000)
    valid, _, _ = tokens.issue("dyk_someone", [Access("repository", NAME, frozenset({"pull"}))])
    header, payload, signature = valid.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["access"] = [a.claim() for a in everything]
    tampered = f"{header}.{base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b'=').decode()}.{signature}"
    other_repo, _, _ = tokens.issue("dyk_someone", [Access("repository", "other/repo",
                                                            frozenset({"pull", "push", "delete"}))])
    return {
        "anonymous": {},
        "wrong key": basic("dyk_" + "0" * 20, ADMIN_SECRET),
        "wrong secret": basic(ADMIN_ID, "dys_wrong"),
        "expired token": bearer(expired),
        "tampered token": bearer(tampered),
        "token for another repository": bearer(other_repo),
    }


def test_every_route_refuses_every_unauthorized_caller_and_nothing_changes(auth_client, auth_registry, stored):
    _, location = stored
    before = snapshot(auth_registry)
    # Each attempt comes long after the last (a clock that jumps): the brake on guessing secrets, tested on its
    # own, would otherwise answer the bad Basic credentials with 429 after a few routes.
    ticks = iter(range(0, 10**9, 3600))
    auth_registry.auth.throttle.clock = lambda: next(ticks)
    for caller, headers in callers(auth_registry).items():
        for method, path, params, body, action in repository_routes(location):
            response = auth_client.request(method, path, params=params, content=body or None, headers=headers)
            where = f"{caller}: {method} {path}"
            assert response.status_code == 401, where
            challenge = response.headers["WWW-Authenticate"]
            assert challenge.startswith('Bearer realm="http://registry.test/token",service="dockyard"'), where
            if method != "HEAD":
                expected = "DENIED" if caller == "token for another repository" else "UNAUTHORIZED"
                assert error_code(response) == expected, where
        for method, path, body in ADMIN_ROUTES:
            response = auth_client.request(method, path, json=body, headers=headers)
            assert response.status_code == (403 if caller == "token for another repository" else 401), caller
        response = auth_client.get("/v2/", headers=headers)
        assert response.status_code == (200 if caller == "token for another repository" else 401), caller
        response = auth_client.get("/v2/_catalog", headers=headers)  # no token here grants the catalog
        assert response.status_code == 401, caller
        assert 'scope="registry:catalog:*"' in response.headers["WWW-Authenticate"], caller
    assert snapshot(auth_registry) == before


def test_challenges_name_the_scope_and_the_error(auth_client, auth_registry, stored):
    response = auth_client.get(f"/v2/{NAME}/manifests/v1")
    assert response.headers["WWW-Authenticate"] == (
        'Bearer realm="http://registry.test/token",service="dockyard",scope="repository:team/app:pull"')
    response = auth_client.put(f"/v2/{NAME}/manifests/v9", content=b"{}", headers=bearer("x.y.z"))
    assert response.headers["WWW-Authenticate"].endswith(
        'scope="repository:team/app:pull,push",error="invalid_token"')
    token = token_for(auth_client, ADMIN_ID, ADMIN_SECRET, f"repository:{NAME}:pull")["token"]
    response = auth_client.put(f"/v2/{NAME}/manifests/v9", content=b"{}", headers=bearer(token))
    assert response.headers["WWW-Authenticate"].endswith('error="insufficient_scope"')
    assert auth_client.get("/v2/").headers["WWW-Authenticate"] == (
        'Bearer realm="http://registry.test/token",service="dockyard"')


def test_token_grants_only_what_the_policy_allows(auth_client):
    key_id, secret = create_key(auth_client, ADMIN, "ci", "team/*=pull,push", "ops/*=delete")
    answer = token_for(auth_client, key_id, secret, "repository:team/app:pull,push,delete",
                       "repository:ops/x:pull,delete", "repository:secret/x:pull", "repository:team/b:*")
    assert set(answer) >= {"token", "access_token", "expires_in", "issued_at"}
    assert answer["token"] == answer["access_token"] and answer["expires_in"] == 300
    claims = json.loads(base64.urlsafe_b64decode(answer["token"].split(".")[1] + "=="))
    assert {(a["name"], tuple(a["actions"])) for a in claims["access"]} == {
        ("team/app", ("pull", "push")), ("ops/x", ("delete",)), ("team/b", ("pull", "push"))}
    assert claims["sub"] == key_id and claims["aud"] == "dockyard"


def test_a_pull_key_pulls_but_cannot_push(auth_client, stored):
    key_id, secret = create_key(auth_client, ADMIN, "puller", "team/*=pull")
    token = token_for(auth_client, key_id, secret, f"repository:{NAME}:pull,push")["token"]
    assert auth_client.get(f"/v2/{NAME}/manifests/v1", headers=bearer(token)).status_code == 200
    response = auth_client.post(f"/v2/{NAME}/blobs/uploads/", headers=bearer(token))
    assert (response.status_code, error_code(response)) == (401, "DENIED")
    # Basic credentials straight to the registry: a definite 403.
    assert auth_client.get(f"/v2/{NAME}/manifests/v1", headers=basic(key_id, secret)).status_code == 200
    response = auth_client.post(f"/v2/{NAME}/blobs/uploads/", headers=basic(key_id, secret))
    assert (response.status_code, error_code(response)) == (403, "DENIED")


def test_wrong_credentials_at_the_token_endpoint(auth_client):
    for headers in (basic("dyk_" + "1" * 20, "x"), basic(ADMIN_ID, "wrong"), {"Authorization": "Basic !!!"},
                    {"Authorization": "Bearer abc"}):
        response = auth_client.get("/token", params={"scope": f"repository:{NAME}:pull"}, headers=headers)
        assert (response.status_code, error_code(response)) == (401, "UNAUTHORIZED")


def test_revoked_and_expired_keys_get_no_token(auth_client, auth_registry):
    key_id, secret = create_key(auth_client, ADMIN, "temp", "team/*=pull")
    token_for(auth_client, key_id, secret, f"repository:{NAME}:pull")
    assert auth_client.delete(f"/dockyard/v1/keys/{key_id}", headers=ADMIN).json()["key"]["state"] == "revoked"
    assert auth_client.get("/token", headers=basic(key_id, secret)).status_code == 401
    expiring_id, expiring_secret = create_key(auth_client, ADMIN, "short", "team/*=pull", expires_in=1)
    record = auth_registry.access.store.get_access_key(expiring_id)
    auth_registry.access.store.put_access_key(type(record)(**{**record.__dict__, "expires_at": record.created_at - 1}))
    assert auth_client.get("/token", headers=basic(expiring_id, expiring_secret)).status_code == 401


def test_refresh_tokens_as_docker_login_uses_them(auth_client):
    key_id, secret = create_key(auth_client, ADMIN, "laptop", "team/*=pull,push")
    answer = token_for(auth_client, key_id, secret, offline_token="true", client_id="docker")
    refresh = answer["refresh_token"]
    response = auth_client.post("/token", data={"grant_type": "refresh_token", "refresh_token": refresh,
                                                "service": "dockyard", "scope": f"repository:{NAME}:pull",
                                                "client_id": "docker"})
    assert response.status_code == 200, response.text
    assert response.json()["refresh_token"] == refresh
    assert auth_client.get("/v2/", headers=bearer(response.json()["access_token"])).status_code == 200
    # a refresh token is not an access token
    assert auth_client.get("/v2/", headers=bearer(refresh)).status_code == 401
    auth_client.delete(f"/dockyard/v1/keys/{key_id}", headers=ADMIN)
    response = auth_client.post("/token", data={"grant_type": "refresh_token", "refresh_token": refresh})
    assert response.status_code == 401


def test_oauth2_password_grant_as_containerd_posts_it(auth_client):
    key_id, secret = create_key(auth_client, ADMIN, "containerd", "team/*=pull")
    response = auth_client.post("/token", data={"grant_type": "password", "username": key_id, "password": secret,
                                                "service": "dockyard", "scope": f"repository:{NAME}:pull",
                                                "client_id": "containerd", "access_type": "offline"})
    assert response.status_code == 200
    assert {"access_token", "refresh_token", "expires_in", "issued_at"} <= set(response.json())
    response = auth_client.post("/token", data={"grant_type": "password", "username": key_id, "password": "no"})
    assert response.status_code == 401
    assert auth_client.post("/token", data={"grant_type": "magic"}).status_code == 400


def test_catalog_lists_only_what_the_caller_may_pull(auth_client):
    for name in ("team/a", "team/b", "secret/x", "zeta"):
        response = auth_client.post(f"/v2/{name}/blobs/uploads/", params={"digest": sha256(CONFIG)},
                                    content=CONFIG, headers=ADMIN)
        assert response.status_code == 201
        assert auth_client.put(f"/v2/{name}/manifests/v1", content=image_manifest(CONFIG, []), headers={
            **ADMIN, "Content-Type": "application/vnd.oci.image.manifest.v1+json"}).status_code == 201
    key_id, secret = create_key(auth_client, ADMIN, "team", "team/*=pull")
    token = token_for(auth_client, key_id, secret, "registry:catalog:*")["token"]
    assert auth_client.get("/v2/_catalog", headers=bearer(token)).json() == {"repositories": ["team/a", "team/b"]}
    page = auth_client.get("/v2/_catalog", params={"n": 1}, headers=basic(key_id, secret))
    assert page.json() == {"repositories": ["team/a"]} and "last=team%2Fa" in page.headers["Link"]
    everything = auth_client.get("/v2/_catalog", headers=ADMIN).json()["repositories"]
    assert everything == ["secret/x", "team/a", "team/b", "zeta"]


def test_anonymous_pull_only_where_a_policy_grants_it(auth_client, stored):
    assert auth_client.get("/dockyard/v1/anonymous", headers=ADMIN).json() == {"pull": []}
    token = token_for(auth_client, None, None, f"repository:{NAME}:pull")["token"]
    assert auth_client.get(f"/v2/{NAME}/manifests/v1", headers=bearer(token)).status_code == 401
    assert auth_client.put("/dockyard/v1/anonymous", json={"pull": ["team/*"]}, headers=ADMIN).status_code == 200
    answer = token_for(auth_client, None, None, f"repository:{NAME}:pull,push", offline_token="true")
    assert "refresh_token" not in answer
    assert auth_client.get(f"/v2/{NAME}/manifests/v1", headers=bearer(answer["token"])).status_code == 200
    assert auth_client.post(f"/v2/{NAME}/blobs/uploads/", headers=bearer(answer["token"])).status_code == 401


def test_an_empty_anonymous_list_makes_every_repository_private_again(auth_client, stored):
    def anonymous_pull() -> int:
        token = token_for(auth_client, None, None, f"repository:{NAME}:pull")["token"]
        return auth_client.get(f"/v2/{NAME}/manifests/v1", headers=bearer(token)).status_code

    assert auth_client.put("/dockyard/v1/anonymous", json={"pull": ["team/*"]}, headers=ADMIN).status_code == 200
    assert anonymous_pull() == 200
    cleared = auth_client.put("/dockyard/v1/anonymous", json={"pull": []}, headers=ADMIN)
    assert cleared.status_code == 200 and cleared.json() == {"pull": []}
    assert auth_client.get("/dockyard/v1/anonymous", headers=ADMIN).json() == {"pull": []}
    assert anonymous_pull() == 401


def test_mount_needs_pull_on_the_source(auth_client, stored):
    key_id, secret = create_key(auth_client, ADMIN, "mover", "dest/*=push")
    response = auth_client.post("/v2/dest/app/blobs/uploads/", params={"mount": sha256(LAYER), "from": NAME},
                                headers=basic(key_id, secret))
    assert response.status_code == 202  # not mounted: a plain upload session instead
    assert auth_client.head(f"/v2/dest/app/blobs/{sha256(LAYER)}", headers=ADMIN).status_code == 404
    key_id, secret = create_key(auth_client, ADMIN, "mover2", "dest/*=push", "team/*=pull")
    response = auth_client.post("/v2/dest/app/blobs/uploads/", params={"mount": sha256(LAYER), "from": NAME},
                                headers=basic(key_id, secret))
    assert response.status_code == 201


def test_admin_api(auth_client):
    response = auth_client.post("/dockyard/v1/keys", json={"name": "ci", "allow": ["team/*=pull,push"],
                                                           "expires_in": 3600}, headers=ADMIN)
    assert response.status_code == 201
    created = response.json()
    assert created["id"].startswith("dyk_") and created["secret"].startswith("dys_")
    listed = {k["id"]: k for k in auth_client.get("/dockyard/v1/keys", headers=ADMIN).json()["keys"]}
    assert listed[created["id"]]["allow"] == ["team/*=pull,push"] and listed[created["id"]]["state"] == "active"
    assert "secret" not in json.dumps(listed).replace('"secret_', "")
    for body in ({"name": "x", "allow": ["Bad Pattern=pull"]}, {"name": "x", "allow": ["a=fly"]},
                 {"name": "", "allow": ["a=pull"]}, {"name": "x", "allow": []}, {"name": "x", "allow": "a=pull"},
                 {"name": "x", "allow": ["a=pull"], "expires_in": -5}):
        response = auth_client.post("/dockyard/v1/keys", json=body, headers=ADMIN)
        assert response.status_code == 400, body
    key_id, secret = create_key(auth_client, ADMIN, "not-admin", "*=pull,push,delete")
    assert auth_client.get("/dockyard/v1/keys", headers=basic(key_id, secret)).status_code == 403
    assert auth_client.delete("/dockyard/v1/keys/dyk_nothing", headers=ADMIN).status_code == 404


def test_basic_credentials_are_cached_per_instance(auth_client, calls, stored):
    key_id, secret = create_key(auth_client, ADMIN, "cached", "team/*=pull")
    auth_client.get(f"/v2/{NAME}/manifests/v1", headers=basic(key_id, secret))
    calls.clear()
    for _ in range(3):
        assert auth_client.get(f"/v2/{NAME}/manifests/v1", headers=basic(key_id, secret)).status_code == 200
    assert calls[("dynamodb", "GetItem")] == 3  # the manifest reads only; no key read
    # A revocation through this instance drops its cache at once.
    auth_client.delete(f"/dockyard/v1/keys/{key_id}", headers=ADMIN)
    assert auth_client.get(f"/v2/{NAME}/manifests/v1", headers=basic(key_id, secret)).status_code == 401


def test_a_token_for_a_key_this_instance_verified_lately_costs_no_read(auth_client, auth_registry, calls):
    key_id, secret = create_key(auth_client, ADMIN, "per-pull", "team/*=pull")
    token_for(auth_client, key_id, secret, f"repository:{NAME}:pull")  # read (and stamped as used)
    calls.clear()
    for _ in range(3):
        assert token_for(auth_client, key_id, secret, f"repository:{NAME}:pull")["token"]
    assert dict(calls) == {}
    # docker's refresh tokens (after `docker login`): the key behind one is read once a minute too.
    refresh = token_for(auth_client, key_id, secret, offline_token="true")["refresh_token"]
    calls.clear()
    for expected in ({("dynamodb", "GetItem"): 1}, {}, {}):
        response = auth_client.post("/token", data={"grant_type": "refresh_token", "refresh_token": refresh,
                                                    "service": "dockyard", "scope": f"repository:{NAME}:pull"})
        assert response.status_code == 200 and dict(calls) == expected
        calls.clear()
    assert auth_client.get("/token", headers=basic(key_id, secret + "x")).status_code == 401  # never cached
    assert auth_client.delete(f"/dockyard/v1/keys/{key_id}", headers=ADMIN).status_code == 200
    assert auth_client.get("/token", headers=basic(key_id, secret)).status_code == 401  # forgotten at once here
    assert auth_client.post("/token", data={"grant_type": "refresh_token", "refresh_token": refresh}).status_code == 401
    # A key that expires in a second is trusted no longer than that, however fresh the cache.
    short_id, short_secret = create_key(auth_client, ADMIN, "short-lived", "team/*=pull", expires_in=1)
    token_for(auth_client, short_id, short_secret, f"repository:{NAME}:pull")
    expires_at = auth_registry.access.store.get_access_key(short_id).expires_at
    time.sleep(max(0.0, expires_at - time.time()) + 0.05)
    assert auth_client.get("/token", headers=basic(short_id, short_secret)).status_code == 401


def test_token_verification_makes_no_aws_call(auth_client, calls, stored):
    token = token_for(auth_client, ADMIN_ID, ADMIN_SECRET, f"repository:{NAME}:pull")["token"]
    auth_client.app.state.registry().blobs.links.clear()  # a cold instance
    calls.clear()
    assert auth_client.get(f"/v2/{NAME}/blobs/{sha256(LAYER)}", headers=bearer(token),
                           follow_redirects=False).status_code == 307
    assert dict(calls) == {("dynamodb", "GetItem"): 1}


def test_audit_lines_for_writes_key_changes_and_denials(auth_client, stored):
    with audit_lines() as lines:
        token = token_for(auth_client, ADMIN_ID, ADMIN_SECRET, f"repository:{NAME}:pull,push")["token"]
        manifest = image_manifest(CONFIG, [LAYER])
        auth_client.put(f"/v2/{NAME}/manifests/moved", content=manifest, headers={
            **bearer(token), "Content-Type": "application/vnd.oci.image.manifest.v1+json",
            "X-Forwarded-For": "198.51.100.4"})
        created = create_key(auth_client, ADMIN, "audited", "team/*=pull")
        auth_client.get(f"/v2/{NAME}/manifests/v1", headers=basic("dyk_" + "9" * 20, "nope"))
        auth_client.get("/v2/")  # the token flow's first step: not a denial
    events = {line["event"]: line for line in lines}
    assert set(events) == {"manifest.push", "key.create", "denied"}
    push = events["manifest.push"]
    assert (push["who"], push["repository"], push["reference"], push["digest"], push["result"]) == (
        ADMIN_ID, NAME, "moved", sha256(manifest), "ok")
    assert push["ip"] and push["forwarded_for"] == "198.51.100.4"
    assert events["key.create"]["key"] == created[0] and events["key.create"]["who"] == ADMIN_ID
    assert events["denied"]["status"] == 401 and events["denied"]["result"] == "denied"
    text = json.dumps(lines)
    assert created[1] not in text and ADMIN_SECRET not in text and token not in text


def test_signing_key_rotation_keeps_issued_tokens_valid(auth_client, auth_registry, auth_settings):
    from dockyard.auth import service
    from dockyard.auth.secrets_store import rotate_keyring
    from dockyard.storage.aws import secrets_client

    before = token_for(auth_client, ADMIN_ID, ADMIN_SECRET, f"repository:{NAME}:pull")["token"]
    client = secrets_client(auth_settings)
    assert rotate_keyring(client, auth_settings.signing_secret) == "k2"
    # Another host (a fresh registry) signs with the new key at once ...
    from dockyard.factory import build_registry

    fresh = build_registry(auth_settings).auth
    after, _, _ = fresh.tokens.issue(ADMIN_ID, [Access("repository", NAME, frozenset({"pull"}))])
    # ... and this warm host accepts it (it re-reads its keyring on an unknown key id) and still the old one.
    assert auth_client.get("/v2/", headers=bearer(after)).status_code == 200
    assert auth_client.get("/v2/", headers=bearer(before)).status_code == 200
    assert rotate_keyring(client, auth_settings.signing_secret) == "k3"  # k1 is dropped now
    auth_registry.auth._tokens_loaded -= service.KEYRING_SECONDS + 1
    assert auth_client.get("/v2/", headers=bearer(before)).status_code == 401
    assert auth_client.get("/v2/", headers=bearer(after)).status_code == 200
