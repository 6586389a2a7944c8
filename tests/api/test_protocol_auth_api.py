"""Protocol details under access control, as the spec and distribution have them: mounts through the token
flow, the catalog's scope, anonymous rules on every path, and invalid ranges."""

import pytest

from tests.conftest import ADMIN_ID, ADMIN_SECRET
from tests.support.auth import basic, bearer, create_key, follow_challenge, token_for
from tests.support.oci import sha256
from tests.support.registry import error_code, push_image

ADMIN = basic(ADMIN_ID, ADMIN_SECRET)
LAYER = b"a layer worth mounting" * 100


@pytest.fixture
def source(auth_client):
    push_image(WithHeaders(auth_client, ADMIN), "team/app", "v1", layers=[LAYER])
    return sha256(LAYER)


class WithHeaders:
    """The test client, with headers on every request (for the push helpers)."""

    def __init__(self, client, headers):
        self.client, self.headers = client, headers

    def __getattr__(self, method):
        return lambda *args, headers=None, **kwargs: getattr(self.client, method)(
            *args, headers={**self.headers, **(headers or {})}, **kwargs)


def mount(client, digest, headers):
    return client.post("/v2/dest/app/blobs/uploads/", params={"mount": digest, "from": "team/app"}, headers=headers)


def test_a_mount_challenge_names_the_source_so_token_clients_really_mount(auth_client, source):
    key_id, secret = create_key(auth_client, ADMIN, "mover", "dest/*=push", "team/*=pull")
    # Without credentials: one challenge for both repositories, as distribution sends it.
    challenge = mount(auth_client, source, {})
    assert challenge.status_code == 401
    assert 'scope="repository:dest/app:pull,push repository:team/app:pull"' in challenge.headers["WWW-Authenticate"]
    assert mount(auth_client, source, follow_challenge(auth_client, challenge, key_id, secret)).status_code == 201

    # A token for the destination only (from an earlier challenge): 401 insufficient_scope naming both.
    token = token_for(auth_client, key_id, secret, "repository:dest/other:pull,push")["token"]
    response = auth_client.post("/v2/dest/other/blobs/uploads/", params={"mount": source, "from": "team/app"},
                                headers=bearer(token))
    assert response.status_code == 401 and error_code(response) == "DENIED"
    assert response.headers["WWW-Authenticate"].endswith(
        'scope="repository:dest/other:pull,push repository:team/app:pull",error="insufficient_scope"')
    retried = auth_client.post("/v2/dest/other/blobs/uploads/", params={"mount": source, "from": "team/app"},
                               headers=follow_challenge(auth_client, response, key_id, secret))
    assert retried.status_code == 201 and retried.headers["Docker-Content-Digest"] == source


def test_a_key_that_cannot_read_the_source_uploads_instead_without_a_challenge_loop(auth_client, source):
    key_id, secret = create_key(auth_client, ADMIN, "pusher", "dest/*=push")
    challenge = mount(auth_client, source, {})
    headers = follow_challenge(auth_client, challenge, key_id, secret)  # granted dest only
    response = mount(auth_client, source, headers)
    assert response.status_code == 202  # a plain upload session, as the spec allows
    assert auth_client.head(f"/v2/dest/app/blobs/{source}", headers=ADMIN).status_code == 404


def test_the_catalog_challenge_carries_its_scope_and_its_token_lists_what_the_caller_may_pull(auth_client):
    for repo in ("team/a", "public/tool", "secret/x"):
        push_image(WithHeaders(auth_client, ADMIN), repo, "v1")
    assert auth_client.put("/dockyard/v1/anonymous", json={"pull": ["public/*"]}, headers=ADMIN).status_code == 200
    key_id, secret = create_key(auth_client, ADMIN, "team", "team/*=pull")

    challenge = auth_client.get("/v2/_catalog")
    assert challenge.status_code == 401
    assert challenge.headers["WWW-Authenticate"] == (
        'Bearer realm="http://registry.test/token",service="dockyard",scope="registry:catalog:*"')
    keyed = auth_client.get("/v2/_catalog", headers=follow_challenge(auth_client, challenge, key_id, secret))
    assert keyed.json() == {"repositories": ["public/tool", "team/a"]}
    # Anonymous callers (following the challenge with no credentials) see what anonymous rules make public.
    anonymous = auth_client.get("/v2/_catalog", headers=follow_challenge(auth_client, challenge))
    assert anonymous.json() == {"repositories": ["public/tool"]}
    # Basic credentials agree with the token.
    assert auth_client.get("/v2/_catalog", headers=basic(key_id, secret)).json() == keyed.json()

    # A token that does not grant the catalog is told so, instead of an empty list.
    token = token_for(auth_client, key_id, secret, "repository:team/a:pull")["token"]
    refused = auth_client.get("/v2/_catalog", headers=bearer(token))
    assert refused.status_code == 401 and 'error="insufficient_scope"' in refused.headers["WWW-Authenticate"]


def test_basic_credentials_may_pull_what_anonymous_rules_make_public(auth_client):
    digest, _ = push_image(WithHeaders(auth_client, ADMIN), "public/tool", "v1")
    assert auth_client.put("/dockyard/v1/anonymous", json={"pull": ["public/*"]}, headers=ADMIN).status_code == 200
    key_id, secret = create_key(auth_client, ADMIN, "team", "team/*=push")
    by_basic = auth_client.get("/v2/public/tool/manifests/v1", headers=basic(key_id, secret))
    token = token_for(auth_client, key_id, secret, "repository:public/tool:pull")["token"]
    by_token = auth_client.get("/v2/public/tool/manifests/v1", headers=bearer(token))
    assert by_basic.status_code == by_token.status_code == 200
    assert by_basic.headers["Docker-Content-Digest"] == digest
    # Public means pull, never push, on either path.
    push = auth_client.post("/v2/public/tool/blobs/uploads/", headers=basic(key_id, secret))
    assert push.status_code == 403


@pytest.mark.parametrize("header,status", [
    ("bytes=500-0", 416), (f"bytes={len(LAYER)}-", 416), ("bytes=-0", 416), ("bytes=abc", 416),
    ("bytes=0-10, 5-1", 416), ("bytes=0-10", 307), ("bytes=-10", 307), (f"bytes={len(LAYER) - 1}-", 307),
    ("bytes=0-99999999", 307), ("items=0-1", 307), ("bytes=9999-, 0-1", 307),
])
def test_an_invalid_range_is_416_before_the_redirect(auth_client, source, header, status):
    response = auth_client.get(f"/v2/team/app/blobs/{source}", headers={**ADMIN, "Range": header},
                               follow_redirects=False)
    assert response.status_code == status, response.text
    if status == 416:
        assert response.headers["Content-Range"] == f"bytes */{len(LAYER)}"
        assert error_code(response) == "SIZE_INVALID"
