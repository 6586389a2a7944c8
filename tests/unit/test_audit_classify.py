"""Which requests make an audit line, and what it says."""

import pytest

from dockyard.audit import classify

D = "sha256:" + "a" * 64


@pytest.mark.parametrize("method,path,query,status,expected", [
    ("PUT", "/v2/team/app/manifests/v1", "", 201, {"event": "manifest.push", "repository": "team/app",
                                                   "reference": "v1"}),
    ("PUT", "/v2/team/manifests/evil/manifests/latest", "", 201,
     {"event": "manifest.push", "repository": "team/manifests/evil", "reference": "latest"}),
    ("DELETE", f"/v2/team/app/manifests/{D}", "", 202, {"event": "manifest.delete", "repository": "team/app",
                                                        "reference": D}),
    ("POST", "/v2/team/app/blobs/uploads/", f"digest={D}", 201, {"event": "blob.push", "repository": "team/app"}),
    ("POST", "/v2/team/app/blobs/uploads/", f"mount={D}&from=x", 201, {"event": "blob.mount",
                                                                       "repository": "team/app"}),
    ("PUT", "/v2/team/app/blobs/uploads/0000", f"digest={D}", 201, {"event": "blob.push", "repository": "team/app"}),
    ("DELETE", f"/v2/team/app/blobs/{D}", "", 202, {"event": "blob.delete", "repository": "team/app", "digest": D}),
    ("POST", "/v2/team/app/blobs/uploads/", "", 202, None),
    ("PATCH", "/v2/team/app/blobs/uploads/0000", "", 202, None),
    ("DELETE", "/v2/team/app/blobs/uploads/0000", "", 204, None),
    ("GET", "/v2/team/app/manifests/v1", "", 200, None),
    ("PUT", "/v2/team/app/manifests/v1", "", 400, None),
    ("POST", "/dockyard/v1/keys", "", 201, {"event": "key.create"}),
    ("DELETE", "/dockyard/v1/keys/dyk_x", "", 200, {"event": "key.revoke"}),
    ("PUT", "/dockyard/v1/anonymous", "", 200, {"event": "anonymous.set"}),
    ("GET", "/v2/team/app/manifests/v1", "", 401, {"event": "denied"}),
    ("GET", "/v2/team/app/manifests/v1", "", 403, {"event": "denied"}),
])
def test_classify(method, path, query, status, expected):
    assert classify(method, path, query, status, has_credentials=True) == expected


def test_the_first_step_of_the_token_flow_is_not_a_denial():
    assert classify("GET", "/v2/", "", 401, has_credentials=False) is None
    assert classify("GET", "/v2/", "", 401, has_credentials=True) == {"event": "denied"}
