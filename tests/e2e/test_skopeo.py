"""skopeo pushes images built by the tests to `dockyard serve` and pulls them back, byte for byte."""

import json

import pytest

from tests.support.oci import Layout, layer_tar, random_layer, sha256
from tests.support.processes import layout_manifest, skopeo, verify_layout

MB = 1000 * 1000
pytestmark = pytest.mark.e2e


def push(layout_ref: str, server, ref: str, *extra: str) -> None:
    skopeo("copy", "--dest-tls-verify=false", *extra, layout_ref, f"docker://{server.host}/{ref}")


def pull(server, ref: str, out, tag: str, *extra: str) -> None:
    skopeo("copy", "--src-tls-verify=false", *extra, f"docker://{server.host}/{ref}", f"oci:{out}:{tag}")


def raw(server, ref: str) -> bytes:
    return skopeo("inspect", "--tls-verify=false", "--raw", f"docker://{server.host}/{ref}").encode()


def test_multi_layer_image_with_a_50mb_layer_round_trips(server, tmp_path):
    layout = Layout(tmp_path / "src")
    layers = [layer_tar({"etc/hello": b"hello\n"}), random_layer(50 * MB), random_layer(300_000)]
    desc, manifest = layout.image(layers)
    layout.tag(desc, "v1")
    push(f"oci:{tmp_path / 'src'}:v1", server, "team/app:v1")

    assert raw(server, "team/app:v1") == manifest
    assert json.loads(skopeo("list-tags", "--tls-verify=false", f"docker://{server.host}/team/app"))["Tags"] == ["v1"]
    pull(server, "team/app:v1", tmp_path / "out", "v1")
    pulled = verify_layout(tmp_path / "out")
    assert layout_manifest(tmp_path / "out", "v1")["digest"] == desc["digest"]
    assert pulled[desc["digest"]] == manifest
    for compressed, _ in layers:
        assert (tmp_path / "out" / "blobs" / "sha256" / sha256(compressed)[7:]).read_bytes() == compressed


def test_multi_arch_index_round_trips_with_all(server, tmp_path):
    layout = Layout(tmp_path / "src")
    images = [layout.image([random_layer(200_000)], arch=arch)[0] for arch in ("amd64", "arm64")]
    desc, index = layout.multi_arch(images)
    layout.tag(desc, "multi")
    push(f"oci:{tmp_path / 'src'}:multi", server, "team/multi:1", "--all")

    assert raw(server, "team/multi:1") == index
    for image in images:
        assert sha256(raw(server, f"team/multi@{image['digest']}")) == image["digest"]
    pull(server, "team/multi:1", tmp_path / "out", "multi", "--all")
    pulled = verify_layout(tmp_path / "out")
    assert pulled[desc["digest"]] == index
    assert all(image["digest"] in pulled for image in images)


def test_docker_v2s2_conversion_round_trips(server, tmp_path):
    layout = Layout(tmp_path / "src")
    desc, _ = layout.image([layer_tar({"a": b"a" * 1000}), random_layer(1 * MB)])
    layout.tag(desc, "v1")
    push(f"oci:{tmp_path / 'src'}:v1", server, "team/docker:v1", "--format", "v2s2")

    manifest = raw(server, "team/docker:v1")
    assert json.loads(manifest)["mediaType"] == "application/vnd.docker.distribution.manifest.v2+json"
    skopeo("copy", "--src-tls-verify=false", f"docker://{server.host}/team/docker:v1", f"dir:{tmp_path / 'dir'}")
    assert (tmp_path / "dir" / "manifest.json").read_bytes() == manifest
    for layer in json.loads(manifest)["layers"]:
        assert sha256((tmp_path / "dir" / layer["digest"][7:]).read_bytes()) == layer["digest"]


def test_artifact_with_subject_round_trips(server, tmp_path):
    layout = Layout(tmp_path / "src")
    image, _ = layout.image([random_layer(10_000)])
    layout.tag(image, "v1")
    subject = {k: image[k] for k in ("mediaType", "digest", "size")}
    artifact, body = layout.artifact("application/spdx+json", [b'{"spdxVersion": "SPDX-2.3"}'], subject=subject,
                                     annotations={"org.example.kind": "sbom"})
    layout.tag(artifact, "sbom")
    push(f"oci:{tmp_path / 'src'}:v1", server, "team/app:v1")
    push(f"oci:{tmp_path / 'src'}:sbom", server, "team/app:sbom")

    assert raw(server, "team/app:sbom") == body
    assert raw(server, f"team/app@{artifact['digest']}") == body
    pull(server, "team/app:sbom", tmp_path / "out", "sbom")
    assert verify_layout(tmp_path / "out")[artifact["digest"]] == body


def test_pulls_stay_byte_exact_when_a_warm_server_answers_small_blobs_itself(server, tmp_path):
    import httpx

    layout = Layout(tmp_path / "src")
    small, large = layer_tar({"etc/motd": b"small\n"}), random_layer(300_000)
    desc, manifest = layout.image([small, large])
    layout.tag(desc, "v1")
    push(f"oci:{tmp_path / 'src'}:v1", server, "team/small:v1")
    config = json.loads(manifest)["config"]["digest"]
    for n in range(3):  # the small layer: redirected, then read once, then from memory (the config: at once)
        pull(server, "team/small:v1", tmp_path / f"out{n}", "v1")
        pulled = verify_layout(tmp_path / f"out{n}")
        assert pulled[desc["digest"]] == manifest
        for compressed, _ in (small, large):
            assert (tmp_path / f"out{n}" / "blobs" / "sha256" / sha256(compressed)[7:]).read_bytes() == compressed
    answers = {digest: httpx.get(f"http://{server.host}/v2/team/small/blobs/{digest}", follow_redirects=True)
               for digest in (config, sha256(small[0]), sha256(large[0]))}
    assert [r.status_code for r in answers.values()] == [200, 200, 200]
    assert [len(r.history) for r in answers.values()] == [0, 0, 1]  # the large layer came through its redirect
    assert sha256(answers[config].content) == config


