"""The Python oras client pushes and pulls artifacts, monolithic and chunked."""

import os

import pytest
from oras.client import OrasClient

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("chunked", [False, True])
def test_oras_push_and_pull_an_artifact(server, tmp_path, monkeypatch, chunked):
    monkeypatch.chdir(tmp_path)  # oras keeps the relative path of each file as its title
    files = {"readme.txt": b"hello from oras\n", "data.bin": os.urandom(3_000_000)}
    for name, content in files.items():
        (tmp_path / name).write_bytes(content)
    client = OrasClient(hostname=server.host, insecure=True)
    target = f"{server.host}/team/artifact:v1"
    response = client.push(files=list(files), target=target, do_chunked=chunked, chunk_size=1_000_000)
    assert response.status_code == 201

    out = tmp_path / "out"
    pulled = client.pull(target=target, outdir=str(out))
    assert sorted(os.path.basename(p) for p in pulled) == sorted(files)
    for name, content in files.items():
        assert (out / name).read_bytes() == content
    assert "v1" in client.get_tags(f"{server.host}/team/artifact")


def test_oras_under_access_control(backend_args, tmp_path, monkeypatch):
    """oras-py's default token backend keeps its first (pull) token and asks again only after a 403, while
    registries (distribution, and this one) answer a token that lacks push with 401 insufficient_scope: so it
    pulls, and pushes with `auth_backend="basic"` (Basic credentials go straight to every endpoint)."""
    from dockyard.resources import Env
    from tests.support.processes import Server

    admin = ("oras-admin", "dys_" + "o" * 43)
    server = Server(*backend_args, "--auth", "--signing-secret", backend_args[-1] + "-signing",
                    env={Env.ADMIN_KEY_ID: admin[0], Env.ADMIN_SECRET: admin[1]})
    try:
        monkeypatch.chdir(tmp_path)
        (tmp_path / "notes.txt").write_bytes(b"signed off\n")
        target = f"{server.host}/team/notes:v1"
        pusher = OrasClient(hostname=server.host, insecure=True, auth_backend="basic")
        pusher.login(username=admin[0], password=admin[1], hostname=server.host)
        assert pusher.push(files=["notes.txt"], target=target).status_code == 201
        puller = OrasClient(hostname=server.host, insecure=True)  # the token backend
        puller.login(username=admin[0], password=admin[1], hostname=server.host)
        pulled = puller.pull(target=target, outdir=str(tmp_path / "out"))
        assert [os.path.basename(p) for p in pulled] == ["notes.txt"]
        assert (tmp_path / "out" / "notes.txt").read_bytes() == b"signed off\n"
    finally:
        server.stop()
