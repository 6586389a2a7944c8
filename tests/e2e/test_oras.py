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
