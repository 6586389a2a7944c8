"""Content discovery and management with real clients: skopeo list-tags and delete, oras referrers,
and paging through 250 tags and 120 repositories."""

import json
import os

import httpx
import pytest
from oras.client import OrasClient
from oras.oci import Subject

from tests.support.oci import OCI_MANIFEST, Layout, layer_tar, sha256
from tests.support.processes import skopeo

pytestmark = pytest.mark.e2e


def small_image(tmp_path, name="src"):
    layout = Layout(tmp_path / name)
    desc, manifest = layout.image([layer_tar({"f": os.urandom(512)})])
    layout.tag(desc, "v1")
    return f"oci:{tmp_path / name}:v1", desc, manifest


def test_skopeo_list_tags_and_delete(server, tmp_path):
    source, desc, _ = small_image(tmp_path)
    for tag in ("1.0", "1.1", "latest"):
        skopeo("copy", "--dest-tls-verify=false", source, f"docker://{server.host}/team/app:{tag}")
    listed = json.loads(skopeo("list-tags", "--tls-verify=false", f"docker://{server.host}/team/app"))
    assert listed["Tags"] == ["1.0", "1.1", "latest"]
    # skopeo delete resolves the tag and deletes the manifest by digest: every tag on it goes with it.
    skopeo("delete", "--tls-verify=false", f"docker://{server.host}/team/app:1.0")
    assert httpx.get(f"{server.url}/v2/team/app/manifests/{desc['digest']}").status_code == 404
    assert httpx.get(f"{server.url}/v2/team/app/tags/list").json()["tags"] == []


def test_oras_referrers_listed_filtered_and_deleted(server, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    source, desc, manifest = small_image(tmp_path)
    skopeo("copy", "--dest-tls-verify=false", source, f"docker://{server.host}/team/app:v1")
    subject = Subject(mediaType=OCI_MANIFEST, digest=desc["digest"], size=len(manifest))
    client = OrasClient(hostname=server.host, insecure=True)
    (tmp_path / "sbom.spdx.json").write_text('{"spdxVersion": "SPDX-2.3"}')
    (tmp_path / "sbom-config.json").write_text("{}")
    (tmp_path / "sig.bin").write_bytes(os.urandom(64))
    (tmp_path / "sig-config.json").write_text("{}")
    client.push(target=f"{server.host}/team/app:sbom", files=["sbom.spdx.json"], subject=subject,
                manifest_config="sbom-config.json:application/spdx+json",
                manifest_annotations={"org.example.kind": "sbom"})
    client.push(target=f"{server.host}/team/app:signature", files=["sig.bin"], subject=subject,
                manifest_config="sig-config.json:application/vnd.example.signature.v1")

    url = f"{server.url}/v2/team/app/referrers/{desc['digest']}"
    everything = httpx.get(url)
    assert everything.status_code == 200 and everything.headers["Content-Type"] == \
        "application/vnd.oci.image.index.v1+json"
    by_type = {d["artifactType"]: d for d in everything.json()["manifests"]}
    assert set(by_type) == {"application/spdx+json", "application/vnd.example.signature.v1"}
    assert by_type["application/spdx+json"]["annotations"]["org.example.kind"] == "sbom"
    filtered = httpx.get(url, params={"artifactType": "application/spdx+json"})
    assert filtered.headers["OCI-Filters-Applied"] == "artifactType"
    assert [d["artifactType"] for d in filtered.json()["manifests"]] == ["application/spdx+json"]

    assert client.delete_tag(f"{server.host}/team/app", "signature")
    remaining = httpx.get(url).json()["manifests"]
    assert [d["artifactType"] for d in remaining] == ["application/spdx+json"]


def test_paging_through_250_tags_and_120_repositories(server, tmp_path):
    http = httpx.Client(base_url=server.url, timeout=30)
    config = b'{"os": "linux"}'
    body = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                       "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                                  "digest": sha256(config), "size": len(config)}, "layers": []}).encode()

    def push(repo, tag):
        http.post(f"/v2/{repo}/blobs/uploads/", params={"digest": sha256(config)}, content=config)
        assert http.put(f"/v2/{repo}/manifests/{tag}", content=body,
                        headers={"Content-Type": OCI_MANIFEST}).status_code == 201

    tags = [f"t{i:03d}" for i in range(250)] + ["A", "Z9", "_x", "v1.0", "v1.0-rc"]
    for tag in tags:
        push("team/app", tag)
    repos = [f"r{i:03d}/app" for i in range(119)] + ["team/app"]
    for repo in repos[:-1]:
        push(repo, "v1")

    listed = json.loads(skopeo("list-tags", "--tls-verify=false", f"docker://{server.host}/team/app"))["Tags"]
    assert listed == sorted(tags)

    def pages(path, key, n):
        seen, params = [], {"n": n}
        while True:
            response = http.get(path, params=params)
            items = response.json()[key]
            assert len(items) <= n
            seen += items
            if "Link" not in response.headers:
                return seen
            next_url = response.headers["Link"].split(";")[0].strip("<>")
            path, params = next_url, None

    assert pages("/v2/team/app/tags/list", "tags", 37) == sorted(tags)
    assert pages("/v2/_catalog", "repositories", 25) == sorted(repos)
