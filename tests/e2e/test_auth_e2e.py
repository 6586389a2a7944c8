"""skopeo with --creds through the real token flow against `dockyard serve --auth`; keys made with the CLI."""

import json

import httpx
import pytest

from dockyard.resources import Env
from tests.support.oci import Layout, random_layer
from tests.support.processes import Server, dockyard_cli, skopeo, verify_layout
from tests.support.processes import skopeo_refused as refused

pytestmark = pytest.mark.e2e
ADMIN_ID, ADMIN_SECRET = "e2e-admin", "dys_" + "e" * 43


@pytest.fixture
def secured(backend_args):
    server = Server(*backend_args, "--auth", "--signing-secret", backend_args[-1] + "-signing",
                    env={Env.ADMIN_KEY_ID: ADMIN_ID, Env.ADMIN_SECRET: ADMIN_SECRET})
    yield server
    server.stop()


def cli(server, *args: str) -> str:
    return dockyard_cli(server.url, (ADMIN_ID, ADMIN_SECRET), *args)


def test_keys_and_scopes_with_skopeo(secured, tmp_path):
    layout = Layout(tmp_path / "src")
    desc, _ = layout.image([random_layer(1_500_000)])
    layout.tag(desc, "v1")
    source = f"oci:{tmp_path / 'src'}:v1"

    # Without credentials nothing works; the admin key pushes.
    assert "denied" in refused("copy", "--dest-tls-verify=false", source,
                                                f"docker://{secured.host}/team/app:v1")
    skopeo("copy", "--dest-tls-verify=false", "--dest-creds", f"{ADMIN_ID}:{ADMIN_SECRET}", source,
           f"docker://{secured.host}/team/app:v1")

    # A pull-only key, made with the CLI, pulls but cannot push.
    key = json.loads(cli(secured, "keys", "create", "puller", "--allow", "team/*=pull", "--expires", "1d", "--json"))
    creds = f"{key['id']}:{key['secret']}"
    skopeo("copy", "--src-tls-verify=false", "--src-creds", creds, f"docker://{secured.host}/team/app:v1",
           f"oci:{tmp_path / 'out'}:v1")
    assert desc["digest"] in verify_layout(tmp_path / "out")
    assert "denied" in refused("copy", "--dest-tls-verify=false", "--dest-creds", creds, source,
                               f"docker://{secured.host}/team/app:v2")
    assert "denied" in refused("copy", "--dest-tls-verify=false", "--dest-creds", creds, source,
                               f"docker://{secured.host}/other/app:v1")
    assert key["id"] in cli(secured, "keys", "list")

    # Revoked: refused at once (the token endpoint reads the key every time).
    assert "revoked" in cli(secured, "keys", "revoke", key["id"])
    message = refused("copy", "--src-tls-verify=false", "--src-creds", creds, f"docker://{secured.host}/team/app:v1",
                      f"oci:{tmp_path / 'out2'}:v1")
    assert "unauthorized" in message.lower() or "authentication required" in message


def test_anonymous_pull_of_a_public_repository(secured, tmp_path):
    layout = Layout(tmp_path / "src")
    desc, _ = layout.image([random_layer(100_000)])
    layout.tag(desc, "v1")
    for repo in ("public/tool", "private/tool"):
        skopeo("copy", "--dest-tls-verify=false", "--dest-creds", f"{ADMIN_ID}:{ADMIN_SECRET}",
               f"oci:{tmp_path / 'src'}:v1", f"docker://{secured.host}/{repo}:v1")
    assert cli(secured, "anonymous", "set", "public/*").strip() == "public/*"
    skopeo("copy", "--src-tls-verify=false", f"docker://{secured.host}/public/tool:v1", f"oci:{tmp_path / 'pub'}:v1")
    assert desc["digest"] in verify_layout(tmp_path / "pub")
    refused("copy", "--src-tls-verify=false", f"docker://{secured.host}/private/tool:v1",
            f"oci:{tmp_path / 'priv'}:v1")


def test_the_realm_is_the_address_it_listens_on_whatever_host_a_client_sends(secured):
    for host in ('evil.example",service="x', "evil.example"):
        response = httpx.get(f"{secured.url}/v2/", headers={"Host": host})
        assert response.headers["WWW-Authenticate"] == \
            f'Bearer realm="http://127.0.0.1:{secured.port}/token",service="dockyard"'
