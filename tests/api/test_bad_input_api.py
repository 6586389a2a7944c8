"""A barrage of bad requests: each gets the spec's error, and stored content stays exactly as it was."""

import json

import httpx

from dockyard.domain.manifest import MAX_MANIFEST_SIZE
from tests.support.oci import OCI_MANIFEST, sha256
from tests.support.registry import error_code, image_manifest, push_image

NAME = "team/app"
LAYERS = [b"first layer" * 100, b"second layer" * 100]


def snapshot(client) -> dict:
    """Everything a client can read about the repository."""
    state = {"tags": client.get(f"/v2/{NAME}/tags/list").json(), "catalog": client.get("/v2/_catalog").json()}
    manifest = client.get(f"/v2/{NAME}/manifests/v1")
    state["manifest"] = (manifest.status_code, manifest.headers["Docker-Content-Digest"], manifest.content)
    doc = json.loads(manifest.content)
    for descriptor in [doc["config"], *doc["layers"]]:
        answer = client.get(f"/v2/{NAME}/blobs/{descriptor['digest']}", follow_redirects=False)
        # a redirect, or the bytes themselves (a small blob this instance was asked for before)
        data = answer.content if answer.status_code == 200 else httpx.get(answer.headers["Location"]).content
        state[descriptor["digest"]] = sha256(data)
    return state


def test_bad_input_never_disturbs_stored_content(client):
    digest, body = push_image(client, NAME, "v1", layers=LAYERS)
    before = snapshot(client)
    assert before[sha256(LAYERS[0])] == sha256(LAYERS[0])
    location = client.post(f"/v2/{NAME}/blobs/uploads/").headers["Location"]
    client.patch(location, content=b"abc", headers={"Content-Range": "0-2"})
    manifest_ct = {"Content-Type": OCI_MANIFEST}
    cases = [
        (client.get("/v2/team/APP/manifests/v1"), 400, "NAME_INVALID"),
        (client.put("/v2/team//app/manifests/v1", content=body, headers=manifest_ct), 400, "NAME_INVALID"),
        (client.put(f"/v2/{NAME}/manifests/bad:tag", content=body, headers=manifest_ct), 400, "DIGEST_INVALID"),
        (client.put(f"/v2/{NAME}/manifests/.v1", content=body, headers=manifest_ct), 400, "MANIFEST_INVALID"),
        (client.get(f"/v2/{NAME}/blobs/sha256:{'z' * 64}"), 400, "DIGEST_INVALID"),
        (client.get(f"/v2/{NAME}/blobs/md5:{'a' * 32}"), 400, "DIGEST_INVALID"),
        (client.put(location, params={"digest": sha256(b"abd")}), 400, "DIGEST_INVALID"),
        (client.patch(f"/v2/{NAME}/blobs/uploads/00000000-0000-4000-8000-000000000000", content=b"x"), 404,
         "BLOB_UPLOAD_UNKNOWN"),
        (client.put(f"/v2/{NAME}/manifests/v1", content=b"\x00\x01 not json", headers=manifest_ct), 400,
         "MANIFEST_INVALID"),
        (client.put(f"/v2/{NAME}/manifests/v1", content=body,
                    headers={"Content-Type": "application/vnd.example.unknown+json"}), 400, "MANIFEST_INVALID"),
        (client.put(f"/v2/{NAME}/manifests/v1", content=image_manifest(b"{}", [b"never pushed"]),
                    headers=manifest_ct), 400, "MANIFEST_BLOB_UNKNOWN"),
        (client.put(f"/v2/{NAME}/manifests/v1", content=b"{" + b" " * MAX_MANIFEST_SIZE + b"}",
                    headers=manifest_ct), 413, "SIZE_INVALID"),
        (client.put(f"/v2/{NAME}/manifests/{sha256(b'x')}", content=body, headers=manifest_ct), 400,
         "DIGEST_INVALID"),
        (client.post(f"/v2/{NAME}/blobs/uploads/", params={"digest": sha256(LAYERS[0])}, content=b"tampered"),
         400, "DIGEST_INVALID"),
        (client.get(f"/v2/{NAME}/tags/list", params={"n": "-1"}), 400, "UNSUPPORTED"),
    ]
    for response, status, code in cases:
        assert response.status_code == status, (response.request.url, response.text)
        assert error_code(response) == code, (response.request.url, response.text)
    assert snapshot(client) == before
