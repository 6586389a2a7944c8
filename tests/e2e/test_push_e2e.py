"""Pushing past the Lambda payload cap: against `dockyard serve --lambda-limits`, a plain skopeo push of a
100 MiB layer is refused, while `dockyard push` and skopeo through `dockyard gateway` land it."""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import httpx
import pytest

from dockyard.domain.digest import Digest
from dockyard.registry.direct import direct_id
from dockyard.resources import Env
from tests.support.oci import Layout, layer_tar, random_layer, sha256
from tests.support.processes import (
    Server,
    free_port,
    skopeo,
    stop_process,
    verify_layout,
    wait_for_registry,
)

pytestmark = pytest.mark.e2e
MIB = 1024 * 1024


@pytest.fixture(scope="module")
def big_image(tmp_path_factory):
    root = tmp_path_factory.mktemp("big") / "layout"
    layout = Layout(root)
    desc, manifest = layout.image([layer_tar({"etc/os-release": b"ID=test\n"}), random_layer(100 * MIB)])
    layout.tag(desc, "v1")
    return f"oci:{root}:v1", desc, manifest


@pytest.fixture
def capped(backend_args):
    """As deployed, but with three part URLs per answer, so that multipart pushes fetch theirs in batches."""
    server = Server(*backend_args, "--lambda-limits", env={Env.PART_URLS: "3"})
    yield server
    server.stop()


def dockyard(*args: str, env: dict | None = None, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, "-m", "dockyard.cli", *args], capture_output=True, text=True,
                            timeout=600, env={**os.environ, **(env or {})})
    if check:
        assert result.returncode == 0, result.stderr[-3000:]
    return result


def pulled_digests(server, ref: str, out: Path) -> dict:
    skopeo("copy", "--src-tls-verify=false", f"docker://{server.host}/{ref}", f"oci:{out}:pulled")
    return verify_layout(out)


class Gateway:
    def __init__(self, registry: str, *extra: str):
        self.port = free_port()
        self.host = f"127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "dockyard.cli", "gateway", "--registry", registry, "--port", str(self.port),
             "--log-level", "warning", *extra], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for_registry(self.process, f"http://{self.host}", "dockyard gateway")

    def stop(self) -> None:
        stop_process(self.process)


def test_plain_push_of_a_100mib_layer_is_refused_at_the_cap(capped, big_image):
    source, _, _ = big_image
    with pytest.raises(AssertionError) as failure:
        skopeo("copy", "--dest-tls-verify=false", source, f"docker://{capped.host}/big/plain:v1")
    assert "StatusCode: 413" in str(failure.value) and "Request must be smaller than 6291456" in str(failure.value)


def test_dockyard_push_lands_it(capped, big_image, tmp_path):
    source, desc, manifest = big_image
    result = dockyard("push", source, f"{capped.host}/big/direct:v1")
    assert "pushed (single)" in result.stderr and "-> big/direct:v1" in result.stderr
    pulled = pulled_digests(capped, "big/direct:v1", tmp_path / "out")
    assert pulled[desc["digest"]] == manifest
    again = dockyard("push", source, f"{capped.host}/big/direct:v1")  # everything is there already
    assert again.stderr.count("exists") == 3


def test_skopeo_through_the_gateway_lands_it(capped, big_image, tmp_path):
    source, desc, manifest = big_image
    gateway = Gateway(capped.url)
    try:
        skopeo("copy", "--dest-tls-verify=false", source, f"docker://{gateway.host}/big/gateway:v1")
        assert json.loads(skopeo("inspect", "--tls-verify=false", "--raw",
                                 f"docker://{gateway.host}/big/gateway:v1")) == json.loads(manifest)
    finally:
        gateway.stop()
    assert pulled_digests(capped, "big/gateway:v1", tmp_path / "out")[desc["digest"]] == manifest