def test_docker_pulls_an_image_whose_small_blobs_a_warm_server_answers_itself(server, tmp_path):
    import tempfile
    from pathlib import Path

    from tests.support.docker import docker, dockerd

    layout = Layout(tmp_path / "src")
    desc, _ = layout.image([layer_tar({"etc/motd": b"small\n"}), random_layer(300_000)])
    layout.tag(desc, "v1")
    push(f"oci:{tmp_path / 'src'}:v1", server, "team/docker:v1")
    with tempfile.TemporaryDirectory(prefix="dk") as root, dockerd(Path(root)) as env:  # a short socket path
        for _ in range(3):  # the small layer: redirected, then read once, then from memory (the config: at once)
            docker(env, "pull", f"{server.host}/team/docker:v1")
            digests = docker(env, "image", "inspect", "--format", "{{json .RepoDigests}}", f"{server.host}/team/docker:v1")
            assert f"{server.host}/team/docker@{desc['digest']}" in json.loads(digests.stdout)
            docker(env, "image", "rm", f"{server.host}/team/docker:v1")


def test_servers_that_never_saw_an_image_pull_it_with_what_its_manifest_told_them(server, backend_args, tmp_path):
    """The pull hints (registry.hints), end to end: pushed through one server, the image is pulled byte-exact by
    skopeo and by docker from servers that have never seen it. Such a server answers the config with 200 right
    after reading the manifest: its push stored the config's bytes with it (else its first answer is a 307)."""
    import tempfile
    from pathlib import Path

    import httpx

    from tests.support.docker import docker, dockerd
    from tests.support.oci import OCI_MANIFEST
    from tests.support.processes import Server

    layout = Layout(tmp_path / "src")
    large = random_layer(300_000)
    desc, manifest = layout.image([layer_tar({"etc/motd": b"hinted\n"}), large])
    layout.tag(desc, "v1")
    push(f"oci:{tmp_path / 'src'}:v1", server, "team/hinted:v1")
    config = json.loads(manifest)["config"]["digest"]

    fresh = Server(*backend_args)
    try:
        pull(fresh, "team/hinted:v1", tmp_path / "out", "v1")
        assert verify_layout(tmp_path / "out")[desc["digest"]] == manifest
    finally:
        fresh.stop()
    fresh = Server(*backend_args)
    try:
        base = f"http://{fresh.host}/v2/team/hinted"
        assert httpx.get(f"{base}/manifests/v1", headers={"Accept": OCI_MANIFEST}).content == manifest
        answer = httpx.get(f"{base}/blobs/{config}", follow_redirects=False)
        assert answer.status_code == 200 and sha256(answer.content) == config
        assert httpx.get(f"{base}/blobs/{sha256(large[0])}", follow_redirects=False).status_code == 307
    finally:
        fresh.stop()
    fresh = Server(*backend_args)
    try:
        with tempfile.TemporaryDirectory(prefix="dk") as root, dockerd(Path(root)) as env:  # a short socket path
            docker(env, "pull", f"{fresh.host}/team/hinted:v1")
            digests = docker(env, "image", "inspect", "--format", "{{json .RepoDigests}}", f"{fresh.host}/team/hinted:v1")
            assert f"{fresh.host}/team/hinted@{desc['digest']}" in json.loads(digests.stdout)
    finally:
        fresh.stop()


def test_a_layer_whose_bytes_were_lost_pulls_from_a_new_server_once_pushed_again(server, backend_args, moto_endpoint,
                                                                               tmp_path):
    """The layer's object is deleted from S3 behind the registry's back, and the layer is pushed again (a
    monolithic upload: skopeo would HEAD it and skip it). A server that never saw the image reads the tag,
    whose push stored where the layer was: skopeo pulls it byte-exact all the same."""
    import boto3
    import httpx

    from tests.support.processes import Server

    layout = Layout(tmp_path / "src")
    layer = random_layer(200_000)
    desc, manifest = layout.image([layer])
    layout.tag(desc, "v1")
    push(f"oci:{tmp_path / 'src'}:v1", server, "team/lost:v1")
    s3, bucket = boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1"), backend_args[3]
    [key] = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="blobs/")["Contents"]
             if o["Size"] == len(layer[0])]
    s3.delete_object(Bucket=bucket, Key=key)
    again = httpx.post(f"http://{server.host}/v2/team/lost/blobs/uploads/", params={"digest": sha256(layer[0])},
                       content=layer[0])
    assert again.status_code == 201, again.text
    fresh = Server(*backend_args)
    try:
        pull(fresh, "team/lost:v1", tmp_path / "out", "v1")
        assert verify_layout(tmp_path / "out")[desc["digest"]] == manifest
    finally:
        fresh.stop()
