"""The audit line of each write, as the middleware writes it from the route that answered."""

from __future__ import annotations

import pytest

from tests.support.audit import audit_lines
from tests.support.oci import sha256
from tests.support.registry import push_blob, push_image

NAME = "team/app"


@pytest.fixture
def lines():
    with audit_lines() as collected:
        yield collected


def test_every_write_and_nothing_else_makes_a_line(client, lines):
    layer = push_blob(client, NAME, b"layer")  # monolithic
    location = client.post(f"/v2/{NAME}/blobs/uploads/").headers["Location"]
    client.patch(location, content=b"chunked")
    client.put(location, params={"digest": sha256(b"chunked")})
    client.post("/v2/team/other/blobs/uploads/", params={"mount": layer, "from": NAME})
    digest, _ = push_image(client, "team/manifests/evil", "latest")
    client.get(f"/v2/{NAME}/blobs/{layer}", follow_redirects=False)
    client.delete(f"/v2/{NAME}/blobs/{layer}")
    client.delete(f"/v2/team/manifests/evil/manifests/{digest}")
    client.put("/dockyard/v1/anonymous", json={"pull": ["public/*"]})
    seen = [(line["event"], line.get("repository"), line.get("reference") or line.get("digest"))
            for line in lines]
    pushes = [entry for entry in seen if entry[:2] == ("blob.push", "team/manifests/evil")]
    assert seen == [("blob.push", NAME, layer), ("blob.push", NAME, sha256(b"chunked")),
                    ("blob.mount", "team/other", layer), *pushes,
                    ("manifest.push", "team/manifests/evil", "latest"), ("blob.delete", NAME, layer),
                    ("manifest.delete", "team/manifests/evil", digest), ("anonymous.set", None, None)]
    assert len(pushes) == 2  # the image's config and layer


def test_every_admin_write_makes_a_line_naming_what_it_changed(client, lines):
    """Rules and runs change what is kept: each such write is audited with the glob it names."""
    assert client.put("/dockyard/v1/retention/team/*", json={"keep_last": 3}).status_code == 200
    assert client.post("/dockyard/v1/gc", json={"dry_run": True, "grace": 0}).status_code == 202
    assert client.delete("/dockyard/v1/retention/team/*").status_code == 200
    assert client.put("/dockyard/v1/immutability/prod/*", json={"tags": ["v*"]}).status_code == 200
    assert client.delete("/dockyard/v1/immutability/prod/*").status_code == 200
    assert client.get("/dockyard/v1/retention").status_code == 200  # a read: no line
    assert [(line["event"], line.get("pattern")) for line in lines] == [
        ("retention.set", "team/*"), ("gc.start", None), ("retention.delete", "team/*"),
        ("immutability.set", "prod/*"), ("immutability.delete", "prod/*")]