def test_an_interrupted_multipart_push_resumes_without_resending_what_landed(capped, tmp_path):
    layout = Layout(tmp_path / "src")
    desc, manifest = layout.image([random_layer(40 * MIB)])
    layout.tag(desc, "v1")
    layer = json.loads(manifest)["layers"][0]
    data = (tmp_path / "src" / "blobs" / "sha256" / layer["digest"][7:]).read_bytes()
    # A first push that died after three parts had landed, seen from the wire.
    plan = httpx.post(f"{capped.url}/dockyard/v1/direct/big/resume/blobs", json={
        "digest": layer["digest"], "size": layer["size"], "multipart": True, "part_size": 5 * MIB}).json()
    for part in plan["parts"][:3]:
        assert httpx.put(part["url"], content=data[part["offset"]:part["offset"] + part["size"]]).status_code == 200
    assert httpx.head(f"{capped.url}/v2/big/resume/blobs/{layer['digest']}").status_code == 404  # not visible
    result = dockyard("push", f"oci:{tmp_path / 'src'}:v1", f"{capped.host}/big/resume:v1",
                      "--multipart-above", "8m", "--part-size", "5m")
    assert "resuming" in result.stderr and "3 parts already landed" in result.stderr
    assert plan["upload"] == direct_id("big/resume", Digest.parse(layer["digest"]))
    assert pulled_digests(capped, "big/resume:v1", tmp_path / "out")[desc["digest"]] == manifest


def test_a_push_killed_at_any_moment_is_finished_by_the_next_one(capped, tmp_path):
    layout = Layout(tmp_path / "src")
    desc, manifest = layout.image([random_layer(60 * MIB)])
    layout.tag(desc, "v1")
    command = [sys.executable, "-m", "dockyard.cli", "push", f"oci:{tmp_path / 'src'}:v1",
               f"{capped.host}/big/killed:v1", "--multipart-above", "8m", "--part-size", "5m", "--part-parallel", "1"]
    first = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.8)
    first.kill()
    first.wait()
    second = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert second.returncode == 0, second.stderr
    assert pulled_digests(capped, "big/killed:v1", tmp_path / "out")[desc["digest"]] == manifest


def test_a_corrupted_source_blob_is_refused_and_nothing_is_linked(capped, tmp_path):
    layout = Layout(tmp_path / "src")
    layer, tar = random_layer(2 * MIB)
    desc, _ = layout.image([(layer, tar)])
    layout.tag(desc, "v1")
    path = tmp_path / "src" / "blobs" / "sha256" / sha256(layer)[7:]
    data = bytearray(path.read_bytes())
    data[1000] ^= 0xFF
    path.write_bytes(bytes(data))
    result = dockyard("push", f"oci:{tmp_path / 'src'}:v1", f"{capped.host}/big/corrupt:v1", check=False)
    assert result.returncode != 0 and "DIGEST_INVALID" in result.stderr
    assert httpx.head(f"{capped.url}/v2/big/corrupt/blobs/{sha256(layer)}").status_code == 404
    assert httpx.get(f"{capped.url}/v2/big/corrupt/manifests/v1").status_code == 404


def test_two_processes_push_the_same_image_at_once(capped, tmp_path):
    layout = Layout(tmp_path / "src")
    desc, manifest = layout.image([random_layer(30 * MIB), random_layer(20 * MIB)])
    layout.tag(desc, "v1")
    command = [sys.executable, "-m", "dockyard.cli", "push", f"oci:{tmp_path / 'src'}:v1",
               f"{capped.host}/big/twice:v1", "--multipart-above", "8m", "--part-size", "5m"]
    pushes = [subprocess.Popen(command, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    for push in pushes:
        _, err = push.communicate(timeout=300)
        assert push.returncode == 0, err
    assert pulled_digests(capped, "big/twice:v1", tmp_path / "out")[desc["digest"]] == manifest


def test_multi_arch_index_and_docker_archive_sources(capped, tmp_path):
    layout = Layout(tmp_path / "src")
    images = [layout.image([random_layer(300_000)], arch=arch)[0] for arch in ("amd64", "arm64")]
    index_desc, index = layout.multi_arch(images)
    layout.tag(index_desc, "multi")
    dockyard("push", f"oci:{tmp_path / 'src'}:multi", f"{capped.host}/big/multi:1")
    raw = skopeo("inspect", "--tls-verify=false", "--raw", f"docker://{capped.host}/big/multi:1").encode()
    assert raw == index
    skopeo("copy", "--all", "--src-tls-verify=false", f"docker://{capped.host}/big/multi:1",
           f"oci:{tmp_path / 'out'}:multi")
    assert all(image["digest"] in verify_layout(tmp_path / "out") for image in images)

    archive = tmp_path / "saved.tar"
    _docker_save(archive, layer_bytes=os.urandom(6 * MIB))
    dockyard("push", f"docker-archive:{archive}", f"{capped.host}/big/saved:latest")
    skopeo("copy", "--src-tls-verify=false", f"docker://{capped.host}/big/saved:latest", f"dir:{tmp_path / 'dir'}")
    pulled = json.loads((tmp_path / "dir" / "manifest.json").read_text())
    assert pulled["mediaType"] == "application/vnd.docker.distribution.manifest.v2+json"
    for layer in pulled["layers"]:
        assert sha256((tmp_path / "dir" / layer["digest"][7:]).read_bytes()) == layer["digest"]


def test_push_and_gateway_with_access_control(backend_args, big_image, tmp_path):
    admin = {Env.ADMIN_KEY_ID: "e2e-admin", Env.ADMIN_SECRET: "dys_" + "p" * 43}
    server = Server(*backend_args, "--lambda-limits", "--auth", "--signing-secret", backend_args[-1] + "-signing",
                    env=admin)
    try:
        source, desc, manifest = big_image
        creds = f"{admin[Env.ADMIN_KEY_ID]}:{admin[Env.ADMIN_SECRET]}"
        assert dockyard("push", source, f"{server.host}/sec/app:v1", check=False).returncode != 0
        dockyard("push", source, f"{server.host}/sec/app:v1", "--creds", creds)
        gateway = Gateway(server.url)
        try:
            skopeo("copy", "--dest-tls-verify=false", "--dest-creds", creds, source,
                   f"docker://{gateway.host}/sec/gw:v1")
        finally:
            gateway.stop()
        for ref in ("sec/app:v1", "sec/gw:v1"):
            out = tmp_path / ref.replace("/", "_").replace(":", "_")
            skopeo("copy", "--src-tls-verify=false", "--src-creds", creds, f"docker://{server.host}/{ref}",
                   f"oci:{out}:x")
            assert verify_layout(out)[desc["digest"]] == manifest
    finally:
        server.stop()


def _docker_save(path: Path, layer_bytes: bytes) -> None:
    """A classic `docker save` tarball: manifest.json, a config, one uncompressed layer.tar."""
    layer = io.BytesIO()
    with tarfile.open(fileobj=layer, mode="w") as t:
        info = tarfile.TarInfo("data.bin")
        info.size = len(layer_bytes)
        t.addfile(info, io.BytesIO(layer_bytes))
    layer_tar_bytes = layer.getvalue()
    config = json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {
        "type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(layer_tar_bytes).hexdigest()]}}).encode()
    config_name = hashlib.sha256(config).hexdigest() + ".json"
    files = {config_name: config, "abc/layer.tar": layer_tar_bytes,
             "manifest.json": json.dumps([{"Config": config_name, "RepoTags": ["saved:latest"],
                                           "Layers": ["abc/layer.tar"]}]).encode()}
    with tarfile.open(path, "w") as tar:
        for name, content in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))


def test_oras_through_the_gateway_streams_whole_blobs(capped, tmp_path, monkeypatch):
    """oras sends each blob whole with its digest (POST, then PUT with the body): straight to S3."""
    from oras.client import OrasClient

    monkeypatch.chdir(tmp_path)
    (tmp_path / "model.bin").write_bytes(os.urandom(12 * MIB))
    (tmp_path / "notes.txt").write_text("hello\n")
    gateway = Gateway(capped.url)
    try:
        client = OrasClient(hostname=gateway.host, insecure=True)
        assert client.push(files=["model.bin", "notes.txt"], target=f"{gateway.host}/big/oras:v1").status_code == 201
    finally:
        gateway.stop()
    pulled = OrasClient(hostname=capped.host, insecure=True).pull(target=f"{capped.host}/big/oras:v1",
                                                                  outdir=str(tmp_path / "out"))
    assert sorted(Path(p).name for p in pulled) == ["model.bin", "notes.txt"]
    assert (tmp_path / "out" / "model.bin").read_bytes() == (tmp_path / "model.bin").read_bytes()
